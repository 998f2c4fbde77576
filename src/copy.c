/* copy.c - `packhelper copy`, the verb: options and usage, the list of
 * copies (one; every tag of a repository; every repository under a prefix;
 * a file of pairs), and for each: the source read (regsrc.c, or a file by
 * import.c), its referrers, then transfer.c into the registry sink
 * (regsink.c); a summary when there were several.
 *
 * One source and one destination registry are open at a time, kept from
 * one copy to the next while the hosts stay the same.  Credentials come
 * from the docker config only, looked up per registry, so each goes to its
 * own registry and no other (client.h: config_creds_only). */
#include "copy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "clock.h"
#include "copylist.h"
#include "export.h"
#include "import.h"
#include "log.h"
#include "platform.h"
#include "ref.h"
#include "regsink.h"
#include "regsrc.h"
#include "tmpdir.h"
#include "transfer.h"

/* --from-file: the whole list is read at once */
#define COPY_LIST_MAX ((size_t)16 << 20)
#define REF_TEXT_MAX (REF_MAX + 8)

static const char usage[] =
	"usage: packhelper copy [options] SRC DST\n"
	"       packhelper copy [options] --all-tags SRC-REPO DST-REPO\n"
	"       packhelper copy [options] --prefix OLD NEW [NAME[:TAG|@DIGEST]...]\n"
	"       packhelper copy [options] --from-file FILE\n"
	"  SRC  host[:port]/repo[:tag|@digest], or what push reads: a docker-save\n"
	"       tarball, an OCI layout (dir or tar), - (stdin), docker://IMAGE\n"
	"  DST  host[:port]/repo[:tag|@digest] (no tag: latest), or a file:\n"
	"       oci:DIR[:NAME]             a new OCI layout directory\n"
	"       oci-archive:FILE[:NAME]    an OCI layout tar (- for stdout)\n"
	"       docker-archive:FILE[:NAME] a docker-save tarball (one platform)\n"
	"       NAME (repo[:tag]) names the image there; default: the source's.\n"
	"       The path ends at the first ':'.  Many images into one file: export\n"
	"options:\n"
	"  --platform OS/ARCH[/VARIANT]  copy that platform's manifest of an index,\n"
	"                          as it is (by its digest), instead of the index\n"
	"  -a, --all-tags          every tag of SRC's repository, to the same tags\n"
	"  -r, --referrers         the referrers of every manifest copied, too\n"
	"                          (recursively; the referrers API, or sha256-* tags)\n"
	"  --prefix OLD NEW        every repository under OLD (host/path), every tag,\n"
	"                          to the same name under NEW; with NAMEs only those\n"
	"  --from-file FILE        one SRC DST a line, # comments (- for stdin)\n"
	"  --insecure              allow plain HTTP and any certificate\n"
	"  --ca-file FILE          trust this CA bundle for HTTPS\n"
	"  -j, --jobs N            parallel blob transfers (default 4)\n"
	"  --chunk-size SIZE       blobs up to SIZE go in one PUT, larger ones in\n"
	"                          PATCHes of SIZE that resume (default 128M)\n"
	"  -q, --quiet             only digests on stdout\n"
	"  --timeout DURATION      give up when the whole command takes longer\n"
	"                          (default 1h; 0: no limit)\n"
	"  --stall-timeout DURATION  a request that moves under 1 KiB/s this long\n"
	"                          fails (default 60s; retried once if it may be)\n"
	"  -v, --verbose           show the HTTP exchange (secrets masked)\n"
	"environment: DOCKER_CONFIG (credentials, each for its own registry), TMPDIR\n";

enum outcome { COPIED, THERE, FAILED };

struct result {
	char src[REF_TEXT_MAX * 2], dst[REF_TEXT_MAX * 2];
	enum outcome outcome;
	char digest[DIGEST_STR_MAX];
	char why[2048];
};

