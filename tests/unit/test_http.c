/* Unit tests for http.c: request heads, chunked bodies, ranges.
 *
 * Request heads are also checked against golden files:
 * tests/unit/golden/http/NAME.req holds raw request bytes and NAME.out the
 * expected result (run from the repository root, as make does).  Every input
 * is parsed from a buffer that ends right before a PROT_NONE page, and every
 * prefix of it must be HTTP_INCOMPLETE (picohttpparser's contract).
 * To add a case, write NAME.req and NAME.out by hand; UNIT_GOLDEN_UPDATE=1
 * rewrites every .out from the current parser (review that diff). */
#include <dirent.h>
#include <stdint.h>

#include "http.h"
#include "unit.h"

#define GOLDEN_DIR "tests/unit/golden/http"

static int parse(const char *s, struct http_request *req)
{
	return http_parse_request(s, strlen(s), req);
}

/* Parse n bytes placed at the end of a page, followed by a PROT_NONE page. */
static int parse_guarded(const void *s, size_t n, struct http_request *req)
{
	struct unit_guard g;
	char *p = unit_guard_put(&g, s, n);
	int r = http_parse_request(p, n, req);
	/* slices point into the guarded copy: move them to s before unmapping */
	if (r >= 0) {
		req->method_str.p = (const char *)s + (req->method_str.p - p);
		req->target.p = (const char *)s + (req->target.p - p);
		for (size_t i = 0; i < req->nheaders; i++) {
			req->headers[i].name.p = (const char *)s + (req->headers[i].name.p - p);
			req->headers[i].value.p = (const char *)s + (req->headers[i].value.p - p);
		}
	}
	unit_guard_free(&g);
	return r;
}

static int parse_guarded_str(const char *s, struct http_request *req)
{
	return parse_guarded(s, strlen(s), req);
}

/* ---- golden files ---- */

struct text {
	char *p;
	size_t len, cap;
};

static void text_add(struct text *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		t->p = realloc(t->p, t->cap);
		if (!t->p)
			abort();
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

static void text_str(struct text *t, const char *s)
{
	text_add(t, s, strlen(s));
}

/* printable ASCII as is; backslash, quote and everything else as \xHH */
static void text_esc(struct text *t, struct http_slice s)
{
	text_str(t, "\"");
	for (size_t i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];
		char hex[5];
		if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
			text_add(t, s.p + i, 1);
			continue;
		}
		snprintf(hex, sizeof hex, "\\x%02x", c);
		text_str(t, hex);
	}
	text_str(t, "\"");
}

static const char *method_name(enum http_method m)
{
	switch (m) {
	case HTTP_GET: return "GET";
	case HTTP_HEAD: return "HEAD";
	case HTTP_POST: return "POST";
	case HTTP_PUT: return "PUT";
	case HTTP_PATCH: return "PATCH";
	case HTTP_DELETE: return "DELETE";
	case HTTP_OTHER: break;
	}
	return "OTHER";
}

