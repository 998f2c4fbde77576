/* regsink.c - a registry as a sink: blobs, manifests, the referrers
 * fallback tag (regsink.h). */
#include "regsink.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "log.h"
#include "manifest.h"
#include "progress.h"

static int has_manifest(void *impl, const char *ref, char digest[DIGEST_STR_MAX], char *err,
			size_t cap)
{
	struct regsink *k = impl;
	char path[1024], scope[800], d[600];
	struct client_resp r;
	int rc;

	push_blob_scope(&k->ref, k->o.mount_from, scope, sizeof scope);
	snprintf(path, sizeof path, "/v2/%s/manifests/%s", k->ref.repo, ref);
	client_resp_init(&r);
	if (client_request(&k->cl, k->h, "HEAD", path, scope, CLIENT_ACCEPT_MANIFESTS, NULL, 1, &r,
			   err, cap) < 0) {
		rc = -1;
	} else if (r.status == 200) {
		snprintf(digest, DIGEST_STR_MAX, "%s", r.digest);
		rc = 1;
	} else if (r.status == 404) {
		rc = 0;
	} else {
		client_describe(&r, d, sizeof d);
		rc = log_fail(err, cap, "manifest %s at %s/%s: %s", ref, k->ref.host, k->ref.repo, d);
	}
	client_resp_free(&r);
	return rc;
}

static int bigger_first(const void *a, const void *b)
{
	uint64_t x = ((const struct push_blob_job *)a)->blob->size;
	uint64_t y = ((const struct push_blob_job *)b)->blob->size;
	return x < y ? 1 : x > y ? -1 : 0;
}

static int put_blobs(void *impl, struct image *img, const unsigned char *want,
		     const struct sink_from *from, struct sink_stats *st, char *err, size_t cap)
{
	struct regsink *k = impl;
	struct push_blobs pb;
	struct progress pg;
	int rc;

	memset(&pb, 0, sizeof pb);
	pb.cl = &k->cl;
	pb.ref = &k->ref;
	pb.mount_from = k->o.mount_from;
	pb.chunk = k->o.chunk;
	/* docker-save layers are ours to compress; an OCI layout keeps its
	 * manifests byte for byte, so its layers go as they are */
	pb.gzip_level = img->generated ? k->o.gzip_level : 0;
	pb.format = k->o.format;
	pb.scratch = from->scratch;
	pb.src = from->src;
	pb.reader = from->reader;
	pb.threads = k->o.jobs;
	pb.jobs = calloc(img->nblobs ? img->nblobs : 1, sizeof *pb.jobs);
	if (!pb.jobs)
		return log_fail(err, cap, "out of memory");
	for (size_t i = 0; i < img->nblobs; i++)
		if (!want || want[i]) {
			pb.jobs[pb.njobs].blob = &img->blobs[i];
			pb.jobs[pb.njobs++].state = PUSH_BLOB_WAIT;
		}
	/* one pass, the biggest first: the longest upload starts at once and
	 * the workers finish together (configs, small, go beside the layers) */
	qsort(pb.jobs, pb.njobs, sizeof *pb.jobs, bigger_first);
	if (k->o.progress && pb.njobs)
		progress_start(&pg, pb.jobs, pb.njobs, clock_us());
	rc = push_blob_run(&pb, 0, pb.njobs, err, cap);
	if (k->o.progress && pb.njobs)
		progress_stop(&pg);
	for (size_t i = 0; i < pb.njobs; i++) {
		if (pb.jobs[i].state == PUSH_BLOB_EXISTS) {
			st->blobs_found++;
		} else if (pb.jobs[i].state == PUSH_BLOB_MOUNTED) {
			st->blobs_mounted++;
		} else if (pb.jobs[i].state == PUSH_BLOB_DONE) {
			st->blobs_sent++;
			st->bytes_sent += pb.jobs[i].blob->size;
		}
	}
	free(pb.jobs);
	return rc;
}

/* PUT bytes under ref; 0, or -1 with err.  *indexed: the registry said
 * OCI-Subject (it indexed the manifest's subject itself). */
