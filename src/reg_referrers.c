/* reg_referrers.c - GET /v2/<name>/referrers/<digest>[?artifactType=]: an
 * image index of the manifests whose subject is digest.  Unknown digests get
 * an empty index, never 404. */
#include "reg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conn.h"
#include "json.h"
#include "manifest.h"
#include "store.h"

#define REFERRERS_MAX ((size_t)16 << 20)

enum regerr reg_referrers(struct conn *c, struct reg_req *q)
{
	const struct store_manifest **list;
	char filter[MEDIA_TYPE_MAX];
	size_t n;
	long flen;
	struct buf b;
	int r = 0, first = 1;

	flen = router_query(q->rt.query, q->rt.query_len, "artifactType", 0, filter, sizeof filter);
	if (flen == -2) {
		q->detail = "malformed artifactType";
		return RE_BAD_REQUEST;
	}
	if (store_referrers(q->reg->store, q->rt.name, q->rt.ref, &list, &n) < 0)
		return reg_store_error(q, errno, "list referrers");
	buf_init(&b, REFERRERS_MAX);
	r |= buf_puts(&b, "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\",\"manifests\":[");
	for (size_t i = 0; i < n; i++) {
		const struct store_manifest *m = list[i];
		if (flen >= 0 && strcmp(m->artifact_type, filter) != 0)
			continue;
		if (!first)
			r |= buf_puts(&b, ",");
		first = 0;
		r |= manifest_write_referrer(&b, m->media_type, m->digest, m->len, m->artifact_type,
					     m->annotations, m->annotations_len);
	}
	r |= buf_puts(&b, "]}\n");
	free(list);
	if (r) {
		buf_free(&b);
		q->detail = "referrers listing too large";
		return RE_INTERNAL;
	}
	if (flen >= 0)
		conn_stage(c, "OCI-Filters-Applied: artifactType");
	conn_begin(c, 200);
	conn_end_buf(c, MT_OCI_INDEX, &b);
	return RE_OK;
}
