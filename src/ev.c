/* ev.c - epoll backend and the loop. */
#include "ev.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define EV_BATCH 256
#define EV_TICK_MS 1000

struct ev {
	int epfd;
	int stop;
	int busy;          /* before_sleep has more work: poll, do not wait */
	int64_t now;
	int64_t next_tick;
	ev_fn *tick;
	void *tick_data;
	ev_fn *before_sleep;
	void *before_sleep_data;
};

struct ev *ev_new(void)
{
	struct ev *ev = calloc(1, sizeof *ev);
	if (!ev)
		return NULL;
	ev->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ev->epfd < 0) {
		free(ev);
		return NULL;
	}
	ev->now = clock_ms();
	ev->next_tick = ev->now + EV_TICK_MS;
	return ev;
}

void ev_free(struct ev *ev)
{
	if (!ev)
		return;
	close(ev->epfd);
	free(ev);
}

void ev_io_init(struct ev_io *io, int fd, ev_io_fn *fn, void *data)
{
	io->fd = fd;
	io->mask = 0;
	io->fn = fn;
	io->data = data;
}

int ev_io_set(struct ev *ev, struct ev_io *io, unsigned mask)
{
	struct epoll_event e = { 0 };
	int op;

	if (mask == io->mask)
		return 0;
	if (mask & EV_READ)
		e.events |= EPOLLIN | EPOLLRDHUP;
	if (mask & EV_WRITE)
		e.events |= EPOLLOUT;
	e.data.ptr = io;
	op = io->mask == 0 ? EPOLL_CTL_ADD : mask == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
	if (epoll_ctl(ev->epfd, op, io->fd, &e) < 0)
		return -1;
	io->mask = mask;
	return 0;
}

void ev_set_tick(struct ev *ev, ev_fn *fn, void *data)
{
	ev->tick = fn;
	ev->tick_data = data;
}

void ev_set_before_sleep(struct ev *ev, ev_fn *fn, void *data)
{
	ev->before_sleep = fn;
	ev->before_sleep_data = data;
}

void ev_busy(struct ev *ev)
{
	ev->busy = 1;
}

int64_t ev_now(const struct ev *ev)
{
	return ev->now;
}

void ev_stop(struct ev *ev)
{
	ev->stop = 1;
}

void ev_run(struct ev *ev)
{
	struct epoll_event events[EV_BATCH];

	while (!ev->stop) {
		int n, timeout;

		ev->busy = 0;
		if (ev->before_sleep)
			ev->before_sleep(ev, ev->before_sleep_data);
		timeout = (int)(ev->next_tick - ev->now);
		if (timeout < 0 || ev->busy)
			timeout = 0;
		n = epoll_wait(ev->epfd, events, EV_BATCH, timeout);
		if (n < 0 && errno != EINTR) {
			log_warn("epoll_wait");
			break;
		}
		ev->now = clock_ms();
		for (int i = 0; i < n && !ev->stop; i++) {
			struct ev_io *io = events[i].data.ptr;
			unsigned got = 0;
			if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
				got |= EV_READ;
			if (events[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
				got |= EV_WRITE;
			/* an owner closed by an earlier callback in this batch is
			 * freed only after the batch (conn.c), and ignores this */
			io->fn(ev, io, got);
		}
		if (ev->now >= ev->next_tick) {
			ev->next_tick = ev->now + EV_TICK_MS;
			if (ev->tick)
				ev->tick(ev, ev->tick_data);
		}
	}
	if (ev->before_sleep)
		ev->before_sleep(ev, ev->before_sleep_data);
}
