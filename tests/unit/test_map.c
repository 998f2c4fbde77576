/* Unit tests for map.c: insert, replace, grow, delete with tombstones, iterate. */
#include <stdint.h>

#include "map.h"
#include "unit.h"

#define V(i) ((void *)(uintptr_t)(i))

static void key_of(char *out, size_t cap, size_t i)
{
	snprintf(out, cap, "repo/%zu:tag", i);
}

/* Invariants every map must keep. */
static void check_shape(const struct map *m)
{
	size_t live = 0, occupied = 0, pos = 0;
	const char *k;
	void *v;
	CHECK(m->cap == 0 || (m->cap & (m->cap - 1)) == 0);
	CHECK(m->used >= m->len);
	CHECK(m->used * 4 <= m->cap * 3); /* never full: lookups always stop */
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key) /* live or tombstone */
			occupied++;
	CHECK_EQ_INT(occupied, m->used);
	while (map_next(m, &pos, &k, &v)) {
		live++;
		CHECK(map_get(m, k) == v);
	}
	CHECK_EQ_INT(live, m->len);
}

TEST(empty)
{
	struct map m;
	size_t pos = 0;
	const char *k;
	void *v;
	map_init(&m);
	CHECK(map_get(&m, "x") == NULL);
	CHECK(map_del(&m, "x") == NULL);
	CHECK_EQ_INT(map_len(&m), 0);
	CHECK_EQ_INT(map_next(&m, &pos, &k, &v), 0);
	map_free(&m);
	map_free(&m); /* idempotent */
}

TEST(put_get_replace)
{
	struct map m;
	char key[16] = "alpha";
	map_init(&m);
	CHECK_EQ_INT(map_put(&m, key, V(1)), 0);
	CHECK_EQ_INT(map_put(&m, "beta", V(2)), 0);
	CHECK_EQ_INT(map_put(&m, "", V(3)), 0); /* the empty key is a key */
	strcpy(key, "gamma");                   /* keys are copied */
	CHECK(map_get(&m, "alpha") == V(1));
	CHECK(map_get(&m, "gamma") == NULL);
	CHECK(map_get(&m, "beta") == V(2));
	CHECK(map_get(&m, "") == V(3));
	CHECK(map_get(&m, "alph") == NULL);
	CHECK(map_get(&m, "alphaa") == NULL);
	CHECK_EQ_INT(map_len(&m), 3);
	CHECK_EQ_INT(map_put(&m, "alpha", V(10)), 0);
	CHECK(map_get(&m, "alpha") == V(10));
	CHECK_EQ_INT(map_len(&m), 3);
	/* a NULL value is stored (and reads back as "absent") */
	CHECK_EQ_INT(map_put(&m, "nil", NULL), 0);
	CHECK_EQ_INT(map_len(&m), 4);
	map_free(&m);
	CHECK_EQ_INT(map_len(&m), 0);
	CHECK(map_get(&m, "alpha") == NULL);
	/* usable again after map_free */
	CHECK_EQ_INT(map_put(&m, "again", V(5)), 0);
	CHECK(map_get(&m, "again") == V(5));
	map_free(&m);
}

TEST(grow)
{
	struct map m;
	char key[64];
	const size_t n = 20000;
	size_t lastcap = 0, grows = 0;
	map_init(&m);
	for (size_t i = 0; i < n; i++) {
		key_of(key, sizeof key, i);
		CHECK_EQ_INT(map_put(&m, key, V(i + 1)), 0);
		if (m.cap != lastcap) {
			grows++;
			lastcap = m.cap;
			/* every key so far survived the rehash */
			for (size_t k = 0; k <= i; k++) {
				key_of(key, sizeof key, k);
				if (map_get(&m, key) != V(k + 1)) {
					CHECK(map_get(&m, key) == V(k + 1));
					break;
				}
			}
		}
	}
	CHECK(grows >= 10);
	CHECK_EQ_INT(map_len(&m), n);
	CHECK(m.cap >= n * 4 / 3);
	check_shape(&m);
	for (size_t i = 0; i < n; i++) {
		key_of(key, sizeof key, i);
		if (map_get(&m, key) != V(i + 1)) {
			CHECK(map_get(&m, key) == V(i + 1));
			break;
		}
	}
	map_free(&m);
}

