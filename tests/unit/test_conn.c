/* Unit tests for conn.c: the connection layer on its own, driven through a
 * socketpair by a fake app (no registry, no store).  The fake answers each
 * target in a way that exercises one part of the layer: inline bodies,
 * bodies by reference, adopted buffers, memory and streamed request bodies. */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>

#include "conn.h"
#include "log.h"
#include "unit.h"

struct fake_state {
	int requests;
	int closed;
	size_t streamed;
};

static struct bytes *shared;   /* a body sent by reference */
static int closed_calls;
static int fail_sink;

static int sink(struct conn *c, const char *p, size_t n)
{
	struct fake_state *st = conn_state(c);
	(void)p;
	if (fail_sink) {
		errno = ENOSPC;
		return -1;
	}
	st->streamed += n;
	return 0;
}

static void body_in(struct conn *c, int status)
{
	struct fake_state *st = conn_state(c);
	char msg[64];
	int n = snprintf(msg, sizeof msg, "status=%d mem=%zu stream=%zu", status, c->body.len,
			 st->streamed);
	conn_begin(c, status == CONN_BODY_OK ? 201 : 400);
	conn_end(c, "text/plain", msg, (size_t)n);
}

static void dispatch(struct conn *c)
{
	struct fake_state *st = conn_state(c);
	struct http_slice t = c->req->target;
	st->requests++;
	if (http_slice_ieq(t, "/mem")) {
		conn_read_body_mem(c, 1024, body_in);
	} else if (http_slice_ieq(t, "/stream")) {
		st->streamed = 0;
		conn_read_body_stream(c, sink, body_in);
	} else if (http_slice_ieq(t, "/shared")) {
		conn_begin(c, 200);
		conn_end_bytes(c, "application/octet-stream", shared);
	} else if (http_slice_ieq(t, "/big")) {
		struct buf b;
		buf_init(&b, 1 << 20);
		for (int i = 0; i < 100000; i++)
			buf_puts(&b, "0123456789");
		conn_begin(c, 200);
		conn_end_buf(c, "text/plain", &b);
	} else {
		conn_begin(c, 200);
		conn_end(c, "text/plain", "ok", 2);
	}
}

static void app_closed(struct conn *c)
{
	(void)c;
	closed_calls++;
}

struct rig {
	struct conn_set set;
	struct conn *c;
	int client;
};

static void rig_init(struct rig *r, size_t max_buffered)
{
	int sv[2];
	memset(r, 0, sizeof *r);
	r->set.ev = ev_new();
	r->set.lim = (struct conn_limits){ .header_timeout_ms = 1000, .idle_timeout_ms = 1000,
					   .body_timeout_ms = 1000, .min_rate = 1024,
					   .max_buffered = max_buffered };
	r->set.app = (struct conn_app){ .dispatch = dispatch, .closed = app_closed,
					.state_size = sizeof(struct fake_state) };
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
		abort();
	{
		/* small buffers, so a large body is still on its way after a turn */
		int small = 4096;
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
	}
	r->c = conn_new(&r->set, sv[0], "peer:1", "peer");
	r->client = sv[1];
}

/* One event on the server side, as the loop would deliver it. */
static void rig_turn(struct rig *r)
{
	if (!r->c->closed)
		r->c->io.fn(r->set.ev, &r->c->io, EV_READ | EV_WRITE);
}

static void rig_send(struct rig *r, const char *s)
{
	size_t n = strlen(s);
	if (write(r->client, s, n) != (ssize_t)n)
		abort();
	rig_turn(r);
}

