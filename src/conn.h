/* conn.h - HTTP/1.1 connections: read, parse, hand over, respond.
 *
 * The connection layer knows HTTP and the event loop, nothing of registries:
 * what serves the requests (the registry) hands itself down as a struct
 * conn_app - a dispatch function for each request head, a body sink, and the
 * size of the per-connection state it keeps (conn_state).  A connection reads
 * a request head, calls dispatch, optionally streams the body into memory or
 * the app's sink, and queues the response.  Responses are written at once;
 * only after a short write does the connection wait for EV_WRITE, and while a
 * response is pending it reads no further requests (bounded memory, in-order
 * replies).  Blob bodies go out with sendfile, manifests by reference.
 *
 * Every connection of a server lives in one struct conn_set, which holds the
 * budgets (struct conn_limits) and the memory they account for. */
#ifndef PH_CONN_H
#define PH_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "bytes.h"
#include "ev.h"
#include "http.h"

struct conn;
struct conn_set;

/* Body completion: status 0, or one of CONN_BODY_*. */
enum {
	CONN_BODY_OK = 0,
	CONN_BODY_TOO_BIG = 1,
	CONN_BODY_BAD = 2,   /* framing error */
	CONN_BODY_IO = 3,    /* the sink failed; errno in c->body_errno */
	CONN_BODY_BUSY = 4,  /* the server's buffer budget is spent (503 already sent) */
};
typedef void conn_body_fn(struct conn *c, int status);
/* Take n body bytes: 0, or -1 with errno (the body then ends with CONN_BODY_IO). */
typedef int conn_sink_fn(struct conn *c, const char *p, size_t n);
typedef void conn_fn(struct conn *c);

/* What the connection layer serves. */
struct conn_app {
	conn_fn *dispatch;   /* a request head is in c->req: answer it or read its body */
	conn_fn *closed;     /* c is closing (mid-request or not): let go of its state */
	size_t state_size;   /* bytes of per-connection state, zeroed at conn_new */
	void *data;          /* the app itself, for conn_app_data */
};

/* The budgets of one server's connections (README, "Limits"). */
struct conn_limits {
	int64_t header_timeout_ms;  /* a head must arrive within this from its first byte */
	int64_t idle_timeout_ms;    /* an idle keep-alive connection closes after this */
	int64_t body_timeout_ms;    /* a body or response with no progress this long is dropped */
	uint64_t min_rate;          /* bytes/s a transfer must move over each 10 s window */
	size_t max_buffered;        /* bytes held for bodies and buffers, all connections */
	size_t max_sndbuf;          /* the kernel's send buffer of each socket (SO_SNDBUF,
	                             * which it doubles: half of this is asked); 0: the
	                             * kernel's autotuning, up to net.ipv4.tcp_wmem's max */
};

/* Every connection of one server.  The owner fills ev, lim, app and
 * on_close (told the peer address of each connection that closes, for
 * per-peer counts) and zeroes the rest. */
struct conn_set {
	struct ev *ev;
	struct conn_limits lim;
	struct conn_app app;
	void (*on_close)(void *owner, const char *peer_addr);
	void *owner;

	struct conn *live;          /* open connections, for timeouts */
	struct conn *dead;          /* closed this turn, freed before sleeping */
	unsigned n;                 /* open connections */
	size_t buffered;            /* sum of every connection's charged bytes */
	long date_sec;
	char date[30];              /* cached Date header value */
};

struct conn {
	struct ev_io io;
	struct conn_set *set;
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
	size_t log_parts;           /* parts of a multipart answer, for the log */

	/* the request body */
	int body_mode;
	uint64_t body_left;         /* Content-Length bytes still to come */
	uint64_t body_seen;
	struct http_chunked chunk;
	struct buf body;            /* conn_read_body_mem */
	conn_sink_fn *body_sink;    /* conn_read_body_stream */
	int body_errno;
	conn_body_fn *body_done;
	int body_taken;             /* the handler read (or refused) the body */

