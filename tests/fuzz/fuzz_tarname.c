/* fuzz_tarname.c - tarname_clean, tarname_resolve and tarname_quote on
 * arbitrary bytes.  Checks what the header promises: a clean name has no
 * empty, "." or ".." component and no leading '/', cleaning is idempotent,
 * and a quoted string is printable ASCII that fits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tarname.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_clean(const char *s)
{
	size_t n = strlen(s);
	const char *p = s;
	char again[TARNAME_MAX];
	if (n == 0 || n >= TARNAME_MAX || s[0] == '/' || s[n - 1] == '/')
		abort();
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t k = slash ? (size_t)(slash - p) : strlen(p);
		if (k == 0 || (k == 1 && p[0] == '.') || (k == 2 && p[0] == '.' && p[1] == '.'))
			abort();
		p += k + (slash ? 1 : 0);
	}
	if (tarname_clean(s, again, sizeof again) < 0 || strcmp(s, again) != 0)
		abort();
}

static void check_quoted(const char *q)
{
	size_t n = strlen(q);
	if (n >= TARNAME_QUOTE_MAX)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)q[i] < 0x20 || (unsigned char)q[i] > 0x7e)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* input: cur NUL target */
	char *s = malloc(size + 1);
	const char *target;
	char out[TARNAME_MAX], small[16];
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	target = memchr(s, '\0', size) ? s + strlen(s) + 1 : "";
	if ((size_t)(target - s) > size)
		target = "";
	if (tarname_clean(s, out, sizeof out) == 0)
		check_clean(out);
	if (tarname_clean(s, small, sizeof small) == 0)
		check_clean(small);
	if (tarname_resolve(s, target, out, sizeof out) == 0)
		check_clean(out);
	check_quoted(tarname_quote(s).s);
	check_quoted(tarname_quote(target).s);
	free(s);
	return 0;
}
