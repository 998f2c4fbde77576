/* fuzz_range.c - the Range header (and Connection-style token lists) on their
 * own, so the corpus grows for them alone.  Checks the contract: an OK range
 * lies inside the body, first <= last, and the answer does not depend on
 * the bytes after the slice. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t sizes[] = { 0, 1, 2, 100, 1000, UINT64_MAX / 2, UINT64_MAX };
	struct http_slice s = { (const char *)data, size };
	char *copy;

	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		uint64_t first = 7, last = 7;
		int r = http_parse_range(s, sizes[k], &first, &last);
		if (r != HTTP_RANGE_OK && r != HTTP_RANGE_NONE && r != HTTP_RANGE_UNSATISFIABLE)
			abort();
		if (r == HTTP_RANGE_OK && (first > last || last >= sizes[k]))
			abort();
	}
	/* the same bytes followed by junk give the same answer for the slice */
	copy = malloc(size + 8);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	memcpy(copy + size, "-9,close", 8);
	{
		uint64_t a1 = 0, b1 = 0, a2 = 0, b2 = 0;
		int r1 = http_parse_range(s, 1000, &a1, &b1);
		int r2 = http_parse_range((struct http_slice){ copy, size }, 1000, &a2, &b2);
		if (r1 != r2 || (r1 == HTTP_RANGE_OK && (a1 != a2 || b1 != b2)))
			abort();
		if (http_list_has(s, "close") != http_list_has((struct http_slice){ copy, size }, "close"))
			abort();
	}
	free(copy);
	return 0;
}
