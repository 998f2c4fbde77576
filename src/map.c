/* map.c - string-keyed open-addressing hash map (FNV-1a, linear probing). */
#include "map.h"

#include <stdlib.h>
#include <string.h>

static char map_tomb_byte;
#define MAP_TOMB (&map_tomb_byte)

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

void map_init(struct map *m)
{
	memset(m, 0, sizeof *m);
}

void map_free(struct map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key && m->slots[i].key != MAP_TOMB)
			free(m->slots[i].key);
	free(m->slots);
	map_init(m);
}

static struct map_slot *find(const struct map *m, const char *key, uint64_t h)
{
	size_t mask, i;
	if (!m->cap)
		return NULL;
	mask = m->cap - 1;
	for (i = h & mask;; i = (i + 1) & mask) {
		struct map_slot *s = &m->slots[i];
		if (!s->key)
			return NULL;
		if (s->key != MAP_TOMB && s->hash == h && strcmp(s->key, key) == 0)
			return s;
	}
}

void *map_get(const struct map *m, const char *key)
{
	struct map_slot *s = find(m, key, hash_str(key));
	return s ? s->val : NULL;
}

static int grow(struct map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 16;
	struct map_slot *old = m->slots, *slots;
	size_t oldcap = m->cap;

	if (m->len * 2 < m->cap)
		cap = m->cap; /* mostly tombstones: rehash in place size */
	slots = calloc(cap, sizeof *slots);
	if (!slots)
		return -1;
	m->slots = slots;
	m->cap = cap;
	m->used = m->len;
	m->moves++;
	for (size_t i = 0; i < oldcap; i++) {
		struct map_slot *s = &old[i];
		size_t j;
		if (!s->key || s->key == MAP_TOMB)
			continue;
		for (j = s->hash & (cap - 1); slots[j].key; j = (j + 1) & (cap - 1))
			;
		slots[j] = *s;
	}
	free(old);
	return 0;
}

int map_put(struct map *m, const char *key, void *val)
{
	uint64_t h = hash_str(key);
	struct map_slot *s = find(m, key, h);
	size_t i;
	char *k;

	if (s) {
		s->val = val;
		return 0;
	}
	if ((m->used + 1) * 4 > m->cap * 3 && grow(m) < 0)
		return -1;
	k = strdup(key);
	if (!k)
		return -1;
	for (i = h & (m->cap - 1); m->slots[i].key && m->slots[i].key != MAP_TOMB;
	     i = (i + 1) & (m->cap - 1))
		;
	if (!m->slots[i].key)
		m->used++;
	m->slots[i] = (struct map_slot){ k, h, val };
	m->len++;
	return 0;
}

void *map_del(struct map *m, const char *key)
{
	struct map_slot *s = find(m, key, hash_str(key));
	void *v;
	if (!s)
		return NULL;
	v = s->val;
	free(s->key);
	s->key = MAP_TOMB;
	s->val = NULL;
	m->len--;
	return v;
}

int map_next(const struct map *m, size_t *pos, const char **key, void **val)
{
	while (*pos < m->cap) {
		struct map_slot *s = &m->slots[(*pos)++];
		if (s->key && s->key != MAP_TOMB) {
			*key = s->key;
			if (val)
				*val = s->val;
			return 1;
		}
	}
	return 0;
}

size_t map_len(const struct map *m)
{
	return m->len;
}
