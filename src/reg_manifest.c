/* reg_manifest.c - GET/HEAD/PUT/DELETE /v2/<name>/manifests/<reference>. */
#include "reg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "log.h"
#include "manifest.h"
#include "regerr.h"
#include "router.h"
#include "serve.h"
#include "store.h"

#define MAX_QUERY_TAGS 32

void reg_manifest_get(struct conn *c)
{
	const struct store_manifest *m = store_manifest_get(c->srv->store, c->rt.name, c->rt.ref);
	char accept[4096];
	long alen;

	if (!m) {
		regerr_send(c, RE_MANIFEST_UNKNOWN, c->rt.ref);
		return;
	}
	alen = conn_header_values(c, "Accept", accept, sizeof accept);
	/* as registry:2 does: a client that names the types it takes and not
	 * this one gets 404 rather than a document it cannot read */
	if (alen > 0 && !manifest_accepts(accept, (size_t)alen, m->media_type)) {
		char why[MEDIA_TYPE_MAX + 64];
		snprintf(why, sizeof why, "manifest is %s, which the Accept header excludes",
			 m->media_type);
		regerr_send(c, RE_MANIFEST_UNKNOWN, why);
		return;
	}
	conn_stage(c, "Docker-Content-Digest: %s", m->digest);
	conn_stage(c, "ETag: \"%s\"", m->digest);
	conn_begin(c, 200);
	conn_end_bytes(c, m->media_type, m->body);
}

/* Everything a manifest names must be in the repository, as registry:2
 * checks: a pusher that forgot a layer learns it now, not when a pull fails
 * later.  Foreign layers (with urls) are exempt.  With --allow-sparse only the
 * config must be there: a partial mirror (some platforms, some layers) is
 * accepted, as the distribution spec's sparse data set expects. */
static enum regerr check_references(struct conn *c, const struct manifest *m, char *why,
				    size_t cap)
{
	const struct store *st = c->srv->store;
	if (m->kind == MANIFEST_IMAGE && !store_blob_get(st, c->rt.name, m->config.digest)) {
		snprintf(why, cap, "config %s", m->config.digest);
		return RE_MANIFEST_BLOB_UNKNOWN;
	}
	if (c->srv->opt->allow_sparse)
		return RE_OK;
	for (size_t i = 0; i < m->nrefs; i++) {
		const struct descriptor *d = &m->refs[i];
		if (m->kind == MANIFEST_IMAGE && !d->has_urls &&
		    !store_blob_get(st, c->rt.name, d->digest)) {
			snprintf(why, cap, "layer %s (serve --allow-sparse accepts it)", d->digest);
			return RE_MANIFEST_BLOB_UNKNOWN;
		}
		if (m->kind == MANIFEST_INDEX && !store_manifest_get(st, c->rt.name, d->digest)) {
			snprintf(why, cap, "manifest %s (serve --allow-sparse accepts it)", d->digest);
			return RE_MANIFEST_BLOB_UNKNOWN;
		}
	}
	return RE_OK;
}

static void put_done(struct conn *c, int status)
{
	char digest[DIGEST_STR_MAX], why[512];
	char tagbuf[MAX_QUERY_TAGS][STORE_TAG_MAX + 1];
	const char *tags[MAX_QUERY_TAGS + 1];
	size_t ntags = 0;
	struct manifest m;
	enum digest_alg alg = DIGEST_SHA256;
	enum regerr e;
	long n;

	if (status == CONN_BODY_TOO_BIG) {
		regerr_send(c, RE_MANIFEST_TOO_BIG, "manifests are limited to 4 MiB");
		return;
	}
	if (status != CONN_BODY_OK) {
		regerr_send(c, RE_MANIFEST_INVALID, "malformed request body");
		return;
	}
	if (c->rt.ref_is_digest)
		digest_parse(c->rt.ref, strlen(c->rt.ref), &alg);
	digest_of(alg, c->body.p, c->body.len, digest);
	if (c->rt.ref_is_digest && strcmp(digest, c->rt.ref) != 0) {
		regerr_send(c, RE_DIGEST_INVALID, "manifest digest does not match the reference");
		return;
	}
	if (manifest_parse(&m, c->body.p, c->body.len, c->content_type[0] ? c->content_type : NULL,
			   why, sizeof why) < 0) {
		regerr_send(c, RE_MANIFEST_INVALID, why);
		return;
	}
	e = check_references(c, &m, why, sizeof why);
	if (e != RE_OK) {
		regerr_send(c, e, why);
		goto out;
	}
	if (!c->rt.ref_is_digest) {
		tags[ntags++] = c->rt.ref;
	} else {
		/* PUT by digest may tag it too: ?tag=a&tag=b */
		for (unsigned i = 0; i < MAX_QUERY_TAGS; i++) {
			n = router_query(c->rt.query, c->rt.query_len, "tag", i, tagbuf[ntags],
					 sizeof tagbuf[ntags]);
			if (n == -1)
				break;
			if (n < 0 || !router_tag_valid(tagbuf[ntags])) {
				regerr_send(c, RE_TAG_INVALID, "tag query parameter");
				goto out;
			}
			tags[ntags] = tagbuf[ntags];
			ntags++;
		}
	}
	if (store_manifest_put(c->srv->store, c->rt.name, digest, &m, c->body.p, c->body.len, tags,
			       ntags) < 0) {
		int err = errno;
		static struct log_limit put_log;
		log_limited(LOG_WARN, &put_log, "%s: store manifest %s: %s", c->rt.name, digest,
			    strerror(err));
		regerr_send(c, regerr_from_errno(err) == RE_STORAGE_FULL ? RE_STORAGE_FULL : RE_INTERNAL,
			    "store manifest");
		goto out;
	}
	conn_stage(c, "Location: /v2/%s/manifests/%s", c->rt.name, digest);
	conn_stage(c, "Docker-Content-Digest: %s", digest);
	if (m.has_subject)
		conn_stage(c, "OCI-Subject: %s", m.subject.digest);
	if (c->rt.ref_is_digest)
		for (size_t i = 0; i < ntags; i++)
			conn_stage(c, "OCI-Tag: %s", tags[i]);
	conn_begin(c, 201);
	conn_end(c, NULL, NULL, 0);
out:
	manifest_free(&m);
}

void reg_manifest_put(struct conn *c)
{
	conn_read_body_mem(c, MANIFEST_MAX, put_done);
}

void reg_manifest_delete(struct conn *c)
{
	struct store *st = c->srv->store;
	int r = c->rt.ref_is_digest ? store_manifest_delete(st, c->rt.name, c->rt.ref)
				    : store_tag_delete(st, c->rt.name, c->rt.ref);
	if (r < 0) {
		if (errno == ENOENT)
			regerr_send(c, RE_MANIFEST_UNKNOWN, c->rt.ref);
		else
			regerr_send(c, regerr_from_errno(errno) == RE_STORAGE_FULL ? RE_STORAGE_FULL
										 : RE_INTERNAL,
				    "delete manifest");
		return;
	}
	conn_begin(c, 202);
	conn_end(c, NULL, NULL, 0);
}