	/* a file body being sent */
	int file_fd;
	off_t file_off;
	uint64_t file_left;
	off_t file_limit;           /* bytes from here on are not there yet (a
	                             * file still being written: conn_file_limit) */
	int corked;                 /* TCP_CORK is on while a long range is sent */
	int held;                   /* the app answers later (conn_hold) */
	/* a multipart/byteranges body: the parts of the body at parts_base in
	 * file_fd still to send after the current one (parts[part_next..nparts)) */
	struct http_range *parts;   /* malloc'd, counted against the buffer budget */
	size_t nparts, part_next;
	off_t parts_base;
	uint64_t parts_size;        /* the whole body's size, for Content-Range */
	char part_type[96];
	char boundary[HTTP_BOUNDARY_MAX];

	int64_t deadline;           /* ev_now() ms after which the tick acts */
	int64_t rate_t0;            /* start of the current transfer-rate window */
	uint64_t moved;             /* body bytes read plus response bytes sent */
	uint64_t rate_moved0;       /* moved at rate_t0 */
	int close_after;            /* close once the response is written */

	max_align_t app_state[];    /* the app's conn_state, state_size bytes */
};

/* Take ownership of an accepted socket from peer "ADDR:PORT" (peer_addr is
 * ADDR alone). */
struct conn *conn_new(struct conn_set *set, int fd, const char *peer, const char *peer_addr);
void conn_close(struct conn *c);
void conn_close_all(struct conn_set *set);
/* Free connections closed during this loop turn. */
void conn_reap(struct conn_set *set);
/* Act on deadlines and rates (header, idle, body, write timeouts, min_rate). */
void conn_tick(struct conn_set *set, int64_t now);

/* The app's per-connection state and the app itself. */
static inline void *conn_state(struct conn *c) { return c->app_state; }
static inline void *conn_app_data(const struct conn *c) { return c->set->app.data; }

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
/* End the head of a multipart/byteranges response (the caller began it with
 * 206) and send the n ranges r (n >= 2, each inside size; copied) of the
 * size-byte body at base in fd, each part labelled part_type (at most 80
 * characters are used): the part heads from a small buffer, the bytes with
 * sendfile from fd at base + first.  The conn owns fd; -1 for HEAD.  When
 * the buffer budget cannot hold the list of ranges, the head is taken back
 * and a 503 goes out instead. */
void conn_end_file_ranges(struct conn *c, const char *part_type, int fd, off_t base, uint64_t size,
			  const struct http_range *r, size_t n);

/* ---- answers that wait (the mirror: an upstream fetch) ----
 *
 * conn_hold: the handler returns without answering; the connection reads
 * and parses nothing more, is watched for nothing and has no deadline of
 * its own (whoever holds it bounds the wait), until the answer is queued
 * and conn_resume called.  The request head is gone by then: keep what it
 * said.  The connection may close meanwhile (conn_close_all, a failed
 * write): the app's closed callback says so.
 *
 * conn_file_limit: a conn_end_file body whose file is still being written:
 * bytes at and past offset upto are held back until a later call raises the
 * limit (which runs the connection).  Meanwhile the connection waits for
 * nothing; the minimum rate and the body timeout still judge it. */
void conn_hold(struct conn *c);
void conn_resume(struct conn *c);
void conn_file_limit(struct conn *c, off_t upto);

/* Read the request body into c->body (at most max bytes), then call done. */
void conn_read_body_mem(struct conn *c, size_t max, conn_body_fn *done);
/* Stream the request body through sink, then call done. */
void conn_read_body_stream(struct conn *c, conn_sink_fn *sink, conn_body_fn *done);
/* Does the request carry a body (Content-Length > 0 or chunked)? */
int conn_has_body(const struct conn *c);
/* All values of header name joined by ", " into out; returns length or -1. */
long conn_header_values(const struct conn *c, const char *name, char *out, size_t cap);

#endif