static int put(struct regsink *k, const char *bytes, size_t len, const char *media_type,
	       const char *digest, const char *ref, int *indexed, char *err, size_t cap)
{
	char path[1024], scope[800], d[600];
	struct client_body body = { .mem = bytes, .mem_len = len, .fd = -1 };
	struct client_resp r;
	int rc = 0;

	push_blob_scope(&k->ref, k->o.mount_from, scope, sizeof scope);
	snprintf(path, sizeof path, "/v2/%s/manifests/%s", k->ref.repo, ref);
	client_resp_init(&r);
	if (client_request(&k->cl, k->h, "PUT", path, scope, media_type, &body, 1, &r, err, cap) < 0) {
		rc = -1;
	} else if (r.status != 201) {
		client_describe(&r, d, sizeof d);
		rc = log_fail(err, cap, "manifest %s to %s/%s:%s: %s", digest, k->ref.host, k->ref.repo,
			      ref, d);
	} else if (r.digest[0] && strcmp(r.digest, digest) != 0) {
		rc = log_fail(err, cap, "manifest to %s/%s:%s: the registry says %s, we sent %s",
			      k->ref.host, k->ref.repo, ref, r.digest, digest);
	}
	if (indexed)
		*indexed = r.oci_subject;
	client_resp_free(&r);
	return rc;
}

/* The referrers tag schema: "<alg>-<hex>", the hex cut to 64 characters. */
static void fallback_tag(const char *digest, char *out, size_t cap)
{
	const char *colon = strchr(digest, ':');
	snprintf(out, cap, "%.*s-%.64s", (int)(colon - digest), digest, colon + 1);
}

/* Add m (whose subject is pm->subject) to the subject's fallback index. */
static int add_to_fallback(struct regsink *k, const struct image_manifest *m,
			   const struct manifest *pm, char *err, size_t cap)
{
	char tag[DIGEST_STR_MAX], path[1024], scope[800], d[600], digest[DIGEST_STR_MAX];
	struct client_resp r;
	struct manifest idx;
	struct buf b;
	int have = 0, rc = -1, wr;

	fallback_tag(pm->subject.digest, tag, sizeof tag);
	push_blob_scope(&k->ref, k->o.mount_from, scope, sizeof scope);
	snprintf(path, sizeof path, "/v2/%s/manifests/%s", k->ref.repo, tag);
	client_resp_init_max(&r, MANIFEST_MAX);
	buf_init(&b, MANIFEST_MAX);
	memset(&idx, 0, sizeof idx);
	if (client_request(&k->cl, k->h, "GET", path, scope, MT_OCI_INDEX, NULL, 1, &r, err, cap) < 0)
		goto out;
	if (r.status == 200) {
		char why[256];
		if (manifest_parse(&idx, r.body.p, r.body.len, r.content_type, why, sizeof why) < 0) {
			log_fail(err, cap, "%s/%s:%s, the referrers of %s: %s", k->ref.host, k->ref.repo,
				 tag, pm->subject.digest, why);
			goto out;
		}
		if (idx.kind != MANIFEST_INDEX) {
			log_fail(err, cap, "%s/%s:%s, the referrers of %s, is not an image index",
				 k->ref.host, k->ref.repo, tag, pm->subject.digest);
			goto out;
		}
		have = 1;
		for (size_t i = 0; i < idx.nrefs; i++)
			if (strcmp(idx.refs[i].digest, m->digest) == 0) {
				rc = 0; /* listed already */
				goto out;
			}
	} else if (r.status != 404) {
		client_describe(&r, d, sizeof d);
		log_fail(err, cap, "%s/%s:%s (referrers of %s): %s", k->ref.host, k->ref.repo, tag,
			 pm->subject.digest, d);
		goto out;
	}
	wr = buf_puts(&b, "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\",\"manifests\":[");
	if (have) {
		int arr = json_get(&idx.j, 0, "manifests");
		for (size_t i = 0; i < idx.nrefs; i++) {
			size_t n;
			const char *raw = json_raw(&idx.j, json_index(&idx.j, arr, (uint32_t)i), &n);
			wr |= buf_append(&b, raw, n);
			wr |= buf_puts(&b, ",");
		}
	}
	wr |= manifest_write_referrer(&b, m->media_type, m->digest, m->len, pm->artifact_type,
				      pm->annotations, pm->annotations_len);
	wr |= buf_puts(&b, "]}");
	if (wr) {
		log_fail(err, cap, "%s/%s:%s: the referrers index would pass %u bytes", k->ref.host,
			 k->ref.repo, tag, MANIFEST_MAX);
		goto out;
	}
	digest_of(DIGEST_SHA256, b.p, b.len, digest);
	rc = put(k, b.p, b.len, MT_OCI_INDEX, digest, tag, NULL, err, cap);
out:
	manifest_free(&idx);
	buf_free(&b);
	client_resp_free(&r);
	return rc;
}

static int put_manifest(void *impl, const struct image_manifest *m, const char *ref,
			struct sink_stats *st, char *err, size_t cap)
{
	struct regsink *k = impl;
	struct manifest pm;
	char why[256];
	int indexed = 0, rc;

