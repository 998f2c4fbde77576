/* fuzz_inplace.c - inplace_parse of a record under ROOT/inplace (the store
 * reads them at start-up); on success the record formats and parses back
 * to the same fields. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inplace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct inplace_rec r, back;
	struct buf b;
	char why[128];

	why[0] = '\0';
	if (inplace_parse(&r, (const char *)data, size, why, sizeof why) < 0) {
		if (!why[0])
			abort();
		return 0;
	}
	if (r.path[0] != '/' || r.off > r.id.size || r.len > r.id.size - r.off)
		abort();
	buf_init(&b, INPLACE_REC_MAX);
	if (inplace_format(&r, &b) < 0 || inplace_parse(&back, b.p, b.len, why, sizeof why) < 0 ||
	    strcmp(back.path, r.path) != 0 || strcmp(back.digest, r.digest) != 0 ||
	    !inplace_id_eq(&back.id, &r.id) || back.off != r.off || back.len != r.len)
		abort();
	buf_free(&b);
	return 0;
}
