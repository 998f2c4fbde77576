/* reg.c - request dispatch, the API base, readiness and health. */
#include "reg.h"

#include "conn.h"
#include "regerr.h"
#include "router.h"
#include "serve.h"

static const char json_type[] = "application/json; charset=utf-8";

static int is_write(enum http_method m)
{
	return m == HTTP_POST || m == HTTP_PUT || m == HTTP_PATCH || m == HTTP_DELETE;
}

static void method_not_allowed(struct conn *c, const char *allow)
{
	conn_stage(c, "Allow: %s", allow);
	regerr_send(c, RE_METHOD, NULL);
}

static void readiness(struct conn *c, int ready)
{
	c->quiet = 1;
	if (c->method != HTTP_GET && c->method != HTTP_HEAD) {
		method_not_allowed(c, "GET, HEAD");
		return;
	}
	if (!ready) {
		regerr_send(c, RE_NOT_READY, "imports still running");
		return;
	}
	conn_begin(c, 200);
	conn_end(c, json_type, "{\"ready\":true}\n", 15);
}

void reg_dispatch(struct conn *c)
{
	enum http_method m = c->method;
	int get = m == HTTP_GET || m == HTTP_HEAD;
	enum regerr e = router_match(c->req->target.p, c->req->target.n, &c->rt);

	if (e == RE_TAG_INVALID && m != HTTP_PUT)
		e = RE_MANIFEST_UNKNOWN; /* no such tag can exist: unknown, not malformed */
	if (e != RE_OK) {
		regerr_send(c, e, NULL);
		return;
	}
	if (c->srv->opt->read_only && is_write(m) && c->rt.kind != ROUTE_READY &&
	    c->rt.kind != ROUTE_HEALTH) {
		regerr_send(c, RE_READ_ONLY, NULL);
		return;
	}
	switch (c->rt.kind) {
	case ROUTE_BASE:
		if (!get)
			break;
		conn_begin(c, 200);
		conn_end(c, json_type, "{}", 2);
		return;
	case ROUTE_READY:
		readiness(c, c->srv->ready);
		return;
	case ROUTE_HEALTH:
		readiness(c, 1);
		return;
	case ROUTE_CATALOG:
		if (!get)
			break;
		reg_catalog(c);
		return;
	case ROUTE_TAGS:
		if (!get)
			break;
		reg_tags_list(c);
		return;
	case ROUTE_REFERRERS:
		if (!get)
			break;
		reg_referrers(c);
		return;
	case ROUTE_MANIFEST:
		if (get)
			reg_manifest_get(c);
		else if (m == HTTP_PUT)
			reg_manifest_put(c);
		else if (m == HTTP_DELETE)
			reg_manifest_delete(c);
		else
			method_not_allowed(c, "GET, HEAD, PUT, DELETE");
		return;
	case ROUTE_BLOB:
		if (get)
			reg_blob_get(c);
		else if (m == HTTP_DELETE)
			reg_blob_delete(c);
		else
			method_not_allowed(c, "GET, HEAD, DELETE");
		return;
	case ROUTE_UPLOADS:
		if (m == HTTP_POST)
			reg_upload_start(c);
		else
			method_not_allowed(c, "POST");
		return;
	case ROUTE_UPLOAD:
		if (m == HTTP_GET)
			reg_upload_status(c);
		else if (m == HTTP_PATCH)
			reg_upload_patch(c);
		else if (m == HTTP_PUT)
			reg_upload_put(c);
		else if (m == HTTP_DELETE)
			reg_upload_cancel(c);
		else
			method_not_allowed(c, "GET, PATCH, PUT, DELETE");
		return;
	case ROUTE_NONE:
		break;
	}
	method_not_allowed(c, "GET, HEAD");
}
