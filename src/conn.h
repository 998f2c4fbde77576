/* conn.h - one client connection: read, parse, route, respond.
 *
 * A connection reads a request head, hands it to the registry (reg_dispatch),
 * optionally streams the body into memory or an upload, and queues the
 * response.  Responses are written at once; only after a short write does the
 * connection wait for EV_WRITE, and while a response is pending it reads no
 * further requests (bounded memory, in-order replies).  Blob bodies go out
 * with sendfile. */
#ifndef PH_CONN_H
#define PH_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "bytes.h"
#include "ev.h"
#include "http.h"
#include "router.h"

struct server;
struct conn;
struct store_upload;

/* Body completion: status 0, or one of CONN_BODY_*. */
enum {
	CONN_BODY_OK = 0,
	CONN_BODY_TOO_BIG = 1,
	CONN_BODY_BAD = 2,   /* framing error */
	CONN_BODY_IO = 3,    /* writing the upload failed; errno in c->body_errno */
	CONN_BODY_BUSY = 4,  /* the server's buffer budget is spent (503 already sent) */
};
typedef void conn_body_fn(struct conn *c, int status);

struct conn {
	struct ev_io io;
	struct server *srv;
	struct conn *prev, *next;   /* all connections, for timeouts */
	int state;
	int closed;
	char peer[64];              /* "ADDR:PORT", for the log */
	char peer_addr[48];         /* "ADDR": the per-peer budgets' key */

	struct buf in;              /* request head bytes, and body bytes read with it */
	struct buf out;             /* queued response heads and small bodies */
	struct bytes *out_body;     /* a larger body sent after out, by reference */
	size_t out_body_off;
	int out_body_charged;       /* out_body counts against the buffer budget */
	size_t head_start;          /* out.len where the current response began */
	size_t charged;             /* bytes of the server's buffer budget held */
	struct buf staged;          /* header lines for the next conn_begin */

	/* the request being served */
	/* the head being dispatched: slices of in, in one struct shared by every
	 * connection (the loop serves one at a time); valid during dispatch only */
	struct http_request *req;
	size_t head_len;            /* bytes of in that are the head, during dispatch */
	struct route rt;
	enum http_method method;
	int keep_alive;
	int expect_continue;
	int64_t content_length;     /* -1 when absent */
	char content_type[256];     /* the request's Content-Type, "" when absent */
	int chunked;
	int64_t t_start_us;
	char log_req[320];          /* "GET /v2/..." for the log line */
	int quiet;                  /* log at debug level only */
	int status;
	uint64_t bytes_out;

	/* the request body */
	int body_mode;
	uint64_t body_left;         /* Content-Length bytes still to come */
	uint64_t body_seen;
	struct http_chunked chunk;
	struct buf body;            /* CONN_BODY_MEM */
	struct store_upload *up;    /* CONN_BODY_UPLOAD */
	int body_errno;
	conn_body_fn *body_done;
	int body_taken;             /* the handler read (or refused) the body */

	/* a file body being sent */
	int file_fd;
	off_t file_off;
	uint64_t file_left;

	int64_t deadline;           /* ev_now() ms after which the tick acts */
	int64_t rate_t0;            /* start of the current transfer-rate window */
	uint64_t moved;             /* body bytes read plus response bytes sent */
	uint64_t rate_moved0;       /* moved at rate_t0 */
	int close_after;            /* close once the response is written */
};

/* Take ownership of an accepted socket from peer "ADDR:PORT" (peer_addr is
 * ADDR alone). */
struct conn *conn_new(struct server *srv, int fd, const char *peer, const char *peer_addr);
void conn_close(struct conn *c);
/* Free connections closed during this loop turn. */
void conn_reap(struct server *srv);
/* Act on deadlines (header, idle, body, write timeouts). */
void conn_tick(struct server *srv, int64_t now);

/* ---- for handlers ---- */

/* Stage a header line ("Name: value") for the next conn_begin. */
void conn_stage(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Start a response: status line, standard headers, staged headers. */
void conn_begin(struct conn *c, int status);
/* End the head with Content-Type (NULL: none) and Content-Length len, and
 * queue body (not for HEAD requests): small bodies are copied, larger ones
 * sent from a counted copy.  A response is always whole: when the body cannot
 * be held (memory, the buffer budget) the head is taken back and a 503 goes
 * out instead. */
void conn_end(struct conn *c, const char *content_type, const char *body, size_t len);
/* Like conn_end, sending b by reference (the caller keeps its own). */
void conn_end_bytes(struct conn *c, const char *content_type, struct bytes *b);
/* Like conn_end, taking over a body built in b (b is left empty). */
void conn_end_buf(struct conn *c, const char *content_type, struct buf *b);
/* End the head and send len bytes of fd from off (the conn owns fd). */
void conn_end_file(struct conn *c, const char *content_type, int fd, off_t off, uint64_t len);

/* Read the request body into c->body (at most max bytes), then call done. */
void conn_read_body_mem(struct conn *c, size_t max, conn_body_fn *done);
/* Stream the request body into up, then call done. */
void conn_read_body_upload(struct conn *c, struct store_upload *up, conn_body_fn *done);
/* Does the request carry a body (Content-Length > 0 or chunked)? */
int conn_has_body(const struct conn *c);
/* All values of header name joined by ", " into out; returns length or -1. */
long conn_header_values(const struct conn *c, const char *name, char *out, size_t cap);

#endif
