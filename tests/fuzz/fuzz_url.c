/* fuzz_url.c - url_parse, url_resolve against a few bases, url_format and
 * url_same_origin.  What the pusher relies on: the canonical form parses
 * back to the same URL (so what libcurl is given is what was checked), an
 * HTTPS base never resolves to plain HTTP unless the input names the http
 * scheme itself, a reference without an authority keeps the base's origin,
 * and no accepted URL carries a byte libcurl could read differently. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct url *u)
{
	char out[URL_MAX];
	struct url back;
	int n = url_format(u, 1, out, sizeof out);
	if (n < 0 || strlen(out) != (size_t)n)
		abort();
	for (int i = 0; i < n; i++)
		if ((unsigned char)out[i] <= 0x20 || (unsigned char)out[i] >= 0x7f || out[i] == '\\' ||
		    out[i] == '#')
			abort();
	if (strchr(u->host, '@') || u->port == 0 || u->port > 65535 || u->path[0] != '/')
		abort();
	if (url_parse(&back, out, (size_t)n) < 0 || memcmp(&back, u, sizeof back) != 0 ||
	    !url_same_origin(&back, u))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const bases[] = { "https://registry.example/",
					     "http://localhost:5000/v2/r/blobs/uploads/?a=b",
					     "https://[::1]:8443/x" };
	const char *s = (const char *)data;
	struct url u, b;

	if (url_parse(&u, s, size) == 0)
		check(&u);
	if (url_parse_host(&u, 1, s, size) == 0)
		check(&u);
	for (size_t i = 0; i < sizeof bases / sizeof *bases; i++) {
		const char *hash = memchr(s, '#', size);
		size_t slen = hash ? (size_t)(hash - s) : size;
		if (url_parse(&b, bases[i], strlen(bases[i])) < 0)
			abort();
		if (url_resolve(&b, s, size, &u) < 0)
			continue;
		check(&u);
		/* a downgrade only when the input says http: itself */
		if (b.https && !u.https && !(slen >= 5 && strncasecmp(s, "http:", 5) == 0))
			abort();
		/* without a scheme or "//", the origin stays the base's */
		if (!memchr(s, ':', slen) && !(slen >= 2 && s[0] == '/' && s[1] == '/') &&
		    !url_same_origin(&u, &b))
			abort();
	}
	return 0;
}
