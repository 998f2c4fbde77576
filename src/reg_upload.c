/* reg_upload.c - blob uploads: POST (monolithic, session, mount), PATCH
 * (chunked with Content-Range, or streamed), PUT (close), GET (status) and
 * DELETE (cancel).  An upload streams into a temporary file and is hashed on
 * the way; store_upload_commit verifies and publishes it. */
#include "reg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store.h"

/* Location, Range and Docker-Upload-UUID of an upload, for the next response. */
static void stage_upload_headers(struct conn *c, const struct store_upload *up)
{
	conn_stage(c, "Location: /v2/%s/blobs/uploads/%s", up->repo, up->id);
	conn_stage(c, "Range: 0-%llu", (unsigned long long)(up->size ? up->size - 1 : 0));
	conn_stage(c, "Docker-Upload-UUID: %s", up->id);
}

static enum regerr created_blob(struct conn *c, const char *repo, const char *digest)
{
	conn_stage(c, "Location: /v2/%s/blobs/%s", repo, digest);
	conn_stage(c, "Docker-Content-Digest: %s", digest);
	conn_begin(c, 201);
	conn_end(c, NULL, NULL, 0);
	return RE_OK;
}

/* A digest query parameter: 1 found (into out), 0 absent, -1 invalid. */
static int query_digest(struct reg_req *q, const char *key, char out[DIGEST_STR_MAX])
{
	enum digest_alg alg;
	long n = router_query(q->rt.query, q->rt.query_len, key, 0, out, DIGEST_STR_MAX);
	if (n == -1)
		return 0;
	if (n < 0 || digest_parse(out, (size_t)n, &alg) != DIGEST_OK)
		return -1;
	return 1;
}

/* Commit q->up against q->digest and answer 201. */
static enum regerr finish_upload(struct conn *c, struct reg_req *q)
{
	char repo[STORE_NAME_MAX + 1];
	int r;
	snprintf(repo, sizeof repo, "%s", q->up->repo);
	r = store_upload_commit(q->reg->store, q->up, q->digest);
	if (r == STORE_DIGEST_MISMATCH) {
		q->detail = q->digest;
		return RE_DIGEST_INVALID;
	}
	if (r < 0)
		return reg_store_error(q, errno, "commit blob");
	return created_blob(c, repo, q->digest);
}

static enum regerr body_error(struct conn *c, struct reg_req *q, int status)
{
	if (status == CONN_BODY_IO)
		return reg_store_error(q, c->body_errno, "write upload");
	q->detail = "malformed request body";
	return RE_BLOB_UPLOAD_INVALID;
}

/* Claim up for this request (q->up, q->claimed). */
static enum regerr claim_upload(struct conn *c, struct reg_req *q, struct store_upload *up)
{
	if (store_upload_claim(q->reg->store, up, ev_now(c->set->ev)) < 0) {
		if (errno != EBUSY)
			return reg_store_error(q, errno, "open upload");
		q->detail = "another request is writing this upload";
		return RE_BLOB_UPLOAD_INVALID;
	}
	q->up = up;
	q->claimed = 1;
	return RE_OK;
}

static enum regerr monolithic_body(struct conn *c, struct reg_req *q, int status)
{
	if (status != CONN_BODY_OK) {
		enum regerr e = body_error(c, q, status);
		store_upload_cancel(q->reg->store, q->up);
		return e;
	}
	return finish_upload(c, q);
}

enum regerr reg_upload_start(struct conn *c, struct reg_req *q)
{
	struct store *st = q->reg->store;
	char from[STORE_NAME_MAX + 1];
	struct store_upload *up;
	enum regerr e;
	int d;

	d = query_digest(q, "mount", q->digest);
	if (d < 0) {
		q->detail = "mount";
		return RE_DIGEST_INVALID;
	}
	if (d > 0) {
		long n = router_query(q->rt.query, q->rt.query_len, "from", 0, from, sizeof from);
		const char *src = NULL;
		if (n >= 0) {
			if (!ref_name_valid(from)) {
				q->detail = "from";
				return RE_NAME_INVALID;
			}
			src = from;
		}
		/* Mount from the named repository; without one (or when it lacks
		 * the blob) from anywhere in the store, which is one trust domain. */
		if ((src && store_blob_get(st, src, q->digest)) || store_blob_get(st, NULL, q->digest)) {
			if (store_blob_mount(st, q->rt.name, q->digest) < 0)
				return reg_store_error(q, errno, "mount blob");
			return created_blob(c, q->rt.name, q->digest);
		}
		/* not found: fall through to a new upload session */
	}
	d = query_digest(q, "digest", q->digest);
	if (d < 0) {
		q->detail = "digest";
		return RE_DIGEST_INVALID;
	}
	/* sessions are bounded per address, not per socket */
	up = store_upload_start(st, q->rt.name, c->peer_addr, ev_now(c->set->ev));
	if (!up) {
		if (errno != EAGAIN)
			return reg_store_error(q, errno, "start upload");
		q->detail = "too many upload sessions open: finish or cancel some, or wait for them to expire";
		return RE_TOOMANYREQUESTS;
	}
	if (d > 0) {
		/* POST ?digest= : the body is the whole blob */
		e = claim_upload(c, q, up);
		if (e != RE_OK) {
			store_upload_cancel(st, up);
			return e;
		}
		reg_read_body_upload(c, q, monolithic_body);
		return RE_OK;
	}
	stage_upload_headers(c, up);
	conn_stage(c, "OCI-Chunk-Min-Length: 1");
	conn_begin(c, 202);
	conn_end(c, NULL, NULL, 0);
	return RE_OK;
}

