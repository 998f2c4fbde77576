/* reg_blob.c - GET/HEAD/DELETE /v2/<name>/blobs/<digest>. */
#include "reg.h"

#include <errno.h>
#include <string.h>

#include "mirror.h"
#include "store.h"

enum regerr reg_blob_get(struct conn *c, struct reg_req *q)
{
	const char *digest = q->rt.ref;
	const struct store_blob *b = store_blob_get(q->reg->store, q->rt.name, digest);
	const struct http_header *range;
	uint64_t first = 0, last = 0;
	int r = HTTP_RANGE_NONE, fd;

	q->detail = digest;
	if (!b && q->upstream >= 0) {
		/* a mirror's miss: fetched once, streamed to everyone asking meanwhile */
		char rv[128] = "";
		range = http_find_header(c->req, "Range");
		if (range && range->value.n < sizeof rv) {
			memcpy(rv, range->value.p, range->value.n);
			rv[range->value.n] = '\0';
		}
		return mirror_blob(q->reg->mirror, c, &q->wait, q->upstream, q->up_name, q->rt.name,
				   digest, rv[0] ? rv : NULL, &q->detail);
	}
	if (!b)
		return RE_BLOB_UNKNOWN;
	/* a pusher that found it here skips it: gc's grace period starts again */
	store_touch(q->reg->store, q->rt.name, digest);
	range = http_find_header(c->req, "Range");
	if (range)
		r = http_parse_range(range->value, b->size, &first, &last);
	if (r == HTTP_RANGE_UNSATISFIABLE) {
		conn_stage(c, "Content-Range: bytes */%llu", (unsigned long long)b->size);
		q->detail = NULL;
		return RE_RANGE_UNSATISFIABLE;
	}
	conn_stage(c, "Docker-Content-Digest: %s", digest);
	conn_stage(c, "ETag: \"%s\"", digest);
	conn_stage(c, "Accept-Ranges: bytes");
	conn_stage(c, "Cache-Control: max-age=31536000");
	if (r == HTTP_RANGE_OK)
		conn_stage(c, "Content-Range: bytes %llu-%llu/%llu", (unsigned long long)first,
			   (unsigned long long)last, (unsigned long long)b->size);
	else
		last = b->size ? b->size - 1 : 0;
	if (c->method == HTTP_HEAD || b->size == 0) {
		conn_begin(c, r == HTTP_RANGE_OK ? 206 : 200);
		conn_end(c, "application/octet-stream", NULL,
			 b->size ? (size_t)(last - first + 1) : 0);
		return RE_OK;
	}
	fd = store_blob_open(q->reg->store, digest);
	if (fd < 0) {
		c->staged.len = 0; /* the headers above were for the blob */
		return errno == ENOENT ? RE_BLOB_UNKNOWN : reg_store_error(q, errno, "open blob");
	}
	conn_begin(c, r == HTTP_RANGE_OK ? 206 : 200);
	conn_end_file(c, "application/octet-stream", fd, (off_t)first, last - first + 1);
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
