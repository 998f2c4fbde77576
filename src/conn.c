/* conn.c - the connection state machine. */
#include "conn.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "hex.h"
#include "log.h"

enum { CS_HEAD, CS_BODY, CS_LINGER };
enum { BODY_NONE, BODY_DISCARD, BODY_MEM, BODY_STREAM };

#define IN_MAX (HTTP_MAX_HEAD + 65536)
#define OUT_INLINE ((size_t)16 << 10)  /* larger bodies go out by reference */
#define OUT_HIGH 65536                 /* stop reading pipelined requests above this */
#define OUT_MAX (OUT_HIGH + OUT_INLINE + 16384)  /* + one response head */
#define RATE_WINDOW_MS 10000           /* min_rate is judged over windows this long */
#define DISCARD_MAX ((uint64_t)1 << 20) /* read and drop at most this much unwanted body */
#define LINGER_MS 2000
#define READS_PER_EVENT 16
/* 256 KiB per sendfile: the client (another CPU) starts reading sooner and
 * the server spends less per byte than with 1 MiB (tests/bench/blobget.sh:
 * 300 MiB from a tarball, 2,903 against 2,430 MiB/s, 95 against 116 ms of
 * server CPU; 128 KiB is slower again).  Keep sending after a short one: the
 * client drains the socket meanwhile, and the next call mostly succeeds. */
#define SENDFILE_CHUNK ((size_t)256 << 10)
/* A range of more than one chunk is sent corked (TCP_CORK), so that each
 * sendfile's last partial segment waits for the next one's bytes instead of
 * going out short (300 MiB: 5,821 data segments uncorked, 4,821 as nginx's
 * tcp_nopush); only when the whole range is there (no writer to wait for),
 * and uncorked, which flushes, when it is out. */
#define SENDFILE_BUDGET ((size_t)4 << 20)  /* per wake-up, then others' turn */
#define PART_COST ((size_t)4096)           /* of that budget, at least, per multipart part */

/* Body bytes are read here and go straight to their sink (single-threaded). */
static char rbuf[256 * 1024];
/* The request head being dispatched, whichever connection it is on. */
static struct http_request dispatch_req;

/* Input buffers of idle connections come back here for the next request on
 * any connection: an idle connection holds none, a busy one never mallocs. */
#define IN_CHUNK 4096
#define IN_POOL_MAX 256
static char *in_pool[IN_POOL_MAX];
static size_t in_pool_n;

static void in_release(struct conn *c)
{
	if (c->in.cap == IN_CHUNK && in_pool_n < IN_POOL_MAX) {
		in_pool[in_pool_n++] = c->in.p;
		c->in.p = NULL;
		c->in.cap = c->in.len = 0;
	} else {
		buf_free(&c->in);
	}
}

static void in_acquire(struct conn *c)
{
	if (!c->in.p && in_pool_n) {
		c->in.p = in_pool[--in_pool_n];
		c->in.cap = IN_CHUNK;
		c->in.len = 0;
	}
}

static void conn_run(struct conn *c);

static void parts_free(struct conn *c)
{
	free(c->parts);
	c->parts = NULL;
	c->nparts = c->part_next = 0;
}

/* A file body (one range or several) is still going out. */
static int sending_file(const struct conn *c)
{
	return c->file_left || c->parts;
}

static void on_io(struct ev *ev, struct ev_io *io, unsigned events)
{
	struct conn *c = io->data;
	(void)ev;
	(void)events;
	if (c->closed)
		return;
	conn_run(c);
}

/* ---- the buffer budget: what connections hold in memory, server-wide ---- */

static size_t holding(const struct conn *c)
{
	return c->in.cap + c->out.cap + c->body.cap +
	       (c->out_body && c->out_body_charged ? c->out_body->len : 0) +
	       c->nparts * sizeof *c->parts;
}

/* Bring the server's total up to date with what c holds now. */
static void charge(struct conn *c)
{
	size_t now = c->closed ? 0 : holding(c);
	c->set->buffered = c->set->buffered - c->charged + now;
	c->charged = now;
}

/* Would n more bytes pass the budget? */
static int over_budget(const struct conn *c, size_t n)
{
	return c->set->buffered + n > c->set->lim.max_buffered;
}

static void rate_restart(struct conn *c, int64_t now)
{
	c->rate_t0 = now;
	c->rate_moved0 = c->moved;
}

struct conn *conn_new(struct conn_set *set, int fd, const char *peer, const char *peer_addr)
{
	struct conn *c = calloc(1, sizeof *c + set->app.state_size);
	int one = 1;

