/* fuzz_range.c - the Range header, If-Range, multipart/byteranges framing
 * (and Connection-style token lists) on their own, so the corpus grows for
 * them alone.  Checks the contract: OK ranges lie inside the body, first <=
 * last, at most cap of them, no more bytes in all than the body; NONE and
 * UNSATISFIABLE leave none; the answer does not depend on the bytes after the
 * slice; a multipart body built from the ranges is exactly as long as
 * http_multipart_length says. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct http_range r1[HTTP_MAX_RANGES], r2[HTTP_MAX_RANGES];

static void check(struct http_slice s, uint64_t body, size_t cap)
{
	size_t n = 99;
	uint64_t sum = 0;
	int r = http_parse_ranges(s, body, r1, cap, &n);
	if (r != HTTP_RANGE_OK && r != HTTP_RANGE_NONE && r != HTTP_RANGE_UNSATISFIABLE)
		abort();
	if (r != HTTP_RANGE_OK) {
		if (n != 0)
			abort();
		return;
	}
	if (n == 0 || n > cap)
		abort();
	for (size_t i = 0; i < n; i++) {
		if (r1[i].first > r1[i].last || r1[i].last >= body)
			abort();
		sum += r1[i].last - r1[i].first + 1;
		if (sum > body)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t sizes[] = { 0, 1, 2, 100, 1000, UINT64_MAX / 2, UINT64_MAX };
	struct http_slice s = { (const char *)data, size };
	char *copy;

	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		check(s, sizes[k], HTTP_MAX_RANGES);
		check(s, sizes[k], 3);
	}
	/* the same bytes followed by junk give the same answer for the slice */
	copy = malloc(size + 8);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	memcpy(copy + size, "-9,close", 8);
	{
		size_t n1 = 0, n2 = 0;
		int a = http_parse_ranges(s, 1000, r1, HTTP_MAX_RANGES, &n1);
		int b = http_parse_ranges((struct http_slice){ copy, size }, 1000, r2, HTTP_MAX_RANGES,
					  &n2);
		if (a != b || n1 != n2 || (n1 && memcmp(r1, r2, n1 * sizeof r1[0]) != 0))
			abort();
		if (http_list_has(s, "close") != http_list_has((struct http_slice){ copy, size }, "close"))
			abort();
		if (http_if_range_matches(s, "sha256:0") !=
		    http_if_range_matches((struct http_slice){ copy, size }, "sha256:0"))
			abort();
		/* the promised length is what the parts add up to */
		if (a == HTTP_RANGE_OK) {
			char head[HTTP_PART_HEAD_MAX];
			uint64_t total = http_part_tail(head, "bnd");
			for (size_t i = 0; i < n1; i++)
				total += http_part_head(head, "bnd", "application/octet-stream", i, r1[i], 1000) +
					 r1[i].last - r1[i].first + 1;
			if (total != http_multipart_length("bnd", "application/octet-stream", r1, n1, 1000))
				abort();
		}
	}
	free(copy);
	return 0;
}