struct copy {
	/* options */
	struct regsink_opts o;
	struct platform platform;
	const struct platform *pf;  /* &platform with --platform, else NULL */
	int all_tags;
	int referrers;
	int quiet;
	/* the registries open now */
	struct regsrc src;
	int src_open;
	struct regsink dst;
	int dst_open;
	/* what happened, one entry per copy */
	struct result *res;
	size_t nres, capres;
	int many;                   /* more than one copy asked: a summary */
};

/* ---- results ---- */

static struct result *result_new(struct copy *c, const char *src, const char *dst)
{
	struct result *r;
	if (c->nres == c->capres) {
		size_t n = c->capres ? c->capres * 2 : 16;
		struct result *v = realloc(c->res, n * sizeof *v);
		if (!v)
			fatal(1, "copy: out of memory");
		c->res = v;
		c->capres = n;
	}
	r = &c->res[c->nres++];
	memset(r, 0, sizeof *r);
	snprintf(r->src, sizeof r->src, "%s", src);
	snprintf(r->dst, sizeof r->dst, "%s", dst);
	return r;
}

static void fail(struct copy *c, struct result *r, const char *why)
{
	r->outcome = FAILED;
	snprintf(r->why, sizeof r->why, "%s", why);
	if (c->many)
		fprintf(stderr, "packhelper: copy: %s -> %s: %s\n", r->src, r->dst, why);
}

/* ---- the registries ---- */

static struct regsrc *open_src(struct copy *c, const char *host, char *err, size_t cap)
{
	if (c->src_open && strcmp(c->src.host, host) == 0)
		return &c->src;
	if (c->src_open)
		regsrc_close(&c->src);
	c->src_open = 0;
	if (regsrc_open(&c->src, host, &c->o.copt, err, cap) < 0)
		return NULL;
	c->src_open = 1;
	return &c->src;
}

static struct regsink *open_dst(struct copy *c, const struct ref *dst, char *err, size_t cap)
{
	if (!c->dst_open || strcmp(c->dst.ref.host, dst->host) != 0) {
		if (c->dst_open)
			regsink_close(&c->dst);
		c->dst_open = 0;
		if (regsink_open(&c->dst, dst, &c->o, err, cap) < 0)
			return NULL;
		c->dst_open = 1;
	}
	snprintf(c->dst.ref.repo, sizeof c->dst.ref.repo, "%s", dst->repo);
	snprintf(c->dst.sink.what, sizeof c->dst.sink.what, "%s/%s", dst->host, dst->repo);
	return &c->dst;
}

/* ---- one copy ---- */

/* Say what one copy did; stdout gets the digest. */
static void report(struct copy *c, struct result *r, const struct sink_stats *st, int64_t t0)
{
	int wrote = st->blobs_sent || st->blobs_mounted || st->manifests_put;
	r->outcome = wrote ? COPIED : THERE;
	if (c->many)
		printf("%s %s\n", r->dst, r->digest);
	else
		printf("%s\n", r->digest);
	fflush(stdout);
	if (c->quiet)
		return;
	if (!wrote)
		fprintf(stderr, "%s already holds %s (%s)\n", r->dst, r->digest, r->src);
	else
		fprintf(stderr, "copied %s -> %s %s in %.2f s: %lu blobs sent (%.1f MiB), %lu mounted, "
			"%lu there; %lu manifests put, %lu there\n", r->src, r->dst, r->digest,
			(double)(clock_us() - t0) / 1e6, st->blobs_sent,
			(double)st->bytes_sent / 1048576.0, st->blobs_mounted, st->blobs_found,
			st->manifests_put, st->manifests_found);
}

/* The tag a copy puts at dst, or NULL (by digest: the top must be it). */
static const char *dst_tag(const struct ref *dst, const char *top, char *err, size_t cap, int *bad)
{
	*bad = 0;
	if (dst->digest[0]) {
		if (strcmp(dst->digest, top) != 0) {
			*bad = 1;
			log_fail(err, cap, "%s@%s: the manifest copied is %s", dst->repo, dst->digest, top);
		}
		return NULL;
	}
	return dst->tag;
}