TEST(delete_and_tombstones)
{
	struct map m;
	char key[64];
	map_init(&m);
	for (size_t i = 0; i < 100; i++) {
		key_of(key, sizeof key, i);
		map_put(&m, key, V(i + 1));
	}
	for (size_t i = 0; i < 100; i += 2) {
		key_of(key, sizeof key, i);
		CHECK(map_del(&m, key) == V(i + 1));
		CHECK(map_del(&m, key) == NULL); /* already gone */
		CHECK(map_get(&m, key) == NULL);
	}
	CHECK_EQ_INT(map_len(&m), 50);
	check_shape(&m);
	/* keys past a tombstone in a probe chain are still found */
	for (size_t i = 1; i < 100; i += 2) {
		key_of(key, sizeof key, i);
		CHECK(map_get(&m, key) == V(i + 1));
	}
	/* re-inserting a deleted key works and does not duplicate it */
	key_of(key, sizeof key, 4);
	CHECK_EQ_INT(map_put(&m, key, V(444)), 0);
	CHECK(map_get(&m, key) == V(444));
	CHECK_EQ_INT(map_len(&m), 51);
	check_shape(&m);
	map_free(&m);
}

/* Insert/delete churn with few live keys: tombstones must be recycled, or
 * the table would either grow without bound or fill up and never stop
 * probing. */
TEST(churn)
{
	struct map m;
	char key[64];
	size_t maxcap = 0;
	map_init(&m);
	for (size_t i = 0; i < 200000; i++) {
		key_of(key, sizeof key, i);
		CHECK_EQ_INT(map_put(&m, key, V(i + 1)), 0);
		if (i >= 8) {
			key_of(key, sizeof key, i - 8);
			if (map_del(&m, key) != V(i - 8 + 1)) {
				CHECK(0);
				break;
			}
		}
		if (m.cap > maxcap)
			maxcap = m.cap;
	}
	CHECK_EQ_INT(map_len(&m), 8);
	CHECK(maxcap <= 64);
	check_shape(&m);
	/* a miss terminates even in a table full of tombstones */
	CHECK(map_get(&m, "not/there") == NULL);
	map_free(&m);
}

TEST(iteration)
{
	struct map m;
	char key[64];
	const size_t n = 1000;
	unsigned char *seen = calloc(n, 1);
	size_t pos = 0, count = 0;
	const char *k;
	void *v;
	map_init(&m);
	for (size_t i = 0; i < n; i++) {
		key_of(key, sizeof key, i);
		map_put(&m, key, V(i + 1));
	}
	for (size_t i = 0; i < n; i += 3) {
		key_of(key, sizeof key, i);
		map_del(&m, key);
	}
	while (map_next(&m, &pos, &k, &v)) {
		size_t i = (size_t)(uintptr_t)v - 1;
		count++;
		CHECK(i < n && i % 3 != 0);
		if (i < n) {
			CHECK(!seen[i]);
			seen[i] = 1;
			key_of(key, sizeof key, i);
			CHECK_EQ_STR(k, key);
		}
	}
	CHECK_EQ_INT(count, n - (n + 2) / 3);
	CHECK_EQ_INT(count, map_len(&m));
	/* at the end it stays at the end; val may be NULL */
	CHECK_EQ_INT(map_next(&m, &pos, &k, NULL), 0);
	pos = 0;
	CHECK_EQ_INT(map_next(&m, &pos, &k, NULL), 1);
	/* deleting the current entry while iterating is safe */
	pos = 0;
	count = 0;
	while (map_next(&m, &pos, &k, &v)) {
		char copy[64];
		snprintf(copy, sizeof copy, "%s", k);
		CHECK(map_del(&m, copy) == v);
		count++;
	}
	CHECK_EQ_INT(count, n - (n + 2) / 3);
	CHECK_EQ_INT(map_len(&m), 0);
	map_free(&m);
	free(seen);
}

int main(void)
{
	RUN(empty);
	RUN(put_get_replace);
	RUN(grow);
	RUN(delete_and_tombstones);
	RUN(churn);
	RUN(iteration);
	return unit_report("unit map");
}
