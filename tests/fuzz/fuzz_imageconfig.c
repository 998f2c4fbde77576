/* fuzz_imageconfig.c - imageconfig_parse of an image config; on success
 * every diff_id is a canonical sha256 digest. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imageconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imageconfig c;
	char why[256];

	if (imageconfig_parse(&c, (const char *)data, size, why, sizeof why) < 0) {
		if (!why[0] || c.diff_ids)
			abort();
		return 0;
	}
	if (c.n > IMAGECONFIG_MAX_LAYERS)
		abort();
	for (uint32_t i = 0; i < c.n; i++) {
		enum digest_alg alg;
		if (strlen(c.diff_ids[i]) != 71 ||
		    digest_parse(c.diff_ids[i], 71, &alg) != DIGEST_OK || alg != DIGEST_SHA256)
			abort();
	}
	imageconfig_free(&c);
	return 0;
}