/* Copy src (a registry reference) to dst. */
static void copy_registry(struct copy *c, const struct ref *src, const struct ref *dst,
			  struct result *r)
{
	char err[2048];
	struct regsrc *s;
	struct regsink *k;
	struct descriptor top;
	struct image *imgs = NULL;
	size_t n = 0;
	struct sink_stats st;
	struct map seen;
	const char *tag;
	int bad, rc;
	int64_t t0 = clock_us();

	memset(&st, 0, sizeof st);
	map_init(&seen);
	if (!(s = open_src(c, src->host, err, sizeof err)) || !(k = open_dst(c, dst, err, sizeof err)))
		goto failed;
	rc = regsrc_resolve(s, src->repo, src->digest[0] ? src->digest : src->tag, &top, err,
			    sizeof err);
	if (rc != 0)
		goto failed;
	if (!(imgs = calloc(1, sizeof *imgs)))
		goto oom;
	n = 1;
	if (regsrc_image(s, &top, c->pf, &imgs[0], err, sizeof err) < 0)
		goto failed;
	snprintf(r->digest, sizeof r->digest, "%s", image_digest(&imgs[0]));
	tag = dst_tag(dst, r->digest, err, sizeof err, &bad);
	if (bad)
		goto failed;
	for (size_t m = 0; m < imgs[0].nmanifests; m++)
		if (map_put(&seen, imgs[0].manifests[m].digest, (void *)1) < 0)
			goto oom;
	if (c->referrers) {
		int deeper = 0;
		if (regsrc_add_referrers(s, &imgs, &n, &seen, &deeper, err, sizeof err) < 0)
			goto failed;
		if (deeper && !c->quiet)
			fprintf(stderr, "packhelper: copy: note: referrers deeper than %d levels are "
				"left out\n", REGSRC_REFERRERS_DEPTH);
	}
	/* the same registry: blobs are mounted from the source repository */
	k->o.mount_from = strcmp(src->host, dst->host) == 0 && strcmp(src->repo, dst->repo) != 0 ?
				  src->repo : NULL;
	{
		struct sink_from from = { .reader = &s->reader };
		rc = transfer_images(&k->sink, &from, imgs, n, tag, &st, err, sizeof err);
	}
	k->o.mount_from = NULL;
	if (rc < 0)
		goto failed;
	report(c, r, &st, t0);
	goto out;
oom:
	log_fail(err, sizeof err, "out of memory");
failed:
	fail(c, r, err);
out:
	for (size_t i = 0; i < n; i++)
		image_free(&imgs[i]);
	free(imgs);
	map_free(&seen);
}

/* Copy srcarg (a file, stdin, docker://: what push reads) to dst. */
static void copy_file(struct copy *c, const char *srcarg, const struct ref *dst, struct result *r)
{
	char err[2048];
	struct import_spec spec;
	struct tmpdir scratch;
	struct source src;
	struct image_set set;
	struct regsink *k;
	struct sink_stats st;
	const char *tag, *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	int bad;
	int64_t t0 = clock_us();

	memset(&st, 0, sizeof st);
	if (import_parse_spec(srcarg, &spec, err, sizeof err) < 0) {
		fail(c, r, err);
		return;
	}
	if (tmpdir_make(&scratch, tmp, "packhelper-copy-", "copy-") < 0) {
		log_fail(err, sizeof err, "cannot create a scratch directory in %s: %s", tmp,
			 strerror(errno));
		fail(c, r, err);
		return;
	}
	/* the image for DST's name unless SRC#NAME says, as push does */
	snprintf(spec.repo, sizeof spec.repo, "%s", dst->repo);
	snprintf(spec.tag, sizeof spec.tag, "%s", dst->tag[0] ? dst->tag : "latest");
	spec.platform = c->pf;
	if (import_load(&scratch, &spec, SOURCE_IN_PLACE, &src, &set, err, sizeof err) < 0) {
		fail(c, r, err);
		tmpdir_fini(&scratch);
		return;
	}
	if (set.n != 1) {
		log_fail(err, sizeof err, "%s holds %zu images; name one with SRC#NAME", spec.src, set.n);
		goto failed;
	}
	snprintf(r->digest, sizeof r->digest, "%s", image_digest(&set.v[0]));
	tag = dst_tag(dst, r->digest, err, sizeof err, &bad);
	if (bad || !(k = open_dst(c, dst, err, sizeof err)))
		goto failed;
	{
		struct sink_from from = { .src = &src, .scratch = &scratch };
		if (transfer_images(&k->sink, &from, set.v, 1, tag, &st, err, sizeof err) < 0)
			goto failed;
	}
	report(c, r, &st, t0);
	goto out;
failed:
	fail(c, r, err);
out:
	image_set_free(&set);
	source_close(&src);
	tmpdir_fini(&scratch);
}

