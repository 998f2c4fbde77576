/* fuzz_auth.c - auth_parse_challenge and auth_parse_token.  A parsed
 * challenge has a known scheme and NUL-terminated fields within their
 * bounds; a parsed token is non-empty visible ASCII (it goes into a header
 * line), and a refused one leaves nothing behind in the buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct auth_challenge c;
	char tok[AUTH_TOKEN_MAX];
	long n;

	if (auth_parse_challenge(&c, s, size) == 0) {
		if (c.scheme != AUTH_BASIC && c.scheme != AUTH_BEARER)
			abort();
		if (strnlen(c.realm, sizeof c.realm) == sizeof c.realm ||
		    strnlen(c.service, sizeof c.service) == sizeof c.service ||
		    strnlen(c.scope, sizeof c.scope) == sizeof c.scope)
			abort();
	} else if (c.scheme != AUTH_NONE || c.realm[0]) {
		abort();
	}
	n = auth_parse_token(s, size, tok, sizeof tok);
	if (n > 0) {
		if ((size_t)n != strlen(tok) || (size_t)n >= sizeof tok)
			abort();
		for (long i = 0; i < n; i++)
			if ((unsigned char)tok[i] <= 0x20 || (unsigned char)tok[i] >= 0x7f)
				abort();
	} else if (n != -1 || tok[0]) {
		abort();
	}
	return 0;
}
