/* push_blob.c - blobs into a registry: verify, compress, HEAD, mount, PUT
 * or PATCH with resume, on a worker pool (drawn in push_blob.h). */
#include "push_blob.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gzip.h"
#include "file.h"
#include "log.h"

#define MONOLITHIC_MAX ((uint64_t)16 << 20)
#define BLOB_ATTEMPTS 5

static const char *const state_names[] = { "waiting", "compressing", "checking", "uploading",
					    "exists", "mounted", "pushed", "failed" };

const char *push_blob_state_name(int state)
{
	if (state < 0 || (size_t)state >= sizeof state_names / sizeof *state_names)
		return "?";
	return state_names[state];
}

static void set_state(struct push_blob_job *j, enum push_blob_state s)
{
	__atomic_store_n(&j->state, (int)s, __ATOMIC_RELAXED);
}

/* Open a blob's bytes: a scratch file, or the source tar in place. */
static int blob_open(const struct push_blobs *pb, const struct image_blob *b, uint64_t *off)
{
	if (b->off >= 0) {
		*off = (uint64_t)b->off;
		return fcntl(pb->src->tarfd, F_DUPFD_CLOEXEC, 0);
	}
	*off = 0;
	return tmpdir_open(pb->scratch, b->tmp);
}

static void on_progress(void *ctx, uint64_t sent)
{
	struct push_blob_job *j = ctx;
	__atomic_store_n(&j->done, j->base + sent, __ATOMIC_RELAXED);
}

/* A blob whose digest is the archive's claim: hash it before it goes out,
 * so a lying tarball fails here, with the layer named. */