/* The golden text for one parse. */
static void describe(struct text *t, int r, const struct http_request *req)
{
	char line[64];
	if (r == HTTP_INCOMPLETE) {
		text_str(t, "result: INCOMPLETE\n");
		return;
	}
	if (r == HTTP_INVALID) {
		text_str(t, "result: INVALID\n");
		return;
	}
	snprintf(line, sizeof line, "result: %d\nmethod: ", r);
	text_str(t, line);
	text_esc(t, req->method_str);
	snprintf(line, sizeof line, " (%s)\ntarget: ", method_name(req->method));
	text_str(t, line);
	text_esc(t, req->target);
	snprintf(line, sizeof line, "\nversion: 1.%d\nheaders: %zu\n", req->minor_version,
		 req->nheaders);
	text_str(t, line);
	for (size_t i = 0; i < req->nheaders; i++) {
		text_str(t, "header: ");
		text_esc(t, req->headers[i].name);
		text_str(t, " ");
		text_esc(t, req->headers[i].value);
		text_str(t, "\n");
	}
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct text t = { 0 };
	char chunk[4096];
	size_t n;
	if (!f)
		return NULL;
	text_add(&t, "", 0);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		text_add(&t, chunk, n);
	fclose(f);
	*len = t.len;
	return t.p;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Check one golden pair; returns 0 if it matches. */
static int golden_one(const char *name)
{
	char path[512];
	size_t reqlen, outlen;
	char *req, *want;
	struct text got = { 0 };
	struct http_request hr;
	int r, bad = 0;

	snprintf(path, sizeof path, "%s/%s.req", GOLDEN_DIR, name);
	req = read_file(path, &reqlen);
	snprintf(path, sizeof path, "%s/%s.out", GOLDEN_DIR, name);
	want = read_file(path, &outlen);
	if (!req || !want) {
		fprintf(stderr, "golden %s: cannot read .req/.out\n", name);
		free(req);
		free(want);
		return 1;
	}
	r = parse_guarded(req, reqlen, &hr);
	describe(&got, r, &hr);
	if (getenv("UNIT_GOLDEN_UPDATE")) {
		FILE *f = fopen(path, "wb");
		if (f) {
			fwrite(got.p, 1, got.len, f);
			fclose(f);
		}
	} else if (strcmp(got.p, want) != 0) {
		fprintf(stderr, "golden %s: got\n%s--- expected\n%s---\n", name, got.p, want);
		bad = 1;
	}
	/* picohttpparser's contract: a prefix of a head is never complete, and
	 * never invalid unless the whole input is */
	{
		size_t upto = r >= 0 ? (size_t)r : reqlen;
		for (size_t n = 0; n < upto; n++) {
			int pr = parse_guarded(req, n, &hr);
			if (pr != HTTP_INCOMPLETE && !(r == HTTP_INVALID && pr == HTTP_INVALID)) {
				fprintf(stderr, "golden %s: prefix of %zu bytes gave %d\n", name, n, pr);
				bad = 1;
				break;
			}
		}
	}
	free(got.p);
	free(req);
	free(want);
	return bad;
}

TEST(golden_files)
{
	DIR *d = opendir(GOLDEN_DIR);
	struct dirent *de;
	char *names[512];
	size_t n = 0;

	CHECK(d != NULL);
	if (!d)
		return;
	while ((de = readdir(d)) && n < sizeof names / sizeof names[0]) {
		size_t l = strlen(de->d_name);
		if (l > 4 && strcmp(de->d_name + l - 4, ".req") == 0)
			names[n++] = strndup(de->d_name, l - 4);
	}
	closedir(d);
	qsort(names, n, sizeof names[0], cmp_names);
	CHECK(n >= 40); /* the directory really was found and read */
	for (size_t i = 0; i < n; i++) {
		CHECK_EQ_INT(golden_one(names[i]), 0);
		free(names[i]);
	}
}

/* ---- request heads ---- */

TEST(simple_get)
{
	struct http_request req;
	const char *s = "GET /v2/ HTTP/1.1\r\nHost: x\r\nAccept: a, b \r\n\r\n";
	CHECK_EQ_INT(parse(s, &req), (long long)strlen(s));
	CHECK_EQ_INT(req.method, HTTP_GET);
	CHECK_EQ_INT(req.minor_version, 1);
	CHECK_EQ_INT(req.nheaders, 2);
	CHECK(http_slice_ieq(req.headers[1].value, "a, b"));
}

TEST(incomplete_heads)
{
	struct http_request req;
	const char *s = "PUT /v2/a/manifests/b HTTP/1.1\r\nContent-Length: 3\r\n\r\n";
	for (size_t n = 0; n < strlen(s); n++)
		CHECK_EQ_INT(http_parse_request(s, n, &req), HTTP_INCOMPLETE);
}

TEST(invalid_heads)
{
	struct http_request req;
	CHECK_EQ_INT(parse("GET /v2/ HTTP/2.0\r\n\r\n", &req), HTTP_INVALID);
	CHECK_EQ_INT(parse("GET  /v2/ HTTP/1.1\r\n\r\n", &req), HTTP_INVALID);
	CHECK_EQ_INT(parse("GET /v2/ HTTP/1.1\r\nBad Header: x\r\n\r\n", &req), HTTP_INVALID);
	CHECK_EQ_INT(parse("GET /v2/ HTTP/1.1\r\n folded\r\n\r\n", &req), HTTP_INVALID);
	CHECK_EQ_INT(parse("GET /v2/\x01 HTTP/1.1\r\n\r\n", &req), HTTP_INVALID);
}

TEST(methods)
{
	static const struct {
		const char *s;
		enum http_method m;
	} cases[] = {
		{ "GET", HTTP_GET },	   { "HEAD", HTTP_HEAD },     { "POST", HTTP_POST },
		{ "PUT", HTTP_PUT },	   { "PATCH", HTTP_PATCH },   { "DELETE", HTTP_DELETE },
		{ "OPTIONS", HTTP_OTHER }, { "get", HTTP_OTHER },     { "GETS", HTTP_OTHER },
		{ "GE", HTTP_OTHER },	   { "DELETE2", HTTP_OTHER }, { "PUTT", HTTP_OTHER },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char s[64];
		struct http_request req;
		snprintf(s, sizeof s, "%s / HTTP/1.1\r\n\r\n", cases[i].s);
		CHECK_EQ_INT(parse_guarded_str(s, &req), (long long)strlen(s));
		CHECK_EQ_INT(req.method, cases[i].m);
		CHECK_EQ_INT(req.method_str.n, strlen(cases[i].s));
	}
}

TEST(slices_point_into_buffer)
{
	struct http_request req;
	const char *s = "GET /x?y HTTP/1.0\r\nA: 1\r\n\r\n";
	CHECK_EQ_INT(parse(s, &req), (long long)strlen(s));
	CHECK(req.method_str.p == s);
	CHECK(req.target.p == s + 4);
	CHECK_EQ_INT(req.target.n, 4);
	CHECK(req.headers[0].name.p == s + 19);
	CHECK(req.headers[0].value.p == s + 22);
	CHECK_EQ_INT(req.minor_version, 0);
}

TEST(header_limit)
{
	char s[4096];
	struct http_request req;
	size_t o = (size_t)snprintf(s, sizeof s, "GET / HTTP/1.1\r\n");
	for (int i = 0; i < HTTP_MAX_HEADERS; i++)
		o += (size_t)snprintf(s + o, sizeof s - o, "H%d: %d\r\n", i, i);
	snprintf(s + o, sizeof s - o, "\r\n");
	CHECK_EQ_INT(parse_guarded_str(s, &req), (long long)strlen(s));
	CHECK_EQ_INT(req.nheaders, HTTP_MAX_HEADERS);
	snprintf(s + o, sizeof s - o, "One: more\r\n\r\n");
	CHECK_EQ_INT(parse_guarded_str(s, &req), HTTP_INVALID);
}

/* A failed parse must not leave headers from an earlier request behind. */
TEST(nheaders_reset)
{
	struct http_request req;
	CHECK(parse("GET / HTTP/1.1\r\nA: b\r\n\r\n", &req) > 0);
	CHECK_EQ_INT(req.nheaders, 1);
	CHECK_EQ_INT(parse("GET / HTTP/1.1\r\n", &req), HTTP_INCOMPLETE);
	CHECK_EQ_INT(req.nheaders, 0);
}

TEST(find_header)
{
	struct http_request req;
	const struct http_header *h;
	CHECK(parse("GET / HTTP/1.1\r\ncontent-TYPE: a\r\nContent-Type: b\r\nX: y\r\n\r\n", &req) > 0);
	h = http_find_header(&req, "Content-Type");
	CHECK(h != NULL && http_slice_ieq(h->value, "a"));
	CHECK(http_find_header(&req, "x") == &req.headers[2]);
	CHECK(http_find_header(&req, "Content") == NULL);
	CHECK(http_find_header(&req, "Content-Types") == NULL);
}

TEST(slice_ieq)
{
	struct http_slice s = { "Chunked!", 7 };
	CHECK(http_slice_ieq(s, "chunked"));
	CHECK(http_slice_ieq(s, "CHUNKED"));
	CHECK(!http_slice_ieq(s, "chunke"));
	CHECK(!http_slice_ieq(s, "chunked!"));
	s.n = 0;
	CHECK(http_slice_ieq(s, ""));
}

TEST(parse_u64)
{
	struct http_slice s;
#define U(str) (s = (struct http_slice){ str, strlen(str) }, http_parse_u64(s))
	CHECK_EQ_INT(U("0"), 0);
	CHECK_EQ_INT(U("007"), 7);
	CHECK_EQ_INT(U("1234567890"), 1234567890);
	CHECK_EQ_INT(U("999999999999999999"), 999999999999999999LL);
	CHECK_EQ_INT(U("1000000000000000000"), -1); /* 19 digits */
	CHECK_EQ_INT(U(""), -1);
	CHECK_EQ_INT(U("+1"), -1);
	CHECK_EQ_INT(U("-1"), -1);
	CHECK_EQ_INT(U(" 1"), -1);
	CHECK_EQ_INT(U("1 "), -1);
	CHECK_EQ_INT(U("1a"), -1);
	CHECK_EQ_INT(U("0x10"), -1);
#undef U
	/* not NUL-terminated: only s.n bytes are read */
	{
		struct unit_guard g;
		s.p = unit_guard_str(&g, "42");
		s.n = 2;
		CHECK_EQ_INT(http_parse_u64(s), 42);
		unit_guard_free(&g);
	}
}

TEST(status_and_date)
{
	char d[30];
	CHECK_EQ_STR(http_status_text(200), "OK");
	CHECK_EQ_STR(http_status_text(404), "Not Found");
	CHECK_EQ_STR(http_status_text(416), "Range Not Satisfiable");
	CHECK_EQ_STR(http_status_text(299), "Unknown");
	http_date(784111777, d);
	CHECK_EQ_STR(d, "Sun, 06 Nov 1994 08:49:37 GMT");
	http_date(0, d);
	CHECK_EQ_STR(d, "Thu, 01 Jan 1970 00:00:00 GMT");
}

/* Every golden-style input again, but each byte of it read through a parse
 * that places the input right before an unreadable page. */
TEST(guard_page_request_heads)
{
	static const char *const inputs[] = {
		"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /v2/ HTTP/1.1\r\nHost: x\r\n",
		"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r",
		"GET /v2/ HTTP/1.1\r\nHost: x",
		"GET /v2/ HTTP/1.1\r\nHost:",
		"GET /v2/ HTTP/1.1\r\nHost",
		"GET /v2/ HTTP/1.1\r",
		"GET /v2/ HTTP/1.",
		"GET /v2/ ",
		"GET",
		"\r\n\r",
		"\n",
		"GET / HTTP/1.1\n\n",
		"GET / HTTP/1.1\r\nA:   \t",
		"GET / HTTP/1.1\r\nA:\r\n\r\n",
		"X / HTTP/1.1\r\n\n",
	};
	for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
		size_t n = strlen(inputs[i]);
		for (size_t k = 0; k <= n; k++) {
			struct http_request a, b;
			int ra = parse_guarded(inputs[i], k, &a);
			int rb = http_parse_request(inputs[i], k, &b);
			CHECK_EQ_INT(ra, rb);
		}
	}
}

