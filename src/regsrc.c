/* regsrc.c - a registry as a source: manifests, the walk, listings,
 * referrers, and blob streams (regsrc.h). */
#include "regsrc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listing.h"
#include "log.h"
#include "platform.h"

#define SKIP_BUF ((size_t)256 << 10)

static void scope_of(const char *repo, char *out, size_t cap)
{
	snprintf(out, cap, "repository:%s:pull", repo);
}

/* GET /v2/<repo>/manifests/<reference> into r (MANIFEST_MAX).  0 with r
 * holding the answer (any status), or -1 with err. */
static int get_manifest(struct regsrc *s, const char *reference, const char *accept,
			struct client_resp *r, char *err, size_t cap)
{
	char path[1024], scope[400];
	scope_of(s->repo, scope, sizeof scope);
	snprintf(path, sizeof path, "/v2/%s/manifests/%s", s->repo, reference);
	client_resp_init_max(r, MANIFEST_MAX);
	return client_request(&s->cl, s->h, "GET", path, scope, accept, NULL, 1, r, err, cap);
}

static int manifest_error(const struct regsrc *s, const char *reference,
			  const struct client_resp *r, char *err, size_t cap)
{
	char d[600];
	client_describe(r, d, sizeof d);
	return log_fail(err, cap, "manifest %s of %s/%s: %s", reference, s->host, s->repo, d);
}

/* The digest of bytes in the algorithm of like ("sha256:...", "sha512:..."). */
static void digest_like(const char *like, const char *bytes, size_t len, char out[DIGEST_STR_MAX])
{
	enum digest_alg alg = DIGEST_SHA256;
	digest_parse(like, strlen(like), &alg);
	digest_of(alg == DIGEST_SHA512 ? DIGEST_SHA512 : DIGEST_SHA256, bytes, len, out);
}

int regsrc_resolve(struct regsrc *s, const char *repo, const char *reference,
		   struct descriptor *out, char *err, size_t cap)
{
	struct client_resp r;
	struct manifest m;
	char why[256], got[DIGEST_STR_MAX];
	enum digest_alg alg;
	int by_digest = digest_parse(reference, strlen(reference), &alg) == DIGEST_OK;
	int rc = -1;

	snprintf(s->repo, sizeof s->repo, "%s", repo);
	free(s->top);
	s->top = NULL;
	s->top_digest[0] = '\0';
	memset(out, 0, sizeof *out);
	if (get_manifest(s, reference, CLIENT_ACCEPT_MANIFESTS, &r, err, cap) < 0)
		goto out;
	if (r.status == 404) {
		manifest_error(s, reference, &r, err, cap);
		rc = 1;
		goto out;
	}
	if (r.status != 200) {
		manifest_error(s, reference, &r, err, cap);
		goto out;
	}
	/* the registry's word when it gives one (sha512 included), else sha256 */
	digest_like(by_digest ? reference : r.digest[0] ? r.digest : "sha256:", r.body.p ? r.body.p : "",
		    r.body.len, got);
	if ((by_digest && strcmp(got, reference) != 0) || (r.digest[0] && strcmp(got, r.digest) != 0)) {
		log_fail(err, cap, "manifest %s of %s/%s: its bytes are %s, not %s", reference, s->host,
			 s->repo, got, by_digest ? reference : r.digest);
		goto out;
	}
	if (manifest_parse(&m, r.body.p ? r.body.p : "", r.body.len, r.content_type, why,
			   sizeof why) < 0) {
		log_fail(err, cap, "manifest %s of %s/%s: %s", reference, s->host, s->repo, why);
		goto out;
	}
	snprintf(out->media_type, sizeof out->media_type, "%s", m.media_type);
	manifest_free(&m);
	snprintf(out->digest, sizeof out->digest, "%s", got);
	out->size = r.body.len;
	/* kept for the walk, which asks for it by digest */
	s->top = r.body.p;
	s->top_len = r.body.len;
	r.body.p = NULL;
	snprintf(s->top_digest, sizeof s->top_digest, "%s", got);
	rc = 0;
out:
	client_resp_free(&r);
	return rc;
}

