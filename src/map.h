/* map.h - an open-addressing hash map from NUL-terminated strings to pointers.
 *
 * Keys are copied and owned by the map; values are the caller's.  Used for
 * repositories, tags, manifests, blob sets and uploads, all on the request
 * path, so lookups never touch the disk. */
#ifndef PH_MAP_H
#define PH_MAP_H

#include <stddef.h>
#include <stdint.h>

struct map_slot {
	char *key;      /* NULL: empty; MAP_TOMB: deleted */
	uint64_t hash;
	void *val;
};

struct map {
	struct map_slot *slots;
	size_t cap;     /* power of two, or 0 */
	size_t len;     /* live entries */
	size_t used;    /* live + tombstones */
	unsigned long moves; /* times the slots were rehashed: an iteration that
	                      * spans changes (map_next with a kept pos) must
	                      * start again when this moved, or it may skip keys */
};

void map_init(struct map *m);
/* Frees keys and slots; values are the caller's to free first (map_each). */
void map_free(struct map *m);
void *map_get(const struct map *m, const char *key);
/* Insert or replace; returns 0, or -1 when memory runs out. */
int map_put(struct map *m, const char *key, void *val);
/* Remove key; returns its value or NULL. */
void *map_del(struct map *m, const char *key);
/* Iterate: *pos starts at 0; returns 1 with *key and *val set, 0 at the end.
 * map_del between calls is fine (it leaves a tombstone); map_put may rehash
 * (moves changes), after which a kept pos may skip or repeat keys. */
int map_next(const struct map *m, size_t *pos, const char **key, void **val);
size_t map_len(const struct map *m);

#endif
