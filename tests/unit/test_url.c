/* Unit tests for url.c: parsing, resolution against a base, origins. */
#include "url.h"
#include "unit.h"

/* Resolve ref against base; the canonical URL, or "ERR". */
static const char *res(const char *base, const char *ref)
{
	static char out[URL_MAX];
	struct url b, u;
	struct unit_guard g;
	char *p;
	int rc;
	if (url_parse(&b, base, strlen(base)) < 0)
		return "BADBASE";
	p = unit_guard_str(&g, ref);
	rc = url_resolve(&b, p, strlen(ref), &u);
	unit_guard_free(&g);
	if (rc < 0)
		return "ERR";
	url_format(&u, 1, out, sizeof out);
	return out;
}

/* Parse s; its canonical form, or "ERR". */
static const char *canon(const char *s)
{
	static char out[URL_MAX];
	struct url u;
	struct unit_guard g;
	char *p = unit_guard_str(&g, s);
	int rc = url_parse(&u, p, strlen(s));
	unit_guard_free(&g);
	if (rc < 0)
		return "ERR";
	url_format(&u, 1, out, sizeof out);
	return out;
}

/* golden: input -> canonical form */
static const char *const parse_cases[][2] = {
	{ "http://localhost:5000/v2/", "http://localhost:5000/v2/" },
	{ "HTTPS://Registry.Example.COM/v2/x?a=b", "https://registry.example.com/v2/x?a=b" },
	{ "https://r.example:443/p", "https://r.example/p" },
	{ "http://r.example:80", "http://r.example/" },
	{ "http://r.example:", "http://r.example/" },
	{ "http://r.example?x=1", "http://r.example/?x=1" },
	{ "http://r.example/p#frag", "http://r.example/p" },
	{ "http://[::1]:5000/v2/", "http://[::1]:5000/v2/" },
	{ "http://[FE80::1]/", "http://[fe80::1]/" },
	{ "http://127.0.0.1:65535/", "http://127.0.0.1:65535/" },
	{ "http://a_b~c.example/%41", "http://a_b~c.example/%41" },
	/* refused */
	{ "ftp://r.example/", "ERR" },
	{ "http:/r.example/", "ERR" },
	{ "http:\\\\r.example/", "ERR" },
	{ "http://user@r.example/", "ERR" },
	{ "http://user:pw@r.example/", "ERR" },
	{ "http://r.example:5000@evil.example/", "ERR" },
	{ "http://r.example:0/", "ERR" },
	{ "http://r.example:65536/", "ERR" },
	{ "http://r.example:123456/", "ERR" },
	{ "http://r.example:-1/", "ERR" },
	{ "http://r.example:5000x/", "ERR" },
	{ "http:///v2/", "ERR" },
	{ "http://r%2eexample/", "ERR" },
	{ "http://r.example/a b", "ERR" },
	{ "http://r.example/a\\b", "ERR" },
	{ "http://r.example/a\r\nX: y", "ERR" },
	{ "http://r.example/\x80", "ERR" },
	{ "http://[::1/", "ERR" },
	{ "http://[::1]x/", "ERR" },
	{ "http://[v1.x]/", "ERR" },
	{ "http://[fe80::1%25eth0]/", "ERR" },
	{ "http://[1.2.3.4]/", "ERR" },
	{ "", "ERR" },
	{ "http", "ERR" },
};

TEST(parse_golden)
{
	for (size_t i = 0; i < sizeof parse_cases / sizeof *parse_cases; i++)
		CHECK_EQ_STR(canon(parse_cases[i][0]), parse_cases[i][1]);
}

static const char *const resolve_cases[][3] = {
	{ "http://localhost:5000/", "/v2/r/blobs/uploads/u?_state=x", "http://localhost:5000/v2/r/blobs/uploads/u?_state=x" },
	{ "https://r.example/", "https://up.example/u", "https://up.example/u" },
	{ "https://r.example/", "//up.example:8443/u", "https://up.example:8443/u" },
	{ "http://r.example/", "//up.example", "http://up.example/" },
	{ "https://r.example/v2/r/blobs/uploads/", "u1", "https://r.example/v2/r/blobs/uploads/u1" },
	{ "https://r.example/v2/r/blobs/uploads/?x=1", "u1?y", "https://r.example/v2/r/blobs/uploads/u1?y" },
	{ "https://r.example/v2/x?q=1", "?digest=a", "https://r.example/v2/x?digest=a" },
	{ "https://r.example", "u", "https://r.example/u" },
	{ "https://r.example/", "/p#f", "https://r.example/p" },
	{ "https://r.example/", "HTTP://Other:81/x", "http://other:81/x" },
	{ "https://r.example/", "", "ERR" },
	{ "https://r.example/", "#only", "ERR" },
	{ "https://r.example/", "ftp://x/", "ERR" },
	{ "https://r.example/", "javascript:alert(1)", "ERR" },
	{ "https://r.example/", "//user@evil.example/", "ERR" },
	{ "https://r.example/", "/a b", "ERR" },
	{ "https://r.example/", "\\\\evil.example/x", "ERR" },
	{ "https://r.example/", "//", "ERR" },
};

