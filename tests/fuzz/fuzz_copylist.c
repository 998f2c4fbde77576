/* fuzz_copylist.c - copylist_parse of a --from-file list.  What copy
 * relies on: each pair is two non-empty words with no blank, control byte
 * or leading '#', on lines that only go forward, and never more pairs than
 * the cap. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "copylist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void word_ok(const char *w)
{
	size_t n = strlen(w);
	if (n == 0 || n > COPYLIST_LINE_MAX || w[0] == '#')
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)w[i] <= ' ' || (unsigned char)w[i] == 0x7f)
			abort();
}

static int each(void *ctx, unsigned long line, const char *src, const char *dst)
{
	unsigned long *last = ctx;
	if (line <= *last)
		abort();
	*last = line;
	word_ok(src);
	word_ok(dst);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[256];
	unsigned long last = 0;
	long n = copylist_parse((const char *)data, size, each, &last, why, sizeof why);
	if (n > COPYLIST_MAX || (n < 0 && !why[0]))
		abort();
	return 0;
}
