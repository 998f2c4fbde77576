/* http.h - HTTP/1.1 request parsing (picohttpparser's contract) and response heads.
 *
 * http_parse_request returns the number of bytes the head used, HTTP_INCOMPLETE
 * when more bytes are needed, or HTTP_INVALID.  It never allocates: method,
 * target and headers are slices of the caller's buffer, valid while it is.
 * http_chunked_next decodes a chunked body in place, one data run at a time. */
#ifndef PH_HTTP_H
#define PH_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP_INCOMPLETE (-2)
#define HTTP_INVALID (-1)

#define HTTP_MAX_HEADERS 64
#define HTTP_MAX_HEAD 16384      /* request line + headers */

enum http_method {
	HTTP_OTHER = 0,
	HTTP_GET,
	HTTP_HEAD,
	HTTP_POST,
	HTTP_PUT,
	HTTP_PATCH,
	HTTP_DELETE,
};

struct http_slice {
	const char *p;
	size_t n;
};

struct http_header {
	struct http_slice name;
	struct http_slice value;
};

struct http_request {
	enum http_method method;
	struct http_slice method_str;
	struct http_slice target;
	int minor_version; /* HTTP/1.x */
	size_t nheaders;
	struct http_header headers[HTTP_MAX_HEADERS];
};

/* Parse a request head from buf[0..len).  Too many headers is HTTP_INVALID. */
int http_parse_request(const char *buf, size_t len, struct http_request *req);

/* First header named name (case-insensitive), or NULL. */
const struct http_header *http_find_header(const struct http_request *req, const char *name);
/* Does the slice equal lit, ignoring ASCII case? */
int http_slice_ieq(struct http_slice s, const char *lit);
/* Is tok one of the comma-separated tokens of the list s (RFC 9110 5.6.1),
 * ignoring ASCII case and optional whitespace? */
int http_list_has(struct http_slice s, const char *tok);
/* Strict decimal (no sign, no blanks, at most 18 digits); -1 if bad. */
int64_t http_parse_u64(struct http_slice s);

/* Chunked transfer-coding decoder. */
struct http_chunked {
	int state;
	uint64_t left;  /* bytes of chunk data still to come */
	size_t linelen; /* bytes of the current size or trailer line seen */
};

enum { HTTP_CHUNK_NEED = 0, HTTP_CHUNK_DATA = 1, HTTP_CHUNK_DONE = 2 };

void http_chunked_init(struct http_chunked *c);
/* Decode from in[0..len).  Sets *used to the input bytes consumed.  Returns
 * HTTP_CHUNK_DATA with (*data, *dlen) a run of body bytes inside in,
 * HTTP_CHUNK_NEED when in is used up, HTTP_CHUNK_DONE after the last chunk
 * and trailers, or HTTP_INVALID. */
int http_chunked_next(struct http_chunked *c, const char *in, size_t len, size_t *used,
		      const char **data, size_t *dlen);

const char *http_status_text(int status);
/* Format "Sun, 06 Nov 1994 08:49:37 GMT" for t into out[30]. */
void http_date(long t, char out[30]);


/* ---- ranges (RFC 9110 14) ---- */

/* At most this many ranges in one Range header; more and the header is
 * ignored (the whole body, as nginx's max_ranges and Apache's MaxRanges do).
 * containers/storage asks for up to 1024 chunks of a zstd:chunked layer at
 * once, so the limit is that, not lower: a client that asks for more gets 200. */
#define HTTP_MAX_RANGES 1024

/* One satisfiable range: bytes first..last (inclusive) of the body. */
struct http_range {
	uint64_t first, last;
};

/* A Range header against a body of size bytes.  Returns
 *   HTTP_RANGE_NONE: serve the whole body: the header is not "bytes=", is
 *     malformed, has more than cap ranges, or asks for more bytes in all than
 *     the body holds (overlaps: nginx and Go's http.ServeContent do the same);
 *   HTTP_RANGE_OK: out[0..*n) holds the satisfiable ranges, in the order
 *     asked, clamped to the body, neither merged nor sorted (a client such
 *     as containers/image matches parts to its chunks by position); ranges
 *     that start past the end are dropped;
 *   HTTP_RANGE_UNSATISFIABLE: answer 416: no range is satisfiable, or one
 *     has last < first (RFC 9110 14.2 lets a server ignore or reject that;
 *     the OCI conformance suite expects the 416).
 * The grammar is RFC 9110's: 1#range-spec with optional whitespace around
 * commas and empty list elements ignored; positions are plain decimal
 * numbers of at most 64 bits. */
enum { HTTP_RANGE_NONE = 0, HTTP_RANGE_OK = 1, HTTP_RANGE_UNSATISFIABLE = -1 };
int http_parse_ranges(struct http_slice v, uint64_t size, struct http_range *out, size_t cap,
		      size_t *n);

/* If-Range (RFC 9110 13.1.5) against a representation whose strong ETag is
 * "etag" (etag without the quotes): 1 only for that exact entity tag.  A weak
 * tag, another tag, a date (this server sends no Last-Modified, so no date
 * is a strong validator) or anything else is 0: the Range is then ignored. */
int http_if_range_matches(struct http_slice v, const char *etag);

/* multipart/byteranges (RFC 9110 14.6).  A boundary is at most
 * HTTP_BOUNDARY_MAX - 1 characters.  A body is, for each part i,
 * http_part_head(i) then the part's bytes, and http_part_tail once. */
#define HTTP_BOUNDARY_MAX 48
#define HTTP_PART_HEAD_MAX 256
/* The head of part i (0-based) for bytes r of a size-byte body into
 * out[HTTP_PART_HEAD_MAX]; returns its length. */
size_t http_part_head(char *out, const char *boundary, const char *type, size_t i,
		      struct http_range r, uint64_t size);
/* The closing delimiter into out[HTTP_PART_HEAD_MAX]; returns its length. */
size_t http_part_tail(char *out, const char *boundary);
/* The Content-Length of the whole multipart body. */
uint64_t http_multipart_length(const char *boundary, const char *type,
			       const struct http_range *r, size_t n, uint64_t size);

#endif