/* ---- chunked bodies ---- */

struct dechunk {
	int r;          /* last result: HTTP_CHUNK_NEED/DONE or HTTP_INVALID */
	size_t used;    /* input bytes consumed in all */
	char out[8192]; /* decoded body */
	size_t olen;
};

/* Decode in[0..n) handing the decoder `step` bytes at a time, each piece in
 * a fresh buffer that ends at a PROT_NONE page. */
static void dechunk(const char *in, size_t n, size_t step, struct dechunk *d)
{
	struct http_chunked c;
	http_chunked_init(&c);
	d->r = HTTP_CHUNK_NEED;
	d->used = 0;
	d->olen = 0;
	for (size_t off = 0; off < n || n == 0;) {
		size_t take = n - off < step ? n - off : step;
		struct unit_guard g;
		char *p = unit_guard_put(&g, in + off, take);
		size_t i = 0;
		for (;;) {
			size_t used = 0, dlen = 0;
			const char *data = NULL;
			int r = http_chunked_next(&c, p + i, take - i, &used, &data, &dlen);
			d->r = r;
			if (r == HTTP_INVALID)
				break;
			if (used > take - i) {
				d->r = HTTP_INVALID - 100; /* contract broken */
				break;
			}
			if (r == HTTP_CHUNK_DATA) {
				if (dlen == 0 || data < p + i || data + dlen > p + i + used ||
				    d->olen + dlen > sizeof d->out) {
					d->r = HTTP_INVALID - 100;
					break;
				}
				memcpy(d->out + d->olen, data, dlen);
				d->olen += dlen;
			}
			i += used;
			if (r == HTTP_CHUNK_DONE)
				break;
			if (r == HTTP_CHUNK_NEED) {
				if (i != take)
					d->r = HTTP_INVALID - 100; /* NEED must eat everything */
				break;
			}
		}
		unit_guard_free(&g);
		d->used = off + i;
		if (d->r != HTTP_CHUNK_NEED || n == 0)
			break;
		off += take;
	}
}

