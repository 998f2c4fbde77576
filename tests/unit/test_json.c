/* Unit tests for json.c: RFC 8259 grammar, UTF-8, escapes, limits, accessors. */
#include <stdint.h>

#include "json.h"
#include "unit.h"

/* Parse n bytes placed right before a PROT_NONE page; 0 or -1. */
static int parse_guarded(const char *s, size_t n)
{
	struct unit_guard g;
	struct json j;
	char *p = unit_guard_put(&g, s, n);
	int r = json_parse(&j, p, n);
	if (r == 0) {
		/* touch every token so accessors run on the guarded text too */
		char out[4096];
		uint64_t v;
		size_t len;
		for (uint32_t i = 0; i < j.n; i++) {
			json_str_copy(&j, (int)i, out, sizeof out);
			json_u64(&j, (int)i, &v);
			json_raw(&j, (int)i, &len);
		}
		json_free(&j);
	}
	unit_guard_free(&g);
	return r;
}

static int ok(const char *s)
{
	return parse_guarded(s, strlen(s)) == 0;
}

static int ok_n(const char *s, size_t n)
{
	return parse_guarded(s, n) == 0;
}

/* Decode the single top-level string s into out; its length or -1. */
static long decode(const char *s, char *out, size_t cap)
{
	struct json j;
	long r;
	if (json_parse(&j, s, strlen(s)) < 0)
		return -100;
	r = json_str_copy(&j, 0, out, cap);
	json_free(&j);
	return r;
}

TEST(structure)
{
	struct json j;
	const char *s = " {\"a\":[1,2,{\"b\":null}],\"c\":\"d\"} ";
	CHECK_EQ_INT(json_parse(&j, s, strlen(s)), 0);
	CHECK_EQ_INT(j.n, 10);
	CHECK_EQ_INT(j.t[0].type, JSON_OBJECT);
	CHECK_EQ_INT(j.t[0].size, 2);
	CHECK_EQ_INT(j.t[0].next, 10);
	CHECK_EQ_INT(j.t[1].type, JSON_STRING);
	CHECK_EQ_INT(j.t[2].type, JSON_ARRAY);
	CHECK_EQ_INT(j.t[2].size, 3);
	CHECK_EQ_INT(j.t[2].next, 8);
	CHECK_EQ_INT(j.t[3].type, JSON_NUMBER);
	CHECK_EQ_INT(j.t[5].type, JSON_OBJECT);
	CHECK_EQ_INT(j.t[5].size, 1);
	CHECK_EQ_INT(j.t[5].next, 8);
	CHECK_EQ_INT(j.t[7].type, JSON_NULL);
	CHECK_EQ_INT(j.t[8].type, JSON_STRING);
	CHECK_EQ_INT(j.t[9].type, JSON_STRING);
	CHECK_EQ_INT(json_get(&j, 0, "a"), 2);
	CHECK_EQ_INT(json_get(&j, 0, "c"), 9);
	CHECK_EQ_INT(json_get(&j, 5, "b"), 7);
	CHECK_EQ_INT(json_get(&j, 0, "b"), -1); /* not a member of the outer object */
	CHECK_EQ_INT(json_index(&j, 2, 0), 3);
	CHECK_EQ_INT(json_index(&j, 2, 1), 4);
	CHECK_EQ_INT(json_index(&j, 2, 2), 5);
	CHECK_EQ_INT(json_index(&j, 2, 3), -1);
	{
		size_t n;
		const char *raw = json_raw(&j, 5, &n);
		CHECK(n == 10 && memcmp(raw, "{\"b\":null}", n) == 0);
		raw = json_raw(&j, 9, &n);
		CHECK(n == 3 && memcmp(raw, "\"d\"", n) == 0);
		raw = json_raw(&j, 0, &n);
		CHECK(raw == s + 1 && n == strlen(s) - 2);
	}
	json_free(&j);
	CHECK(j.t == NULL);
}