/* Does reference s say a tag or a digest (rather than ref_parse's
 * "latest")? */
static int names_version(const char *s)
{
	const char *slash = strrchr(s, '/');
	return strchr(slash ? slash + 1 : s, ':') || strchr(s, '@');
}

/* A list of names (tags, repositories), gathered before any copy starts:
 * a listing's handle is busy while it runs. */
struct names {
	char **v;
	size_t n;
};

static int names_add(void *ctx, const char *name)
{
	struct names *l = ctx;
	char **v = realloc(l->v, (l->n + 1) * sizeof *v);
	if (!v || !(v[l->n] = strdup(name))) {
		if (v)
			l->v = v;
		return -1;
	}
	l->v = v;
	l->n++;
	return 0;
}

static void names_free(struct names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

/* Every tag of src's repository to the same tag of dst's. */
static void copy_repository(struct copy *c, const struct ref *src, const struct ref *dst)
{
	char err[2048], a[REF_TEXT_MAX], b[REF_TEXT_MAX];
	struct names tags = { NULL, 0 };
	struct regsrc *s = open_src(c, src->host, err, sizeof err);

	snprintf(a, sizeof a, "%s/%s", src->host, src->repo);
	snprintf(b, sizeof b, "%s/%s", dst->host, dst->repo);
	if (!s || regsrc_tags(s, src->repo, names_add, &tags, err, sizeof err) < 0) {
		if (!err[0])
			log_fail(err, sizeof err, "out of memory");
		fail(c, result_new(c, a, b), err);
	} else if (!tags.n) {
		fail(c, result_new(c, a, b), "the repository has no tags");
	}
	for (size_t i = 0; i < tags.n; i++) {
		struct ref st = *src, dt = *dst;
		snprintf(st.tag, sizeof st.tag, "%s", tags.v[i]);
		snprintf(dt.tag, sizeof dt.tag, "%s", tags.v[i]);
		st.digest[0] = dt.digest[0] = '\0';
		snprintf(a, sizeof a, "%s/%s:%s", src->host, src->repo, st.tag);
		snprintf(b, sizeof b, "%s/%s:%s", dst->host, dst->repo, dt.tag);
		copy_registry(c, &st, &dt, result_new(c, a, b));
	}
	names_free(&tags);
}

/* A file destination: oci:DIR[:NAME], oci-archive:FILE[:NAME],
 * docker-archive:FILE[:NAME].  1 with its parts, 0 when dst is none. */
static int file_dst(const char *dst, enum sink_file_format *fmt, int *dir, char *path, size_t pcap,
		    char *name, size_t ncap)
{
	static const struct {
		const char *prefix;
		enum sink_file_format fmt;
		int dir;
	} kinds[] = { { "oci:", SINK_FILE_OCI, 1 },
		      { "oci-archive:", SINK_FILE_OCI, 0 },
		      { "docker-archive:", SINK_FILE_DOCKER, 0 } };
	for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
		size_t k = strlen(kinds[i].prefix);
		const char *rest, *colon;
		if (strncmp(dst, kinds[i].prefix, k) != 0)
			continue;
		rest = dst + k;
		colon = strchr(rest, ':');
		*fmt = kinds[i].fmt;
		*dir = kinds[i].dir;
		snprintf(path, pcap, "%.*s", colon ? (int)(colon - rest) : (int)strlen(rest), rest);
		snprintf(name, ncap, "%s", colon ? colon + 1 : "");
		return 1;
	}
	return 0;
}