	if (!c)
		return NULL;
	c->set = set;
	c->file_fd = -1;
	snprintf(c->peer, sizeof c->peer, "%s", peer);
	snprintf(c->peer_addr, sizeof c->peer_addr, "%s", peer_addr);
	buf_init(&c->in, IN_MAX);
	buf_init(&c->out, OUT_MAX);
	buf_init(&c->staged, 4096);
	buf_init(&c->body, 0);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (set->lim.max_sndbuf) {
		/* what a client that never reads pins in the kernel: without
		 * it the buffer grows to tcp_wmem's max (4 MiB) on each socket */
		int half = (int)(set->lim.max_sndbuf / 2);
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &half, sizeof half);
	}
	ev_io_init(&c->io, fd, on_io, c);
	if (ev_io_set(set->ev, &c->io, EV_READ) < 0) {
		free(c);
		return NULL;
	}
	c->deadline = ev_now(set->ev) + set->lim.idle_timeout_ms;
	rate_restart(c, ev_now(set->ev));
	c->next = set->live;
	if (set->live)
		set->live->prev = c;
	set->live = c;
	set->n++;
	return c;
}

void conn_close(struct conn *c)
{
	struct conn_set *set = c->set;
	if (c->closed)
		return;
	c->closed = 1;
	ev_io_set(set->ev, &c->io, 0);
	close(c->io.fd);
	if (c->file_fd >= 0)
		close(c->file_fd);
	c->file_fd = -1;
	parts_free(c);
	bytes_unref(c->out_body);
	c->out_body = NULL;
	charge(c);
	if (set->app.closed)
		set->app.closed(c);
	/* unlink from the live list, park on the dead list until the batch ends */
	if (c->prev)
		c->prev->next = c->next;
	else
		set->live = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = set->dead;
	set->dead = c;
	set->n--;
	if (set->on_close)
		set->on_close(set->owner, c->peer_addr);
}

void conn_close_all(struct conn_set *set)
{
	while (set->live)
		conn_close(set->live);
	conn_reap(set);
}

void conn_reap(struct conn_set *set)
{
	while (set->dead) {
		struct conn *c = set->dead;
		set->dead = c->next;
		buf_free(&c->in);
		buf_free(&c->out);
		buf_free(&c->staged);
		buf_free(&c->body);
		free(c);
	}
}

/* ---- responses ---- */

static void log_request(struct conn *c)
{
	int level = c->quiet ? LOG_DEBUG : LOG_INFO;
	long long us;
	if (log_level < level)
		return;
	us = (long long)(clock_us() - c->t_start_us);
	/* a multipart answer says how many parts it had */
	if (c->log_parts)
		log_msg(level, "%s \"%s\" %d %llu %lld.%03lldms %zu ranges", c->peer, c->log_req,
			c->status, (unsigned long long)c->bytes_out, us / 1000, us % 1000, c->log_parts);
	else
		log_msg(level, "%s \"%s\" %d %llu %lld.%03lldms", c->peer, c->log_req, c->status,
			(unsigned long long)c->bytes_out, us / 1000, us % 1000);
}

void conn_stage(struct conn *c, const char *fmt, ...)
{
	va_list ap;
	char line[2048];
	int n;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < sizeof line) {
		buf_append(&c->staged, line, (size_t)n);
		buf_append(&c->staged, "\r\n", 2);
	}
}

/* An unread body we will not drain: one a 100 Continue never invited, or one
 * too large to read and drop.  The connection must close after the answer. */
static int unread_body_closes(const struct conn *c)
{
	return conn_has_body(c) &&
	       (c->expect_continue || (!c->chunked && (uint64_t)c->content_length > DISCARD_MAX));
}

void conn_begin(struct conn *c, int status)
{
	struct conn_set *set = c->set;
	long t = (long)time(NULL);
	if (t != set->date_sec) {
		set->date_sec = t;
		http_date(t, set->date);
	}
	c->status = status;
	c->head_start = c->out.len;
	buf_printf(&c->out,
		   "HTTP/1.1 %d %s\r\nDate: %s\r\nDocker-Distribution-API-Version: registry/2.0\r\n",
		   status, http_status_text(status), set->date);
	if (c->staged.len) {
		buf_append(&c->out, c->staged.p, c->staged.len);
		c->staged.len = 0;
	}
	/* say so whenever this answer ends the connection */
	if (!c->keep_alive || (!c->body_taken && unread_body_closes(c)))
		c->close_after = 1;
	if (c->close_after)
		buf_puts(&c->out, "Connection: close\r\n");
}

static void respond_plain(struct conn *c, int status, const char *code, const char *msg);

#define REQUEST_BUFFERS_FULL "server busy: request buffers are full, retry"
#define RESPONSE_BUFFERS_FULL "server busy: response buffers are full, retry"

/* A server-wide budget is spent: 503 UNAVAILABLE with Retry-After, then close. */
static void respond_unavailable(struct conn *c, const char *why)
{
	conn_stage(c, "Retry-After: 1");
	respond_plain(c, 503, "UNAVAILABLE", why);
}