/* image_fetch: a manifest by digest, checked against its descriptor. */
static int fetch_manifest(void *ctx, const struct descriptor *d, char **bytes, size_t *len,
			  char *err, size_t cap)
{
	struct regsrc *s = ctx;
	struct client_resp r;
	char got[DIGEST_STR_MAX];
	int rc = -1;

	if (s->top && strcmp(s->top_digest, d->digest) == 0 && s->top_len == d->size) {
		*bytes = s->top;
		*len = s->top_len;
		s->top = NULL;
		s->top_digest[0] = '\0';
		return 0;
	}
	if (get_manifest(s, d->digest, CLIENT_ACCEPT_MANIFESTS, &r, err, cap) < 0)
		goto out;
	if (r.status != 200) {
		manifest_error(s, d->digest, &r, err, cap);
		goto out;
	}
	digest_like(d->digest, r.body.p ? r.body.p : "", r.body.len, got);
	if (r.body.len != d->size || strcmp(got, d->digest) != 0) {
		log_fail(err, cap, "manifest %s of %s/%s: %zu bytes that are %s, not the %llu its "
			 "descriptor says", d->digest, s->host, s->repo, r.body.len, got,
			 (unsigned long long)d->size);
		goto out;
	}
	if (!r.body.p && !(r.body.p = malloc(1)))
		goto out;
	*bytes = r.body.p;
	*len = r.body.len;
	r.body.p = NULL;
	rc = 0;
out:
	client_resp_free(&r);
	return rc;
}

int regsrc_image(struct regsrc *s, const struct descriptor *top, const struct platform *platform,
		 struct image *img, char *err, size_t cap)
{
	char what[REF_HOST_MAX + REF_NAME_MAX + 2];
	struct image_fetch f = { .manifest = fetch_manifest, .blob = NULL, .ctx = s, .what = what };
	snprintf(what, sizeof what, "%s/%s", s->host, s->repo);
	return image_walk(&f, top, platform, img, err, cap);
}

/* ---- listings ---- */

struct collect {
	struct descriptor *v;
	size_t n;
};

/* Descriptors of the index in r's body into c (appended). */
static int collect_index(const struct regsrc *s, const char *what, const struct client_resp *r,
			 struct collect *c, char *err, size_t cap)
{
	struct manifest m;
	char why[256];
	struct descriptor *v;

	if (manifest_parse(&m, r->body.p ? r->body.p : "", r->body.len, MT_OCI_INDEX, why,
			   sizeof why) < 0)
		return log_fail(err, cap, "%s of %s/%s: %s", what, s->host, s->repo, why);
	if (m.kind != MANIFEST_INDEX || c->n + m.nrefs > IMAGE_MAX_MANIFESTS) {
		manifest_free(&m);
		return log_fail(err, cap, "%s of %s/%s: %s", what, s->host, s->repo,
				m.kind != MANIFEST_INDEX ? "not an image index" : "too many referrers");
	}
	v = realloc(c->v, (c->n + m.nrefs + 1) * sizeof *v);
	if (!v) {
		manifest_free(&m);
		return log_fail(err, cap, "out of memory");
	}
	c->v = v;
	if (m.nrefs)
		memcpy(v + c->n, m.refs, m.nrefs * sizeof *v);
	c->n += m.nrefs;
	manifest_free(&m);
	return 0;
}

