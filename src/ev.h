/* ev.h - the epoll event loop.
 *
 * An ev_io is embedded in its owner (a connection, the listener), so the loop
 * keeps no fd table: epoll hands back the ev_io pointer.  A tick function runs
 * about once a second (timeouts); a before-sleep function runs each time the
 * loop is about to wait (flush logs, background work in small steps).
 * Level-triggered. */
#ifndef PH_EV_H
#define PH_EV_H

#include <stdint.h>

#define EV_READ 1u
#define EV_WRITE 2u

struct ev;
struct ev_io;

typedef void ev_io_fn(struct ev *ev, struct ev_io *io, unsigned events);
typedef void ev_fn(struct ev *ev, void *data);

struct ev_io {
	int fd;
	unsigned mask;   /* EV_READ|EV_WRITE currently watched; 0 if not added */
	ev_io_fn *fn;
	void *data;
};

struct ev *ev_new(void);
void ev_free(struct ev *ev);
void ev_io_init(struct ev_io *io, int fd, ev_io_fn *fn, void *data);
/* Watch io for mask (0 removes it).  Returns -1 with errno on failure. */
int ev_io_set(struct ev *ev, struct ev_io *io, unsigned mask);
void ev_set_tick(struct ev *ev, ev_fn *fn, void *data);
void ev_set_before_sleep(struct ev *ev, ev_fn *fn, void *data);
/* From the before-sleep function: it has more work (a garbage collection in
 * steps), so this turn's wait only polls and the loop comes straight back. */
void ev_busy(struct ev *ev);
/* Milliseconds of CLOCK_MONOTONIC, refreshed once per loop turn. */
int64_t ev_now(const struct ev *ev);
void ev_run(struct ev *ev);
void ev_stop(struct ev *ev);

#endif
