/* reg_manifest.c - GET/HEAD/PUT/DELETE /v2/<name>/manifests/<reference>. */
#include "reg.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "manifest.h"
#include "mirror.h"
#include "store.h"

#define MAX_QUERY_TAGS 32

/* Answer with m, for a client whose Accept header is accept[0..alen). */
static enum regerr manifest_answer(struct conn *c, struct reg_req *q,
				   const struct store_manifest *m, const char *accept, long alen)
{
	/* as registry:2 does: a client that names the types it takes and not
	 * this one gets 404 rather than a document it cannot read */
	if (alen > 0 && !manifest_accepts(accept, (size_t)alen, m->media_type)) {
		snprintf(q->why, sizeof q->why, "manifest is %s, which the Accept header excludes",
			 m->media_type);
		q->detail = q->why;
		return RE_MANIFEST_UNKNOWN;
	}
	/* a pusher of an index that found this child here skips it: with gc
	 * removing untagged manifests, its grace period starts again */
	store_touch(q->reg->store, q->rt.name, m->digest);
	conn_stage(c, "Docker-Content-Digest: %s", m->digest);
	conn_stage(c, "ETag: \"%s\"", m->digest);
	conn_begin(c, 200);
	conn_end_bytes(c, m->media_type, m->body);
	return RE_OK;
}

enum regerr reg_manifest_get(struct conn *c, struct reg_req *q)
{
	const struct store_manifest *m = store_manifest_get(q->reg->store, q->rt.name, q->rt.ref);
	char accept[4096];
	long alen;

	q->detail = q->rt.ref;
	alen = conn_header_values(c, "Accept", accept, sizeof accept);
	if (q->upstream >= 0 &&
	    (!m || (!q->rt.ref_is_digest &&
		    !mirror_tag_fresh(q->reg->mirror, q->rt.name, q->rt.ref, ev_now(c->set->ev)))))
		/* a mirror's miss, or a tag to check again: the answer comes
		 * from the store once the upstream has spoken */
		return mirror_manifest(q->reg->mirror, c, &q->wait, q->upstream, q->up_name,
				       q->rt.name, q->rt.ref, m ? m->digest : NULL, accept,
				       alen > 0 ? (size_t)alen : 0, &q->detail);
	if (!m)
		return RE_MANIFEST_UNKNOWN;
	return manifest_answer(c, q, m, accept, alen);
}

void reg_manifest_mirrored(struct conn *c, enum regerr e, const char *detail, const char *accept,
			   size_t alen)
{
	struct reg_req *q = conn_state(c);
	const struct store_manifest *m;

	q->detail = detail;
	if (e == RE_OK) {
		m = store_manifest_get(q->reg->store, q->rt.name, q->rt.ref);
		q->detail = q->rt.ref;
		e = m ? manifest_answer(c, q, m, accept, (long)alen) : RE_MANIFEST_UNKNOWN;
	}
	if (e != RE_OK)
		regerr_send(c, e, q->detail);
}

/* Everything a manifest names must be in the repository, as registry:2
 * checks: a pusher that forgot a layer learns it now, not when a pull fails
 * later.  Foreign layers (with urls) are exempt.  With --allow-sparse only the
 * config must be there: a partial mirror (some platforms, some layers) is
 * accepted, as the distribution spec's sparse data set expects. */
static enum regerr check_references(struct reg_req *q, const struct manifest *m)
{
	const struct store *st = q->reg->store;
	q->detail = q->why;
	if (m->kind == MANIFEST_IMAGE && !store_blob_get(st, q->rt.name, m->config.digest)) {
		snprintf(q->why, sizeof q->why, "config %s", m->config.digest);
		return RE_MANIFEST_BLOB_UNKNOWN;
	}
	if (q->reg->allow_sparse)
		return RE_OK;
	for (size_t i = 0; i < m->nrefs; i++) {
		const struct descriptor *d = &m->refs[i];
		if (m->kind == MANIFEST_IMAGE && !d->has_urls &&
		    !store_blob_get(st, q->rt.name, d->digest)) {
			snprintf(q->why, sizeof q->why, "layer %s (serve --allow-sparse accepts it)",
				 d->digest);
			return RE_MANIFEST_BLOB_UNKNOWN;
		}
		if (m->kind == MANIFEST_INDEX && !store_manifest_get(st, q->rt.name, d->digest)) {
			snprintf(q->why, sizeof q->why, "manifest %s (serve --allow-sparse accepts it)",
				 d->digest);
			return RE_MANIFEST_BLOB_UNKNOWN;
		}
	}
	return RE_OK;
}

