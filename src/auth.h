/* auth.h - the text of registry authentication: WWW-Authenticate challenges
 * (RFC 9110 section 11.6.1, as registries send them) and the token
 * endpoint's JSON answer (distribution's token spec).  No libcurl: the
 * fuzzer links this file with json.c alone.
 *
 * Nothing is cut short: a value that does not fit its field, or a token
 * that could not go into a header line as it is, makes the parse fail. */
#ifndef PH_AUTH_H
#define PH_AUTH_H

#include <stddef.h>

#define AUTH_REALM_MAX 1024
#define AUTH_SERVICE_MAX 256
#define AUTH_SCOPE_MAX 512
#define AUTH_TOKEN_MAX 8192

enum auth_scheme { AUTH_NONE = 0, AUTH_BASIC = 1, AUTH_BEARER = 2 };

struct auth_challenge {
	enum auth_scheme scheme;
	char realm[AUTH_REALM_MAX];     /* "" when not given */
	char service[AUTH_SERVICE_MAX];
	char scope[AUTH_SCOPE_MAX];
};

/* Parse the first challenge of a WWW-Authenticate value s[0..len).  0 with
 * c filled; -1 for an unknown scheme, bad syntax, or a value too long. */
int auth_parse_challenge(struct auth_challenge *c, const char *s, size_t len);

/* The token ("token", else "access_token") from a token endpoint's JSON
 * body[0..len) into tok[cap].  Its length, or -1: not JSON, no token, too
 * long, or a byte outside visible ASCII (it goes into a header line). */
long auth_parse_token(const char *body, size_t len, char *tok, size_t cap);

#endif