/* Decode with several step sizes; all must agree.  Returns the result. */
static int dechunk_all(const char *in, size_t n, struct dechunk *d)
{
	static const size_t steps[] = { 1, 2, 3, 5, 7, 64, 1u << 20 };
	struct dechunk other;
	dechunk(in, n, steps[sizeof steps / sizeof steps[0] - 1], d);
	for (size_t i = 0; i + 1 < sizeof steps / sizeof steps[0]; i++) {
		dechunk(in, n, steps[i], &other);
		CHECK_EQ_INT(other.r, d->r);
		if (d->r != HTTP_INVALID) {
			CHECK_EQ_INT(other.used, d->used);
			CHECK(other.olen == d->olen && memcmp(other.out, d->out, d->olen) == 0);
		}
	}
	return d->r;
}

#define DECHUNK(s, d) dechunk_all(s, strlen(s), d)

TEST(chunked_body)
{
	struct http_chunked c;
	const char *in = "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n";
	char out[64];
	size_t o = 0, i = 0, n = strlen(in);
	int r = HTTP_CHUNK_NEED;
	http_chunked_init(&c);
	/* feed one byte at a time: the decoder must keep its state */
	while (i < n && r != HTTP_CHUNK_DONE) {
		size_t used = 0, dlen = 0;
		const char *data = NULL;
		r = http_chunked_next(&c, in + i, 1, &used, &data, &dlen);
		CHECK(r != HTTP_INVALID);
		if (r == HTTP_INVALID)
			return;
		if (r == HTTP_CHUNK_DATA) {
			memcpy(out + o, data, dlen);
			o += dlen;
		}
		i += used;
		if (used == 0 && r != HTTP_CHUNK_DONE)
			i++; /* unreachable for valid input */
	}
	out[o] = '\0';
	CHECK_EQ_INT(r, HTTP_CHUNK_DONE);
	CHECK_EQ_INT(i, n);
	CHECK_EQ_STR(out, "hello world");
}

TEST(chunked_valid)
{
	static const struct {
		const char *in;
		const char *body;
	} cases[] = {
		{ "0\r\n\r\n", "" },
		{ "b\r\nhello world\r\n0\r\n\r\n", "hello world" },
		{ "B\r\nhello world\r\n0\r\n\r\n", "hello world" },
		{ "6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n", "hello world" },
		{ "6;comment=hi\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n", "hello world" },
		{ "6 ; comment\r\nhello \r\n5\t;a=\"b c\"\r\nworld\r\n0;x\r\n\r\n", "hello world" },
		{ "6\r\nhello \r\n5\r\nworld\r\n0\r\na: b\r\nc: d\r\n\r\n", "hello world" },
		{ "6\nhello \n5\nworld\n0\n\n", "hello world" },          /* bare LF */
		{ "6\r\nhello \n5\nworld\r\n0\r\nA: b\n\r\n", "hello world" },
		{ "0005\r\nhello\r\n000\r\n\r\n", "hello" },              /* leading zeros */
		{ "1\r\n\r\r\n1\r\n\n\r\n0\r\n\r\n", "\r\n" },            /* CR, LF as data */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct dechunk d;
		CHECK_EQ_INT(DECHUNK(cases[i].in, &d), HTTP_CHUNK_DONE);
		CHECK_EQ_INT(d.used, strlen(cases[i].in));
		d.out[d.olen] = '\0';
		CHECK_EQ_STR(d.out, cases[i].body);
	}
	{
		/* binary data with NULs passes through untouched */
		static const char in[] = "3\r\n\0\1\2\r\n0\r\n\r\n";
		struct dechunk d;
		CHECK_EQ_INT(dechunk_all(in, sizeof in - 1, &d), HTTP_CHUNK_DONE);
		CHECK_EQ_INT(d.olen, 3);
		CHECK(memcmp(d.out, "\0\1\2", 3) == 0);
	}
}