/* The head is queued but its body cannot follow: take the head back and
 * answer 503 instead, so no head ever promises bytes that do not come. */
static void end_unavailable(struct conn *c, const char *why)
{
	c->out.len = c->head_start;
	c->staged.len = 0;
	respond_unavailable(c, why);
}

/* Content-Type and Content-Length; 0, or -1 when out has no room. */
static int end_head(struct conn *c, const char *content_type, size_t len)
{
	int r = 0;
	if (content_type)
		r |= buf_printf(&c->out, "Content-Type: %s\r\n", content_type);
	if (c->status == 204)
		r |= buf_puts(&c->out, "\r\n"); /* RFC 9110 8.6: no Content-Length on 204 */
	else
		r |= buf_printf(&c->out, "Content-Length: %zu\r\n\r\n", len);
	return r;
}

/* Send b after the head; charged: b is this response's own (counted). */
static void end_with(struct conn *c, const char *content_type, struct bytes *b, int charged)
{
	if (end_head(c, content_type, b->len) < 0) {
		bytes_unref(b);
		end_unavailable(c, "response head too large");
		return;
	}
	if (c->method != HTTP_HEAD && b->len) {
		c->out_body = b;
		c->out_body_off = 0;
		c->out_body_charged = charged;
		c->bytes_out = b->len;
		charge(c);
	} else {
		bytes_unref(b);
	}
	log_request(c);
}

void conn_end(struct conn *c, const char *content_type, const char *body, size_t len)
{
	struct bytes *b;
	if (len <= OUT_INLINE || c->method == HTTP_HEAD) {
		if (end_head(c, content_type, len) < 0 ||
		    (c->method != HTTP_HEAD && buf_append(&c->out, body, len) < 0)) {
			end_unavailable(c, "response too large for the output buffer");
			return;
		}
		if (c->method != HTTP_HEAD)
			c->bytes_out = len;
		log_request(c);
		return;
	}
	if (over_budget(c, len) || !(b = bytes_new(body, len))) {
		end_unavailable(c, RESPONSE_BUFFERS_FULL);
		return;
	}
	end_with(c, content_type, b, 1);
}

void conn_end_bytes(struct conn *c, const char *content_type, struct bytes *b)
{
	end_with(c, content_type, bytes_ref(b), 0);
}

void conn_end_buf(struct conn *c, const char *content_type, struct buf *body)
{
	struct bytes *b;
	size_t len = body->len;
	char *p = body->p;

	body->p = NULL;
	body->len = body->cap = 0;
	if (c->method == HTTP_HEAD || len <= OUT_INLINE) {
		conn_end(c, content_type, p, len);
		free(p);
		return;
	}
	if (over_budget(c, len)) {
		free(p);
		end_unavailable(c, RESPONSE_BUFFERS_FULL);
		return;
	}
	if (!(b = bytes_adopt(p, len))) {
		end_unavailable(c, "out of memory");
		return;
	}
	end_with(c, content_type, b, 1);
}

void conn_end_file(struct conn *c, const char *content_type, int fd, off_t off, uint64_t len)
{
	if (content_type)
		buf_printf(&c->out, "Content-Type: %s\r\n", content_type);
	buf_printf(&c->out, "Content-Length: %llu\r\n\r\n", (unsigned long long)len);
	if (c->method == HTTP_HEAD || len == 0) {
		close(fd);
		log_request(c);
		return;
	}
	c->file_fd = fd;
	c->file_off = off;
	c->file_left = len;
	c->file_limit = off + (off_t)len;
	c->bytes_out = len;
	/* logged when the last byte is sent */
}

/* A boundary no blob can be made to contain ahead of time: 128 random bits
 * (hex.h, as upload ids). */
static void make_boundary(char out[HTTP_BOUNDARY_MAX])
{
	_Static_assert(sizeof "ph-byteranges-" - 1 + 32 < HTTP_BOUNDARY_MAX, "boundary fits");
	memcpy(out, "ph-byteranges-", 14);
	hex_random128(out + 14);
}

/* Queue the head of the next part (and set up its bytes), or the closing
 * delimiter after the last part.  Called only when the previous part's bytes
 * are all sent. */
static void next_part(struct conn *c)
{
	char head[HTTP_PART_HEAD_MAX];
	size_t i = c->part_next, n;
	if (i == c->nparts) {
		n = http_part_tail(head, c->boundary);
		parts_free(c);
		charge(c);
		close(c->file_fd);
		c->file_fd = -1;
		log_request(c);
	} else {
		struct http_range r = c->parts[i];
		n = http_part_head(head, c->boundary, c->part_type, i, r, c->parts_size);
		c->file_off = c->parts_base + (off_t)r.first;
		c->file_left = r.last - r.first + 1;
		c->part_next++;
	}
	/* out was drained before: a part head always fits */
	buf_append(&c->out, head, n);
}