	if (put(k, m->bytes, m->len, m->media_type, m->digest, ref, &indexed, err, cap) < 0)
		return -1;
	st->manifests_put++;
	/* a subject the registry did not index: the fallback tag */
	if (indexed || !memmem(m->bytes, m->len, "\"subject\"", 9))
		return 0;
	if (manifest_parse(&pm, m->bytes, m->len, m->media_type, why, sizeof why) < 0)
		return log_fail(err, cap, "manifest %s: %s", m->digest, why);
	rc = pm.has_subject ? add_to_fallback(k, m, &pm, err, cap) : 0;
	manifest_free(&pm);
	return rc;
}

static const struct sink_ops regsink_ops = { has_manifest, put_blobs, put_manifest };

int regsink_open(struct regsink *k, const struct ref *ref, const struct regsink_opts *o,
		 char *err, size_t cap)
{
	memset(k, 0, sizeof *k);
	k->ref = *ref;
	k->o = *o;
	k->sink.ops = &regsink_ops;
	k->sink.impl = k;
	snprintf(k->sink.what, sizeof k->sink.what, "%s/%s", ref->host, ref->repo);
	return client_open(&k->cl, ref->host, &o->copt, &k->h, err, cap);
}

void regsink_close(struct regsink *k)
{
	client_close(&k->cl, &k->h);
}

/* An hour: well above a multi-GiB transfer on an ordinary link (1 GiB at
 * 1 MB/s is 18 minutes), and a bound on a registry that trickles without
 * ever stalling.  Longer ones say --timeout 0 or a bigger value. */
#define DEFAULT_TIMEOUT_MS ((int64_t)3600 * 1000)

void regsink_opts_init(struct regsink_opts *o, const char *verb)
{
	memset(o, 0, sizeof *o);
	o->jobs = 4;
	o->chunk = (uint64_t)128 << 20;
	o->copt.timeout_ms = DEFAULT_TIMEOUT_MS;
	o->copt.verb = verb;
}

int regsink_option(struct regsink_opts *o, int argc, char **argv, int *i, const char *usage)
{
	const char *a = argv[*i], *verb = o->copt.verb;
	if (strcmp(a, "--insecure") == 0) {
		o->copt.insecure = 1;
	} else if (strcmp(a, "--ca-file") == 0) {
		o->copt.ca_file = cli_arg(argc, argv, i, usage);
		if (access(o->copt.ca_file, R_OK) < 0)
			fatal(2, "%s: --ca-file %s: %s", verb, o->copt.ca_file, strerror(errno));
	} else if (strcmp(a, "-j") == 0 || strcmp(a, "--jobs") == 0) {
		const char *v = cli_arg(argc, argv, i, usage);
		long n;
		if (cli_int(v, 1, PUSH_BLOB_THREADS_MAX, &n) < 0)
			fatal(2, "%s: --jobs takes a whole number from 1 to %d, not \"%s\"", verb,
			      PUSH_BLOB_THREADS_MAX, v);
		o->jobs = (int)n;
	} else if (strcmp(a, "--chunk-size") == 0) {
		o->chunk = cli_size(cli_arg(argc, argv, i, usage));
		if (o->chunk == UINT64_MAX || o->chunk < 4096)
			fatal(2, "%s: --chunk-size takes a size such as 64M (at least 4K)", verb);
	} else if (strcmp(a, "--timeout") == 0) {
		o->copt.timeout_ms = cli_duration_ms(cli_arg(argc, argv, i, usage));
		if (o->copt.timeout_ms < 0)
			fatal(2, "%s: --timeout takes a duration such as 30m (0: no limit; at most 24h)",
			      verb);
	} else if (strcmp(a, "--stall-timeout") == 0) {
		int64_t ms = cli_duration_ms(cli_arg(argc, argv, i, usage));
		if (ms < 1000 || ms % 1000)
			fatal(2, "%s: --stall-timeout takes whole seconds, at least 1s", verb);
		o->copt.stall_s = (long)(ms / 1000);
	} else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
		o->copt.verbose = 1;
	} else {
		return 0;
	}
	return 1;
}

void regsink_opts_start(struct regsink_opts *o, int quiet)
{
	if (o->copt.timeout_ms)
		o->copt.deadline_ms = clock_ms() + o->copt.timeout_ms;
	log_immediate = 1; /* -v lines as they happen, between curl's */
	if (o->copt.verbose && log_level < LOG_DEBUG)
		log_level = LOG_DEBUG;
	else if (log_level > LOG_WARN)
		log_level = LOG_WARN;
	o->progress = !quiet && !o->copt.verbose && isatty(2);
}
