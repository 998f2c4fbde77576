/* store_trash.c - the trash: blob files whose last link went (a blob or
 * manifest DELETE, an online collection) are renamed on the event loop into
 * uploads/gc-<id>, which costs tens of microseconds, and a thread unlinks
 * them there: freeing a large file's blocks is the slow part of a removal
 * (a millisecond or more on a busy ext4, tens of milliseconds for a GiB),
 * and it would stall every client.  The blob's name is free at once, so a
 * new commit of the same digest does not wait.
 *
 * Crashes: a file renamed but not yet unlinked is a leftover in uploads/,
 * cleared at start-up (store_layout.c) or counted by `packhelper gc`; online
 * collection leaves gc-* names alone (not a session's), they are the
 * thread's.  A stop finishes the queue, for a second at most.
 *
 * Memory: the queue of names (40 bytes each), grown by doubling; without
 * memory for it a file is unlinked at once, on the loop. */
#include "store_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "hex.h"

#define TRASH_PREFIX "gc-"
#define TRASH_NAME_MAX 40 /* "gc-" and 32 hex */
/* A stop (close) goes on removing what is queued for up to this long, so a
 * clean stop after a few DELETEs leaves nothing behind (`packhelper gc`
 * would count it as an upload leftover), while one after a collection that
 * freed thousands of files is not held up: start-up clears the rest. */
#define TRASH_STOP_MS 1000

struct store_trash {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int dfd;                       /* uploads/ (the store's, open until close) */
	char (*q)[TRASH_NAME_MAX];     /* names to unlink: q[head .. head+n) */
	size_t head, n, cap;
	int stop;
	int64_t stop_by;               /* a stop finishes the queue until then */
};

static void *trash_thread(void *arg)
{
	struct store_trash *t = arg;
	char name[TRASH_NAME_MAX];

	pthread_mutex_lock(&t->mu);
	for (;;) {
		while (!t->n && !t->stop)
			pthread_cond_wait(&t->cv, &t->mu);
		if (!t->n || (t->stop && clock_ms() >= t->stop_by))
			break;
		memcpy(name, t->q[t->head], sizeof name);
		t->head++;
		if (--t->n == 0)
			t->head = 0;
		pthread_mutex_unlock(&t->mu);
		unlinkat(t->dfd, name, 0); /* what a failure leaves, start-up clears */
		pthread_mutex_lock(&t->mu);
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

static struct store_trash *trash_start(struct store *st)
{
	struct store_trash *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	t->dfd = st->imports.fd;
	if (pthread_create(&t->thread, NULL, trash_thread, t) != 0) {
		pthread_cond_destroy(&t->cv);
		pthread_mutex_destroy(&t->mu);
		free(t);
		errno = EAGAIN;
		return NULL;
	}
	return t;
}

void store_trash_stop(struct store *st)
{
	struct store_trash *t = st->trash;
	if (!t)
		return;
	pthread_mutex_lock(&t->mu);
	t->stop = 1;
	t->stop_by = clock_ms() + TRASH_STOP_MS;
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mu);
	pthread_join(t->thread, NULL);
	pthread_cond_destroy(&t->cv);
	pthread_mutex_destroy(&t->mu);
	free(t->q);
	free(t);
	st->trash = NULL;
}

int store_trash(struct store *st, const char *rel)
{
	struct store_trash *t = st->trash;
	char name[TRASH_NAME_MAX];
	int queued = 0;

	if (!t && !(t = st->trash = trash_start(st)))
		return -1;
	memcpy(name, TRASH_PREFIX, sizeof TRASH_PREFIX - 1);
	hex_random128(name + sizeof TRASH_PREFIX - 1);
	if (renameat(st->rootfd, rel, t->dfd, name) < 0)
		return -1;
	pthread_mutex_lock(&t->mu);
	if (t->head + t->n == t->cap && t->head) {
		memmove(t->q, t->q + t->head, t->n * sizeof *t->q);
		t->head = 0;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;
		char(*q)[TRASH_NAME_MAX] = realloc(t->q, cap * sizeof *q);
		if (q) {
			t->q = q;
			t->cap = cap;
		}
	}
	if (t->head + t->n < t->cap) {
		memcpy(t->q[t->head + t->n++], name, sizeof name);
		queued = 1;
		pthread_cond_signal(&t->cv);
	}
	pthread_mutex_unlock(&t->mu);
	if (!queued)
		unlinkat(t->dfd, name, 0); /* no memory for the queue: here, then */
	return 0;
}