static int verify_blob(struct push_blobs *pb, struct image_blob *b, char *err, size_t cap)
{
	uint64_t off;
	int fd = blob_open(pb, b, &off), rc = -1;
	char got[DIGEST_STR_MAX];

	if (fd < 0 || file_hash_range(fd, off, b->size, DIGEST_SHA256, got) < 0) {
		log_fail(err, cap, "read %s: %s", b->digest,
			 errno == ENODATA ? "short read" : strerror(errno));
		goto out;
	}
	if (strcmp(got, b->digest) != 0) {
		log_fail(err, cap, "%s: a layer the archive calls %s is %s", pb->src->what, b->digest, got);
		goto out;
	}
	b->unverified = 0;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Compress layer b into a new scratch file; b then describes the gzip. */
static int compress_layer(struct push_blobs *pb, struct image_blob *b, char *err, size_t cap)
{
	char rel[TMPDIR_NAME_MAX], why[256], got[DIGEST_STR_MAX], digest[DIGEST_STR_MAX];
	uint64_t off, size;
	int ifd = blob_open(pb, b, &off);
	int ofd = tmpdir_create(pb->scratch, rel);
	int rc = -1;
	struct hasher in; /* the input, when its digest is only claimed */

	if (ifd < 0 || ofd < 0) {
		log_fail(err, cap, "compress %s: %s", b->digest, strerror(errno));
		goto out;
	}
	hasher_init(&in, DIGEST_SHA256);
	if (gzip_copy(ifd, off, b->size, ofd, pb->gzip_level, b->unverified ? &in : NULL, digest, &size,
		      why, sizeof why) < 0) {
		log_fail(err, cap, "compress %s: %s", b->digest, why);
		goto out;
	}
	if (b->unverified) {
		hasher_final(&in, got);
		if (strcmp(got, b->digest) != 0) {
			log_fail(err, cap, "%s: a layer the archive calls %s is %s", pb->src->what,
				 b->digest, got);
			goto out;
		}
		b->unverified = 0;
	}
	if (b->tmp[0])
		tmpdir_remove(pb->scratch, b->tmp);
	snprintf(b->tmp, sizeof b->tmp, "%s", rel);
	b->off = -1;
	snprintf(b->digest, sizeof b->digest, "%s", digest);
	b->size = size;
	b->gzipped = 1;
	snprintf(b->media_type, sizeof b->media_type, "%s",
		 pb->format == IMAGE_FORMAT_DOCKER ? "application/vnd.docker.image.rootfs.diff.tar.gzip"
						   : "application/vnd.oci.image.layer.v1.tar+gzip");
	rc = 0;
out:
	if (rc < 0 && ofd >= 0)
		tmpdir_remove(pb->scratch, rel);
	if (ifd >= 0)
		close(ifd);
	if (ofd >= 0)
		close(ofd);
	return rc;
}
/* ---- one blob ---- */

static void backoff_ms(long ms)
{
	usleep((useconds_t)(ms > 5000 ? 5000 : ms) * 1000);
}

void push_blob_scope(const struct ref *ref, const char *mount_from, char *out, size_t cap)
{
	if (mount_from)
		snprintf(out, cap, "repository:%s:pull,push repository:%s:pull", ref->repo, mount_from);
	else
		snprintf(out, cap, "repository:%s:pull,push", ref->repo);
}

/* Location + "digest=" with the right separator.  0, or -1 with err. */
static int with_digest(const struct client *cl, const char *loc, const char *digest, char *out,
		       size_t cap, char *err, size_t ecap)
{
	char abs[URL_MAX];
	int n;
	if (client_abs_url(cl, loc, abs, sizeof abs, err, ecap) < 0)
		return -1;
	n = snprintf(out, cap, "%s%sdigest=%s", abs, strchr(abs, '?') ? "&" : "?", digest);
	if (n < 0 || (size_t)n >= cap)
		return log_fail(err, ecap, "%s gave an upload URL that is too long", cl->host);
	return 0;
}

static int blob_error(const struct push_blobs *pb, const struct image_blob *b, const char *what,
		      const struct client_resp *r, char *err, size_t cap)
{
	char d[600];
	client_describe(r, d, sizeof d);
	return log_fail(err, cap, "blob %s to %s/%s: %s: %s", b->digest, pb->ref->host, pb->ref->repo,
		    what, d);
}

/* err (a failed request) prefixed with the blob and the target. */
static void blob_context(const struct push_blobs *pb, const struct image_blob *b, char *err, size_t cap)
{
	char last[800]; /* err is both the format's argument and its output */
	snprintf(last, sizeof last, "%s", err);
	log_fail(err, cap, "blob %s to %s/%s: %s", b->digest, pb->ref->host, pb->ref->repo, last);
}

/* The bytes [off, off + n) of blob b as a request body: from fd at base +
 * off, or from the reader rd. */
static void body_of(struct client_body *body, int fd, uint64_t base, const struct push_blobs *pb,
		    void *rd, uint64_t off, uint64_t n, struct push_blob_job *j)
{
	memset(body, 0, sizeof *body);
	body->fd = fd;
	body->off = fd >= 0 ? base + off : off;
	body->len = n;
	if (rd) {
		body->read_at = pb->reader->read_at;
		body->read_ctx = rd;
	}
	body->progress = on_progress;
	body->progress_ctx = j;
}

/* A request that failed while the reader fed it: may it be tried again?
 * 0 yes; -1 no, with the reader's reason in err. */
static int reader_says(const struct push_blobs *pb, void *rd, char *err, size_t cap)
{
	return rd ? pb->reader->failed(rd, err, cap) : 0;
}

/* Drop an upload session that must not be committed (best effort). */
static void cancel_upload(struct push_blobs *pb, CURL *h, const char *loc, const char *scope)
{
	char url[URL_MAX], e[256];
	struct client_resp r;
	if (client_abs_url(pb->cl, loc, url, sizeof url, e, sizeof e) < 0)
		return;
	client_resp_init(&r);
	client_request(pb->cl, h, "DELETE", url, scope, NULL, NULL, 0, &r, e, sizeof e);
	client_resp_free(&r);
}

/* After a PUT or PATCH of b that failed: 1 when its upload gives up for good
 * (the deadline passed; the source failed, and the session is cancelled; a
 * second stall, which is the registry, not a glitch), err saying why; else 0,
 * to retry. */
static int gives_up(struct push_blobs *pb, CURL *h, const struct image_blob *b, void *rd,
		    const char *loc, const char *scope, const struct client_resp *r, int *stalls,
		    char *err, size_t cap)
{
	if (client_expired(pb->cl))
		return 1;
	if (reader_says(pb, rd, err, cap) < 0) {
		cancel_upload(pb, h, loc, scope);
		return 1;
	}
	if (r->stalled && ++*stalls >= 2) {
		blob_context(pb, b, err, cap);
		return 1;
	}
	return 0;
}

/* Upload (or find) one blob.  0, or -1 with err.  rd: the worker's reader
 * (for blobs in no file), or NULL. */
static int one_blob(struct push_blobs *pb, CURL *h, void *rd, struct push_blob_job *j, char *err,
		    size_t cap)
{
	struct image_blob *b = j->blob;
	char scope[800], path[1024], loc[2048], url[URL_MAX + 100];
	struct client_resp r;
	uint64_t base = 0; /* where the blob starts in fd */
	int fd = -1, rc = -1, stalls = 0;

	push_blob_scope(pb->ref, pb->mount_from, scope, sizeof scope);
	client_resp_init(&r);
	if (pb->gzip_level && !b->is_config && !b->gzipped) {
		/* compressed once, here in the worker, so layers compress in parallel */
		set_state(j, PUSH_BLOB_COMPRESS);
		if (compress_layer(pb, b, err, cap) < 0)
			goto out;
	}
	if (b->unverified) {
		set_state(j, PUSH_BLOB_CHECK);
		if (verify_blob(pb, b, err, cap) < 0)
			goto out;
	}
	set_state(j, PUSH_BLOB_CHECK);
	snprintf(path, sizeof path, "/v2/%s/blobs/%s", pb->ref->repo, b->digest);
	if (client_request(pb->cl, h, "HEAD", path, scope, NULL, NULL, 1, &r, err, cap) < 0)
		goto out;
	if (r.status != 200 && r.status != 404) {
		blob_error(pb, b, "check (HEAD)", &r, err, cap);
		goto out;
	}
	if (r.status == 200) {
		set_state(j, PUSH_BLOB_EXISTS);
		__atomic_store_n(&j->done, b->size, __ATOMIC_RELAXED);
		rc = 0;
		goto out;
	}
	if (b->off < 0 && !b->tmp[0] && pb->reader) {
		pb->reader->start(rd, b);
	} else {
		rd = NULL;
		fd = blob_open(pb, b, &base);
		if (fd < 0) {
			log_fail(err, cap, "blob %s: %s", b->digest, strerror(errno));
			goto out;
		}
	}
	for (int attempt = 0; attempt < BLOB_ATTEMPTS; attempt++) {
		uint64_t off = 0;
		/* start: a mount, or an upload session */
		if (pb->mount_from)
			snprintf(path, sizeof path, "/v2/%s/blobs/uploads/?mount=%s&from=%s", pb->ref->repo,
				 b->digest, pb->mount_from);
		else
			snprintf(path, sizeof path, "/v2/%s/blobs/uploads/", pb->ref->repo);
		if (client_request(pb->cl, h, "POST", path, scope, NULL, NULL, 1, &r, err, cap) < 0)
			goto out;
		if (r.status == 201 && pb->mount_from) {
			set_state(j, PUSH_BLOB_MOUNTED);
			__atomic_store_n(&j->done, b->size, __ATOMIC_RELAXED);
			rc = 0;
			goto out;
		}
		if (r.status != 202 || !r.location[0]) {
			blob_error(pb, b, "start upload", &r, err, cap);
			goto out;
		}
		snprintf(loc, sizeof loc, "%s", r.location);
		set_state(j, PUSH_BLOB_UPLOAD);
		j->base = 0;
		if (b->size <= MONOLITHIC_MAX && b->size <= pb->chunk) {
			struct client_body body;
			body_of(&body, fd, base, pb, rd, 0, b->size, j);
			if (with_digest(pb->cl, loc, b->digest, url, sizeof url, err, cap) < 0)
				goto out;
			if (client_request(pb->cl, h, "PUT", url, scope, "application/octet-stream", &body, 0,
					   &r, err, cap) < 0) {
				if (gives_up(pb, h, b, rd, loc, scope, &r, &stalls, err, cap))
					goto out;
				log_debug("%s", err);
				continue; /* a new session */
			}
			if (r.status == 201) {
				set_state(j, PUSH_BLOB_DONE);
				rc = 0;
				goto out;
			}
			if (r.status >= 500 || r.status == 429) {
				blob_error(pb, b, "upload", &r, err, cap);
				backoff_ms(r.retry_after > 0 ? r.retry_after * 1000 : 200L << attempt);
				continue;
			}
			blob_error(pb, b, "upload", &r, err, cap);
			goto out;
		}
		/* chunked: PATCH with Content-Range; on trouble ask where we are */
		for (int misses = 0; off < b->size && misses < BLOB_ATTEMPTS;) {
			uint64_t n = b->size - off < pb->chunk ? b->size - off : pb->chunk;
			char cr[80];
			struct client_body body;
			struct client_resp s;
			const char *dash;

			body_of(&body, fd, base, pb, rd, off, n, j);
			j->base = off;
			snprintf(cr, sizeof cr, "%llu-%llu", (unsigned long long)off,
				 (unsigned long long)(off + n - 1));
			body.content_range = cr;
			if (client_abs_url(pb->cl, loc, url, sizeof url, err, cap) < 0)
				goto out;
			if (client_request(pb->cl, h, "PATCH", url, scope, "application/octet-stream", &body,
					   0, &r, err, cap) == 0 &&
			    r.status == 202) {
				if (r.location[0])
					snprintf(loc, sizeof loc, "%s", r.location);
				off += n;
				continue;
			}
			if (gives_up(pb, h, b, rd, loc, scope, &r, &stalls, err, cap))
				goto out;
			misses++;
			/* resume from what the server holds ("0-E": E+1 bytes) */
			client_resp_init(&s);
			if (client_request(pb->cl, h, "GET", url, scope, NULL, NULL, 1, &s, err, cap) < 0 ||
			    s.status != 204) {
				client_resp_free(&s);
				break; /* the session is gone: start a new one */
			}
			if (s.location[0])
				snprintf(loc, sizeof loc, "%s", s.location);
			dash = strchr(s.range, '-');
			off = dash && strtoull(dash + 1, NULL, 10) > 0 ? strtoull(dash + 1, NULL, 10) + 1 : 0;
			client_resp_free(&s);
			log_debug("blob %s: resuming at byte %llu", b->digest, (unsigned long long)off);
			backoff_ms(200 << misses);
		}
		if (client_expired(pb->cl))
			goto out;
		if (off < b->size)
			continue;
		/* the closing PUT commits: only bytes that hash to the digest */
		if (rd && pb->reader->verify(rd, err, cap) < 0) {
			cancel_upload(pb, h, loc, scope);
			goto out;
		}
		if (with_digest(pb->cl, loc, b->digest, url, sizeof url, err, cap) < 0)
			goto out;
		if (client_request(pb->cl, h, "PUT", url, scope, NULL, NULL, 1, &r, err, cap) < 0)
			goto out;
		if (r.status == 201) {
			set_state(j, PUSH_BLOB_DONE);
			rc = 0;
			goto out;
		}
		blob_error(pb, b, "finish upload", &r, err, cap);
		goto out;
	}
	if (!err[0]) {
		log_fail(err, cap, "blob %s to %s/%s: gave up after %d attempts", b->digest, pb->ref->host,
			 pb->ref->repo, BLOB_ATTEMPTS);
	} else {
		char last[800]; /* err is both the format's argument and its output */
		snprintf(last, sizeof last, "%s", err);
		log_fail(err, cap, "%s (gave up after %d attempts)", last, BLOB_ATTEMPTS);
	}
out:
	if (rc < 0)
		set_state(j, PUSH_BLOB_FAILED);
	if (fd >= 0)
		close(fd);
	client_resp_free(&r);
	return rc;
}

/* ---- the pool ---- */

static void *worker(void *arg)
{
	struct push_blobs *pb = arg;
	CURL *h = client_handle(pb->cl);
	void *rd = pb->reader ? pb->reader->open(pb->reader->ctx) : NULL;
	char err[1024];

	for (;;) {
		struct push_blob_job *j;
		pthread_mutex_lock(&pb->lock);
		j = !pb->failed && pb->next < pb->end ? &pb->jobs[pb->next++] : NULL;
		pthread_mutex_unlock(&pb->lock);
		if (!j)
			break;
		err[0] = '\0';
		if (!h || (pb->reader && !rd) || one_blob(pb, h, rd, j, err, sizeof err) < 0) {
			pthread_mutex_lock(&pb->lock);
			if (!pb->failed) {
				pb->failed = 1;
				snprintf(pb->err, sizeof pb->err, "%s",
					 !h || (pb->reader && !rd) ? "cannot start libcurl" : err);
			}
			pthread_mutex_unlock(&pb->lock);
			break;
		}
	}
	if (rd)
		pb->reader->close(rd);
	if (h)
		curl_easy_cleanup(h);
	return NULL;
}

int push_blob_run(struct push_blobs *pb, size_t from, size_t to, char *err, size_t cap)
{
	pthread_t tids[PUSH_BLOB_THREADS_MAX];
	int n = pb->threads;

	if (n < 1 || n > PUSH_BLOB_THREADS_MAX)
		return log_fail(err, cap, "%d upload threads: 1 to %d", n, PUSH_BLOB_THREADS_MAX);
	pthread_mutex_init(&pb->lock, NULL);
	pb->next = from;
	pb->end = to;
	pb->failed = 0;
	pb->err[0] = '\0';
	if ((size_t)n > to - from)
		n = (int)(to - from);
	for (int i = 0; i < n; i++)
		if (pthread_create(&tids[i], NULL, worker, pb) != 0) {
			n = i;
			pthread_mutex_lock(&pb->lock);
			if (!pb->failed) {
				pb->failed = 1;
				snprintf(pb->err, sizeof pb->err, "cannot start a thread");
			}
			pthread_mutex_unlock(&pb->lock);
			break;
		}
	for (int i = 0; i < n; i++)
		pthread_join(tids[i], NULL);
	pthread_mutex_destroy(&pb->lock);
	if (pb->failed)
		return log_fail(err, cap, "%s", pb->err);
	return 0;
}
