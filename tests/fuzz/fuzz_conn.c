/* fuzz_conn.c - a whole connection, driven through a socketpair by a fake
 * app: heads, framing, chunked and memory bodies, pipelining, shared and
 * generated response bodies, ticks.  Links the connection layer alone (no
 * registry, no store).  Checks that every byte of the budget comes back and
 * that a shared body's references are all returned. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct bytes *shared;

static int sink(struct conn *c, const char *p, size_t n)
{
	(void)c;
	return n && p[0] == '!' ? -1 : 0; /* a failing sink, on demand */
}

static void body_in(struct conn *c, int status)
{
	conn_begin(c, status == CONN_BODY_OK ? 201 : 400);
	conn_end(c, NULL, NULL, 0);
}

static void dispatch(struct conn *c)
{
	struct http_slice t = c->req->target;
	char last = t.n ? t.p[t.n - 1] : '/';
	switch (last) {
	case 'm':
		conn_read_body_mem(c, 4096, body_in);
		break;
	case 's':
		conn_read_body_stream(c, sink, body_in);
		break;
	case 'r':
		conn_begin(c, 200);
		conn_end_bytes(c, "application/octet-stream", shared);
		break;
	case 'g': {
		struct buf b;
		buf_init(&b, 1 << 20);
		for (int i = 0; i < 5000; i++)
			buf_puts(&b, "generated!");
		conn_begin(c, 200);
		conn_end_buf(c, "text/plain", &b);
		break;
	}
	default:
		conn_stage(c, "X-Target-Length: %zu", t.n);
		conn_begin(c, 200);
		conn_end(c, "text/plain", "ok", 2);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conn_set set = { 0 };
	struct conn *c;
	char junk[65536];
	int sv[2], small = 4096;
	size_t off = 0;
	int64_t now;

	if (!shared) {
		static char body[100000];
		memset(body, 'r', sizeof body);
		shared = bytes_new(body, sizeof body);
		log_level = -1; /* quiet */
	}
	set.ev = ev_new();
	set.lim = (struct conn_limits){ 1000, 1000, 1000, 1024, 256 * 1024 };
	set.app = (struct conn_app){ .dispatch = dispatch };
	if (!set.ev || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
		abort();
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
	c = conn_new(&set, sv[0], "fuzz:1", "fuzz");
	now = ev_now(set.ev);
	/* each piece: one length byte (0: a tick instead), then that many bytes */
	while (off < size && !c->closed) {
		size_t n = data[off++];
		if (n == 0) {
			now += 5000;
			conn_tick(&set, now);
			continue;
		}
		if (n > size - off)
			n = size - off;
		if (write(sv[1], data + off, n) < 0)
			break;
		off += n;
		if (!c->closed)
			c->io.fn(set.ev, &c->io, EV_READ | EV_WRITE);
		while (read(sv[1], junk, sizeof junk) > 0)
			if (!c->closed)
				c->io.fn(set.ev, &c->io, EV_WRITE);
	}
	conn_close_all(&set);
	if (set.buffered != 0 || shared->refs != 1)
		abort();
	close(sv[1]);
	ev_free(set.ev);
	return 0;
}
