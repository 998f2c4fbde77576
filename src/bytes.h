/* bytes.h - immutable, reference-counted byte strings.
 *
 * A manifest's bytes live once, in the store; every connection sending them
 * holds a reference instead of a copy, so a thousand clients that never read
 * cost a thousand references, not a thousand copies.  A generated body (a
 * listing) is adopted into one and sent the same way.  The bytes never change
 * after creation; the last bytes_unref frees them.  The count is atomic, so a
 * reference may be dropped on another thread. */
#ifndef PH_BYTES_H
#define PH_BYTES_H

#include <stddef.h>

struct bytes {
	const char *p;
	size_t len;
	unsigned refs;
	unsigned adopted; /* p came from bytes_adopt and is freed on its own */
};

/* A copy of data[0..n) with one reference, or NULL when memory runs out. */
struct bytes *bytes_new(const void *data, size_t n);
/* Take ownership of p (from malloc), with one reference; on failure p is freed
 * and NULL returned. */
struct bytes *bytes_adopt(char *p, size_t n);
struct bytes *bytes_ref(struct bytes *b);
/* Drop a reference (NULL is fine); the last one frees. */
void bytes_unref(struct bytes *b);

#endif