TEST(chunked_stops_at_end)
{
	struct dechunk d;
	/* bytes after the last chunk belong to the next request */
	CHECK_EQ_INT(DECHUNK("2\r\nhi\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n", &d), HTTP_CHUNK_DONE);
	CHECK_EQ_INT(d.used, 12);
	CHECK_EQ_INT(DECHUNK("0\n\nX", &d), HTTP_CHUNK_DONE);
	CHECK_EQ_INT(d.used, 3);
	{
		/* once done, it stays done and consumes nothing */
		struct http_chunked c;
		size_t used = 99, dlen = 99;
		const char *data = NULL;
		http_chunked_init(&c);
		CHECK_EQ_INT(http_chunked_next(&c, "0\r\n\r\n", 5, &used, &data, &dlen),
			     HTTP_CHUNK_DONE);
		CHECK_EQ_INT(used, 5);
		CHECK_EQ_INT(http_chunked_next(&c, "abc", 3, &used, &data, &dlen), HTTP_CHUNK_DONE);
		CHECK_EQ_INT(used, 0);
		CHECK_EQ_INT(dlen, 0);
	}
}

TEST(chunked_incomplete)
{
	static const char *const cases[] = {
		"", "5", "5\r", "5\r\n", "5\r\nhel", "5\r\nhello", "5\r\nhello\r", "5\r\nhello\r\n",
		"5;ext", "0\r\n", "0\r\n\r", "0\r\nTrailer: x\r\n", "0\r\nTrailer",
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct dechunk d;
		CHECK_EQ_INT(DECHUNK(cases[i], &d), HTTP_CHUNK_NEED);
		CHECK_EQ_INT(d.used, strlen(cases[i]));
	}
}

TEST(chunked_invalid)
{
	char big[8192];
	static const char *const cases[] = {
		"z\r\nabcdefg",
		"\r\n",                         /* no size */
		";ext\r\n",
		" 5\r\nhello\r\n0\r\n\r\n",   /* blank before the size */
		"-1\r\n",
		"0x5\r\nhello\r\n",
		"5\rX",                         /* bare CR */
		"5\r\nhelloX\r\n",            /* data longer than the size */
		"5\r\nhello\rX",
		"5\r\nhello\r\r\n",
		"5;a\x01\r\n",                 /* control byte in an extension */
		"0\r\n\rX",                     /* bare CR in the trailer section */
		"10000000000000000\r\n",       /* 2^64: overflow */
		"1ffffffffffffffff\r\n",
		"1000000000000000\r\n",        /* 2^60: 16 digits, past the 2^56 guard */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct dechunk d;
		CHECK_EQ_INT(DECHUNK(cases[i], &d), HTTP_INVALID);
	}
	/* extensions and trailer lines are bounded */
	memset(big, 'a', sizeof big);
	memcpy(big, "5;", 2);
	memcpy(big + 5000, "\r\nhello\r\n0\r\n\r\n", 15);
	{
		struct dechunk d;
		CHECK_EQ_INT(dechunk_all(big, 5015, &d), HTTP_INVALID);
		memcpy(big, "0\r\nX: ", 6);
		memcpy(big + 5000, "\r\n\r\n", 4);
		CHECK_EQ_INT(dechunk_all(big, 5004, &d), HTTP_INVALID);
		/* but a long-ish one is fine */
		memcpy(big + 2000, "\r\n\r\n", 4);
		CHECK_EQ_INT(dechunk_all(big, 2004, &d), HTTP_CHUNK_DONE);
	}
}

TEST(chunked_large_size)
{
	/* the largest accepted chunk size: 15 hex digits */
	struct http_chunked c;
	size_t used = 0, dlen = 0;
	const char *data = NULL;
	http_chunked_init(&c);
	CHECK_EQ_INT(http_chunked_next(&c, "fffffffffffffff\r\nab", 19, &used, &data, &dlen),
		     HTTP_CHUNK_DATA);
	CHECK_EQ_INT(used, 19);
	CHECK_EQ_INT(dlen, 2);
	CHECK(c.left == 0xfffffffffffffffULL - 2);
}

/* ---- ranges ---- */

static struct http_range rg[HTTP_MAX_RANGES];
static size_t nrg;

/* Parse str (placed against a guard page) for a body of size bytes; a single
 * range lands in *a, *b. */
static int one_range(const char *str, uint64_t size, uint64_t *a, uint64_t *b)
{
	struct unit_guard g;
	const char *p = unit_guard_put(&g, str, strlen(str));
	int r = http_parse_ranges((struct http_slice){ p, strlen(str) }, size, rg, HTTP_MAX_RANGES,
				  &nrg);
	unit_guard_free(&g);
	if (r == HTTP_RANGE_OK && nrg == 1) {
		*a = rg[0].first;
		*b = rg[0].last;
	}
	return r;
}

TEST(ranges)
{
	uint64_t a, b;
#define R(str) one_range(str, 1000, &a, &b)
	CHECK_EQ_INT(R("bytes=0-99"), HTTP_RANGE_OK);
	CHECK_EQ_INT(a, 0);
	CHECK_EQ_INT(b, 99);
	CHECK_EQ_INT(R("bytes=500-"), HTTP_RANGE_OK);
	CHECK_EQ_INT(b, 999);
	CHECK_EQ_INT(R("bytes=-10"), HTTP_RANGE_OK);
	CHECK_EQ_INT(a, 990);
	CHECK_EQ_INT(R("bytes=900-5000"), HTTP_RANGE_OK);
	CHECK_EQ_INT(b, 999);
	CHECK_EQ_INT(R("bytes=1000-"), HTTP_RANGE_UNSATISFIABLE);
	/* RFC 9110 14.2: an invalid range may be ignored or rejected; the OCI
	 * conformance suite checks that bytes=500-0 is rejected */
	CHECK_EQ_INT(R("bytes=500-0"), HTTP_RANGE_UNSATISFIABLE);
	CHECK_EQ_INT(R("bytes=5-2"), HTTP_RANGE_UNSATISFIABLE);
	CHECK_EQ_INT(R("bytes=2000-1000"), HTTP_RANGE_UNSATISFIABLE);
	CHECK_EQ_INT(R("items=0-1"), HTTP_RANGE_NONE);
#undef R
}

