/* hashside.c - a block hashed on a second thread while it is written (hashside.h). */
#include "hashside.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "hashjobs.h"

struct hashside {
	pthread_t tid;
	pthread_mutex_t mu;
	pthread_cond_t to_thread, to_caller;
	struct hasher h;
	const void *p;   /* the block to hash, NULL when there is none (under mu) */
	size_t n;
	int stop;
};

static void *side_thread(void *arg)
{
	struct hashside *s = arg;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		const void *p;
		size_t n;
		while (!s->p && !s->stop)
			pthread_cond_wait(&s->to_thread, &s->mu);
		if (!s->p)
			break; /* stopped, nothing left */
		p = s->p;
		n = s->n;
		pthread_mutex_unlock(&s->mu);
		hasher_update(&s->h, p, n);
		pthread_mutex_lock(&s->mu);
		s->p = NULL;
		pthread_cond_signal(&s->to_caller);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

struct hashside *hashside_start(enum digest_alg alg)
{
	struct hashside *s;
	int e;
	if (hashjobs_cores() < 2) {
		errno = EAGAIN; /* a thread would only take turns with this one */
		return NULL;
	}
	s = calloc(1, sizeof *s);
	if (!s) {
		errno = ENOMEM;
		return NULL;
	}
	hasher_init(&s->h, alg);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->to_thread, NULL);
	pthread_cond_init(&s->to_caller, NULL);
	if ((e = pthread_create(&s->tid, NULL, side_thread, s)) != 0) {
		pthread_cond_destroy(&s->to_caller);
		pthread_cond_destroy(&s->to_thread);
		pthread_mutex_destroy(&s->mu);
		free(s);
		errno = e;
		return NULL;
	}
	return s;
}

void hashside_give(struct hashside *s, const void *p, size_t n)
{
	hashside_wait(s); /* the order of blocks is the order of bytes */
	if (n < HASHSIDE_MIN) {
		hasher_update(&s->h, p, n);
		return;
	}
	pthread_mutex_lock(&s->mu);
	s->p = p;
	s->n = n;
	pthread_cond_signal(&s->to_thread);
	pthread_mutex_unlock(&s->mu);
}

void hashside_wait(struct hashside *s)
{
	pthread_mutex_lock(&s->mu);
	while (s->p)
		pthread_cond_wait(&s->to_caller, &s->mu);
	pthread_mutex_unlock(&s->mu);
}

static void side_end(struct hashside *s)
{
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	pthread_cond_signal(&s->to_thread);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->tid, NULL);
	pthread_cond_destroy(&s->to_caller);
	pthread_cond_destroy(&s->to_thread);
	pthread_mutex_destroy(&s->mu);
}

void hashside_finish(struct hashside *s, char out[DIGEST_STR_MAX])
{
	hashside_wait(s);
	side_end(s);
	hasher_final(&s->h, out);
	free(s);
}

void hashside_free(struct hashside *s)
{
	if (!s)
		return;
	hashside_wait(s);
	side_end(s);
	free(s);
}