void conn_end_file_ranges(struct conn *c, const char *part_type, int fd, off_t base, uint64_t size,
			  const struct http_range *r, size_t n)
{
	size_t bytes = n * sizeof *r;
	uint64_t total;
	int err = 0;

	make_boundary(c->boundary);
	snprintf(c->part_type, sizeof c->part_type, "%s", part_type);
	total = http_multipart_length(c->boundary, c->part_type, r, n, size);
	if (c->method != HTTP_HEAD && fd >= 0) {
		if (over_budget(c, bytes) || !(c->parts = malloc(bytes))) {
			close(fd);
			end_unavailable(c, RESPONSE_BUFFERS_FULL);
			return;
		}
		memcpy(c->parts, r, bytes);
		c->nparts = n;
		c->part_next = 0;
		c->parts_base = base;
		c->parts_size = size;
		c->file_limit = base + (off_t)size; /* every part is there: no writer follows */
		charge(c);
	} else if (fd >= 0) {
		close(fd);
		fd = -1;
	}
	err |= buf_printf(&c->out, "Content-Type: multipart/byteranges; boundary=%s\r\n",
			  c->boundary);
	err |= buf_printf(&c->out, "Content-Length: %llu\r\n\r\n", (unsigned long long)total);
	if (err) {
		if (fd >= 0)
			close(fd);
		parts_free(c);
		charge(c);
		end_unavailable(c, "response head too large");
		return;
	}
	c->log_parts = n;
	if (fd < 0) {
		log_request(c);
		return;
	}
	c->file_fd = fd;
	c->bytes_out = total;
	next_part(c);
	/* logged when the closing delimiter is queued */
}

/* A response of our own, outside the registry handlers (400, 408, 431, 503):
 * the spec's error envelope, then close.  msg is a literal without quotes. */
static void respond_plain(struct conn *c, int status, const char *code, const char *msg)
{
	char body[256];
	int n = snprintf(body, sizeof body,
			 "{\"errors\":[{\"code\":\"%s\",\"message\":\"%s\"}]}\n", code, msg);
	c->close_after = 1;
	c->keep_alive = 0;
	conn_begin(c, status);
	conn_end(c, "application/json; charset=utf-8", body, (size_t)n);
}

/* A request we could not parse: answer it and close. */
static void unparsed_request(struct conn *c, int status)
{
	c->t_start_us = clock_us();
	c->method = HTTP_OTHER;
	snprintf(c->log_req, sizeof c->log_req, "-");
	c->bytes_out = 0;
	respond_plain(c, status, "BAD_REQUEST", status == 431 ? "request head too large" :
				 status == 408 ? "request head not received in time" :
						 "malformed request");
}

/* ---- request heads ---- */

int conn_has_body(const struct conn *c)
{
	return c->chunked || c->content_length > 0;
}

long conn_header_values(const struct conn *c, const char *name, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < c->req->nheaders; i++) {
		const struct http_header *h = &c->req->headers[i];
		if (!http_slice_ieq(h->name, name))
			continue;
		if (o + h->value.n + 3 > cap)
			return -1;
		if (o) {
			out[o++] = ',';
			out[o++] = ' ';
		}
		memcpy(out + o, h->value.p, h->value.n);
		o += h->value.n;
	}
	if (cap)
		out[o] = '\0';
	return (long)o;
}

/* Framing and connection headers.  Returns 0, or an HTTP status to fail with. */
static int read_framing(struct conn *c)
{
	int have_cl = 0, have_te = 0, close_asked = 0;

	c->keep_alive = c->req->minor_version == 1;
	c->content_length = -1;
	c->chunked = 0;
	c->expect_continue = 0;
	c->content_type[0] = '\0';
	for (size_t i = 0; i < c->req->nheaders; i++) {
		const struct http_header *h = &c->req->headers[i];
		if (http_slice_ieq(h->name, "Content-Length")) {
			int64_t v = http_parse_u64(h->value);
			/* RFC 9112 6.3: differing lengths are fatal */
			if (v < 0 || (have_cl && v != c->content_length))
				return 400;
			c->content_length = v;
			have_cl = 1;
		} else if (http_slice_ieq(h->name, "Transfer-Encoding")) {
			if (have_te || !http_slice_ieq(h->value, "chunked"))
				return 501;
			have_te = 1;
			c->chunked = 1;
		} else if (http_slice_ieq(h->name, "Connection")) {
			/* a list of options (RFC 9112 9.6): close wins */
			if (http_list_has(h->value, "close"))
				close_asked = 1;
			else if (http_list_has(h->value, "keep-alive"))
				c->keep_alive = 1;
		} else if (http_slice_ieq(h->name, "Content-Type")) {
			size_t n = h->value.n < sizeof c->content_type ? h->value.n
								 : sizeof c->content_type - 1;
			memcpy(c->content_type, h->value.p, n);
			c->content_type[n] = '\0';
		} else if (http_slice_ieq(h->name, "Expect")) {
			if (!http_slice_ieq(h->value, "100-continue"))
				return 417;
			c->expect_continue = c->req->minor_version == 1;
		}
	}
	if (close_asked)
		c->keep_alive = 0;
	if (have_cl && have_te)
		return 400; /* request smuggling guard */
	if (c->chunked && c->req->minor_version == 0)
		return 400;
	return 0;
}

