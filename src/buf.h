/* buf.h - a growable byte buffer that refuses to grow past its maximum.
 *
 * Every buffer in the program has a stated maximum (curl's dynbuf idea):
 * buf_append and friends return -1 rather than grow past it, and the caller
 * turns that into a clean error.  The struct owns p; buf_free releases it. */
#ifndef PH_BUF_H
#define PH_BUF_H

#include <stddef.h>

struct buf {
	char *p;
	size_t len;
	size_t cap;
	size_t max;
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
/* Make room for extra more bytes; -1 if that passes max or memory runs out. */
int buf_reserve(struct buf *b, size_t extra);
/* Like buf_reserve, but allocate exactly what is asked, not a doubling. */
int buf_reserve_exact(struct buf *b, size_t extra);
int buf_append(struct buf *b, const void *data, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drop the first n bytes. */
void buf_consume(struct buf *b, size_t n);
/* Release memory beyond what is in use (keeps idle connections small). */
void buf_shrink(struct buf *b);
/* NUL-terminate without counting the NUL in len; -1 past max. */
int buf_cstr(struct buf *b);

#endif
