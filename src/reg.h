/* reg.h - the registry: the distribution spec's HTTP API over a store.
 *
 * The registry sits above the connection layer and hands itself down as a
 * struct conn_app (reg_app): conn calls reg_dispatch for each request head,
 * and the registry keeps what one request needs - its route, the upload its
 * body goes into, the digest that body must have - in a struct reg_req that
 * is the connection's conn_state.  One file per resource:
 *
 *   reg.c            dispatch, /v2/, readiness and health, request bodies
 *   reg_blob.c       GET/HEAD/DELETE /v2/<name>/blobs/<digest>
 *   reg_upload.c     POST/PATCH/PUT/GET/DELETE /v2/<name>/blobs/uploads/...
 *   reg_manifest.c   GET/HEAD/PUT/DELETE /v2/<name>/manifests/<reference>
 *   reg_tags.c       GET /v2/<name>/tags/list and GET /v2/_catalog
 *   reg_referrers.c  GET /v2/<name>/referrers/<digest>
 *
 * A handler answers success itself (conn_begin/conn_end) and returns RE_OK,
 * or returns the error with q->detail set (or NULL): reg.c is the one place
 * that writes errors (regerr_send).  Handlers never block on the network. */
#ifndef PH_REG_H
#define PH_REG_H

#include "conn.h"
#include "regerr.h"
#include "router.h"

struct store;
struct store_upload;
struct reg_req;
struct mirror;
struct mirror_wait;

struct reg {
	struct store *store;
	struct mirror *mirror; /* serve --mirror: every repository is an upstream's
	                        * (mirror.h), and misses are fetched; or NULL */
	int read_only;     /* every write answers 405 UNSUPPORTED */
	int allow_sparse;  /* accept manifests naming blobs the repository lacks */
	int ready;         /* every import is committed: /readyz answers 200 */
};

/* What to do once a request body is in (status: CONN_BODY_*). */
typedef enum regerr reg_body_fn(struct conn *c, struct reg_req *q, int status);

/* One request's state: the connection's conn_state, reset for each head. */
struct reg_req {
	struct reg *reg;
	struct route rt;
	const char *detail;           /* the error's "detail", or NULL */
	char why[512];                /* room for a detail that is built */
	char digest[DIGEST_STR_MAX];  /* what the body must hash to */
	struct store_upload *up;      /* the upload the body goes into */
	int claimed;                  /* up is claimed by this request */
	reg_body_fn *then;
	/* a mirror's request: rt.name is the store's name for the repository */
	int upstream;                 /* the upstream's index, or -1 */
	char up_name[REF_NAME_MAX + 1]; /* the repository's name there */
	struct mirror_wait *wait;     /* the mirror holds this connection, or streams
	                               * to it from a fetch (cleared by the mirror) */
};

/* The registry as the connection layer sees it. */
struct conn_app reg_app(struct reg *reg);

/* Read the body into c->body (at most max bytes), then call then. */
void reg_read_body_mem(struct conn *c, struct reg_req *q, size_t max, reg_body_fn *then);
/* Stream the body into q->up (claimed), then release it and call then. */
void reg_read_body_upload(struct conn *c, struct reg_req *q, reg_body_fn *then);

enum regerr reg_blob_get(struct conn *c, struct reg_req *q);
enum regerr reg_blob_delete(struct conn *c, struct reg_req *q);
enum regerr reg_upload_start(struct conn *c, struct reg_req *q);
enum regerr reg_upload_patch(struct conn *c, struct reg_req *q);
enum regerr reg_upload_put(struct conn *c, struct reg_req *q);
enum regerr reg_upload_status(struct conn *c, struct reg_req *q);
enum regerr reg_upload_cancel(struct conn *c, struct reg_req *q);
enum regerr reg_manifest_get(struct conn *c, struct reg_req *q);
/* The mirror's mirror_manifest_fn: a held manifest GET/HEAD, answered now. */
void reg_manifest_mirrored(struct conn *c, enum regerr e, const char *detail, const char *accept,
			   size_t alen);
enum regerr reg_manifest_put(struct conn *c, struct reg_req *q);
enum regerr reg_manifest_delete(struct conn *c, struct reg_req *q);
enum regerr reg_tags_list(struct conn *c, struct reg_req *q);
enum regerr reg_catalog(struct conn *c, struct reg_req *q);
enum regerr reg_referrers(struct conn *c, struct reg_req *q);

/* The error for a failed store call (errno), detail what failed; logs the
 * server-side ones (disk, memory) under a rate limit. */
enum regerr reg_store_error(struct reg_req *q, int err, const char *what);

#endif