static void start_request(struct conn *c)
{
	int bad;
	size_t n;

	c->t_start_us = clock_us();
	c->status = 0;
	c->bytes_out = 0;
	c->log_parts = 0;
	c->quiet = 0;
	c->body_mode = BODY_NONE;
	c->body_seen = 0;
	c->body_taken = 0;
	c->method = c->req->method;
	n = c->req->target.n > 256 ? 256 : c->req->target.n;
	snprintf(c->log_req, sizeof c->log_req, "%.*s %.*s%s", (int)c->req->method_str.n,
		 c->req->method_str.p, (int)n, c->req->target.p, n < c->req->target.n ? "..." : "");
	bad = read_framing(c);
	if (bad) {
		const char *why = bad == 501 ? "unsupported transfer coding" :
				  bad == 417 ? "unsupported expectation" : "bad message framing";
		respond_plain(c, bad, "BAD_REQUEST", why);
		return;
	}
	c->set->app.dispatch(c);
	if (c->state == CS_BODY || c->close_after)
		return;
	/* the handler answered without the body: drop it, or close */
	if (conn_has_body(c)) {
		if (unread_body_closes(c)) {
			c->close_after = 1;
		} else {
			c->state = CS_BODY;
			c->body_mode = BODY_DISCARD;
			c->body_left = c->chunked ? 0 : (uint64_t)c->content_length;
			http_chunked_init(&c->chunk);
			c->body_done = NULL;
		}
	}
}

/* ---- request bodies ---- */

static void body_begin(struct conn *c, int mode, conn_body_fn *done)
{
	c->state = CS_BODY;
	c->body_mode = mode;
	c->body_done = done;
	c->body_taken = 1;
	c->body_seen = 0;
	c->body_left = c->chunked ? 0 : (uint64_t)(c->content_length > 0 ? c->content_length : 0);
	http_chunked_init(&c->chunk);
	if (c->expect_continue && c->in.len <= c->head_len)
		buf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
}

static void body_finish(struct conn *c, int status)
{
	conn_body_fn *done = c->body_done;
	int mode = c->body_mode;
	c->state = CS_HEAD;
	c->body_mode = BODY_NONE;
	c->body_done = NULL;
	c->body_sink = NULL;
	if (status != CONN_BODY_OK)
		c->close_after = 1;
	if (status == CONN_BODY_BUSY) {
		respond_unavailable(c, REQUEST_BUFFERS_FULL);
		done = NULL;
	}
	if (done && mode != BODY_DISCARD)
		done(c, status);
	buf_free(&c->body);
}

void conn_read_body_mem(struct conn *c, size_t max, conn_body_fn *done)
{
	buf_init(&c->body, max);
	if (conn_has_body(c) &&
	    over_budget(c, c->chunked ? OUT_INLINE : (size_t)c->content_length)) {
		/* refuse before any 100 Continue invites the body */
		c->body_taken = 1;
		respond_unavailable(c, REQUEST_BUFFERS_FULL);
		return;
	}
	if (!c->chunked && c->content_length > 0 && (uint64_t)c->content_length > max) {
		/* refuse before any 100 Continue invites the body */
		c->state = CS_BODY;
		c->body_mode = BODY_MEM;
		c->body_done = done;
		c->body_taken = 1;
		body_finish(c, CONN_BODY_TOO_BIG);
		return;
	}
	/* a declared length is held (and counted) whole from the start */
	if (!c->chunked && c->content_length > 0 &&
	    buf_reserve_exact(&c->body, (size_t)c->content_length) == 0)
		charge(c);
	body_begin(c, BODY_MEM, done);
	if (!conn_has_body(c))
		body_finish(c, CONN_BODY_OK);
}

void conn_read_body_stream(struct conn *c, conn_sink_fn *sink, conn_body_fn *done)
{
	c->body_sink = sink;
	body_begin(c, BODY_STREAM, done);
	if (!conn_has_body(c))
		body_finish(c, CONN_BODY_OK);
}

