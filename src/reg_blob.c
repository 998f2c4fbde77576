/* reg_blob.c - GET/HEAD/DELETE /v2/<name>/blobs/<digest>.
 *
 * A blob's bytes are served as (fd, base, size): size bytes of fd starting at
 * base, so a blob need not be a whole file.  Range (RFC 9110 14): one
 * satisfiable range is a 206 with Content-Range, several a 206
 * multipart/byteranges, every range sent with sendfile from fd at base +
 * first; If-Range honours the Range only for the blob's own strong ETag.
 * A mirror's miss (serve --mirror) is linked from another repository when
 * the store holds the blob, else fetched upstream (mirror.h). */
#include "reg.h"

#include <errno.h>
#include <unistd.h>

#include "log.h"
#include "mirror.h"
#include "store.h"

/* Parsed ranges of the request being served (one loop: one at a time). */
static struct http_range ranges[HTTP_MAX_RANGES];

/* The Range header to honour: NULL when there is none, when there are two
 * (Range is no list), or when If-Range (RFC 9110 13.1.5) names anything but
 * our ETag. */
static const struct http_header *honoured_range(const struct conn *c, const char *digest)
{
	const struct http_header *range = NULL;
	for (size_t i = 0; i < c->req->nheaders; i++) {
		const struct http_header *h = &c->req->headers[i];
		if (http_slice_ieq(h->name, "Range")) {
			if (range)
				return NULL;
			range = h;
		}
	}
	if (!range)
		return NULL;
	for (size_t i = 0; i < c->req->nheaders; i++) {
		const struct http_header *h = &c->req->headers[i];
		if (http_slice_ieq(h->name, "If-Range") && !http_if_range_matches(h->value, digest))
			return NULL;
	}
	return range;
}

/* The Range to honour: HTTP_RANGE_NONE (no Range, or one to ignore),
 * HTTP_RANGE_OK with ranges[0..*n), or HTTP_RANGE_UNSATISFIABLE. */
static int requested_ranges(const struct conn *c, const char *digest, uint64_t size, size_t *n)
{
	const struct http_header *range = honoured_range(c, digest);
	*n = 0;
	if (!range)
		return HTTP_RANGE_NONE;
	return http_parse_ranges(range->value, size, ranges, HTTP_MAX_RANGES, n);
}

/* The blob cannot be read: gone, or its source changed after it was
 * verified (then it is absent from now on, as if deleted). */
static enum regerr blob_unavailable(struct reg_req *q, int err)
{
	if (err == ESTALE) {
		q->detail = "the file this blob was served from changed after it was verified; "
			    "import it again";
		return RE_BLOB_UNKNOWN;
	}
	return err == ENOENT ? RE_BLOB_UNKNOWN : reg_store_error(q, err, "open blob");
}

/* A mirror's miss that the store holds in another repository: linked into
 * this one and served from the store, with no upstream request.  From any
 * repository, of any upstream: the bytes were verified against the digest
 * when they were stored, so they are the same whoever served them; and the
 * mirror has no client authentication, so whoever asks here could as well
 * ask in that other repository.  Only into a repository the store holds a
 * manifest of (one the upstream answered for): a client naming made-up
 * repositories reaches the upstream as before and makes the store no new
 * repository.  NULL: fetch it upstream. */
static const struct store_blob *mirror_link(struct reg_req *q, const char *digest)
{
	struct store *st = q->reg->store;
	if (!store_blob_get(st, NULL, digest) || !store_repo_manifests(st, q->rt.name))
		return NULL;
	if (store_blob_mount(st, q->rt.name, digest) < 0) {
		log_warn_limited("mirror: link %s into %s", digest, q->rt.name);
		return NULL;
	}
	return store_blob_get(st, q->rt.name, digest);
}

enum regerr reg_blob_get(struct conn *c, struct reg_req *q)
{
	const char *digest = q->rt.ref;
	const struct store_blob *b = store_blob_get(q->reg->store, q->rt.name, digest);
	uint64_t size, first = 0, last = 0, base = 0;
	size_t n = 0;
	int r, fd = -1;

	q->detail = digest;
	if (!b && q->upstream >= 0)
		b = mirror_link(q, digest);
	if (!b && q->upstream >= 0) {
		/* a mirror's miss: fetched once, streamed to everyone asking meanwhile */
		const struct http_header *range = honoured_range(c, digest);
		return mirror_blob(q->reg->mirror, c, &q->wait, q->upstream, q->up_name, q->rt.name,
				   digest, range ? range->value : (struct http_slice){ NULL, 0 },
				   &q->detail);
	}
	if (!b)
		return RE_BLOB_UNKNOWN;
	size = b->size;
	/* (fd, base): the blob is [base, base + size) of fd; a file of its own
	 * (base 0), or its range of the source it is served from in place,
	 * whose identity is checked here, before any header goes out */
	if (c->method == HTTP_HEAD || size == 0 ? store_blob_check(q->reg->store, digest) < 0
	    : (fd = store_blob_open(q->reg->store, digest, &base)) < 0)
		return blob_unavailable(q, errno);
	/* a pusher that found it here skips it: gc's grace period starts again */
	store_touch(q->reg->store, q->rt.name, digest);
	r = requested_ranges(c, digest, size, &n);
	if (r == HTTP_RANGE_UNSATISFIABLE) {
		if (fd >= 0)
			close(fd);
		conn_stage(c, "Content-Range: bytes */%llu", (unsigned long long)size);
		q->detail = NULL;
		return RE_RANGE_UNSATISFIABLE;
	}
	conn_stage(c, "Docker-Content-Digest: %s", digest);
	conn_stage(c, "ETag: \"%s\"", digest);
	conn_stage(c, "Accept-Ranges: bytes");
	conn_stage(c, "Cache-Control: max-age=31536000");
	if (r == HTTP_RANGE_OK && n == 1) {
		first = ranges[0].first;
		last = ranges[0].last;
		conn_stage(c, "Content-Range: bytes %llu-%llu/%llu", (unsigned long long)first,
			   (unsigned long long)last, (unsigned long long)size);
	} else {
		last = size ? size - 1 : 0;
	}
	conn_begin(c, r == HTTP_RANGE_OK ? 206 : 200);
	if (r == HTTP_RANGE_OK && n > 1) {
		conn_end_file_ranges(c, "application/octet-stream", fd, (off_t)base, size, ranges, n);
		return RE_OK;
	}
	if (fd < 0) {
		conn_end(c, "application/octet-stream", NULL, size ? (size_t)(last - first + 1) : 0);
		return RE_OK;
	}
	conn_end_file(c, "application/octet-stream", fd, (off_t)(base + first), last - first + 1);
	return RE_OK;
}

enum regerr reg_blob_delete(struct conn *c, struct reg_req *q)
{
	struct store *st = q->reg->store;
	if (store_manifest_get(st, q->rt.name, q->rt.ref)) {
		/* the manifest's own bytes: dropping them here would leave the
		 * layout's index.json naming a file that is gone */
		conn_stage(c, "Allow: GET, HEAD");
		q->detail = "this blob is a manifest: delete it as a manifest";
		return RE_UNSUPPORTED;
	}
	if (store_blob_delete(st, q->rt.name, q->rt.ref) < 0) {
		q->detail = q->rt.ref;
		return errno == ENOENT ? RE_BLOB_UNKNOWN : reg_store_error(q, errno, "delete blob");
	}
	conn_begin(c, 202);
	conn_end(c, NULL, NULL, 0);
	return RE_OK;
}