int regsrc_referrers(struct regsrc *s, const char *digest, struct descriptor **out, size_t *n,
		     char *err, size_t cap)
{
	char path[URL_MAX], scope[400], next[URL_MAX], tag[DIGEST_STR_MAX];
	const char *colon = strchr(digest, ':');
	struct collect c = { NULL, 0 };
	struct client_resp r;
	int rc = -1, pages = 0;

	*out = NULL;
	*n = 0;
	scope_of(s->repo, scope, sizeof scope);
	snprintf(path, sizeof path, "/v2/%s/referrers/%s", s->repo, digest);
	for (;;) {
		client_resp_init_max(&r, MANIFEST_MAX);
		if (client_request(&s->cl, s->h, "GET", path, scope, MT_OCI_INDEX, NULL, 1, &r, err, cap) < 0)
			goto out;
		if (r.status == 404 && pages == 0)
			break; /* no referrers API: the fallback tag */
		if (r.status != 200) {
			manifest_error(s, path, &r, err, cap);
			goto out;
		}
		if (collect_index(s, "the referrers", &r, &c, err, cap) < 0)
			goto out;
		if (listing_next(r.link, strlen(r.link), next, sizeof next) != 1 || ++pages >= 1000) {
			rc = 0;
			goto out;
		}
		snprintf(path, sizeof path, "%s", next);
		client_resp_free(&r);
	}
	client_resp_free(&r);
	snprintf(tag, sizeof tag, "%.*s-%.64s", (int)(colon - digest), digest, colon + 1);
	if (get_manifest(s, tag, MT_OCI_INDEX, &r, err, cap) < 0)
		goto out;
	if (r.status == 200 && collect_index(s, tag, &r, &c, err, cap) < 0)
		goto out;
	if (r.status != 200 && r.status != 404) {
		manifest_error(s, tag, &r, err, cap);
		goto out;
	}
	rc = 0;
out:
	client_resp_free(&r);
	if (rc < 0) {
		free(c.v);
		return -1;
	}
	*out = c.v;
	*n = c.n;
	return 0;
}

struct names {
	int (*each)(void *ctx, const char *name);
	void *ctx;
	long count;
	char *err;
	size_t cap;
};

static int one_name(void *ctx, const char *name)
{
	struct names *nm = ctx;
	if (++nm->count > REGSRC_MAX_NAMES)
		return log_fail(nm->err, nm->cap, "more than %d names", REGSRC_MAX_NAMES);
	return nm->each(nm->ctx, name);
}

/* Every name of a listing (path, the array key), page by page. */
static long list(struct regsrc *s, const char *path0, const char *key, const char *scope,
		 size_t max, int (*each)(void *ctx, const char *name), void *ctx, char *err,
		 size_t cap)
{
	char path[URL_MAX], next[URL_MAX], why[512];
	struct names nm = { each, ctx, 0, why, sizeof why };
	struct client_resp r;

	snprintf(path, sizeof path, "%s", path0);
	for (;;) {
		long got;
		char d[600];
		client_resp_init_max(&r, REGSRC_PAGE_MAX);
		if (client_request(&s->cl, s->h, "GET", path, scope, NULL, NULL, 1, &r, err, cap) < 0)
			break;
		if (r.status != 200) {
			client_describe(&r, d, sizeof d);
			log_fail(err, cap, "GET %s on %s: %s", path, s->host, d);
			break;
		}
		got = listing_each(r.body.p ? r.body.p : "", r.body.len, key, max, one_name, &nm, why,
				   sizeof why);
		if (got < 0) {
			log_fail(err, cap, "GET %s on %s: %s", path, s->host, why);
			break;
		}
		/* a page with nothing on it ends the listing, whatever its Link */
		if (got == 0 || listing_next(r.link, strlen(r.link), next, sizeof next) != 1) {
			client_resp_free(&r);
			return nm.count;
		}
		snprintf(path, sizeof path, "%s", next);
		client_resp_free(&r);
	}
	client_resp_free(&r);
	return -1;
}