/* Copy srcarg (a registry reference or a file) into a new file. */
static void copy_to_file(struct copy *c, const char *srcarg, const char *dstarg,
			 enum sink_file_format fmt, int dir, const char *path, const char *name)
{
	struct result *r = result_new(c, srcarg, dstarg);
	char err[2048], repo[REF_NAME_MAX + 1], tag[REF_TAG_MAX + 1];
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	struct export_src x;
	struct platform host;
	struct tmpdir scratch;
	struct sink_file f;
	struct sink_stats st;
	int64_t t0 = clock_us();

	memset(&st, 0, sizeof st);
	if (c->all_tags) {
		fail(c, r, "--all-tags needs a registry as the destination (export puts many images "
			   "into one file)");
		return;
	}
	if (!path[0]) {
		fail(c, r, "no path after the file kind");
		return;
	}
	if (name[0] && image_parse_ref(name, repo, tag) < 0) {
		log_fail(err, sizeof err, "%s: %s is not repo[:tag]", dstarg, name);
		fail(c, r, err);
		return;
	}
	if (fmt == SINK_FILE_DOCKER && c->referrers) {
		fail(c, r, "a docker-save tarball has no place for referrers (-r)");
		return;
	}
	memset(&x, 0, sizeof x);
	x.copt = &c->o.copt;
	x.pf = c->pf;
	if (fmt == SINK_FILE_DOCKER && !x.pf) {
		platform_host(&host);
		x.pf = &host;
	}
	x.referrers = c->referrers;
	x.quiet = c->quiet;
	x.verb = "copy";
	x.scratch = &scratch;
	if (tmpdir_make(&scratch, tmp, "packhelper-copy-", "copy-") < 0) {
		log_fail(err, sizeof err, "cannot create a scratch directory in %s: %s", tmp,
			 strerror(errno));
		fail(c, r, err);
		return;
	}
	if (sink_file_open(&f, fmt, path, dir, &scratch, err, sizeof err) < 0) {
		fail(c, r, err);
		tmpdir_fini(&scratch);
		return;
	}
	if (export_ref(&x, &f, srcarg, name[0] ? repo : NULL, name[0] ? tag : NULL, r->digest, &st,
		       err, sizeof err) < 0 ||
	    sink_file_commit(&f, err, sizeof err) < 0)
		fail(c, r, err);
	else if (strcmp(path, "-") == 0)
		r->outcome = COPIED; /* stdout is the tar */
	else
		report(c, r, &st, t0);
	sink_file_close(&f);
	export_src_close(&x);
	tmpdir_fini(&scratch);
}

/* One SRC DST pair as written (a line of --from-file, or the arguments). */
static void copy_pair(struct copy *c, const char *srcarg, const char *dstarg)
{
	char err[512], path[FILEOUT_PATH_MAX], name[REF_MAX];
	struct ref src, dst;
	enum sink_file_format fmt;
	int dir;

	if (file_dst(dstarg, &fmt, &dir, path, sizeof path, name, sizeof name)) {
		copy_to_file(c, srcarg, dstarg, fmt, dir, path, name);
		return;
	}

	if (ref_parse(dstarg, strlen(dstarg), &dst, err, sizeof err) < 0) {
		log_fail(err, sizeof err, "%s is not host[:port]/repo[:tag|@digest]", dstarg);
		fail(c, result_new(c, srcarg, dstarg), err);
		return;
	}
	if (export_is_file_source(srcarg)) {
		if (c->all_tags || c->referrers) {
			fail(c, result_new(c, srcarg, dstarg),
			     "--all-tags and --referrers need a registry as the source");
			return;
		}
		copy_file(c, srcarg, &dst, result_new(c, srcarg, dstarg));
		return;
	}
	if (ref_parse(srcarg, strlen(srcarg), &src, err, sizeof err) < 0) {
		char why[1024];
		log_fail(why, sizeof why, "%s is neither a file nor host[:port]/repo[:tag|@digest] (%s)",
			 srcarg, err);
		fail(c, result_new(c, srcarg, dstarg), why);
		return;
	}
	if (c->all_tags) {
		if (names_version(srcarg) || names_version(dstarg)) {
			fail(c, result_new(c, srcarg, dstarg),
			     "with --all-tags, SRC and DST are repositories, without a tag or digest");
			return;
		}
		copy_repository(c, &src, &dst);
		return;
	}
	copy_registry(c, &src, &dst, result_new(c, srcarg, dstarg));
}