TEST(scalars_and_empties)
{
	CHECK(ok("0"));
	CHECK(ok("\"\""));
	CHECK(ok("true"));
	CHECK(ok("false"));
	CHECK(ok("null"));
	CHECK(ok("{}"));
	CHECK(ok("[]"));
	CHECK(ok(" \t\r\n[ \t\r\n] \t\r\n"));
	CHECK(ok("[[],{},[{}]]"));
	CHECK(ok("{\"\":\"\"}"));
	CHECK(!ok(""));
	CHECK(!ok(" "));
	CHECK(!ok("\v[]"));       /* only four whitespace bytes */
	CHECK(!ok("[]\f"));
	CHECK(!ok("\xef\xbb\xbf{}")); /* BOM */
}

TEST(trailing_garbage)
{
	static const char *const bad[] = {
		"{} x", "{}{}", "1 2", "[1]]", "{}}", "[]]", "\"a\"\"b\"", "truex", "nullnull", "0 0",
		"[1] ,", "{},", "1,", "[1]\x01",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(!ok(bad[i]));
	/* an embedded NUL after the value is garbage too */
	CHECK(!ok_n("{}\0", 3));
	CHECK(ok_n("{}", 2));
}

TEST(syntax_errors)
{
	static const char *const bad[] = {
		"[1,]", "[,1]", "[,]", "{,}", "{\"a\":1,}", "{\"a\" 1}", "{\"a\":}", "{\"a\"}",
		"{a:1}", "{'a':1}", "['a']", "[1 2]", "{\"a\":1 \"b\":2}", "[", "]", "{", "}",
		"[}", "{]", "[1}", "{\"a\":1]", "/*c*/1", "1//c", "[1,,2]", "{\"a\"::1}",
		"{1:2}", "{null:1}", "{[]:1}", "TRUE", "True", "nul", "tru", "fals", "nulll",
		"undefined", "\"abc", "\"abc\\\"", "[\"a\",", "{\"a\":1,",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK(!ok(bad[i]));
		if (ok(bad[i]))
			fprintf(stderr, "  accepted: %s\n", bad[i]);
	}
}

TEST(numbers)
{
	static const char *const good[] = {
		"0", "-0", "1", "-1", "10", "1234567890", "1.5", "-1.5", "0.0", "0.000001", "1e5",
		"1E5", "1e+5", "1e-5", "1E-05", "0e0", "-0.0e-0", "1.5e300", "-123.456E+789",
		"123456789012345678901234567890", "[0,-0,1.0e1]",
	};
	static const char *const bad[] = {
		"01", "-01", "00", "+1", ".5", "-.5", "5.", "1.e5", "1e", "1e+", "1e-", "1E+-1",
		"-", "--1", "- 1", "0x10", "0X10", "NaN", "Infinity", "-Infinity", "1_000", "1.5.5",
		"1e5e5", "1 .5", "[01]", "[-]", "[1.]", "[.1]", "1ee5", "\xd9\xa1", "0.e1",
	};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		CHECK(ok(good[i]));
		if (!ok(good[i]))
			fprintf(stderr, "  rejected: %s\n", good[i]);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK(!ok(bad[i]));
		if (ok(bad[i]))
			fprintf(stderr, "  accepted: %s\n", bad[i]);
	}
}

