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


/* A Range header against a body of size bytes.  HTTP_RANGE_NONE: serve the
 * whole body (absent, not bytes=, several ranges, or malformed: RFC 9110
 * lets a server ignore those); HTTP_RANGE_OK with [*first, *last];
 * HTTP_RANGE_UNSATISFIABLE: answer 416 (first past the end, an empty suffix,
 * or last < first: RFC 9110 14.2 lets a server ignore or reject that, and the
 * OCI conformance suite expects the 416). */
enum { HTTP_RANGE_NONE = 0, HTTP_RANGE_OK = 1, HTTP_RANGE_UNSATISFIABLE = -1 };
int http_parse_range(struct http_slice v, uint64_t size, uint64_t *first, uint64_t *last);

#endif
