/* auth.c - WWW-Authenticate challenges and token-endpoint answers. */
#include "auth.h"

#include <string.h>
#include <strings.h>

#include "json.h"

/* RFC 9110 tchar */
static int is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t';
}

/* Store v[0..n) into dst[cap]; -1 if it does not fit. */
static int put(char *dst, size_t cap, const char *v, size_t n)
{
	if (n >= cap)
		return -1;
	memcpy(dst, v, n);
	dst[n] = '\0';
	return 0;
}

int auth_parse_challenge(struct auth_challenge *c, const char *s, size_t len)
{
	size_t i = 0, k0, k1;
	char val[AUTH_REALM_MAX];

	memset(c, 0, sizeof *c);
	while (i < len && is_ws(s[i]))
		i++;
	k0 = i;
	while (i < len && is_tchar((unsigned char)s[i]))
		i++;
	if (i - k0 == 6 && strncasecmp(s + k0, "Bearer", 6) == 0)
		c->scheme = AUTH_BEARER;
	else if (i - k0 == 5 && strncasecmp(s + k0, "Basic", 5) == 0)
		c->scheme = AUTH_BASIC;
	else
		goto bad;
	if (i < len && !is_ws(s[i]))
		goto bad;
	/* auth-params: key=token or key="quoted", comma separated */
	for (;;) {
		size_t v = 0;
		while (i < len && (is_ws(s[i]) || s[i] == ','))
			i++;
		if (i == len)
			break;
		k0 = i;
		while (i < len && is_tchar((unsigned char)s[i]))
			i++;
		k1 = i;
		while (i < len && is_ws(s[i]))
			i++;
		if (k1 == k0 || i == len || s[i] != '=')
			break; /* another challenge (or token68) follows: the first is ours */
		i++;
		while (i < len && is_ws(s[i]))
			i++;
		if (i < len && s[i] == '"') {
			for (i++;; i++) {
				if (i >= len)
					goto bad; /* unterminated */
				if (s[i] == '"')
					break;
				if (s[i] == '\\' && ++i >= len)
					goto bad;
				if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || v + 1 >= sizeof val)
					goto bad;
				val[v++] = s[i];
			}
			i++;
		} else {
			while (i < len && is_tchar((unsigned char)s[i])) {
				if (v + 1 >= sizeof val)
					goto bad;
				val[v++] = s[i++];
			}
			/* a token may carry '/' and ':' in practice (unquoted realm URLs) */
			while (i < len && s[i] != ',' && !is_ws(s[i])) {
				if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '"' || v + 1 >= sizeof val)
					goto bad;
				val[v++] = s[i++];
			}
		}
		if (k1 - k0 == 5 && strncasecmp(s + k0, "realm", 5) == 0) {
			if (put(c->realm, sizeof c->realm, val, v) < 0)
				goto bad;
		} else if (k1 - k0 == 7 && strncasecmp(s + k0, "service", 7) == 0) {
			if (put(c->service, sizeof c->service, val, v) < 0)
				goto bad;
		} else if (k1 - k0 == 5 && strncasecmp(s + k0, "scope", 5) == 0) {
			if (put(c->scope, sizeof c->scope, val, v) < 0)
				goto bad;
		}
		while (i < len && is_ws(s[i]))
			i++;
		if (i < len && s[i] != ',')
			goto bad;
	}
	return 0;
bad:
	memset(c, 0, sizeof *c);
	return -1;
}

long auth_parse_token(const char *body, size_t len, char *tok, size_t cap)
{
	struct json j;
	long n = -1;
	int t;

	if (cap)
		tok[0] = '\0';
	if (json_parse(&j, body, len) < 0)
		return -1;
	if (j.n && j.t[0].type == JSON_OBJECT) {
		t = json_get(&j, 0, "token");
		if (t == -1)
			t = json_get(&j, 0, "access_token");
		if (t >= 0)
			n = json_str_copy(&j, t, tok, cap);
	}
	json_free(&j);
	if (n <= 0)
		goto bad;
	for (long i = 0; i < n; i++)
		if ((unsigned char)tok[i] <= 0x20 || (unsigned char)tok[i] >= 0x7f)
			goto bad;
	return n;
bad:
	if (cap)
		memset(tok, 0, cap);
	return -1;
}
