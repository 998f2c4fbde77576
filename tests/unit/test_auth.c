/* Unit tests for auth.c: WWW-Authenticate challenges, token answers. */
#include "auth.h"
#include "unit.h"

static int ch(struct auth_challenge *c, const char *s)
{
	struct unit_guard g;
	char *p = unit_guard_str(&g, s);
	int rc = auth_parse_challenge(c, p, strlen(s));
	unit_guard_free(&g);
	return rc;
}

static long tok(const char *s, char *out, size_t cap)
{
	struct unit_guard g;
	char *p = unit_guard_str(&g, s);
	long rc = auth_parse_token(p, strlen(s), out, cap);
	unit_guard_free(&g);
	return rc;
}

TEST(challenges)
{
	struct auth_challenge c;
	CHECK_EQ_INT(ch(&c, "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
			    "scope=\"repository:library/x:pull,push\""), 0);
	CHECK_EQ_INT(c.scheme, AUTH_BEARER);
	CHECK_EQ_STR(c.realm, "https://auth.docker.io/token");
	CHECK_EQ_STR(c.service, "registry.docker.io");
	CHECK_EQ_STR(c.scope, "repository:library/x:pull,push");

	CHECK_EQ_INT(ch(&c, "Basic realm=\"Registry Realm\""), 0);
	CHECK_EQ_INT(c.scheme, AUTH_BASIC);
	CHECK_EQ_STR(c.realm, "Registry Realm");
	CHECK_EQ_INT(ch(&c, "basic"), 0);
	CHECK_EQ_INT(c.scheme, AUTH_BASIC);
	/* case-insensitive names, spaces around '=', token values, escapes */
	CHECK_EQ_INT(ch(&c, "  BEARER  REALM = \"http://a/t?x=\\\"y\\\"\" , Service=svc"), 0);
	CHECK_EQ_STR(c.realm, "http://a/t?x=\"y\"");
	CHECK_EQ_STR(c.service, "svc");
	/* an unquoted URL realm, as some registries send it */
	CHECK_EQ_INT(ch(&c, "Bearer realm=https://h:8443/token,service=s"), 0);
	CHECK_EQ_STR(c.realm, "https://h:8443/token");
	CHECK_EQ_STR(c.service, "s");
	/* a second challenge after the first: the first is taken */
	CHECK_EQ_INT(ch(&c, "Bearer realm=\"https://a/t\", Basic realm=\"x\""), 0);
	CHECK_EQ_STR(c.realm, "https://a/t");
	/* unknown parameters are skipped */
	CHECK_EQ_INT(ch(&c, "Bearer error=\"insufficient_scope\",realm=\"https://a/t\""), 0);
	CHECK_EQ_STR(c.realm, "https://a/t");
}

TEST(bad_challenges)
{
	struct auth_challenge c;
	char big[AUTH_REALM_MAX + 40];
	CHECK_EQ_INT(ch(&c, ""), -1);
	CHECK_EQ_INT(ch(&c, "Digest realm=\"x\""), -1);
	CHECK_EQ_INT(ch(&c, "Bearerrealm=\"x\""), -1);
	CHECK_EQ_INT(ch(&c, "Bearer realm=\"unterminated"), -1);
	CHECK_EQ_INT(ch(&c, "Bearer realm=\"a\\"), -1);
	CHECK_EQ_INT(ch(&c, "Bearer realm=\"a\x01\""), -1);
	CHECK_EQ_INT(ch(&c, "Bearer realm=\"a\" junk"), -1);
	CHECK_EQ_INT(c.scheme, AUTH_NONE);
	CHECK_EQ_STR(c.realm, "");
	/* too long: refused, never cut */
	memcpy(big, "Bearer realm=\"", 14);
	memset(big + 14, 'a', AUTH_REALM_MAX);
	memcpy(big + 14 + AUTH_REALM_MAX, "\"", 2);
	CHECK_EQ_INT(ch(&c, big), -1);
	memcpy(big + 14 + AUTH_REALM_MAX - 1, "\"", 2); /* AUTH_REALM_MAX - 1 bytes: fits */
	CHECK_EQ_INT(ch(&c, big), 0);
	CHECK_EQ_INT(strlen(c.realm), AUTH_REALM_MAX - 1);
}

TEST(tokens)
{
	char t[64];
	CHECK_EQ_INT(tok("{\"token\":\"abc.def-ghi\",\"expires_in\":300}", t, sizeof t), 11);
	CHECK_EQ_STR(t, "abc.def-ghi");
	CHECK_EQ_INT(tok("{\"access_token\":\"zz\"}", t, sizeof t), 2);
	CHECK_EQ_STR(t, "zz");
	CHECK_EQ_INT(tok("{\"token\":\"a\",\"access_token\":\"b\"}", t, sizeof t), 1);
	CHECK_EQ_STR(t, "a");
	/* refused */
	CHECK_EQ_INT(tok("", t, sizeof t), -1);
	CHECK_EQ_INT(tok("not json", t, sizeof t), -1);
	CHECK_EQ_INT(tok("[\"token\"]", t, sizeof t), -1);
	CHECK_EQ_INT(tok("{\"token\":\"\"}", t, sizeof t), -1);
	CHECK_EQ_INT(tok("{\"token\":42}", t, sizeof t), -1);
	CHECK_EQ_INT(tok("{\"token\":\"a\",\"token\":\"b\"}", t, sizeof t), -1);
	/* a token that would break the header line (CR LF, space) */
	CHECK_EQ_INT(tok("{\"token\":\"a\\r\\nX-Evil: 1\"}", t, sizeof t), -1);
	CHECK_EQ_STR(t, "");
	CHECK_EQ_INT(tok("{\"token\":\"a b\"}", t, sizeof t), -1);
	CHECK_EQ_INT(tok("{\"token\":\"\\u00e9\"}", t, sizeof t), -1);
	/* too long for the buffer */
	CHECK_EQ_INT(tok("{\"token\":\"0123456789\"}", t, 8), -1);
}

int main(void)
{
	RUN(challenges);
	RUN(bad_challenges);
	RUN(tokens);
	return unit_report("unit auth");
}