/* ---- many copies ---- */

struct prefix {
	struct ref old, new_;
	struct names repos;
};

/* A catalog name under OLD: OLD itself or OLD/... */
static int under_prefix(void *ctx, const char *name)
{
	struct prefix *p = ctx;
	size_t k = strlen(p->old.repo);
	if (strncmp(name, p->old.repo, k) != 0 || (name[k] && name[k] != '/'))
		return 0;
	return names_add(&p->repos, name);
}

/* OLD/NAME... -> NEW/NAME...: one name ("app", "app:v1", "team/app@sha256:...")
 * relative to the prefixes, or a whole repository ("" tail: every tag). */
static void copy_under(struct copy *c, const struct prefix *p, const char *name)
{
	char a[REF_TEXT_MAX * 2], b[REF_TEXT_MAX * 2];
	const char *sep = name[0] == '@' || name[0] == ':' || !name[0] ? "" : "/";
	int all = c->all_tags;

	snprintf(a, sizeof a, "%s/%s%s%s", p->old.host, p->old.repo, sep, name);
	snprintf(b, sizeof b, "%s/%s%s%s", p->new_.host, p->new_.repo, sep, name);
	/* a repository named without a tag: all of it */
	c->all_tags = !names_version(name);
	copy_pair(c, a, b);
	c->all_tags = all;
}

static void copy_prefix(struct copy *c, const char *old, const char *new_, char **names,
			size_t nnames)
{
	struct prefix p;
	char err[2048];

	memset(&p, 0, sizeof p);
	if (names_version(old) || names_version(new_) ||
	    ref_parse(old, strlen(old), &p.old, err, sizeof err) < 0 ||
	    ref_parse(new_, strlen(new_), &p.new_, err, sizeof err) < 0)
		fatal(2, "copy: --prefix takes two host[:port]/path prefixes, without tags: %s %s", old,
		      new_);
	if (nnames) {
		for (size_t i = 0; i < nnames; i++)
			copy_under(c, &p, names[i]);
		return;
	}
	{
		struct regsrc *s = open_src(c, p.old.host, err, sizeof err);
		if (!s || regsrc_catalog(s, under_prefix, &p, err, sizeof err) < 0) {
			fail(c, result_new(c, old, new_), err);
		} else if (!p.repos.n) {
			fail(c, result_new(c, old, new_), "no repository under the prefix");
		}
	}
	for (size_t i = 0; i < p.repos.n; i++) {
		const char *tail = p.repos.v[i] + strlen(p.old.repo);
		copy_under(c, &p, tail[0] == '/' ? tail + 1 : tail);
	}
	names_free(&p.repos);
}

static int list_pair(void *ctx, unsigned long line, const char *src, const char *dst)
{
	(void)line;
	copy_pair(ctx, src, dst);
	return 0;
}

static void copy_list(struct copy *c, const char *file)
{
	FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
	char *text, why[512];
	size_t len;

	if (!f)
		fatal(2, "copy: --from-file %s: %s", file, strerror(errno));
	text = malloc(COPY_LIST_MAX + 1);
	if (!text)
		fatal(1, "copy: out of memory");
	len = fread(text, 1, COPY_LIST_MAX + 1, f);
	if (ferror(f) || len > COPY_LIST_MAX)
		fatal(2, "copy: --from-file %s: %s", file,
		      ferror(f) ? strerror(errno) : "larger than 16 MiB");
	if (f != stdin)
		fclose(f);
	/* the whole list is checked before the first copy */
	if (copylist_parse(text, len, NULL, NULL, why, sizeof why) < 0)
		fatal(2, "copy: --from-file %s: %s", file, why);
	copylist_parse(text, len, list_pair, c, why, sizeof why);
	free(text);
}

