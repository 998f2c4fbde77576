/* Unit tests for http.c: request heads, chunked bodies, ranges. */
#include "http.h"
#include "unit.h"

static int parse(const char *s, struct http_request *req)
{
	return http_parse_request(s, strlen(s), req);
}

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

TEST(ranges)
{
	uint64_t a, b;
	struct http_slice s;
#define R(str) (s = (struct http_slice){ str, strlen(str) }, http_parse_range(s, 1000, &a, &b))
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
	CHECK_EQ_INT(R("bytes=500-0"), HTTP_RANGE_UNSATISFIABLE);
	CHECK_EQ_INT(R("bytes=0-1,5-6"), HTTP_RANGE_NONE);
	CHECK_EQ_INT(R("items=0-1"), HTTP_RANGE_NONE);
#undef R
}

int main(void)
{
	RUN(simple_get);
	RUN(incomplete_heads);
	RUN(invalid_heads);
	RUN(chunked_body);
	RUN(ranges);
	return unit_report("unit http");
}