/* The tags a PUT names: the reference, or ?tag=a&tag=b on a PUT by digest. */
static enum regerr put_tags(struct reg_req *q, char buf[][STORE_TAG_MAX + 1],
			    const char **tags, size_t *ntags)
{
	*ntags = 0;
	if (!q->rt.ref_is_digest) {
		tags[(*ntags)++] = q->rt.ref;
		return RE_OK;
	}
	for (unsigned i = 0; i < MAX_QUERY_TAGS; i++) {
		long n = router_query(q->rt.query, q->rt.query_len, "tag", i, buf[*ntags],
				      STORE_TAG_MAX + 1);
		if (n == -1)
			break;
		if (n < 0 || !ref_tag_valid(buf[*ntags])) {
			q->detail = "tag query parameter";
			return RE_TAG_INVALID;
		}
		tags[*ntags] = buf[*ntags];
		(*ntags)++;
	}
	return RE_OK;
}

static enum regerr put_body(struct conn *c, struct reg_req *q, int status)
{
	char digest[DIGEST_STR_MAX];
	char tagbuf[MAX_QUERY_TAGS][STORE_TAG_MAX + 1];
	const char *tags[MAX_QUERY_TAGS + 1];
	size_t ntags = 0;
	struct manifest m;
	enum digest_alg alg = DIGEST_SHA256;
	enum regerr e;

	if (status == CONN_BODY_TOO_BIG) {
		q->detail = "manifests are limited to 4 MiB";
		return RE_MANIFEST_TOO_BIG;
	}
	if (status != CONN_BODY_OK) {
		q->detail = "malformed request body";
		return RE_MANIFEST_INVALID;
	}
	if (q->rt.ref_is_digest)
		digest_parse(q->rt.ref, strlen(q->rt.ref), &alg);
	digest_of(alg, c->body.p, c->body.len, digest);
	if (q->rt.ref_is_digest && strcmp(digest, q->rt.ref) != 0) {
		q->detail = "manifest digest does not match the reference";
		return RE_DIGEST_INVALID;
	}
	if (manifest_parse(&m, c->body.p, c->body.len, c->content_type[0] ? c->content_type : NULL,
			   q->why, sizeof q->why) < 0) {
		q->detail = q->why;
		return RE_MANIFEST_INVALID;
	}
	e = check_references(q, &m);
	if (e == RE_OK)
		e = put_tags(q, tagbuf, tags, &ntags);
	if (e == RE_OK && store_manifest_put(q->reg->store, q->rt.name, digest, &m, c->body.p,
					     c->body.len, tags, ntags) < 0)
		e = reg_store_error(q, errno, "store manifest");
	if (e == RE_OK) {
		conn_stage(c, "Location: /v2/%s/manifests/%s", q->rt.name, digest);
		conn_stage(c, "Docker-Content-Digest: %s", digest);
		if (m.has_subject)
			conn_stage(c, "OCI-Subject: %s", m.subject.digest);
		if (q->rt.ref_is_digest)
			for (size_t i = 0; i < ntags; i++)
				conn_stage(c, "OCI-Tag: %s", tags[i]);
		conn_begin(c, 201);
		conn_end(c, NULL, NULL, 0);
	}
	manifest_free(&m);
	return e;
}

enum regerr reg_manifest_put(struct conn *c, struct reg_req *q)
{
	reg_read_body_mem(c, q, MANIFEST_MAX, put_body);
	return RE_OK;
}

enum regerr reg_manifest_delete(struct conn *c, struct reg_req *q)
{
	struct store *st = q->reg->store;
	int r = q->rt.ref_is_digest ? store_manifest_delete(st, q->rt.name, q->rt.ref)
				    : store_tag_delete(st, q->rt.name, q->rt.ref);
	if (r < 0) {
		q->detail = q->rt.ref;
		return errno == ENOENT ? RE_MANIFEST_UNKNOWN : reg_store_error(q, errno, "delete manifest");
	}
	conn_begin(c, 202);
	conn_end(c, NULL, NULL, 0);
	return RE_OK;
}
