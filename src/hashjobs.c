/* hashjobs.c - ranges of files hashed (and copied) in parallel (hashjobs.h). */
#include "hashjobs.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include "file.h"

struct pool {
	struct hashjob **order; /* the jobs, biggest first */
	size_t n, next;
	pthread_mutex_t mu;
};

unsigned hashjobs_cores(void)
{
	cpu_set_t set;
	int n = 0;
	if (sched_getaffinity(0, sizeof set, &set) == 0)
		n = CPU_COUNT(&set);
	if (n < 1)
		n = 1;
	return n > HASHJOBS_MAX_THREADS ? HASHJOBS_MAX_THREADS : (unsigned)n;
}

static void run_one(struct hashjob *j, char *buf)
{
	struct hasher h;
	uint64_t off = j->off, left = j->len, woff = 0;

	hasher_init(&h, j->alg);
	while (left) {
		size_t want = left < HASHJOBS_BLOCK ? (size_t)left : HASHJOBS_BLOCK;
		if (file_pread_all(j->fd, buf, want, off) < 0) {
			j->err = errno ? errno : EIO;
			return;
		}
		hasher_update(&h, buf, want);
		if (j->wfd >= 0 && file_pwrite_all(j->wfd, buf, want, woff) < 0) {
			j->err = errno ? errno : EIO;
			return;
		}
		off += want;
		woff += want;
		left -= want;
	}
	hasher_final(&h, j->out);
}

static void *worker(void *arg)
{
	struct pool *p = arg;
	char *buf = malloc(HASHJOBS_BLOCK);
	for (;;) {
		struct hashjob *j;
		pthread_mutex_lock(&p->mu);
		j = p->next < p->n ? p->order[p->next++] : NULL;
		pthread_mutex_unlock(&p->mu);
		if (!j)
			break;
		if (!buf)
			j->err = ENOMEM;
		else
			run_one(j, buf);
	}
	free(buf);
	return NULL;
}

static int bigger_first(const void *a, const void *b)
{
	uint64_t la = (*(struct hashjob *const *)a)->len, lb = (*(struct hashjob *const *)b)->len;
	return la < lb ? 1 : la > lb ? -1 : 0;
}

int hashjobs_run(struct hashjob *jobs, size_t n, unsigned threads)
{
	pthread_t tid[HASHJOBS_MAX_THREADS];
	struct pool p = { .n = n };
	unsigned started = 0;

	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		jobs[i].err = 0;
		jobs[i].out[0] = '\0';
	}
	p.order = malloc(n * sizeof *p.order);
	if (!p.order) {
		for (size_t i = 0; i < n; i++)
			jobs[i].err = ENOMEM;
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		p.order[i] = &jobs[i];
	qsort(p.order, n, sizeof *p.order, bigger_first);
	pthread_mutex_init(&p.mu, NULL);
	if (!threads)
		threads = hashjobs_cores();
	if (threads > HASHJOBS_MAX_THREADS)
		threads = HASHJOBS_MAX_THREADS;
	if (threads > n)
		threads = (unsigned)n;
	/* this thread works too: threads - 1 more */
	for (unsigned i = 1; i < threads; i++) {
		if (pthread_create(&tid[started], NULL, worker, &p) != 0)
			break;
		started++;
	}
	worker(&p);
	for (unsigned i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	pthread_mutex_destroy(&p.mu);
	free(p.order);
	for (size_t i = 0; i < n; i++)
		if (jobs[i].err)
			return -1;
	return 0;
}