long regsrc_tags(struct regsrc *s, const char *repo, int (*each)(void *ctx, const char *name),
		 void *ctx, char *err, size_t cap)
{
	char path[1024], scope[400];
	snprintf(s->repo, sizeof s->repo, "%s", repo);
	scope_of(repo, scope, sizeof scope);
	snprintf(path, sizeof path, "/v2/%s/tags/list?n=%d", repo, REGSRC_PAGE);
	return list(s, path, "tags", scope, REF_TAG_MAX + 1, each, ctx, err, cap);
}

long regsrc_catalog(struct regsrc *s, int (*each)(void *ctx, const char *name), void *ctx,
		    char *err, size_t cap)
{
	char path[64];
	snprintf(path, sizeof path, "/v2/_catalog?n=%d", REGSRC_PAGE);
	return list(s, path, "repositories", "registry:catalog:*", REF_NAME_MAX + 1, each, ctx, err,
		    cap);
}

/* ---- blob streams ---- */

/* One worker's reader: the blob it is aimed at, the stream, and the hash of
 * bytes [0, hashed) of the blob, each byte hashed once whatever is sent
 * again. */
struct reader {
	struct regsrc *s;
	struct client_stream *st;
	const struct image_blob *b;
	struct push_blob_hash h;
	uint64_t pos;             /* where the stream is in the blob; UINT64_MAX: none */
	int fatal;                /* never again: the bytes are wrong, the source refused */
	char err[1024];
	char *skip;               /* SKIP_BUF: bytes hashed but not sent */
};

static void *reader_open(void *ctx)
{
	struct reader *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->s = ctx;
	r->st = client_stream_new(&r->s->cl);
	r->skip = malloc(SKIP_BUF);
	if (!r->st || !r->skip) {
		client_stream_free(r->st);
		free(r->skip);
		free(r);
		return NULL;
	}
	r->pos = UINT64_MAX;
	return r;
}

static void reader_close(void *rd)
{
	struct reader *r = rd;
	client_stream_free(r->st);
	free(r->skip);
	free(r);
}

static void reader_start(void *rd, const struct image_blob *b)
{
	struct reader *r = rd;
	client_stream_close(r->st);
	r->b = b;
	push_blob_hash_start(&r->h, b->digest);
	r->pos = UINT64_MAX;
	r->fatal = 0;
	r->err[0] = '\0';
}

/* Read up to n bytes at r->pos (opening the stream there if needed), hash
 * what is new; on the last byte compare.  Count, or -1 (r->err, r->fatal). */
static long take(struct reader *r, void *buf, size_t n, uint64_t at)
{
	const struct image_blob *b = r->b;
	char d[DIGEST_STR_MAX];
	int transient = 0;
	long got;

	if (r->pos != at) {
		char path[1024], scope[400];
		client_stream_close(r->st);
		r->pos = UINT64_MAX;
		scope_of(r->s->repo, scope, sizeof scope);
		snprintf(path, sizeof path, "/v2/%s/blobs/%s", r->s->repo, b->digest);
		if (client_stream_open(r->st, path, scope, at, r->err, sizeof r->err) < 0) {
			r->fatal = 1; /* the stream retried what could be */
			return -1;
		}
		r->pos = at;
	}
	got = client_stream_read(r->st, buf, n, &transient, r->err, sizeof r->err);
	if (got == 0)
		log_fail(r->err, sizeof r->err, "GET blob %s from %s/%s: the body ends at byte %llu of "
			 "%llu", b->digest, r->s->host, r->s->repo, (unsigned long long)at,
			 (unsigned long long)b->size);
	if (got <= 0) {
		client_stream_close(r->st);
		r->pos = UINT64_MAX;
		r->fatal = got < 0 && !transient;
		return -1;
	}
	r->pos = at + (uint64_t)got;
	/* at <= hashed: see read_at */
	if (push_blob_hash_at(&r->h, b, buf, (size_t)got, at, d) < 0) {
		log_fail(r->err, sizeof r->err, "blob %s from %s/%s: its bytes are %s; nothing of it "
			 "was committed", b->digest, r->s->host, r->s->repo, d);
		client_stream_close(r->st);
		r->pos = UINT64_MAX;
		r->fatal = 1;
		return -1;
	}
	return got;
}

