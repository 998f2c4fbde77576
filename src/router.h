/* router.h - request target to route (the name and tag grammar is ref.h's).
 *
 * Paths are percent-decoded before matching.  A name may contain "/", so the
 * route is read from the end of the path:  .../tags/list, .../manifests/<ref>,
 * .../blobs/uploads/[<id>], .../blobs/<digest>, .../referrers/<digest>. */
#ifndef PH_ROUTER_H
#define PH_ROUTER_H

#include <stddef.h>

#include "digest.h"
#include "regerr.h"
#include "ref.h"

#define ROUTE_QUERY_MAX 2048

enum route_kind {
	ROUTE_NONE = 0,
	ROUTE_BASE,      /* /v2/ */
	ROUTE_CATALOG,   /* /v2/_catalog */
	ROUTE_TAGS,      /* /v2/<name>/tags/list */
	ROUTE_MANIFEST,  /* /v2/<name>/manifests/<reference> */
	ROUTE_BLOB,      /* /v2/<name>/blobs/<digest> */
	ROUTE_UPLOADS,   /* /v2/<name>/blobs/uploads/ */
	ROUTE_UPLOAD,    /* /v2/<name>/blobs/uploads/<id> */
	ROUTE_REFERRERS, /* /v2/<name>/referrers/<digest> */
	ROUTE_READY,     /* /readyz */
	ROUTE_HEALTH,    /* /healthz */
};

struct route {
	enum route_kind kind;
	char name[REF_NAME_MAX + 1];
	/* a tag, a digest or an upload id */
	char ref[DIGEST_STR_MAX];
	int ref_is_digest;
	/* raw query string (after '?'), copied: handlers read it after the
	 * request head is gone (when the body has arrived) */
	char query[ROUTE_QUERY_MAX];
	size_t query_len;
};

/* Match a request target.  RE_OK with rt filled, or the error to answer. */
enum regerr router_match(const char *target, size_t n, struct route *rt);

/* The idx-th value of key in a query string, percent-decoded into out.
 * Returns its length, -1 if absent, -2 if malformed or longer than cap-1. */
long router_query(const char *q, size_t n, const char *key, unsigned idx, char *out, size_t cap);

#endif