TEST(u64)
{
	static const struct {
		const char *s;
		int r;
		uint64_t v;
	} cases[] = {
		{ "0", 0, 0 },
		{ "42", 0, 42 },
		{ "4294967296", 0, 4294967296ULL },
		{ "1844674407370955160", 0, 1844674407370955160ULL },
		{ "18446744073709551616", -1, 0 }, /* 2^64 */
		{ "99999999999999999999", -1, 0 },
		{ "-1", -1, 0 },
		{ "-0", -1, 0 },
		{ "1.0", -1, 0 },
		{ "1e2", -1, 0 },
		{ "\"1\"", -1, 0 },
		{ "true", -1, 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct json j;
		uint64_t v = 12345;
		CHECK_EQ_INT(json_parse(&j, cases[i].s, strlen(cases[i].s)), 0);
		CHECK_EQ_INT(json_u64(&j, 0, &v), cases[i].r);
		if (cases[i].r == 0)
			CHECK(v == cases[i].v);
		CHECK_EQ_INT(json_u64(&j, 1, &v), -1); /* out of range token */
		CHECK_EQ_INT(json_u64(&j, -1, &v), -1);
		json_free(&j);
	}
}

TEST(string_escapes)
{
	char out[64];
	CHECK_EQ_INT(decode("\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"", out, sizeof out), 17);
	CHECK(memcmp(out, "a\"b\\c/d\be\ff\ng\rh\ti", 18) == 0);
	CHECK_EQ_INT(decode("\"\\u0041\\u00e9\\u0800\\uFFFF\"", out, sizeof out), 9);
	CHECK_EQ_STR(out, "A\xc3\xa9\xe0\xa0\x80\xef\xbf\xbf");
	CHECK_EQ_INT(decode("\"\\u007f\\u0080\\u07ff\"", out, sizeof out), 5);
	CHECK_EQ_STR(out, "\x7f\xc2\x80\xdf\xbf");
	/* a NUL cannot be returned in a C string */
	CHECK_EQ_INT(decode("\"a\\u0000b\"", out, sizeof out), -1);
	static const char *const bad[] = {
		"\"\\a\"", "\"\\x41\"", "\"\\'\"", "\"\\0\"", "\"\\U0041\"", "\"\\u41\"",
		"\"\\u004\"", "\"\\u12G4\"", "\"\\u-123\"", "\"\\ \"", "\"\\", "\"\\u",
		"\"\\u00", "\"\\\n\"",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(!ok(bad[i]));
}

TEST(surrogates)
{
	char out[64];
	CHECK_EQ_INT(decode("\"\\ud83d\\ude00\"", out, sizeof out), 4);
	CHECK_EQ_STR(out, "\xf0\x9f\x98\x80");
	CHECK_EQ_INT(decode("\"\\uD83D\\uDE00\"", out, sizeof out), 4);
	CHECK_EQ_STR(out, "\xf0\x9f\x98\x80");
	CHECK_EQ_INT(decode("\"\\ud800\\udc00\"", out, sizeof out), 4);
	CHECK_EQ_STR(out, "\xf0\x90\x80\x80");
	CHECK_EQ_INT(decode("\"\\udbff\\udfff\"", out, sizeof out), 4);
	CHECK_EQ_STR(out, "\xf4\x8f\xbf\xbf");
	CHECK_EQ_INT(decode("\"x\\ud83d\\ude00y\\u00e9\"", out, sizeof out), 8);
	CHECK_EQ_STR(out, "x\xf0\x9f\x98\x80y\xc3\xa9");
	static const char *const bad[] = {
		"\"\\ud83d\"",                  /* lone high */
		"\"\\ud83dx\"",
		"\"\\ud83d\\n\"",
		"\"\\ud83d\\u0041\"",         /* high + non-surrogate */
		"\"\\ud83d\\ud83d\"",         /* high + high */
		"\"\\ude00\"",                  /* lone low */
		"\"\\ude00\\ud83d\"",         /* reversed */
		"\"\\udfff\"",
		"\"\\ud83d\\ue000\"",         /* just above the low range */
		"\"\\ud83d\\udbff\"",         /* just below it */
		"\"\\ud83d\\",                  /* truncated after the high */
		"\"\\ud83d\\u",
		"\"\\ud83d\\ude0",
		"\"\\ud83d\\ude0\"",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK(!ok(bad[i]));
		if (ok(bad[i]))
			fprintf(stderr, "  accepted: %s\n", bad[i]);
	}
	/* surrogate escapes are fine as escaped text elsewhere */
	CHECK(ok("\"\\ud7ff\\ue000\""));
}

TEST(utf8)
{
	static const struct {
		const char *s;
		int valid;
	} cases[] = {
		{ "\"\x7f\"", 1 },
		{ "\"\xc2\x80\"", 1 },              /* U+0080 */
		{ "\"\xdf\xbf\"", 1 },              /* U+07FF */
		{ "\"\xe0\xa0\x80\"", 1 },          /* U+0800 */
		{ "\"\xed\x9f\xbf\"", 1 },          /* U+D7FF */
		{ "\"\xee\x80\x80\"", 1 },          /* U+E000 */
		{ "\"\xef\xbf\xbf\"", 1 },          /* U+FFFF */
		{ "\"\xf0\x90\x80\x80\"", 1 },      /* U+10000 */
		{ "\"\xf4\x8f\xbf\xbf\"", 1 },      /* U+10FFFF */
		{ "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"", 1 },
		{ "\"\xc0\x80\"", 0 },              /* overlong NUL */
		{ "\"\xc0\xaf\"", 0 },              /* overlong '/' */
		{ "\"\xc1\xbf\"", 0 },
		{ "\"\xe0\x80\x80\"", 0 },          /* overlong 3-byte */
		{ "\"\xe0\x9f\xbf\"", 0 },
		{ "\"\xf0\x80\x80\x80\"", 0 },      /* overlong 4-byte */
		{ "\"\xf0\x8f\xbf\xbf\"", 0 },
		{ "\"\xed\xa0\x80\"", 0 },          /* U+D800 */
		{ "\"\xed\xbf\xbf\"", 0 },          /* U+DFFF */
		{ "\"\xed\xa0\xbd\xed\xb8\x80\"", 0 }, /* CESU-8 pair */
		{ "\"\xf4\x90\x80\x80\"", 0 },      /* U+110000 */
		{ "\"\xf5\x80\x80\x80\"", 0 },
		{ "\"\xf8\x88\x80\x80\x80\"", 0 },  /* 5-byte form */
		{ "\"\xfe\"", 0 },
		{ "\"\xff\"", 0 },
		{ "\"\x80\"", 0 },                  /* lone continuation */
		{ "\"\xbf\"", 0 },
		{ "\"\xc2\"", 0 },                  /* truncated by the quote */
		{ "\"\xe2\x82\"", 0 },
		{ "\"\xf0\x9f\x98\"", 0 },
		{ "\"\xc2\x41\"", 0 },              /* bad continuation */
		{ "\"\xe2\x28\xa1\"", 0 },
		{ "\"\xf0\x9f\x28\x80\"", 0 },
		{ "\xc3\xa9", 0 },                  /* outside a string */
		{ "\"a\x01\"", 0 },                 /* raw control bytes */
		{ "\"a\x1f\"", 0 },
		{ "\"a\tb\"", 0 },
		{ "\"a\nb\"", 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		CHECK_EQ_INT(ok(cases[i].s), cases[i].valid);
		if (ok(cases[i].s) != cases[i].valid)
			fprintf(stderr, "  case %zu\n", i);
	}
	/* sequences cut by the end of the input, right before the guard page */
	CHECK(!ok_n("\"\xc2", 2));
	CHECK(!ok_n("\"\xe2\x82", 3));
	CHECK(!ok_n("\"\xf0\x9f\x98", 4));
	CHECK(!ok_n("\"\xf0", 2));
	/* an embedded NUL byte is a control byte */
	CHECK(!ok_n("\"a\0b\"", 5));
}

static char *nest(const char *open, const char *close, int depth, const char *inner)
{
	size_t lo = strlen(open), lc = strlen(close), li = strlen(inner);
	char *s = malloc((size_t)depth * (lo + lc) + li + 1), *p = s;
	for (int i = 0; i < depth; i++, p += lo)
		memcpy(p, open, lo);
	memcpy(p, inner, li);
	p += li;
	for (int i = 0; i < depth; i++, p += lc)
		memcpy(p, close, lc);
	*p = '\0';
	return s;
}

TEST(depth_limit)
{
	static const struct {
		const char *open, *close, *inner;
	} kinds[] = {
		{ "[", "]", "" },
		{ "[", "]", "1" },
		{ "{\"a\":", "}", "0" },
		{ "[{\"k\":", "}]", "null" },
	};
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		int per = strchr(kinds[k].open + 1, '{') || strchr(kinds[k].open + 1, '[') ? 2 : 1;
		int lim = JSON_MAX_DEPTH / per;
		char *s = nest(kinds[k].open, kinds[k].close, lim, kinds[k].inner);
		CHECK(ok(s));
		free(s);
		s = nest(kinds[k].open, kinds[k].close, lim + 1, kinds[k].inner);
		CHECK(!ok(s));
		free(s);
	}
	{
		/* 64 deep plus one empty container inside is 65 */
		char *s = nest("[", "]", JSON_MAX_DEPTH, "{}");
		CHECK(!ok(s));
		free(s);
		s = nest("[", "]", JSON_MAX_DEPTH - 1, "{}");
		CHECK(ok(s));
		free(s);
		/* very deep input fails fast, without recursion */
		s = nest("[", "]", 1000000, "");
		CHECK(!ok(s));
		free(s);
	}
	{
		/* depth is nesting, not the number of containers */
		char s[64 * 3 + 3], *p = s;
		*p++ = '[';
		for (int i = 0; i < 64; i++, p += 3)
			memcpy(p, "[],", 3);
		p[-1] = ']';
		*p = '\0';
		CHECK(ok(s));
	}
}

TEST(token_limit)
{
	/* [0,0,...]: one token per element plus the array */
	size_t n = JSON_MAX_TOKENS - 1;
	char *s = malloc(2 * n + 3);
	for (size_t i = 0; i < n; i++)
		memcpy(s + 1 + 2 * i, "0,", 2);
	s[0] = '[';
	s[2 * n] = ']';
	{
		struct json j;
		CHECK_EQ_INT(json_parse(&j, s, 2 * n + 1), 0);
		CHECK_EQ_INT(j.n, JSON_MAX_TOKENS);
		CHECK_EQ_INT(j.t[0].size, n);
		json_free(&j);
	}
	free(s);
	n = JSON_MAX_TOKENS;
	s = malloc(2 * n + 3);
	for (size_t i = 0; i < n; i++)
		memcpy(s + 1 + 2 * i, "0,", 2);
	s[0] = '[';
	s[2 * n] = ']';
	{
		struct json j;
		CHECK_EQ_INT(json_parse(&j, s, 2 * n + 1), -1);
		CHECK(j.t == NULL);
	}
	free(s);
}

TEST(duplicate_keys)
{
	struct json j;
	const char *s = "{\"a\":1,\"b\":{\"a\":2,\"c\":3},\"a\":4,\"A\":5,\"\\u0062\":6}";
	CHECK_EQ_INT(json_parse(&j, s, strlen(s)), 0); /* parsing accepts them */
	CHECK_EQ_INT(json_get(&j, 0, "a"), -2);
	CHECK_EQ_INT(json_get(&j, 0, "b"), -2);        /* "b" and "\u0062" */
	CHECK(json_get(&j, 0, "A") > 0);
	CHECK_EQ_INT(json_get(&j, 0, "c"), -1);
	{
		int b = json_index(&j, 0, 0); /* not an array */
		CHECK_EQ_INT(b, -1);
	}
	/* the inner object is looked up on its own */
	CHECK_EQ_INT(json_get(&j, 4, "a"), 6);
	CHECK_EQ_INT(j.t[6].type, JSON_NUMBER);
	json_free(&j);

	s = "{\"k\":1,\"k\":1}";
	CHECK_EQ_INT(json_parse(&j, s, strlen(s)), 0);
	CHECK_EQ_INT(json_get(&j, 0, "k"), -2);
	json_free(&j);
	s = "{\"\\/\":1,\"/\":2}";
	CHECK_EQ_INT(json_parse(&j, s, strlen(s)), 0);
	CHECK_EQ_INT(json_get(&j, 0, "/"), -2);
	json_free(&j);
}

TEST(accessor_bounds)
{
	struct json j;
	const char *s = "[\"x\",{\"y\":[]}]";
	char out[8];
	CHECK_EQ_INT(json_parse(&j, s, strlen(s)), 0);
	CHECK_EQ_INT(json_get(&j, -1, "y"), -1);
	CHECK_EQ_INT(json_get(&j, 0, "y"), -1);   /* an array */
	CHECK_EQ_INT(json_get(&j, 99, "y"), -1);
	CHECK_EQ_INT(json_get(&j, 2, "y"), 4);
	CHECK_EQ_INT(json_index(&j, -1, 0), -1);
	CHECK_EQ_INT(json_index(&j, 99, 0), -1);
	CHECK_EQ_INT(json_index(&j, 4, 0), -1);   /* empty array */
	CHECK_EQ_INT(json_index(&j, 0, 1), 2);
	CHECK_EQ_INT(json_str_copy(&j, 0, out, sizeof out), -1); /* not a string */
	CHECK_EQ_INT(json_str_copy(&j, 1, out, sizeof out), 1);
	CHECK_EQ_INT(json_str_copy(&j, 1, out, 0), -1);
	CHECK_EQ_INT(json_str_copy(&j, -1, out, sizeof out), -1);
	CHECK_EQ_INT(json_str_copy(&j, 99, out, sizeof out), -1);
	CHECK(!json_str_eq(&j, 99, "x"));
	CHECK(!json_str_eq(&j, 0, "x"));
	CHECK(json_str_eq(&j, 1, "x"));
	json_free(&j);
}

TEST(str_copy_capacity)
{
	struct json j;
	char out[8];
	const char *s = "[\"abc\",\"\\u00e9\",\"a\\nb\",\"\\ud83d\\ude00\"]";
	CHECK_EQ_INT(json_parse(&j, s, strlen(s)), 0);
	CHECK_EQ_INT(json_str_copy(&j, 1, out, 4), 3);
	CHECK_EQ_STR(out, "abc");
	CHECK_EQ_INT(json_str_copy(&j, 1, out, 3), -1);
	CHECK_EQ_INT(json_str_copy(&j, 2, out, 3), 2);
	CHECK_EQ_INT(json_str_copy(&j, 2, out, 2), -1);
	CHECK_EQ_INT(json_str_copy(&j, 3, out, 4), 3);
	CHECK_EQ_INT(json_str_copy(&j, 3, out, 3), -1);
	CHECK_EQ_INT(json_str_copy(&j, 4, out, 5), 4);
	CHECK_EQ_INT(json_str_copy(&j, 4, out, 4), -1);
	CHECK(json_str_eq(&j, 2, "\xc3\xa9"));
	CHECK(!json_str_eq(&j, 2, "\xc3"));
	CHECK(json_str_eq(&j, 3, "a\nb"));
	CHECK(!json_str_eq(&j, 3, "a\\nb"));
	CHECK(json_str_eq(&j, 1, "abc"));
	CHECK(!json_str_eq(&j, 1, "abcd"));
	CHECK(!json_str_eq(&j, 1, "ab"));
	json_free(&j);
}

TEST(write_str)
{
	struct buf b;
	static const char in[] = "a\"b\\c\n\x01\x1f\x7f/\xc3\xa9";
	buf_init(&b, 1024);
	CHECK_EQ_INT(json_write_str(&b, in, sizeof in - 1), 0);
	CHECK_EQ_INT(buf_cstr(&b), 0);
	CHECK_EQ_STR(b.p, "\"a\\\"b\\\\c\\u000a\\u0001\\u001f\x7f/\xc3\xa9\"");
	{
		/* and it parses back to the same bytes */
		struct json j;
		char out[64];
		CHECK_EQ_INT(json_parse(&j, b.p, b.len), 0);
		CHECK_EQ_INT(json_str_copy(&j, 0, out, sizeof out), (long)(sizeof in - 1));
		CHECK(memcmp(out, in, sizeof in - 1) == 0);
		json_free(&j);
	}
	buf_free(&b);
	/* the buffer's maximum is respected */
	buf_init(&b, 5);
	CHECK_EQ_INT(json_write_str(&b, "abc", 3), 0);
	CHECK_EQ_INT(b.len, 5);
	b.len = 0;
	CHECK_EQ_INT(json_write_str(&b, "abcd", 4), -1);
	CHECK(b.len <= 5);
	b.len = 0;
	CHECK_EQ_INT(json_write_str(&b, "\n", 1), -1); /* 8 bytes escaped */
	CHECK(b.len <= 5);
	buf_free(&b);
	buf_init(&b, 64);
	CHECK_EQ_INT(json_write_str(&b, "", 0), 0);
	CHECK(b.len == 2 && memcmp(b.p, "\"\"", 2) == 0);
	buf_free(&b);
}

/* Every prefix of some documents, each at the end of a page. */
TEST(guard_page_prefixes)
{
	static const char *const docs[] = {
		"{\"schemaVersion\":2,\"a\":[1,-2.5e+3,true,false,null],\"b\":{\"c\":\"d\\u00e9\"}}",
		"\"\\ud83d\\ude00 caf\xc3\xa9 \xf0\x9f\x98\x80 \\\" \\\\ \\/\"",
		"[0,-0,0.5,1E9,1e-9,-1.25e+10]",
		"  {  \"k\"  :  [  ]  ,  \"l\"  :  {  }  }",
		"true", "false", "null", "-12.5e7",
	};
	for (size_t d = 0; d < sizeof docs / sizeof docs[0]; d++) {
		size_t n = strlen(docs[d]);
		for (size_t k = 0; k < n; k++) {
			int r = parse_guarded(docs[d], k);
			/* a proper prefix of a document is never a document, except
			 * where a number may stop early ("-12.5e7" -> "-12.5") */
			if (docs[d][0] != '-')
				CHECK_EQ_INT(r, -1);
		}
		CHECK_EQ_INT(parse_guarded(docs[d], n), 0);
	}
	/* truncations in the middle of escapes and literals */
	static const char *const cut[] = {
		"\"\\u12", "\"\\", "\"\\u", "\"\\ud83d", "\"\\ud83d\\", "\"\\ud83d\\u", "\"\\ud83d\\udc",
		"t", "tr", "tru", "f", "fals", "n", "nul", "-", "1e", "1e+", "1.", "[1,", "{\"a\"",
		"{\"a\":", "{\"a\":1", "[", "{", "\"",
	};
	for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++)
		CHECK_EQ_INT(parse_guarded(cut[i], strlen(cut[i])), -1);
	CHECK_EQ_INT(parse_guarded("", 0), -1);
}

int main(void)
{
	RUN(structure);
	RUN(scalars_and_empties);
	RUN(trailing_garbage);
	RUN(syntax_errors);
	RUN(numbers);
	RUN(u64);
	RUN(string_escapes);
	RUN(surrogates);
	RUN(utf8);
	RUN(depth_limit);
	RUN(token_limit);
	RUN(duplicate_keys);
	RUN(accessor_bounds);
	RUN(str_copy_capacity);
	RUN(write_str);
	RUN(guard_page_prefixes);
	return unit_report("unit json");
}
