/* fuzz_platform.c - platform_parse of --platform's text, and platform_pick /
 * platform_list on an index.  What copy relies on: a parsed platform has
 * only [a-z0-9._-] in each field and formats back to itself; a pick is a
 * child that exists; the list fits its buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fields_ok(const char *f, int may_be_empty)
{
	size_t n = strlen(f);
	if (n >= PLATFORM_FIELD_MAX || (!n && !may_be_empty))
		abort();
	for (size_t i = 0; i < n; i++)
		if (!((f[i] >= 'a' && f[i] <= 'z') || (f[i] >= '0' && f[i] <= '9') || strchr("._-", f[i])))
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const wants[] = { "linux/amd64", "linux/arm64", "linux/arm/v6", "windows/amd64" };
	char s[256], out[PLATFORM_STR_MAX], list[64], why[256];
	struct platform p, back;
	struct manifest m;

	if (size < sizeof s) {
		memcpy(s, data, size);
		s[size] = '\0';
		if (platform_parse(s, &p) == 0) {
			fields_ok(p.os, 0);
			fields_ok(p.arch, 0);
			fields_ok(p.variant, 1);
			platform_format(&p, out, sizeof out);
			if (platform_parse(out, &back) < 0 || memcmp(&p, &back, sizeof p) != 0)
				abort();
		}
	}
	if (manifest_parse(&m, (const char *)data, size, NULL, why, sizeof why) < 0)
		return 0;
	for (size_t i = 0; i < sizeof wants / sizeof *wants; i++) {
		long k;
		if (platform_parse(wants[i], &p) < 0)
			abort();
		k = platform_pick(&m, &p);
		if (k < -1 || (k >= 0 && (m.kind != MANIFEST_INDEX || (size_t)k >= m.nrefs)))
			abort();
	}
	platform_list(&m, list, sizeof list);
	if (strlen(list) >= sizeof list)
		abort();
	manifest_free(&m);
	return 0;
}
