/* bytes.c - immutable, reference-counted byte strings. */
#include "bytes.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* a copy lives right after its header: one allocation */
struct bytes_copy {
	struct bytes b;
	char data[];
};

struct bytes *bytes_new(const void *data, size_t n)
{
	struct bytes_copy *c = malloc(sizeof *c + (n ? n : 1));
	if (!c)
		return NULL;
	if (n)
		memcpy(c->data, data, n);
	c->b.p = c->data;
	c->b.len = n;
	c->b.refs = 1;
	c->b.adopted = 0;
	return &c->b;
}

struct bytes *bytes_adopt(char *p, size_t n)
{
	struct bytes *b = malloc(sizeof *b);
	if (!b) {
		free(p);
		return NULL;
	}
	b->p = p;
	b->len = n;
	b->refs = 1;
	b->adopted = 1;
	return b;
}

struct bytes *bytes_ref(struct bytes *b)
{
	__atomic_add_fetch(&b->refs, 1, __ATOMIC_RELAXED);
	return b;
}

void bytes_unref(struct bytes *b)
{
	if (!b || __atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	if (b->adopted)
		free((void *)(uintptr_t)b->p);
	free(b);
}