TEST(ranges_more)
{
	uint64_t a = 7, b = 7;
#define R(str, size) one_range(str, size, &a, &b)
	CHECK_EQ_INT(R("bytes=999-999", 1000), HTTP_RANGE_OK);
	CHECK(a == 999 && b == 999);
	CHECK_EQ_INT(R("BYTES=1-2", 1000), HTTP_RANGE_OK);
	CHECK(a == 1 && b == 2);
	CHECK_EQ_INT(R("bytes= 1-2 \t", 1000), HTTP_RANGE_OK);
	CHECK(a == 1 && b == 2);
	CHECK_EQ_INT(R("bytes=-2000", 1000), HTTP_RANGE_OK);
	CHECK(a == 0 && b == 999);
	CHECK_EQ_INT(R("bytes=-1", 1), HTTP_RANGE_OK);
	CHECK(a == 0 && b == 0);
	CHECK_EQ_INT(R("bytes=0-9999999999999999999", 10), HTTP_RANGE_OK);
	CHECK(a == 0 && b == 9);
	CHECK_EQ_INT(R("bytes=-0", 1000), HTTP_RANGE_UNSATISFIABLE);
	CHECK_EQ_INT(R("bytes=0-", 0), HTTP_RANGE_UNSATISFIABLE);
	CHECK_EQ_INT(R("bytes=-5", 0), HTTP_RANGE_UNSATISFIABLE);
	CHECK_EQ_INT(R("bytes=", 1000), HTTP_RANGE_NONE);
	CHECK_EQ_INT(R("bytes= ", 1000), HTTP_RANGE_NONE);
	CHECK_EQ_INT(R("bytes=,", 1000), HTTP_RANGE_NONE);
	CHECK_EQ_INT(R("bytes=-", 1000), HTTP_RANGE_NONE);
	CHECK_EQ_INT(R("bytes=--5", 1000), HTTP_RANGE_NONE);
	CHECK_EQ_INT(R("bytes=5", 1000), HTTP_RANGE_NONE);
	CHECK_EQ_INT(R("bytes=a-b", 1000), HTTP_RANGE_NONE);
	CHECK_EQ_INT(R("bytes=0 -1", 1000), HTTP_RANGE_NONE);
	CHECK_EQ_INT(R("bytes=0- 1", 1000), HTTP_RANGE_NONE);
	CHECK_EQ_INT(R("bytes=1-2-3", 1000), HTTP_RANGE_NONE);
	CHECK_EQ_INT(R("bytes=+1-2", 1000), HTTP_RANGE_NONE);
	CHECK_EQ_INT(R("bytes 0-1", 1000), HTTP_RANGE_NONE);
	CHECK_EQ_INT(R("byte=0-1", 1000), HTTP_RANGE_NONE);
	CHECK_EQ_INT(R("bytes =0-1", 1000), HTTP_RANGE_NONE);
	CHECK_EQ_INT(R("", 1000), HTTP_RANGE_NONE);
	/* numbers too large for 64 bits are malformed, not a crash */
	CHECK_EQ_INT(R("bytes=99999999999999999999999-", 1000), HTTP_RANGE_NONE);
	CHECK_EQ_INT(R("bytes=0-99999999999999999999999", 1000), HTTP_RANGE_NONE);
	CHECK_EQ_INT(R("bytes=-99999999999999999999999", 1000), HTTP_RANGE_NONE);
	/* an empty list element is no element (RFC 9110 5.6.1) */
	CHECK_EQ_INT(R("bytes=0-1,", 1000), HTTP_RANGE_OK);
	CHECK(nrg == 1 && a == 0 && b == 1);
	CHECK_EQ_INT(R("bytes=, ,3-4", 1000), HTTP_RANGE_OK);
	CHECK(nrg == 1 && a == 3 && b == 4);
#undef R
}

/* Several ranges: kept in the order asked, neither merged nor sorted;
 * unsatisfiable ones dropped; the whole body when they ask for more bytes
 * than it has, or there are too many of them. */
