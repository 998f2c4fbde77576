/* http.c - request head parser, chunked decoder, status texts, ranges and
 * multipart/byteranges framing. */
#include "http.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "hex.h"
/* RFC 9110 tchar */
static int is_tchar(unsigned char c)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr(extra, c));
}

/* visible ASCII as allowed in a request target */
static int is_target_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

static int is_field_vchar(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static enum http_method method_of(const char *p, size_t n)
{
	switch (n) {
	case 3:
		if (memcmp(p, "GET", 3) == 0)
			return HTTP_GET;
		if (memcmp(p, "PUT", 3) == 0)
			return HTTP_PUT;
		break;
	case 4:
		if (memcmp(p, "HEAD", 4) == 0)
			return HTTP_HEAD;
		if (memcmp(p, "POST", 4) == 0)
			return HTTP_POST;
		break;
	case 5:
		if (memcmp(p, "PATCH", 5) == 0)
			return HTTP_PATCH;
		break;
	case 6:
		if (memcmp(p, "DELETE", 6) == 0)
			return HTTP_DELETE;
		break;
	}
	return HTTP_OTHER;
}

/* Find the end of the line starting at *i: returns the index of CR (or LF for a
 * bare LF line end) and moves *i past the line end; -2 if incomplete. */
static long line_end(const char *buf, size_t len, size_t *i)
{
	const char *lf = memchr(buf + *i, '\n', len - *i);
	size_t e;
	if (!lf)
		return HTTP_INCOMPLETE;
	e = (size_t)(lf - buf);
	*i = e + 1;
	if (e > 0 && buf[e - 1] == '\r')
		return (long)e - 1;
	return (long)e;
}

int http_parse_request(const char *buf, size_t len, struct http_request *req)
{
	size_t i = 0, start;
	long e;

	req->nheaders = 0;
	/* tolerate empty lines before the request line (RFC 9112 2.2) */
	while (i < len && (buf[i] == '\r' || buf[i] == '\n'))
		i++;
	if (i == len)
		return HTTP_INCOMPLETE;
	start = i;
	e = line_end(buf, len, &i);
	if (e == HTTP_INCOMPLETE)
		return HTTP_INCOMPLETE;
	{
		/* METHOD SP target SP HTTP/1.x */
		size_t p = start, end = (size_t)e;
		size_t m0 = p;
		while (p < end && is_tchar((unsigned char)buf[p]))
			p++;
		if (p == m0 || p >= end || buf[p] != ' ')
			return HTTP_INVALID;
		req->method_str = (struct http_slice){ buf + m0, p - m0 };
		req->method = method_of(buf + m0, p - m0);
		p++;
		size_t t0 = p;
		while (p < end && is_target_char((unsigned char)buf[p]))
			p++;
		if (p == t0 || p >= end || buf[p] != ' ')
			return HTTP_INVALID;
		req->target = (struct http_slice){ buf + t0, p - t0 };
		p++;
		if (end - p != 8 || memcmp(buf + p, "HTTP/1.", 7) != 0 ||
		    (buf[p + 7] != '0' && buf[p + 7] != '1'))
			return HTTP_INVALID;
		req->minor_version = buf[p + 7] - '0';
	}
	for (;;) {
		size_t h0 = i, p, n0, v0, vend;
		if (i >= len)
			return HTTP_INCOMPLETE;
		e = line_end(buf, len, &i);
		if (e == HTTP_INCOMPLETE)
			return HTTP_INCOMPLETE;
		if ((size_t)e == h0)
			return (int)i; /* empty line: end of head */
		if (req->nheaders == HTTP_MAX_HEADERS)
			return HTTP_INVALID;
		p = n0 = h0;
		while (p < (size_t)e && is_tchar((unsigned char)buf[p]))
			p++;
		/* no obs-fold, no blank before the colon (RFC 9112 5.1) */
		if (p == n0 || p >= (size_t)e || buf[p] != ':')
			return HTTP_INVALID;
		struct http_header *h = &req->headers[req->nheaders++];
		h->name = (struct http_slice){ buf + n0, p - n0 };
		p++;
		while (p < (size_t)e && (buf[p] == ' ' || buf[p] == '\t'))
			p++;
		v0 = p;
		vend = (size_t)e;
		for (size_t k = v0; k < vend; k++)
			if (!is_field_vchar((unsigned char)buf[k]))
				return HTTP_INVALID;
		while (vend > v0 && (buf[vend - 1] == ' ' || buf[vend - 1] == '\t'))
			vend--;
		h->value = (struct http_slice){ buf + v0, vend - v0 };
	}
}

int http_slice_ieq(struct http_slice s, const char *lit)
{
	size_t n = strlen(lit);
	return s.n == n && strncasecmp(s.p, lit, n) == 0;
}

int http_list_has(struct http_slice s, const char *tok)
{
	size_t i = 0;
	while (i < s.n) {
		size_t a, b;
		while (i < s.n && (s.p[i] == ' ' || s.p[i] == '\t' || s.p[i] == ','))
			i++;
		a = i;
		while (i < s.n && s.p[i] != ',')
			i++;
		b = i;
		while (b > a && (s.p[b - 1] == ' ' || s.p[b - 1] == '\t'))
			b--;
		if (b > a && http_slice_ieq((struct http_slice){ s.p + a, b - a }, tok))
			return 1;
	}
	return 0;
}

const struct http_header *http_find_header(const struct http_request *req, const char *name)
{
	for (size_t i = 0; i < req->nheaders; i++)
		if (http_slice_ieq(req->headers[i].name, name))
			return &req->headers[i];
	return NULL;
}

int64_t http_parse_u64(struct http_slice s)
{
	int64_t v = 0;
	if (s.n == 0 || s.n > 18)
		return -1;
	for (size_t i = 0; i < s.n; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return -1;
		v = v * 10 + (s.p[i] - '0');
	}
	return v;
}

/* chunked decoder states */
enum { CH_SIZE, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_TRAILER,
       CH_TRAILER_LF, CH_DONE };

#define CHUNK_LINE_MAX 4096
#define CHUNK_SIZE_MAX ((uint64_t)1 << 56)

void http_chunked_init(struct http_chunked *c)
{
	c->state = CH_SIZE;
	c->left = 0;
	c->linelen = 0;
}

int http_chunked_next(struct http_chunked *c, const char *in, size_t len, size_t *used,
		      const char **data, size_t *dlen)
{
	size_t i = 0;

	*dlen = 0;
	while (i < len) {
		char ch = in[i];
		switch (c->state) {
		case CH_SIZE: {
			int h = hex_value((unsigned char)ch);
			if (h >= 0) {
				if (c->left >= CHUNK_SIZE_MAX)
					return HTTP_INVALID;
				c->left = c->left * 16 + (uint64_t)h;
				c->linelen++;
				i++;
				break;
			}
			if (c->linelen == 0)
				return HTTP_INVALID;
			if (ch == ';' || ch == ' ' || ch == '\t') {
				c->state = CH_EXT;
				break;
			}
			if (ch == '\r') {
				c->state = CH_SIZE_LF;
				i++;
				break;
			}
			if (ch == '\n') {
				c->state = CH_SIZE_LF;
				break;
			}
			return HTTP_INVALID;
		}
		case CH_EXT:
			/* chunk extensions are ignored, but bounded */
			if (ch == '\r' || ch == '\n') {
				c->state = CH_SIZE_LF;
				if (ch == '\r')
					i++;
				break;
			}
			if (++c->linelen > CHUNK_LINE_MAX || ((unsigned char)ch < 0x20 && ch != '\t'))
				return HTTP_INVALID;
			i++;
			break;
		case CH_SIZE_LF:
			if (ch != '\n')
				return HTTP_INVALID;
			i++;
			c->linelen = 0;
			c->state = c->left ? CH_DATA : CH_TRAILER;
			break;
		case CH_DATA: {
			size_t n = len - i;
			if (n > c->left)
				n = (size_t)c->left;
			*data = in + i;
			*dlen = n;
			c->left -= n;
			if (c->left == 0)
				c->state = CH_DATA_CR;
			*used = i + n;
			return HTTP_CHUNK_DATA;
		}
		case CH_DATA_CR:
			if (ch == '\r') {
				c->state = CH_DATA_LF;
				i++;
				break;
			}
			if (ch != '\n')
				return HTTP_INVALID;
			/* fall through: bare LF */
			c->state = CH_DATA_LF;
			break;
		case CH_DATA_LF:
			if (ch != '\n')
				return HTTP_INVALID;
			i++;
			c->state = CH_SIZE;
			c->left = 0;
			c->linelen = 0;
			break;
		case CH_TRAILER:
			/* trailer fields are read and dropped; an empty line ends the body */
			if (ch == '\r') {
				c->state = CH_TRAILER_LF;
				i++;
				break;
			}
			if (ch == '\n') {
				if (c->linelen == 0) {
					c->state = CH_DONE;
					*used = i + 1;
					return HTTP_CHUNK_DONE;
				}
				c->linelen = 0;
				i++;
				break;
			}
			if (++c->linelen > CHUNK_LINE_MAX)
				return HTTP_INVALID;
			i++;
			break;
		case CH_TRAILER_LF:
			if (ch != '\n')
				return HTTP_INVALID;
			i++;
			if (c->linelen == 0) {
				c->state = CH_DONE;
				*used = i;
				return HTTP_CHUNK_DONE;
			}
			c->linelen = 0;
			c->state = CH_TRAILER;
			break;
		default:
			*used = i;
			return HTTP_CHUNK_DONE;
		}
	}
	*used = i;
	return c->state == CH_DONE ? HTTP_CHUNK_DONE : HTTP_CHUNK_NEED;
}

const char *http_status_text(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 307: return "Temporary Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	case 507: return "Insufficient Storage";
	}
	return "Unknown";
}

