/* reg.c - request dispatch, the API base, readiness and health, and the one
 * place where a handler's error becomes a response. */
#include "reg.h"

#include <errno.h>
#include <string.h>

#include "log.h"
#include "mirror.h"
#include "store.h"

static const char json_type[] = "application/json; charset=utf-8";

static int is_write(enum http_method m)
{
	return m == HTTP_POST || m == HTTP_PUT || m == HTTP_PATCH || m == HTTP_DELETE;
}

static enum regerr method_not_allowed(struct conn *c, const char *allow)
{
	conn_stage(c, "Allow: %s", allow);
	return RE_METHOD;
}

static enum regerr readiness(struct conn *c, struct reg_req *q, int ready)
{
	c->quiet = 1;
	if (c->method != HTTP_GET && c->method != HTTP_HEAD)
		return method_not_allowed(c, "GET, HEAD");
	if (!ready) {
		q->detail = "imports still running";
		return RE_NOT_READY;
	}
	conn_begin(c, 200);
	conn_end(c, json_type, "{\"ready\":true}\n", 15);
	return RE_OK;
}

enum regerr reg_store_error(struct reg_req *q, int err, const char *what)
{
	static struct log_limit io_log;
	enum regerr e = regerr_from_errno(err);
	if (e == RE_INTERNAL || e == RE_STORAGE_FULL || e == RE_STORAGE_READ_ONLY ||
	    e == RE_UNAVAILABLE)
		log_limited(LOG_WARN, &io_log, "%s: %s: %s", q->rt.name[0] ? q->rt.name : "-", what,
			    strerror(err));
	q->detail = what;
	return e;
}

static enum regerr route(struct conn *c, struct reg_req *q)
{
	enum http_method m = c->method;
	int get = m == HTTP_GET || m == HTTP_HEAD;
	enum regerr e = router_match(c->req->target.p, c->req->target.n, &q->rt);

	if (e == RE_TAG_INVALID && m != HTTP_PUT)
		e = RE_MANIFEST_UNKNOWN; /* no such tag can exist: unknown, not malformed */
	if (e != RE_OK)
		return e;
	if (q->reg->read_only && is_write(m) && q->rt.kind != ROUTE_READY &&
	    q->rt.kind != ROUTE_HEALTH) {
		if (q->reg->mirror)
			q->detail = "a pull-through mirror takes no pushes, as registry:2's proxy";
		return RE_READ_ONLY;
	}
	if (q->reg->mirror && q->rt.name[0]) {
		/* the repository is an upstream's: the store knows it by another name */
		char store_name[REF_NAME_MAX + 1];
		e = mirror_route(q->reg->mirror, q->rt.query, q->rt.query_len, q->rt.name, &q->upstream,
				 store_name, &q->detail);
		if (e != RE_OK)
			return e;
		memcpy(q->up_name, q->rt.name, sizeof q->up_name);
		memcpy(q->rt.name, store_name, sizeof q->rt.name);
	}
	switch (q->rt.kind) {
	case ROUTE_BASE:
		if (!get)
			break;
		conn_begin(c, 200);
		conn_end(c, json_type, "{}", 2);
		return RE_OK;
	case ROUTE_READY:
		return readiness(c, q, q->reg->ready);
	case ROUTE_HEALTH:
		return readiness(c, q, 1);
	case ROUTE_CATALOG:
		return get ? reg_catalog(c, q) : method_not_allowed(c, "GET, HEAD");
	case ROUTE_TAGS:
		return get ? reg_tags_list(c, q) : method_not_allowed(c, "GET, HEAD");
	case ROUTE_REFERRERS:
		return get ? reg_referrers(c, q) : method_not_allowed(c, "GET, HEAD");
	case ROUTE_MANIFEST:
		if (get)
			return reg_manifest_get(c, q);
		if (m == HTTP_PUT)
			return reg_manifest_put(c, q);
		if (m == HTTP_DELETE)
			return reg_manifest_delete(c, q);
		return method_not_allowed(c, "GET, HEAD, PUT, DELETE");
	case ROUTE_BLOB:
		if (get)
			return reg_blob_get(c, q);
		if (m == HTTP_DELETE)
			return reg_blob_delete(c, q);
		return method_not_allowed(c, "GET, HEAD, DELETE");
	case ROUTE_UPLOADS:
		return m == HTTP_POST ? reg_upload_start(c, q) : method_not_allowed(c, "POST");
	case ROUTE_UPLOAD:
		if (m == HTTP_GET)
			return reg_upload_status(c, q);
		if (m == HTTP_PATCH)
			return reg_upload_patch(c, q);
		if (m == HTTP_PUT)
			return reg_upload_put(c, q);
		if (m == HTTP_DELETE)
			return reg_upload_cancel(c, q);
		return method_not_allowed(c, "GET, PATCH, PUT, DELETE");
	case ROUTE_NONE:
		break;
	}
	return method_not_allowed(c, "GET, HEAD");
}

/* ---- the connection layer's view ---- */

static void release_upload(struct reg_req *q)
{
	if (q->claimed)
		store_upload_release(q->reg->store, q->up);
	q->claimed = 0;
}

static void dispatch(struct conn *c)
{
	struct reg_req *q = conn_state(c);
	struct reg *reg = conn_app_data(c);
	enum regerr e;

	if (q->wait)
		mirror_forget(reg->mirror, q->wait);
	memset(q, 0, sizeof *q);
	q->reg = reg;
	q->upstream = -1;
	e = route(c, q);
	if (e != RE_OK) {
		release_upload(q);
		regerr_send(c, e, q->detail);
	}
}

static void closed(struct conn *c)
{
	struct reg_req *q = conn_state(c);
	release_upload(q);
	if (q->wait)
		mirror_forget(q->reg->mirror, q->wait);
}

struct conn_app reg_app(struct reg *reg)
{
	return (struct conn_app){ .dispatch = dispatch, .closed = closed,
				  .state_size = sizeof(struct reg_req), .data = reg };
}

/* ---- request bodies ---- */

static void body_done(struct conn *c, int status)
{
	struct reg_req *q = conn_state(c);
	reg_body_fn *then = q->then;
	enum regerr e;

	q->then = NULL;
	release_upload(q);
	e = then(c, q, status);
	q->up = NULL;
	if (e != RE_OK)
		regerr_send(c, e, q->detail);
}

static int upload_sink(struct conn *c, const char *p, size_t n)
{
	struct reg_req *q = conn_state(c);
	return store_upload_write(q->reg->store, q->up, p, n, ev_now(c->set->ev));
}

void reg_read_body_mem(struct conn *c, struct reg_req *q, size_t max, reg_body_fn *then)
{
	q->then = then;
	conn_read_body_mem(c, max, body_done);
}

void reg_read_body_upload(struct conn *c, struct reg_req *q, reg_body_fn *then)
{
	q->then = then;
	conn_read_body_stream(c, upload_sink, body_done);
}