/* Hash the bytes before `at` that were never read. */
static int catch_up(struct reader *r, uint64_t at)
{
	while (r->h.hashed < at) {
		uint64_t want = at - r->h.hashed;
		if (take(r, r->skip, want < SKIP_BUF ? (size_t)want : SKIP_BUF, r->h.hashed) < 0)
			return -1;
	}
	return 0;
}

static long reader_read_at(void *rd, void *buf, size_t n, uint64_t at)
{
	struct reader *r = rd;
	if (r->fatal || at >= r->b->size)
		return -1;
	if ((uint64_t)n > r->b->size - at)
		n = (size_t)(r->b->size - at);
	if (catch_up(r, at) < 0)
		return -1;
	return take(r, buf, n, at);
}

static int reader_failed(void *rd, char *err, size_t cap)
{
	struct reader *r = rd;
	if (r->err[0])
		snprintf(err, cap, "%s", r->err);
	return r->fatal ? -1 : 0;
}

static int reader_verify(void *rd, char *err, size_t cap)
{
	struct reader *r = rd;
	if (!r->h.verified && !r->fatal)
		catch_up(r, r->b->size);
	if (r->h.verified)
		return 0;
	snprintf(err, cap, "%s", r->err[0] ? r->err : "the blob was not read to its end");
	return -1;
}

int regsrc_open(struct regsrc *s, const char *host, const struct client_opts *o, char *err,
		size_t cap)
{
	memset(s, 0, sizeof *s);
	snprintf(s->host, sizeof s->host, "%s", host);
	s->reader.open = reader_open;
	s->reader.close = reader_close;
	s->reader.start = reader_start;
	s->reader.read_at = reader_read_at;
	s->reader.failed = reader_failed;
	s->reader.verify = reader_verify;
	s->reader.ctx = s;
	return client_open(&s->cl, host, o, &s->h, err, cap);
}

void regsrc_close(struct regsrc *s)
{
	free(s->top);
	s->top = NULL;
	client_close(&s->cl, &s->h);
}

int regsrc_add_referrers(struct regsrc *s, struct image **imgs, size_t *n, struct map *seen,
			 int *deeper, char *err, size_t cap)
{
	size_t level_start = 0, level_end = *n;

	for (int depth = 0; depth < REGSRC_REFERRERS_DEPTH && level_start < level_end; depth++) {
		for (size_t k = level_start; k < level_end; k++) {
			for (size_t i = 0; i < (*imgs)[k].nmanifests; i++) {
				struct descriptor *refs;
				size_t nrefs;
				if (regsrc_referrers(s, (*imgs)[k].manifests[i].digest, &refs, &nrefs, err,
						     cap) < 0)
					return -1;
				for (size_t j = 0; j < nrefs; j++) {
					struct image *v, *img;
					if (map_get(seen, refs[j].digest))
						continue;
					if (*n == REGSRC_MAX_IMAGES) {
						free(refs);
						return log_fail(err, cap, "more than %d referrers",
								REGSRC_MAX_IMAGES - 1);
					}
					v = realloc(*imgs, (*n + 1) * sizeof *v);
					if (!v) {
						free(refs);
						return log_fail(err, cap, "out of memory");
					}
					*imgs = v;
					img = &v[(*n)++];
					memset(img, 0, sizeof *img);
					if (regsrc_image(s, &refs[j], NULL, img, err, cap) < 0) {
						free(refs);
						return -1;
					}
					for (size_t m = 0; m < img->nmanifests; m++)
						if (map_put(seen, img->manifests[m].digest, (void *)1) < 0) {
							free(refs);
							return log_fail(err, cap, "out of memory");
						}
				}
				free(refs);
			}
		}
		level_start = level_end;
		level_end = *n;
	}
	*deeper = level_start < level_end;
	return 0;
}