/* The upload named in the path, or NULL (q->detail set). */
static struct store_upload *route_upload(struct reg_req *q)
{
	struct store_upload *up = store_upload_get(q->reg->store, q->rt.ref);
	if (!up || strcmp(up->repo, q->rt.name) != 0) {
		q->detail = q->rt.ref;
		return NULL;
	}
	return up;
}

/* Check Content-Range "start-end" against the upload's size (fine when absent). */
static enum regerr check_content_range(struct conn *c, struct reg_req *q, struct store_upload *up)
{
	const struct http_header *h = http_find_header(c->req, "Content-Range");
	struct http_slice v;
	const char *dash;
	int64_t a, b;

	if (!h)
		return RE_OK;
	v = h->value;
	/* tolerate the "bytes a-b/total" form some clients send */
	if (v.n > 6 && strncmp(v.p, "bytes", 5) == 0) {
		v.p += 5;
		v.n -= 5;
		while (v.n && (*v.p == ' ' || *v.p == '=')) {
			v.p++;
			v.n--;
		}
		{
			const char *slash = memchr(v.p, '/', v.n);
			if (slash)
				v.n = (size_t)(slash - v.p);
		}
	}
	q->detail = "malformed Content-Range";
	dash = memchr(v.p, '-', v.n);
	if (!dash)
		return RE_BLOB_UPLOAD_INVALID;
	a = http_parse_u64((struct http_slice){ v.p, (size_t)(dash - v.p) });
	b = http_parse_u64((struct http_slice){ dash + 1, v.n - (size_t)(dash - v.p) - 1 });
	if (a < 0 || b < 0 || b < a)
		return RE_BLOB_UPLOAD_INVALID;
	q->detail = NULL;
	if ((uint64_t)a != up->size ||
	    (c->content_length >= 0 && c->content_length != b - a + 1)) {
		stage_upload_headers(c, up);
		return RE_RANGE_INVALID;
	}
	return RE_OK;
}

static enum regerr patch_body(struct conn *c, struct reg_req *q, int status)
{
	if (status != CONN_BODY_OK)
		return body_error(c, q, status);
	stage_upload_headers(c, q->up);
	conn_begin(c, 202);
	conn_end(c, NULL, NULL, 0);
	return RE_OK;
}

enum regerr reg_upload_patch(struct conn *c, struct reg_req *q)
{
	struct store_upload *up = route_upload(q);
	enum regerr e;
	if (!up)
		return RE_BLOB_UPLOAD_UNKNOWN;
	if ((e = check_content_range(c, q, up)) != RE_OK || (e = claim_upload(c, q, up)) != RE_OK)
		return e;
	reg_read_body_upload(c, q, patch_body);
	return RE_OK;
}

static enum regerr put_body(struct conn *c, struct reg_req *q, int status)
{
	if (status != CONN_BODY_OK)
		return body_error(c, q, status);
	return finish_upload(c, q);
}

enum regerr reg_upload_put(struct conn *c, struct reg_req *q)
{
	struct store_upload *up = route_upload(q);
	enum regerr e;
	int d;

	if (!up)
		return RE_BLOB_UPLOAD_UNKNOWN;
	d = query_digest(q, "digest", q->digest);
	if (d <= 0) {
		q->detail = d == 0 ? "digest query parameter missing" : "digest";
		return RE_DIGEST_INVALID;
	}
	if ((e = check_content_range(c, q, up)) != RE_OK || (e = claim_upload(c, q, up)) != RE_OK)
		return e;
	reg_read_body_upload(c, q, put_body);
	return RE_OK;
}

enum regerr reg_upload_status(struct conn *c, struct reg_req *q)
{
	struct store_upload *up = route_upload(q);
	if (!up)
		return RE_BLOB_UPLOAD_UNKNOWN;
	stage_upload_headers(c, up);
	conn_begin(c, 204);
	conn_end(c, NULL, NULL, 0);
	return RE_OK;
}

enum regerr reg_upload_cancel(struct conn *c, struct reg_req *q)
{
	struct store_upload *up = route_upload(q);
	enum regerr e;
	if (!up)
		return RE_BLOB_UPLOAD_UNKNOWN;
	/* the claim refuses while another request writes into it */
	if ((e = claim_upload(c, q, up)) != RE_OK)
		return e;
	q->claimed = 0; /* cancelling frees it, claim and all */
	store_upload_cancel(q->reg->store, up);
	conn_begin(c, 204);
	conn_end(c, NULL, NULL, 0);
	return RE_OK;
}
