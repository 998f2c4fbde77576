/* fuzz_ocindex.c - ocindex_parse of an OCI layout's index.json; on success
 * every descriptor's ref name and containerd name read back within their
 * bound.  (The image
 * manifests below it are manifest_parse's, fuzzed by fuzz_json.) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ocindex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ocindex x;
	char why[256], ref[OCINDEX_REF_MAX];

	if (ocindex_parse(&x, (const char *)data, size, why, sizeof why) < 0) {
		if (!why[0])
			abort();
		return 0;
	}
	if (x.m.kind != MANIFEST_INDEX)
		abort();
	for (size_t i = 0; i < x.m.nrefs; i++) {
		long n = ocindex_ref(&x, i, ref, sizeof ref);
		if (n < 0 || n >= OCINDEX_REF_MAX || strlen(ref) != (size_t)n)
			abort();
		n = ocindex_containerd_name(&x, i, ref, sizeof ref);
		if (n < 0 || n >= OCINDEX_REF_MAX || strlen(ref) != (size_t)n)
			abort();
		enum digest_alg alg;
		if (digest_parse(x.m.refs[i].digest, strlen(x.m.refs[i].digest), &alg) == DIGEST_BAD)
			abort();
	}
	ocindex_free(&x);
	return 0;
}