/* Deliver body bytes to the sink; 0, or a CONN_BODY_* error. */
static int body_sink(struct conn *c, const char *p, size_t n)
{
	c->body_seen += n;
	c->moved += n;
	switch (c->body_mode) {
	case BODY_MEM:
		if (c->body.len + n > c->body.cap && over_budget(c, n))
			return CONN_BODY_BUSY;
		if (buf_append(&c->body, p, n) < 0)
			return CONN_BODY_TOO_BIG;
		charge(c);
		return 0;
	case BODY_STREAM:
		if (c->body_sink(c, p, n) < 0) {
			c->body_errno = errno;
			return CONN_BODY_IO;
		}
		return 0;
	default:
		return c->body_seen > DISCARD_MAX * 64 ? CONN_BODY_TOO_BIG : 0;
	}
}

/* Feed p[0..n) to the body; returns bytes used.  May finish the body. */
static size_t body_feed(struct conn *c, const char *p, size_t n)
{
	size_t used = 0;
	int err;

	if (!c->chunked) {
		size_t take = n < c->body_left ? n : (size_t)c->body_left;
		if (take && (err = body_sink(c, p, take)) != 0) {
			body_finish(c, err);
			return n;
		}
		c->body_left -= take;
		if (c->body_left == 0)
			body_finish(c, CONN_BODY_OK);
		return take;
	}
	while (used < n) {
		const char *data;
		size_t dlen, u;
		int r = http_chunked_next(&c->chunk, p + used, n - used, &u, &data, &dlen);
		used += u;
		if (r == HTTP_INVALID) {
			body_finish(c, CONN_BODY_BAD);
			return n;
		}
		if (r == HTTP_CHUNK_DATA && dlen && (err = body_sink(c, data, dlen)) != 0) {
			body_finish(c, err);
			return n;
		}
		if (r == HTTP_CHUNK_DONE) {
			body_finish(c, CONN_BODY_OK);
			break;
		}
		if (r == HTTP_CHUNK_NEED)
			break;
	}
	return used;
}

/* ---- the loop for one connection ---- */

/* Parse and serve what is buffered.  Returns 1 if it made progress. */
static int process_input(struct conn *c)
{
	int progress = 0;
	while (!c->closed && !c->close_after) {
		if (c->state == CS_HEAD) {
			int n;
			if (c->in.len == 0 || c->out.len > OUT_HIGH || sending_file(c) || c->out_body ||
			    c->held)
				break;
			c->req = &dispatch_req;
			n = http_parse_request(c->in.p, c->in.len, c->req);
			if (n == HTTP_INCOMPLETE && c->in.len < HTTP_MAX_HEAD)
				break;
			/* a head may complete past the limit when it arrives in pieces */
			if (n < 0 || n > HTTP_MAX_HEAD) {
				unparsed_request(c, n == HTTP_INVALID ? 400 : 431);
				break;
			}
			c->head_len = (size_t)n;
			start_request(c);
			buf_consume(&c->in, (size_t)n);
			c->head_len = 0;
			/* bytes of the next pipelined head start its own clock */
			c->deadline = ev_now(c->set->ev) + c->set->lim.header_timeout_ms;
			progress = 1;
			continue;
		}
		if (c->state == CS_BODY && c->in.len) {
			size_t used = body_feed(c, c->in.p, c->in.len);
			buf_consume(&c->in, used);
			progress = 1;
			continue;
		}
		break;
	}
	return progress;
}

/* Write out and out_body.  Returns 1 when both are out, 0 if it must wait,
 * -1 if the connection closed. */
static int flush_buffers(struct conn *c)
{
	/* the head and a body held by reference leave in one call */
	while (c->out.len || c->out_body) {
		struct iovec iov[2];
		struct msghdr mh = { .msg_iov = iov };
		size_t n, in_out;
		ssize_t w;
		if (c->out.len)
			iov[mh.msg_iovlen++] = (struct iovec){ c->out.p, c->out.len };
		if (c->out_body)
			iov[mh.msg_iovlen++] = (struct iovec){
				(void *)(uintptr_t)(c->out_body->p + c->out_body_off),
				c->out_body->len - c->out_body_off };
		w = sendmsg(c->io.fd, &mh, MSG_NOSIGNAL | (sending_file(c) ? MSG_MORE : 0));
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			conn_close(c);
			return -1;
		}
		n = (size_t)w;
		c->moved += n;
		in_out = n < c->out.len ? n : c->out.len;
		buf_consume(&c->out, in_out);
		n -= in_out;
		if (n) {
			c->out_body_off += n;
			if (c->out_body_off == c->out_body->len) {
				bytes_unref(c->out_body);
				c->out_body = NULL;
				charge(c);
			}
		}
	}
	return 1;
}

