/* reg_blob.c - GET/HEAD/DELETE /v2/<name>/blobs/<digest>. */
#include "reg.h"

#include <errno.h>

#include "conn.h"
#include "regerr.h"
#include "serve.h"
#include "store.h"

void reg_blob_get(struct conn *c)
{
	const char *digest = c->rt.ref;
	const struct store_blob *b = store_blob_get(c->srv->store, c->rt.name, digest);
	const struct http_header *range;
	uint64_t first = 0, last = 0;
	int r = HTTP_RANGE_NONE, fd;

	if (!b) {
		regerr_send(c, RE_BLOB_UNKNOWN, digest);
		return;
	}
	range = http_find_header(c->req, "Range");
	if (range)
		r = http_parse_range(range->value, b->size, &first, &last);
	if (r == HTTP_RANGE_UNSATISFIABLE) {
		conn_stage(c, "Content-Range: bytes */%llu", (unsigned long long)b->size);
		regerr_send(c, RE_RANGE_UNSATISFIABLE, NULL);
		return;
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
		return;
	}
	fd = store_blob_open(c->srv->store, digest);
	if (fd < 0) {
		regerr_send(c, regerr_from_errno(errno), digest);
		return;
	}
	conn_begin(c, r == HTTP_RANGE_OK ? 206 : 200);
	conn_end_file(c, "application/octet-stream", fd, (off_t)first, last - first + 1);
}

void reg_blob_delete(struct conn *c)
{
	if (store_manifest_get(c->srv->store, c->rt.name, c->rt.ref)) {
		/* the manifest's own bytes: dropping them here would leave the
		 * layout's index.json naming a file that is gone */
		conn_stage(c, "Allow: GET, HEAD");
		regerr_send(c, RE_UNSUPPORTED, "this blob is a manifest: delete it as a manifest");
		return;
	}
	if (store_blob_delete(c->srv->store, c->rt.name, c->rt.ref) < 0) {
		regerr_send(c, errno == ENOENT ? RE_BLOB_UNKNOWN : regerr_from_errno(errno), c->rt.ref);
		return;
	}
	conn_begin(c, 202);
	conn_end(c, NULL, NULL, 0);
}