TEST(ranges_multi)
{
	uint64_t a, b;
#define R(str, size) one_range(str, size, &a, &b)
	CHECK_EQ_INT(R("bytes=0-9,20-29", 1000), HTTP_RANGE_OK);
	CHECK_EQ_INT(nrg, 2);
	CHECK(rg[0].first == 0 && rg[0].last == 9 && rg[1].first == 20 && rg[1].last == 29);
	/* out of order, adjacent and a suffix: as asked */
	CHECK_EQ_INT(R("bytes=500-599 , 10-19,\t20-29,-100", 1000), HTTP_RANGE_OK);
	CHECK_EQ_INT(nrg, 4);
	CHECK(rg[0].first == 500 && rg[1].first == 10 && rg[2].first == 20 && rg[3].first == 900);
	CHECK(rg[3].last == 999);
	/* overlapping, but no more bytes than the body: served as asked */
	CHECK_EQ_INT(R("bytes=0-99,50-149", 1000), HTTP_RANGE_OK);
	CHECK_EQ_INT(nrg, 2);
	/* more bytes than the body (a range flood): the whole body */
	CHECK_EQ_INT(R("bytes=0-999,0-0", 1000), HTTP_RANGE_NONE);
	CHECK_EQ_INT(R("bytes=0-,0-,0-", 1000), HTTP_RANGE_NONE);
	CHECK_EQ_INT(R("bytes=0-0,0-0", 1), HTTP_RANGE_NONE);
	CHECK_EQ_INT(R("bytes=0-0,0-0", 2), HTTP_RANGE_OK);
	/* past the end: dropped while another is satisfiable, else 416 */
	CHECK_EQ_INT(R("bytes=5000-6000,10-19", 1000), HTTP_RANGE_OK);
	CHECK(nrg == 1 && a == 10 && b == 19);
	CHECK_EQ_INT(R("bytes=-0,10-19", 1000), HTTP_RANGE_OK);
	CHECK_EQ_INT(nrg, 1);
	CHECK_EQ_INT(R("bytes=5000-6000,1000-", 1000), HTTP_RANGE_UNSATISFIABLE);
	CHECK_EQ_INT(nrg, 0);
	CHECK_EQ_INT(R("bytes=0-1,-0", 0), HTTP_RANGE_UNSATISFIABLE);
	/* one backwards range makes the set invalid: 416, as for one range */
	CHECK_EQ_INT(R("bytes=0-9,29-20", 1000), HTTP_RANGE_UNSATISFIABLE);
	CHECK_EQ_INT(nrg, 0);
	/* but malformed syntax anywhere means the header is ignored */
	CHECK_EQ_INT(R("bytes=29-20,x", 1000), HTTP_RANGE_NONE);
	CHECK_EQ_INT(R("bytes=0-9,20-29;", 1000), HTTP_RANGE_NONE);
	CHECK_EQ_INT(R("bytes=0-9,bytes=20-29", 1000), HTTP_RANGE_NONE);
	CHECK_EQ_INT(R("bytes=0-9 20-29", 1000), HTTP_RANGE_NONE);
	CHECK_EQ_INT(R("bytes=0-9,,20-29", 1000), HTTP_RANGE_OK);
	CHECK_EQ_INT(nrg, 2);
#undef R
}

TEST(ranges_limit)
{
	/* HTTP_MAX_RANGES single bytes are served; one more and the header is
	 * ignored; the limit counts ranges that would be dropped too */
	static char h[12 * (HTTP_MAX_RANGES + 2)];
	size_t o = (size_t)snprintf(h, sizeof h, "bytes=");
	uint64_t a, b;
	for (size_t i = 0; i < HTTP_MAX_RANGES; i++)
		o += (size_t)snprintf(h + o, sizeof h - o, "%s%zu-%zu", i ? "," : "", 2 * i, 2 * i);
	CHECK_EQ_INT(one_range(h, 1 << 20, &a, &b), HTTP_RANGE_OK);
	CHECK_EQ_INT(nrg, HTTP_MAX_RANGES);
	CHECK(rg[HTTP_MAX_RANGES - 1].first == 2 * (HTTP_MAX_RANGES - 1));
	snprintf(h + o, sizeof h - o, ",99999999-");
	CHECK_EQ_INT(one_range(h, 1 << 20, &a, &b), HTTP_RANGE_NONE);
	CHECK_EQ_INT(nrg, 0);
	/* and a caller's smaller array is respected */
	CHECK_EQ_INT(http_parse_ranges((struct http_slice){ "bytes=0-1,3-4,6-7", 17 }, 100, rg, 2, &nrg),
		     HTTP_RANGE_NONE);
	CHECK_EQ_INT(http_parse_ranges((struct http_slice){ "bytes=0-1,3-4", 13 }, 100, rg, 2, &nrg),
		     HTTP_RANGE_OK);
	/* sums that would pass 64 bits are the whole body, not a wrap */
	CHECK_EQ_INT(one_range("bytes=0-,0-,0-", UINT64_MAX, &a, &b), HTTP_RANGE_NONE);
}

TEST(if_range)
{
	const char *etag = "sha256:abc";
#define M(str) http_if_range_matches((struct http_slice){ str, strlen(str) }, etag)
	CHECK(M("\"sha256:abc\""));
	CHECK(!M("W/\"sha256:abc\""));     /* weak tags never match */
	CHECK(!M("\"sha256:abd\""));
	CHECK(!M("\"sha256:abc"));
	CHECK(!M("sha256:abc"));
	CHECK(!M("\"sha256:ab\""));
	CHECK(!M("\"sha256:abcd\""));
	CHECK(!M("\"SHA256:ABC\""));       /* entity tags are case-sensitive */
	CHECK(!M("Sun, 06 Nov 1994 08:49:37 GMT"));
	CHECK(!M(""));
	CHECK(!M("*"));
#undef M
}

/* A multipart body built from the part heads has exactly the length
 * http_multipart_length promises, and the framing RFC 9110 14.6 shows. */