void http_date(long t, char out[30])
{
	struct tm tm;
	time_t tt = (time_t)t;
	gmtime_r(&tt, &tm);
	strftime(out, 30, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* digits into *v; returns digits read (0 if none or overflow) */
static size_t parse_dec(const char *p, size_t n, uint64_t *v)
{
	size_t i = 0;
	*v = 0;
	while (i < n && p[i] >= '0' && p[i] <= '9') {
		if (*v > (UINT64_MAX - 9) / 10)
			return 0;
		*v = *v * 10 + (uint64_t)(p[i] - '0');
		i++;
	}
	return i;
}

static int is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* One range-spec, p[0..n) with no blanks around it: 0 with [*a, *b] (b is
 * UINT64_MAX for "a-"; *suffix set for "-b"), or -1 if malformed. */
static int parse_spec(const char *p, size_t n, uint64_t *a, uint64_t *b, int *suffix)
{
	size_t i, k;

	*suffix = p[0] == '-';
	if (*suffix) {
		k = parse_dec(p + 1, n - 1, b);
		return k == 0 || k != n - 1 ? -1 : 0;
	}
	i = parse_dec(p, n, a);
	if (i == 0 || i >= n || p[i] != '-')
		return -1;
	if (++i == n) {
		*b = UINT64_MAX;
		return 0;
	}
	k = parse_dec(p + i, n - i, b);
	return k == 0 || i + k != n ? -1 : 0;
}

int http_parse_ranges(struct http_slice v, uint64_t size, struct http_range *out, size_t cap,
		      size_t *n)
{
	const char *p = v.p;
	size_t len = v.n, i, specs = 0;
	uint64_t sum = 0;
	int backwards = 0, overflow = 0;

	*n = 0;
	if (len < 6 || strncasecmp(p, "bytes=", 6) != 0)
		return HTTP_RANGE_NONE;
	i = 6;
	/* 1#range-spec: elements between commas, blanks around them, empty
	 * elements ignored (RFC 9110 5.6.1) */
	while (i < len) {
		size_t s0, e;
		uint64_t a = 0, b = 0;
		int suffix;

		while (i < len && is_ows(p[i]))
			i++;
		s0 = i;
		while (i < len && p[i] != ',' && !is_ows(p[i]))
			i++;
		e = i;
		while (i < len && is_ows(p[i]))
			i++;
		if (i < len && p[i] != ',')
			goto none; /* a blank inside a spec */
		i++; /* past the comma (or the end) */
		if (e == s0)
			continue;
		if (parse_spec(p + s0, e - s0, &a, &b, &suffix) < 0 || ++specs > cap)
			goto none;
		if (suffix) {
			if (b == 0 || size == 0)
				continue; /* unsatisfiable: dropped */
			a = b >= size ? 0 : size - b;
			b = size - 1;
		} else if (b < a) {
			backwards = 1;
			continue;
		} else if (a >= size) {
			continue;
		} else if (b >= size) {
			b = size - 1;
		}
		out[*n] = (struct http_range){ a, b };
		*n += 1;
		if (sum + (b - a + 1) < sum)
			overflow = 1;
		sum += b - a + 1;
	}
	if (specs == 0 || overflow || sum > size)
		goto none;
	if (backwards || *n == 0) {
		*n = 0;
		return HTTP_RANGE_UNSATISFIABLE;
	}
	return HTTP_RANGE_OK;
none:
	*n = 0;
	return HTTP_RANGE_NONE;
}

int http_if_range_matches(struct http_slice v, const char *etag)
{
	size_t n = strlen(etag);
	/* strong comparison (RFC 9110 8.8.3.2): byte for byte, quotes included,
	 * so W/"..." never matches */
	return v.n == n + 2 && v.p[0] == '"' && v.p[n + 1] == '"' && memcmp(v.p + 1, etag, n) == 0;
}

static size_t clamp_len(int r, size_t cap)
{
	return r < 0 ? 0 : (size_t)r >= cap ? cap - 1 : (size_t)r;
}

size_t http_part_head(char *out, const char *boundary, const char *type, size_t i,
		      struct http_range r, uint64_t size)
{
	/* the first delimiter needs no CRLF before it (Go's mime/multipart
	 * writes none); every later one starts with the CRLF that ends the
	 * previous part's bytes (RFC 2046 5.1.1) */
	int k = snprintf(out, HTTP_PART_HEAD_MAX,
			 "%s--%s\r\nContent-Type: %.80s\r\nContent-Range: bytes %llu-%llu/%llu\r\n\r\n",
			 i ? "\r\n" : "", boundary, type, (unsigned long long)r.first,
			 (unsigned long long)r.last, (unsigned long long)size);
	return clamp_len(k, HTTP_PART_HEAD_MAX);
}

size_t http_part_tail(char *out, const char *boundary)
{
	return clamp_len(snprintf(out, HTTP_PART_HEAD_MAX, "\r\n--%s--\r\n", boundary),
			 HTTP_PART_HEAD_MAX);
}

uint64_t http_multipart_length(const char *boundary, const char *type,
			       const struct http_range *r, size_t n, uint64_t size)
{
	char tmp[HTTP_PART_HEAD_MAX];
	uint64_t total = http_part_tail(tmp, boundary);
	for (size_t i = 0; i < n; i++)
		total += http_part_head(tmp, boundary, type, i, r[i], size) + (r[i].last - r[i].first + 1);
	return total;
}