/* sendfile the current file range while *budget lasts.  Returns 1 when the
 * range is out, 0 if it must wait (budget spent or socket full), -1 if the
 * connection closed.  The descriptor is closed, and the request logged, after
 * the last range. */
static void set_cork(struct conn *c, int on)
{
	setsockopt(c->io.fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
	c->corked = on;
}

static int flush_file(struct conn *c, size_t *budget)
{
	if (!c->corked && !c->parts && c->file_left > SENDFILE_CHUNK &&
	    (uint64_t)(c->file_limit - c->file_off) >= c->file_left)
		set_cork(c, 1);
	while (c->file_left) {
		size_t chunk = c->file_left > SENDFILE_CHUNK ? SENDFILE_CHUNK : (size_t)c->file_left;
		ssize_t n;
		if (*budget == 0)
			return 0;
		if (c->file_off >= c->file_limit)
			return 0; /* the rest is not written yet: conn_file_limit wakes us */
		if ((uint64_t)chunk > (uint64_t)(c->file_limit - c->file_off))
			chunk = (size_t)(c->file_limit - c->file_off);
		n = sendfile(c->io.fd, c->file_fd, &c->file_off, chunk);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			/* a client that goes away mid-download is no server fault */
			static struct log_limit sendfile_log;
			log_limited_errno(errno == EPIPE || errno == ECONNRESET ? LOG_DEBUG : LOG_WARN,
					  &sendfile_log, "sendfile to %s", c->peer);
			conn_close(c);
			return -1;
		}
		if (n == 0) {
			log_warnx_limited("blob shorter than its size while sending to %s", c->peer);
			conn_close(c);
			return -1;
		}
		c->file_left -= (uint64_t)n;
		c->moved += (uint64_t)n;
		*budget = (size_t)n < *budget ? *budget - (size_t)n : 0;
		if (c->file_left == 0 && !c->parts) {
			close(c->file_fd);
			c->file_fd = -1;
			if (c->corked)
				set_cork(c, 0);
			log_request(c);
		}
	}
	return 1;
}

/* Write what is queued: buffers, then a file range, then (multipart) the next
 * part's head and range, and so on.  Returns 1 when everything is out, 0 if it
 * must wait, -1 if the connection closed. */
static int flush_output(struct conn *c)
{
	/* a large blob goes in bounded pieces, so one download cannot hold the
	 * loop: after SENDFILE_BUDGET the connection waits its turn for EV_WRITE;
	 * every part costs at least PART_COST of it, so a thousand tiny ranges
	 * do not take a whole turn's worth of system calls either */
	size_t budget = SENDFILE_BUDGET;
	for (;;) {
		int r = flush_buffers(c);
		if (r <= 0)
			return r;
		r = flush_file(c, &budget);
		if (r <= 0)
			return r;
		if (!c->parts)
			break;
		if (budget == 0)
			return 0; /* parts remain: EV_WRITE brings us back */
		next_part(c);
		budget = budget > PART_COST ? budget - PART_COST : 0;
	}
	if (c->out.cap > OUT_HIGH)
		buf_free(&c->out);
	return 1;
}

/* Read once into the right place.  Returns bytes, 0 on EOF, -1 on EAGAIN,
 * -2 on error. */
static ssize_t read_some(struct conn *c, char *p, size_t n)
{
	for (;;) {
		ssize_t r = recv(c->io.fd, p, n, 0);
		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN ? -1 : -2;
	}
}

