/* buf.c - bounded growable buffers. */
#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max)
{
	b->p = NULL;
	b->len = b->cap = 0;
	b->max = max;
}

void buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

int buf_reserve(struct buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (extra > b->max || b->len > b->max - extra)
		return -1;
	need = b->len + extra;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : (b->max < 256 ? b->max : 256);
	while (cap < need)
		cap = cap > b->max / 2 ? b->max : cap * 2;
	p = realloc(b->p, cap);
	if (!p)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

int buf_reserve_exact(struct buf *b, size_t extra)
{
	char *p;
	if (extra > b->max || b->len > b->max - extra)
		return -1;
	if (b->len + extra <= b->cap)
		return 0;
	p = realloc(b->p, b->len + extra);
	if (!p)
		return -1;
	b->p = p;
	b->cap = b->len + extra;
	return 0;
}

int buf_append(struct buf *b, const void *data, size_t n)
{
	if (n == 0)
		return 0;
	if (buf_reserve(b, n) < 0)
		return -1;
	memcpy(b->p + b->len, data, n);
	b->len += n;
	return 0;
}

int buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;
	size_t room = b->cap - b->len;

	va_start(ap, fmt);
	n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? room : 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n < room && (size_t)n <= b->max - b->len) {
		b->len += (size_t)n;
		return 0;
	}
	if (buf_reserve(b, (size_t)n + 1) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

void buf_shrink(struct buf *b)
{
	if (b->len == 0) {
		buf_free(b);
	}
}

int buf_cstr(struct buf *b)
{
	if (buf_reserve(b, 1) < 0)
		return -1;
	b->p[b->len] = '\0';
	return 0;
}
