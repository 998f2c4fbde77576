/* reg_upload.c - blob uploads: POST (monolithic, session, mount), PATCH
 * (chunked with Content-Range, or streamed), PUT (close), GET (status) and
 * DELETE (cancel).  An upload streams into a temporary file and is hashed on
 * the way; store_upload_commit verifies and publishes it. */
#include "reg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "log.h"
#include "regerr.h"
#include "router.h"
#include "serve.h"
#include "store.h"

/* Location, Range and Docker-Upload-UUID of an upload, for the next response. */
static void stage_upload_headers(struct conn *c, const struct store_upload *up)
{
	conn_stage(c, "Location: /v2/%s/blobs/uploads/%s", up->repo, up->id);
	conn_stage(c, "Range: 0-%llu", (unsigned long long)(up->size ? up->size - 1 : 0));
	conn_stage(c, "Docker-Upload-UUID: %s", up->id);
}

static void created_blob(struct conn *c, const char *repo, const char *digest)
{
	conn_stage(c, "Location: /v2/%s/blobs/%s", repo, digest);
	conn_stage(c, "Docker-Content-Digest: %s", digest);
	conn_begin(c, 201);
	conn_end(c, NULL, NULL, 0);
}

/* A digest query parameter: 1 found (into out), 0 absent, -1 invalid. */
static int query_digest(struct conn *c, const char *key, char out[DIGEST_STR_MAX])
{
	enum digest_alg alg;
	long n = router_query(c->rt.query, c->rt.query_len, key, 0, out, DIGEST_STR_MAX);
	if (n == -1)
		return 0;
	if (n < 0 || digest_parse(out, (size_t)n, &alg) != DIGEST_OK)
		return -1;
	return 1;
}

static void send_store_error(struct conn *c, int err, const char *what)
{
	enum regerr e = regerr_from_errno(err);
	static struct log_limit io_log;

	if (e == RE_INTERNAL || e == RE_STORAGE_FULL)
		log_limited(LOG_WARN, &io_log, "%s: %s: %s", c->rt.name, what, strerror(err));
	regerr_send(c, e == RE_BLOB_UNKNOWN ? RE_INTERNAL : e, what);
}

/* Commit up against digest and answer 201, or the error. */
static void finish_upload(struct conn *c, struct store_upload *up, const char *digest)
{
	char repo[STORE_NAME_MAX + 1];
	int r;
	snprintf(repo, sizeof repo, "%s", up->repo);
	r = store_upload_commit(c->srv->store, up, digest);
	if (r == STORE_DIGEST_MISMATCH) {
		regerr_send(c, RE_DIGEST_INVALID, digest);
		return;
	}
	if (r < 0) {
		send_store_error(c, errno, "commit blob");
		return;
	}
	created_blob(c, repo, digest);
}

static int body_error(struct conn *c, int status)
{
	if (status == CONN_BODY_OK)
		return 0;
	if (status == CONN_BODY_IO)
		send_store_error(c, c->body_errno, "write upload");
	else
		regerr_send(c, RE_BLOB_UPLOAD_INVALID, "malformed request body");
	return -1;
}

/* Claim up for this request; -1 after answering. */
static int claim_upload(struct conn *c, struct store_upload *up)
{
	if (store_upload_claim(c->srv->store, up) == 0)
		return 0;
	if (errno == EBUSY)
		regerr_send(c, RE_BLOB_UPLOAD_INVALID, "another request is writing this upload");
	else
		send_store_error(c, errno, "open upload");
	return -1;
}

static void monolithic_done(struct conn *c, int status)
{
	struct store_upload *up = c->up;
	if (body_error(c, status) < 0) {
		store_upload_cancel(c->srv->store, up);
		return;
	}
	finish_upload(c, up, c->rt.ref);
}

void reg_upload_start(struct conn *c)
{
	struct store *st = c->srv->store;
	char digest[DIGEST_STR_MAX], from[STORE_NAME_MAX + 1];
	struct store_upload *up;
	int d;

	d = query_digest(c, "mount", digest);
	if (d < 0) {
		regerr_send(c, RE_DIGEST_INVALID, "mount");
		return;
	}
	if (d > 0) {
		long n = router_query(c->rt.query, c->rt.query_len, "from", 0, from, sizeof from);
		const char *src = NULL;
		if (n >= 0) {
			if (!router_name_valid(from)) {
				regerr_send(c, RE_NAME_INVALID, "from");
				return;
			}
			src = from;
		}
		/* Mount from the named repository; without one (or when it lacks
		 * the blob) from anywhere in the store, which is one trust domain. */
		if ((src && store_blob_get(st, src, digest)) || store_blob_get(st, NULL, digest)) {
			if (store_blob_mount(st, c->rt.name, digest) < 0) {
				send_store_error(c, errno, "mount blob");
				return;
			}
			created_blob(c, c->rt.name, digest);
			return;
		}
		/* not found: fall through to a new upload session */
	}
	d = query_digest(c, "digest", digest);
	if (d < 0) {
		regerr_send(c, RE_DIGEST_INVALID, "digest");
		return;
	}
	/* sessions are bounded per address, not per socket */
	up = store_upload_start(st, c->rt.name, c->peer_addr);
	if (!up) {
		if (errno == EAGAIN)
			regerr_send(c, RE_TOOMANYREQUESTS,
				    "too many upload sessions open: finish or cancel some, or wait for them to expire");
		else
			send_store_error(c, errno, "start upload");
		return;
	}
	if (d > 0) {
		/* POST ?digest= : the body is the whole blob */
		if (store_upload_claim(st, up) < 0) {
			send_store_error(c, errno, "open upload");
			store_upload_cancel(st, up);
			return;
		}
		snprintf(c->rt.ref, sizeof c->rt.ref, "%s", digest);
		conn_read_body_upload(c, up, monolithic_done);
		return;
	}
	stage_upload_headers(c, up);
	conn_stage(c, "OCI-Chunk-Min-Length: 1");
	conn_begin(c, 202);
	conn_end(c, NULL, NULL, 0);
}