TEST(resolve_golden)
{
	for (size_t i = 0; i < sizeof resolve_cases / sizeof *resolve_cases; i++)
		CHECK_EQ_STR(res(resolve_cases[i][0], resolve_cases[i][1]), resolve_cases[i][2]);
}

static int same(const char *a, const char *b)
{
	struct url x, y;
	if (url_parse(&x, a, strlen(a)) < 0 || url_parse(&y, b, strlen(b)) < 0)
		return -1;
	return url_same_origin(&x, &y);
}

TEST(origins)
{
	CHECK_EQ_INT(same("http://localhost:5000/a", "http://LOCALHOST:5000/b?c"), 1);
	CHECK_EQ_INT(same("https://r.example/a", "https://r.example:443/"), 1);
	CHECK_EQ_INT(same("http://r.example/", "http://r.example:80/"), 1);
	CHECK_EQ_INT(same("http://localhost:5000/", "http://127.0.0.1:5000/"), 0);
	CHECK_EQ_INT(same("http://127.0.0.1:5000/", "http://127.0.0.1:5001/"), 0);
	CHECK_EQ_INT(same("https://r.example/", "http://r.example/"), 0);
	CHECK_EQ_INT(same("https://r.example:80/", "http://r.example:80/"), 0);
	CHECK_EQ_INT(same("http://[::1]:5000/", "http://[0::1]:5000/"), 0); /* spelled apart: apart */
}

TEST(host_form)
{
	struct url u;
	char out[URL_MAX];
	CHECK_EQ_INT(url_parse_host(&u, 1, "Registry.Example:5000", 21), 0);
	url_format(&u, 0, out, sizeof out);
	CHECK_EQ_STR(out, "https://registry.example:5000");
	CHECK_EQ_INT(url_parse_host(&u, 0, "[::1]:5000", 10), 0);
	url_format(&u, 1, out, sizeof out);
	CHECK_EQ_STR(out, "http://[::1]:5000/");
	CHECK_EQ_INT(url_parse_host(&u, 1, "r.example/x", 11), -1);
	CHECK_EQ_INT(url_parse_host(&u, 1, "u@r.example", 11), -1);
	CHECK_EQ_INT(url_parse_host(&u, 1, "", 0), -1);
	/* a formatted URL that does not fit is refused, not cut */
	CHECK_EQ_INT(url_parse_host(&u, 1, "r.example", 9), 0);
	CHECK_EQ_INT(url_format(&u, 1, out, 10), -1);
	CHECK_EQ_STR(out, "");
}

TEST(loopback)
{
	CHECK_EQ_INT(url_host_is_loopback("localhost"), 1);
	CHECK_EQ_INT(url_host_is_loopback("reg.localhost"), 1);
	CHECK_EQ_INT(url_host_is_loopback("127.0.0.2"), 1);
	CHECK_EQ_INT(url_host_is_loopback("::1"), 1);
	CHECK_EQ_INT(url_host_is_loopback("localhost.example"), 0);
	CHECK_EQ_INT(url_host_is_loopback("128.0.0.1"), 0);
	CHECK_EQ_INT(url_host_is_loopback("127.1"), 0);
}

TEST(limits)
{
	char big[URL_PATH_MAX + 64];
	struct url u;
	memcpy(big, "http://r.example/", 17);
	memset(big + 17, 'a', sizeof big - 18);
	big[sizeof big - 1] = '\0';
	CHECK_EQ_INT(url_parse(&u, big, strlen(big)), -1);
	big[17 + URL_PATH_MAX - 3] = '\0'; /* path of URL_PATH_MAX - 2 bytes: fits */
	CHECK_EQ_INT(url_parse(&u, big, strlen(big)), 0);
	memset(big, 'h', 300);
	memcpy(big, "http://", 7);
	big[300] = '\0';
	CHECK_EQ_INT(url_parse(&u, big, strlen(big)), -1); /* host over 255 bytes */
}

int main(void)
{
	RUN(parse_golden);
	RUN(resolve_golden);
	RUN(origins);
	RUN(host_form);
	RUN(loopback);
	RUN(limits);
	return unit_report("unit url");
}