TEST(multipart_framing)
{
	static const char data[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	struct http_range r[3] = { { 0, 9 }, { 20, 29 }, { 35, 35 } };
	char body[1024], head[HTTP_PART_HEAD_MAX];
	size_t o = 0;
	for (size_t i = 0; i < 3; i++) {
		size_t n = http_part_head(head, "B0UND", "application/octet-stream", i, r[i], 36);
		memcpy(body + o, head, n);
		o += n;
		memcpy(body + o, data + r[i].first, r[i].last - r[i].first + 1);
		o += r[i].last - r[i].first + 1;
	}
	o += http_part_tail(body + o, "B0UND");
	body[o] = '\0';
	CHECK_EQ_INT(http_multipart_length("B0UND", "application/octet-stream", r, 3, 36), o);
	CHECK_EQ_STR(body, "--B0UND\r\nContent-Type: application/octet-stream\r\n"
			   "Content-Range: bytes 0-9/36\r\n\r\n0123456789"
			   "\r\n--B0UND\r\nContent-Type: application/octet-stream\r\n"
			   "Content-Range: bytes 20-29/36\r\n\r\nklmnopqrst"
			   "\r\n--B0UND\r\nContent-Type: application/octet-stream\r\n"
			   "Content-Range: bytes 35-35/36\r\n\r\nz"
			   "\r\n--B0UND--\r\n");
	/* the largest numbers fit the part head buffer */
	{
		struct http_range big = { UINT64_MAX - 1, UINT64_MAX - 1 };
		char boundary[HTTP_BOUNDARY_MAX];
		memset(boundary, 'b', sizeof boundary - 1);
		boundary[sizeof boundary - 1] = '\0';
		size_t n = http_part_head(head, boundary, "application/octet-stream", 1, big, UINT64_MAX);
		CHECK(n < HTTP_PART_HEAD_MAX - 1);
		CHECK(memcmp(head + n - 4, "\r\n\r\n", 4) == 0);
	}
}

TEST(list_tokens)
{
#define L(str, tok) http_list_has((struct http_slice){ str, strlen(str) }, tok)
	CHECK(L("close", "close"));
	CHECK(L("Close", "close"));
	CHECK(L("close, x", "close"));
	CHECK(L("x,close", "close"));
	CHECK(L(" keep-alive ,\tUpgrade ", "upgrade"));
	CHECK(L(",,close,,", "close"));
	CHECK(!L("closed", "close"));
	CHECK(!L("x-close", "close"));
	CHECK(!L("clo se", "close"));
	CHECK(!L("", "close"));
	CHECK(!L(" , ", "close"));
#undef L
	/* guard page: the scan never reads past the slice */
	{
		static const char *const cases[] = { "close", "a, close", "a,", " ", "" };
		for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
			struct unit_guard g;
			struct http_slice s = { unit_guard_str(&g, cases[i]), strlen(cases[i]) };
			CHECK_EQ_INT(http_list_has(s, "close"), strstr(cases[i], "close") != NULL);
			unit_guard_free(&g);
		}
	}
}

TEST(status_text_complete)
{
	/* every status the server sends has its own reason phrase */
	static const int used[] = { 100, 200, 201, 202, 204, 206, 307, 400, 401, 403, 404, 405, 408,
				    411, 413, 414, 416, 417, 429, 431, 500, 501, 503, 505, 507 };
	for (size_t i = 0; i < sizeof used / sizeof used[0]; i++)
		CHECK(strcmp(http_status_text(used[i]), "Unknown") != 0);
	CHECK_EQ_STR(http_status_text(417), "Expectation Failed");
}

TEST(guard_page_ranges)
{
	static const char *const cases[] = {
		"bytes=0-99", "bytes=5-", "bytes=-5", "bytes=", "bytes", "bytes=0", "bytes=0-",
		"bytes=-", "bytes= ", "bytes=1-2 ", "b", "", "bytes=0-1,", "bytes=0-1, ",
		"bytes=0-1,2", "bytes=0-1,-", "bytes=0-1,2-", "bytes=,", "bytes=0-1 ,",
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct unit_guard g;
		struct http_range r1[4], r2[4];
		size_t n1 = 0, n2 = 0;
		struct http_slice s = { unit_guard_str(&g, cases[i]), strlen(cases[i]) };
		struct http_slice s2 = { cases[i], strlen(cases[i]) };
		int r = http_parse_ranges(s, 100, r1, 4, &n1);
		CHECK_EQ_INT(r, http_parse_ranges(s2, 100, r2, 4, &n2));
		CHECK(n1 == n2 && (n1 == 0 || memcmp(r1, r2, n1 * sizeof r1[0]) == 0));
		unit_guard_free(&g);
	}
}

int main(void)
{
	RUN(golden_files);
	RUN(simple_get);
	RUN(incomplete_heads);
	RUN(invalid_heads);
	RUN(methods);
	RUN(slices_point_into_buffer);
	RUN(header_limit);
	RUN(nheaders_reset);
	RUN(find_header);
	RUN(slice_ieq);
	RUN(parse_u64);
	RUN(status_and_date);
	RUN(guard_page_request_heads);
	RUN(chunked_body);
	RUN(chunked_valid);
	RUN(chunked_stops_at_end);
	RUN(chunked_incomplete);
	RUN(chunked_invalid);
	RUN(chunked_large_size);
	RUN(ranges);
	RUN(ranges_more);
	RUN(ranges_multi);
	RUN(ranges_limit);
	RUN(if_range);
	RUN(multipart_framing);
	RUN(guard_page_ranges);
	RUN(list_tokens);
	RUN(status_text_complete);
	return unit_report("unit http");
}