/* "summary: ..." and the failures again, when there were several copies. */
static int summary(const struct copy *c)
{
	size_t n[3] = { 0, 0, 0 };
	for (size_t i = 0; i < c->nres; i++)
		n[c->res[i].outcome]++;
	if (!c->many) {
		if (c->nres && c->res[0].outcome == FAILED)
			fprintf(stderr, "packhelper: copy: %s\n", c->res[0].why);
		return n[FAILED] ? 1 : 0;
	}
	fprintf(stderr, "summary: %zu copied, %zu already there, %zu failed\n", n[COPIED], n[THERE],
		n[FAILED]);
	for (size_t i = 0; i < c->nres; i++)
		if (c->res[i].outcome == FAILED)
			fprintf(stderr, "failed: %s -> %s: %s\n", c->res[i].src, c->res[i].dst,
				c->res[i].why);
	return n[FAILED] ? 1 : 0;
}

int copy_main(int argc, char **argv)
{
	struct copy c;
	const char *from_file = NULL, *prefix_old = NULL, *prefix_new = NULL;
	char *pos[64];
	size_t npos = 0;
	int rc;

	memset(&c, 0, sizeof c);
	regsink_opts_init(&c.o, "copy");
	/* two registries: env credentials would go to both */
	c.o.copt.config_creds_only = 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (regsink_option(&c.o, argc, argv, &i, usage)) {
			continue;
		} else if (strcmp(a, "--platform") == 0) {
			const char *v = cli_arg(argc, argv, &i, usage);
			if (platform_parse(v, &c.platform) < 0)
				fatal(2, "copy: --platform takes os/arch[/variant], such as linux/arm64, "
					 "not \"%s\"", v);
			c.pf = &c.platform;
		} else if (strcmp(a, "-a") == 0 || strcmp(a, "--all-tags") == 0) {
			c.all_tags = 1;
		} else if (strcmp(a, "-r") == 0 || strcmp(a, "--referrers") == 0) {
			c.referrers = 1;
		} else if (strcmp(a, "--prefix") == 0) {
			prefix_old = cli_arg(argc, argv, &i, usage);
			prefix_new = cli_arg(argc, argv, &i, usage);
		} else if (strcmp(a, "--from-file") == 0) {
			from_file = cli_arg(argc, argv, &i, usage);
		} else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
			c.quiet = 1;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage, stdout);
			return 0;
		} else if (a[0] == '-' && a[1]) {
			fatal(2, "copy: unknown option %s\n%s", a, usage);
		} else if (npos < sizeof pos / sizeof *pos) {
			pos[npos++] = argv[i];
		} else {
			fatal(2, "copy: at most %zu names", sizeof pos / sizeof *pos);
		}
	}
	if (from_file && prefix_old)
		fatal(2, "copy: --from-file and --prefix do not go together\n%s", usage);
	if (from_file && npos)
		fatal(2, "copy: with --from-file, the pairs are in the file\n%s", usage);
	if (!from_file && !prefix_old && npos != 2)
		fatal(2, "copy: need SRC and DST\n%s", usage);
	regsink_opts_start(&c.o, c.quiet);
	c.many = from_file || prefix_old || c.all_tags;
	if (from_file)
		copy_list(&c, from_file);
	else if (prefix_old)
		copy_prefix(&c, prefix_old, prefix_new, pos, npos);
	else
		copy_pair(&c, pos[0], pos[1]);
	rc = summary(&c);
	if (c.src_open)
		regsrc_close(&c.src);
	if (c.dst_open)
		regsink_close(&c.dst);
	free(c.res);
	return rc;
}
