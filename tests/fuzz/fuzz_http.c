/* fuzz_http.c - request head parser, chunked decoder and Range parser on one input.
 * Besides ASan/UBSan it checks picohttpparser's contract and that the chunked
 * decoder gives the same answer fed at once and fed one byte at a time. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decode in[0..n) handing over step bytes at a time; out gets the body. */
static int dechunk(const char *in, size_t n, size_t step, char *out, size_t *olen, size_t *used)
{
	struct http_chunked c;
	int r = HTTP_CHUNK_NEED;
	size_t i = 0;
	http_chunked_init(&c);
	*olen = 0;
	while (i < n && r != HTTP_CHUNK_DONE) {
		size_t u = 0, dlen = 0, len = n - i < step ? n - i : step;
		const char *d = NULL;
		r = http_chunked_next(&c, in + i, len, &u, &d, &dlen);
		if (r == HTTP_INVALID)
			break;
		if (u > len || (r == HTTP_CHUNK_NEED && u != len) || (r == HTTP_CHUNK_DATA && !dlen) ||
		    (dlen && (d < in + i || d + dlen > in + i + u)))
			abort();
		if (dlen)
			memcpy(out + *olen, d, dlen);
		*olen += dlen;
		i += u;
	}
	*used = i;
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct http_request req;
	static struct http_range rg[HTTP_MAX_RANGES];
	size_t n;
	static const uint64_t sizes[] = { 0, 1, 1000, UINT64_MAX };
	int r = http_parse_request(s, size, &req);

	if (r >= 0) {
		/* a complete head is never complete one byte earlier */
		struct http_request again;
		if ((size_t)r > size || (r > 0 && http_parse_request(s, (size_t)r - 1, &again) != HTTP_INCOMPLETE))
			abort();
		for (size_t i = 0; i < req.nheaders; i++) {
			http_parse_u64(req.headers[i].value);
			if (http_parse_ranges(req.headers[i].value, 1000, rg, HTTP_MAX_RANGES, &n) ==
				    HTTP_RANGE_OK && (n == 0 || rg[0].first > rg[0].last || rg[n - 1].last >= 1000))
				abort();
		}
		http_find_header(&req, "transfer-encoding");
	}
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
		if (http_parse_ranges((struct http_slice){ s, size }, sizes[k], rg, HTTP_MAX_RANGES, &n) ==
			    HTTP_RANGE_OK && (n == 0 || rg[0].first > rg[0].last || rg[n - 1].last >= sizes[k]))
			abort();
	{
		char *o1 = malloc(size + 1), *o2 = malloc(size + 1);
		size_t l1, l2, u1, u2;
		int r1 = dechunk(s, size, size ? size : 1, o1, &l1, &u1);
		int r2 = dechunk(s, size, 1, o2, &l2, &u2);
		if (r1 != r2 || (r1 != HTTP_INVALID && (u1 != u2 || l1 != l2 || memcmp(o1, o2, l1) != 0)))
			abort();
		free(o1);
		free(o2);
	}
	return 0;
}
