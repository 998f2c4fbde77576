/* reg.h - the registry's HTTP handlers, one file per resource.
 *
 *   reg.c            dispatch, /v2/, readiness and health
 *   reg_blob.c       GET/HEAD/DELETE /v2/<name>/blobs/<digest>
 *   reg_upload.c     POST/PATCH/PUT/GET/DELETE /v2/<name>/blobs/uploads/...
 *   reg_manifest.c   GET/HEAD/PUT/DELETE /v2/<name>/manifests/<reference>
 *   reg_tags.c       GET /v2/<name>/tags/list and GET /v2/_catalog
 *   reg_referrers.c  GET /v2/<name>/referrers/<digest>
 *
 * Handlers answer through conn_begin/conn_end or regerr_send, and never
 * block on the network. */
#ifndef PH_REG_H
#define PH_REG_H

struct conn;

/* Route and serve the request head in c->req. */
void reg_dispatch(struct conn *c);

void reg_blob_get(struct conn *c);
void reg_blob_delete(struct conn *c);
void reg_upload_start(struct conn *c);
void reg_upload_patch(struct conn *c);
void reg_upload_put(struct conn *c);
void reg_upload_status(struct conn *c);
void reg_upload_cancel(struct conn *c);
void reg_manifest_get(struct conn *c);
void reg_manifest_put(struct conn *c);
void reg_manifest_delete(struct conn *c);
void reg_tags_list(struct conn *c);
void reg_catalog(struct conn *c);
void reg_referrers(struct conn *c);

#endif
