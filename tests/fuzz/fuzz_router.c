/* fuzz_router.c - router_match and router_query, plus the name/tag/digest
 * grammars; a matched route must hold only what the grammar allows. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void query(const char *q, size_t n)
{
	static const char *const keys[] = { "n", "last", "tag", "digest", "mount", "from", "artifactType" };
	char out[DIGEST_STR_MAX];
	for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
		for (unsigned idx = 0; idx < 3; idx++) {
			long r = router_query(q, n, keys[k], idx, out, sizeof out);
			if (r < -2 || r >= (long)sizeof out || (r >= 0 && strlen(out) != (size_t)r))
				abort();
		}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct route rt;
	enum digest_alg alg;
	char *z;

	if (router_match(s, size, &rt) == RE_OK) {
		int named = rt.kind != ROUTE_BASE && rt.kind != ROUTE_CATALOG && rt.kind != ROUTE_READY &&
			    rt.kind != ROUTE_HEALTH;
		if (rt.query_len >= sizeof rt.query || (named && !ref_name_valid(rt.name)) ||
		    (rt.ref_is_digest && digest_parse(rt.ref, strlen(rt.ref), &alg) != DIGEST_OK) ||
		    (rt.kind == ROUTE_MANIFEST && !rt.ref_is_digest && !ref_tag_valid(rt.ref)))
			abort();
		query(rt.query, rt.query_len);
	}
	query(s, size);
	digest_parse(s, size, &alg);
	z = malloc(size + 1);
	memcpy(z, s, size);
	z[size] = '\0';
	ref_name_valid(z);
	ref_tag_valid(z);
	free(z);
	return 0;
}
