/* clock.h - the one monotonic clock: milliseconds and microseconds of
 * CLOCK_MONOTONIC, for deadlines, timeouts and elapsed times.  A leaf: no
 * other project header.  CLOCK_MONOTONIC cannot fail on Linux with a valid
 * pointer, so there is no error path.  (ev.h keeps a cached copy per loop
 * turn for the server; this is the uncached reading.) */
#ifndef PH_CLOCK_H
#define PH_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t clock_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline int64_t clock_ms(void)
{
	return clock_us() / 1000;
}

#endif
