/* fuzz_dockersave.c - dockersave_parse of a docker-save manifest.json; on
 * success every accessor must succeed (the parse promised it) and stay
 * within its limits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dockersave.h"
#include "tarname.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dockersave d;
	char why[256], name[TARNAME_MAX], tag[DOCKERSAVE_TAG_MAX];
	size_t tags = 0;

	if (dockersave_parse(&d, (const char *)data, size, why, sizeof why) < 0) {
		if (!why[0])
			abort();
		return 0;
	}
	if (d.n == 0 || d.n > DOCKERSAVE_MAX_ITEMS)
		abort();
	for (size_t i = 0; i < d.n; i++) {
		if (dockersave_config(&d, i, name, sizeof name) <= 0)
			abort();
		if (d.items[i].nlayers > DOCKERSAVE_MAX_LAYERS)
			abort();
		for (uint32_t k = 0; k < d.items[i].nlayers; k++)
			if (dockersave_layer(&d, i, k, name, sizeof name) <= 0)
				abort();
		for (uint32_t k = 0; k < d.items[i].ntags; k++)
			if (dockersave_tag(&d, i, k, tag, sizeof tag) <= 0)
				abort();
		tags += d.items[i].ntags;
	}
	if (tags > DOCKERSAVE_MAX_TAGS)
		abort();
	dockersave_free(&d);
	return 0;
}
