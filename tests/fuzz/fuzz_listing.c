/* fuzz_listing.c - listing_each on a tags/list or _catalog page and
 * listing_next on a Link header.  What copy relies on: every name handed on
 * is a non-empty string within its cap, and a next URL is non-empty, fits,
 * and has no space or control byte (it becomes a request line). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "listing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NAME_CAP 130

static int each(void *ctx, const char *s)
{
	size_t n = strlen(s);
	(void)ctx;
	if (n == 0 || n >= NAME_CAP)
		abort();
	return n == 7 && memcmp(s, "stop-me", 7) == 0 ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[256], url[512];
	const char *s = (const char *)data;
	int r;

	listing_each(s, size, "tags", NAME_CAP, each, NULL, why, sizeof why);
	listing_each(s, size, "repositories", NAME_CAP, each, NULL, why, sizeof why);
	r = listing_next(s, size, url, sizeof url);
	if (r < -1 || r > 1)
		abort();
	if (r == 1) {
		size_t n = strlen(url);
		if (n == 0 || n >= sizeof url)
			abort();
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)url[i] <= ' ' || (unsigned char)url[i] >= 0x7f)
				abort();
	}
	return 0;
}