/* The upload named in the path, or NULL after answering 404. */
static struct store_upload *route_upload(struct conn *c)
{
	struct store_upload *up = store_upload_get(c->srv->store, c->rt.ref);
	if (!up || strcmp(up->repo, c->rt.name) != 0) {
		regerr_send(c, RE_BLOB_UPLOAD_UNKNOWN, c->rt.ref);
		return NULL;
	}
	return up;
}

/* Check Content-Range "start-end" against the upload's size.  0 fine (or
 * absent), -1 after answering. */
static int check_content_range(struct conn *c, struct store_upload *up)
{
	const struct http_header *h = http_find_header(c->req, "Content-Range");
	struct http_slice v;
	const char *dash;
	int64_t a, b;

	if (!h)
		return 0;
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
	dash = memchr(v.p, '-', v.n);
	if (!dash) {
		regerr_send(c, RE_BLOB_UPLOAD_INVALID, "malformed Content-Range");
		return -1;
	}
	a = http_parse_u64((struct http_slice){ v.p, (size_t)(dash - v.p) });
	b = http_parse_u64((struct http_slice){ dash + 1, v.n - (size_t)(dash - v.p) - 1 });
	if (a < 0 || b < 0 || b < a) {
		regerr_send(c, RE_BLOB_UPLOAD_INVALID, "malformed Content-Range");
		return -1;
	}
	if ((uint64_t)a != up->size ||
	    (c->content_length >= 0 && c->content_length != b - a + 1)) {
		stage_upload_headers(c, up);
		regerr_send(c, RE_RANGE_INVALID, NULL);
		return -1;
	}
	return 0;
}

static void patch_done(struct conn *c, int status)
{
	struct store_upload *up = c->up;
	if (body_error(c, status) < 0)
		return;
	stage_upload_headers(c, up);
	conn_begin(c, 202);
	conn_end(c, NULL, NULL, 0);
}

void reg_upload_patch(struct conn *c)
{
	struct store_upload *up = route_upload(c);
	if (!up || check_content_range(c, up) < 0 || claim_upload(c, up) < 0)
		return;
	conn_read_body_upload(c, up, patch_done);
}

static void put_done(struct conn *c, int status)
{
	struct store_upload *up = c->up;
	if (body_error(c, status) < 0)
		return;
	finish_upload(c, up, c->rt.ref);
}

void reg_upload_put(struct conn *c)
{
	char digest[DIGEST_STR_MAX];
	struct store_upload *up = route_upload(c);
	int d;

	if (!up)
		return;
	d = query_digest(c, "digest", digest);
	if (d <= 0) {
		regerr_send(c, RE_DIGEST_INVALID, d == 0 ? "digest query parameter missing" : "digest");
		return;
	}
	if (check_content_range(c, up) < 0 || claim_upload(c, up) < 0)
		return;
	/* the reference is the upload id; keep the digest for the commit */
	snprintf(c->rt.ref, sizeof c->rt.ref, "%s", digest);
	conn_read_body_upload(c, up, put_done);
}

void reg_upload_status(struct conn *c)
{
	struct store_upload *up = store_upload_get(c->srv->store, c->rt.ref);
	if (!up || strcmp(up->repo, c->rt.name) != 0) {
		regerr_send(c, RE_BLOB_UPLOAD_UNKNOWN, c->rt.ref);
		return;
	}
	stage_upload_headers(c, up);
	conn_begin(c, 204);
	conn_end(c, NULL, NULL, 0);
}

void reg_upload_cancel(struct conn *c)
{
	struct store_upload *up = route_upload(c);
	/* the claim refuses while another request writes into it */
	if (!up || claim_upload(c, up) < 0)
		return;
	store_upload_cancel(c->srv->store, up);
	conn_begin(c, 204);
	conn_end(c, NULL, NULL, 0);
}
