/* regerr.c - the error table and the JSON envelope writer. */
#include "regerr.h"

#include <errno.h>
#include <string.h>

#include "buf.h"
#include "conn.h"
#include "json.h"

static const struct {
	int status;
	const char *code;
	const char *message;
} table[RE__COUNT] = {
	[RE_OK] = { 200, "", "" },
	[RE_BLOB_UNKNOWN] = { 404, "BLOB_UNKNOWN", "blob unknown to registry" },
	[RE_BLOB_UPLOAD_INVALID] = { 400, "BLOB_UPLOAD_INVALID", "blob upload invalid" },
	[RE_BLOB_UPLOAD_UNKNOWN] = { 404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry" },
	[RE_DIGEST_INVALID] = { 400, "DIGEST_INVALID", "provided digest did not match uploaded content" },
	[RE_MANIFEST_BLOB_UNKNOWN] = { 404, "MANIFEST_BLOB_UNKNOWN", "manifest references a manifest or blob unknown to registry" },
	[RE_MANIFEST_INVALID] = { 400, "MANIFEST_INVALID", "manifest invalid" },
	[RE_MANIFEST_UNKNOWN] = { 404, "MANIFEST_UNKNOWN", "manifest unknown to registry" },
	[RE_NAME_INVALID] = { 400, "NAME_INVALID", "invalid repository name" },
	[RE_NAME_UNKNOWN] = { 404, "NAME_UNKNOWN", "repository name not known to registry" },
	[RE_SIZE_INVALID] = { 400, "SIZE_INVALID", "provided length did not match content length" },
	[RE_UNAUTHORIZED] = { 401, "UNAUTHORIZED", "authentication required" },
	[RE_DENIED] = { 403, "DENIED", "requested access to the resource is denied" },
	[RE_UNSUPPORTED] = { 405, "UNSUPPORTED", "the operation is unsupported" },
	[RE_TOOMANYREQUESTS] = { 429, "TOOMANYREQUESTS", "too many requests" },
	[RE_TAG_INVALID] = { 400, "MANIFEST_INVALID", "invalid tag" },
	[RE_RANGE_INVALID] = { 416, "BLOB_UPLOAD_INVALID", "chunk out of order: Content-Range does not start at the upload's size" },
	[RE_RANGE_UNSATISFIABLE] = { 416, "RANGE_NOT_SATISFIABLE", "requested range not satisfiable" },
	[RE_MANIFEST_TOO_BIG] = { 413, "MANIFEST_INVALID", "manifest too large" },
	[RE_READ_ONLY] = { 405, "UNSUPPORTED", "the registry is read-only" },
	[RE_METHOD] = { 405, "UNSUPPORTED", "method not allowed on this endpoint" },
	[RE_NOT_FOUND] = { 404, "NOT_FOUND", "no such endpoint" },
	[RE_BAD_REQUEST] = { 400, "BAD_REQUEST", "malformed request" },
	[RE_STORAGE_FULL] = { 507, "UNKNOWN", "no space left on the registry's storage" },
	[RE_STORAGE_READ_ONLY] = { 507, "UNKNOWN", "the registry's storage is read-only" },
	[RE_INTERNAL] = { 500, "UNKNOWN", "internal error" },
	[RE_NOT_READY] = { 503, "UNAVAILABLE", "not ready" },
	[RE_UNAVAILABLE] = { 503, "UNAVAILABLE", "server busy, retry" },
	[RE_UPSTREAM] = { 502, "UNAVAILABLE", "the upstream registry failed" },
	[RE_UPSTREAM_TIMEOUT] = { 504, "UNAVAILABLE", "the upstream registry did not answer in time" },
};

enum regerr regerr_from_errno(int err)
{
	switch (err) {
	case ENOSPC:
	case EDQUOT:
		return RE_STORAGE_FULL;
	case EROFS:
		return RE_STORAGE_READ_ONLY;
	case EMFILE:
	case ENFILE:
	case ENOMEM:
		return RE_UNAVAILABLE;
	default:
		return RE_INTERNAL;
	}
}

void regerr_send(struct conn *c, enum regerr e, const char *detail)
{
	struct buf b;
	int r = 0;

	buf_init(&b, 8192);
	r |= buf_puts(&b, "{\"errors\":[{\"code\":\"");
	r |= buf_puts(&b, table[e].code);
	r |= buf_puts(&b, "\",\"message\":");
	r |= json_write_str(&b, table[e].message, strlen(table[e].message));
	if (detail) {
		r |= buf_puts(&b, ",\"detail\":");
		r |= json_write_str(&b, detail, strnlen(detail, 1024));
	}
	r |= buf_puts(&b, "}]}\n");
	if (table[e].status == 503 || table[e].status == 429)
		conn_stage(c, "Retry-After: 1");
	conn_begin(c, table[e].status);
	if (r == 0)
		conn_end(c, "application/json; charset=utf-8", b.p, b.len);
	else
		conn_end(c, NULL, NULL, 0);
	buf_free(&b);
}