/* Everything the server has written so far (turning the loop as it drains). */
static size_t rig_read(struct rig *r, char *out, size_t cap)
{
	size_t len = 0;
	for (int i = 0; i < 1000 && len < cap - 1; i++) {
		ssize_t n = read(r->client, out + len, cap - 1 - len);
		if (n > 0) {
			len += (size_t)n;
			continue;
		}
		if (n == 0)
			break;
		rig_turn(r);
		n = read(r->client, out + len, cap - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	out[len] = '\0';
	return len;
}

static void rig_fini(struct rig *r)
{
	conn_close_all(&r->set);
	close(r->client);
	ev_free(r->set.ev);
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

TEST(pipelined_requests_in_order)
{
	struct rig r;
	static char out[65536];
	rig_init(&r, 1 << 20);
	rig_send(&r, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n");
	rig_read(&r, out, sizeof out);
	CHECK_EQ_INT(count(out, "HTTP/1.1 200 OK\r\n"), 3);
	CHECK_EQ_INT(((struct fake_state *)conn_state(r.c))->requests, 3);
	rig_fini(&r);
	CHECK_EQ_INT(closed_calls > 0, 1);
}

TEST(shared_body_is_referenced_not_copied)
{
	struct rig r;
	static char out[300000];
	static char data[200000];
	memset(data, 'm', sizeof data);
	shared = bytes_new(data, sizeof data);
	rig_init(&r, 1 << 20);
	rig_send(&r, "GET /shared HTTP/1.1\r\n\r\n");
	/* the connection holds a reference while the body is on its way, and
	 * the shared bytes are not charged to the buffer budget */
	CHECK_EQ_INT(r.c->out_body == shared, 1);
	CHECK_EQ_INT(shared->refs, 2);
	CHECK_EQ_INT(r.set.buffered < sizeof data, 1);
	rig_read(&r, out, sizeof out);
	CHECK(strstr(out, "Content-Length: 200000\r\n") != NULL);
	CHECK_EQ_INT(strlen(strstr(out, "\r\n\r\n") + 4), sizeof data);
	CHECK_EQ_INT(shared->refs, 1);
	rig_fini(&r);
	bytes_unref(shared);
}

TEST(body_over_the_budget_is_503_never_half_a_response)
{
	struct rig r;
	static char out[65536];
	rig_init(&r, 64 * 1024); /* /big builds 1,000,000 bytes */
	rig_send(&r, "GET /big HTTP/1.1\r\n\r\n");
	rig_read(&r, out, sizeof out);
	CHECK(strncmp(out, "HTTP/1.1 503 Service Unavailable\r\n", 34) == 0);
	CHECK(strstr(out, "Retry-After: 1\r\n") != NULL);
	CHECK(strstr(out, "\"code\":\"UNAVAILABLE\"") != NULL);
	CHECK(strstr(out, "Content-Length: 1000000") == NULL);
	rig_fini(&r);
}

TEST(big_generated_body_is_sent_whole)
{
	struct rig r;
	static char out[1 << 21];
	rig_init(&r, 4 << 20);
	rig_send(&r, "GET /big HTTP/1.1\r\n\r\n");
	rig_read(&r, out, sizeof out);
	CHECK(strstr(out, "Content-Length: 1000000\r\n") != NULL);
	CHECK_EQ_INT(strlen(strstr(out, "\r\n\r\n") + 4), 1000000);
	CHECK_EQ_INT(r.set.buffered < 100000, 1); /* given back once sent */
	rig_fini(&r);
	CHECK_EQ_INT(r.set.buffered, 0);
}

TEST(memory_and_streamed_bodies)
{
	struct rig r;
	static char out[65536];
	rig_init(&r, 1 << 20);
	rig_send(&r, "PUT /mem HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello");
	rig_send(&r, "PUT /stream HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
	rig_read(&r, out, sizeof out);
	CHECK(strstr(out, "status=0 mem=5 stream=0") != NULL);
	CHECK(strstr(out, "status=0 mem=0 stream=5") != NULL);
	rig_fini(&r);
}

TEST(sink_failure_ends_the_body_with_io)
{
	struct rig r;
	static char out[65536];
	rig_init(&r, 1 << 20);
	fail_sink = 1;
	rig_send(&r, "PUT /stream HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd");
	fail_sink = 0;
	rig_read(&r, out, sizeof out);
	CHECK(strstr(out, "status=3") != NULL);
	CHECK(strstr(out, "Connection: close\r\n") != NULL);
	CHECK_EQ_INT(r.c->body_errno, ENOSPC);
	rig_fini(&r);
}

TEST(connection_option_list_closes)
{
	struct rig r;
	static char out[65536];
	rig_init(&r, 1 << 20);
	rig_send(&r, "GET /a HTTP/1.1\r\nConnection: keep-alive, close\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
	rig_read(&r, out, sizeof out);
	CHECK_EQ_INT(count(out, "HTTP/1.1 200 OK\r\n"), 1);
	CHECK(strstr(out, "Connection: close\r\n") != NULL);
	rig_fini(&r);
}

TEST(slow_transfer_is_cut_by_the_minimum_rate)
{
	struct rig r;
	rig_init(&r, 1 << 20);
	rig_send(&r, "PUT /stream HTTP/1.1\r\nContent-Length: 100000\r\n\r\nx");
	CHECK_EQ_INT(r.c->closed, 0);
	/* one byte in 10 s is under 1,024 bytes/s: the tick closes it */
	conn_tick(&r.set, ev_now(r.set.ev) + 10001);
	CHECK_EQ_INT(r.c->closed, 1);
	rig_fini(&r);
}

TEST(partial_pipelined_head_gets_its_own_deadline)
{
	struct rig r;
	int64_t t0;
	rig_init(&r, 1 << 20);
	t0 = ev_now(r.set.ev);
	rig_send(&r, "GET /a HTTP/1.1\r\n\r\nGET /b HTT");
	CHECK(r.c->deadline >= t0 + 1000);
	CHECK_EQ_INT(r.c->in.len, 10);
	rig_fini(&r);
}

int main(void)
{
	log_level = LOG_ERROR;
	RUN(pipelined_requests_in_order);
	RUN(shared_body_is_referenced_not_copied);
	RUN(body_over_the_budget_is_503_never_half_a_response);
	RUN(big_generated_body_is_sent_whole);
	RUN(memory_and_streamed_bodies);
	RUN(sink_failure_ends_the_body_with_io);
	RUN(connection_option_list_closes);
	RUN(slow_transfer_is_cut_by_the_minimum_rate);
	RUN(partial_pipelined_head_gets_its_own_deadline);
	return unit_report("unit conn");
}