static void conn_run(struct conn *c)
{
	struct conn_set *set = c->set;
	int64_t now = ev_now(set->ev);

	int drained = 0; /* the last read returned less than asked: socket empty */

	for (int round = 0; round < READS_PER_EVENT && !c->closed; round++) {
		int flushed;
		ssize_t r;

		process_input(c);
		if (c->closed)
			return;
		if (c->held)
			break;
		flushed = flush_output(c);
		if (flushed < 0)
			return;
		if (!flushed)
			break;
		if (c->close_after && c->state != CS_LINGER) {
			/* half-close, then drop what the client still sends so it
			 * reads our answer instead of a reset */
			shutdown(c->io.fd, SHUT_WR);
			c->state = CS_LINGER;
			c->deadline = now + LINGER_MS;
		}
		if (c->state == CS_LINGER) {
			r = read_some(c, rbuf, sizeof rbuf);
			if (r == -1)
				break;
			if (r <= 0) {
				conn_close(c);
				return;
			}
			continue;
		}
		/* Out of rounds: leave the bytes in the socket, where level-triggered
		 * epoll reports them again.  Bytes read now would sit unparsed in
		 * c->in with nothing to wake us: a head stuck until the 408. */
		if (round + 1 == READS_PER_EVENT)
			break;
		if (c->state == CS_BODY && c->in.len == 0) {
			r = read_some(c, rbuf, sizeof rbuf);
			if (r == -1)
				break;
			if (r <= 0) {
				conn_close(c);
				return;
			}
			{
				size_t used = body_feed(c, rbuf, (size_t)r);
				/* bytes after the body belong to the next request */
				if (used < (size_t)r && !c->close_after &&
				    buf_append(&c->in, rbuf + used, (size_t)r - used) < 0)
					c->close_after = 1;
			}
			continue;
		}
		/* CS_HEAD: pipelined requests first, then the socket */
		if (c->in.len && process_input(c))
			continue;
		if (drained)
			break; /* level-triggered epoll will say when more comes */
		in_acquire(c);
		if (buf_reserve(&c->in, IN_CHUNK) < 0) {
			unparsed_request(c, 431);
			continue;
		}
		{
			size_t want = c->in.cap - c->in.len;
			r = read_some(c, c->in.p + c->in.len, want);
			if (r == -1)
				break;
			if (r <= 0) {
				conn_close(c);
				return;
			}
			drained = (size_t)r < want;
		}
		if (c->in.len == 0)
			c->deadline = now + set->lim.header_timeout_ms;
		c->in.len += (size_t)r;
	}
	if (c->closed)
		return;
	/* wait: for writing if output is pending, else for reading */
	{
		unsigned mask = (c->out.len || c->out_body || sending_file(c)) ? EV_WRITE : EV_READ;
		if (c->state == CS_BODY && c->body_mode == BODY_DISCARD && mask == EV_WRITE)
			mask |= EV_READ;
		if (c->held) {
			/* the app answers later: nothing to read or write until then */
			c->deadline = INT64_MAX;
			if (ev_io_set(set->ev, &c->io, 0) < 0)
				conn_close(c);
			else
				charge(c);
			return;
		}
		if (mask == EV_WRITE && !c->out.len && !c->out_body && c->file_left &&
		    c->file_off >= c->file_limit)
			mask = 0; /* the file's next bytes are not written yet */
		if (mask == EV_READ && c->state == CS_HEAD && c->in.len == 0) {
			c->deadline = now + set->lim.idle_timeout_ms;
			in_release(c);
			rate_restart(c, now); /* idle time is not judged for speed */
		} else if (mask == EV_READ && c->state == CS_HEAD) {
			/* a partial head keeps its header deadline */
		} else if (c->state != CS_LINGER) {
			c->deadline = now + set->lim.body_timeout_ms;
		}
		if (ev_io_set(set->ev, &c->io, mask) < 0)
			conn_close(c);
		else
			charge(c);
	}
}

void conn_hold(struct conn *c)
{
	c->held = 1;
}

void conn_resume(struct conn *c)
{
	if (c->closed || !c->held)
		return;
	c->held = 0;
	conn_run(c);
}

void conn_file_limit(struct conn *c, off_t upto)
{
	int waiting;
	if (c->closed || !c->file_left)
		return;
	waiting = c->file_off >= c->file_limit;
	c->file_limit = upto;
	if (waiting && upto > c->file_off && !c->held)
		conn_run(c);
}

/* Is c moving a body (either way) rather than idle or waiting for a head? */
static int transferring(const struct conn *c)
{
	return c->state == CS_BODY || c->out.len || c->out_body || sending_file(c);
}

void conn_tick(struct conn_set *set, int64_t now)
{
	static struct log_limit slow_log, timeout_log;
	struct conn *c = set->live;
	while (c) {
		struct conn *next = c->next;
		if (!transferring(c) || c->state == CS_LINGER) {
			rate_restart(c, now);
		} else if (now - c->rate_t0 >= RATE_WINDOW_MS) {
			/* any progress used to reset the body deadline, so one byte
			 * every few seconds held a slot for ever: judge the rate */
			uint64_t want = set->lim.min_rate * (uint64_t)(now - c->rate_t0) / 1000;
			if (c->moved - c->rate_moved0 < want) {
				log_limited(LOG_INFO, &slow_log, "%s: closed: moved %llu bytes in %lld ms, "
					    "under the minimum rate of %llu bytes/s", c->peer,
					    (unsigned long long)(c->moved - c->rate_moved0),
					    (long long)(now - c->rate_t0),
					    (unsigned long long)set->lim.min_rate);
				conn_close(c);
				c = next;
				continue;
			}
			rate_restart(c, now);
		}
		if (now >= c->deadline) {
			if (c->state == CS_HEAD && c->in.len && !c->out.len && !sending_file(c)) {
				c->in.len = 0;
				unparsed_request(c, 408);
				conn_run(c);
			} else {
				if (c->state == CS_BODY)
					log_limited(LOG_INFO, &timeout_log, "%s: request body timed out", c->peer);
				conn_close(c);
			}
		}
		c = next;
	}
}
