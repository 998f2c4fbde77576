/* progress.c - push's TTY display (see progress.h). */
#include "progress.h"

#include <stdio.h>
#include <unistd.h>

#include "clock.h"

#define PROGRESS_PERIOD_US 200000

static void draw(struct progress *pg)
{
	double t = (double)(clock_us() - pg->t0_us) / 1e6;

	if (pg->lines)
		fprintf(stderr, "\033[%dA", pg->lines);
	for (size_t i = 0; i < pg->n; i++) {
		const struct push_blob_job *j = &pg->jobs[i];
		int state = __atomic_load_n(&j->state, __ATOMIC_RELAXED);
		double mib = (double)__atomic_load_n(&j->done, __ATOMIC_RELAXED) / 1048576.0;
		double tot = (double)j->blob->size / 1048576.0;
		fprintf(stderr, "\033[2K%.19s %-11s %8.1f / %.1f MiB", j->blob->digest,
			push_blob_state_name(state), mib, tot);
		if (state == PUSH_BLOB_UPLOAD && t > 0)
			fprintf(stderr, "  %.0f MiB/s", mib / t);
		fputc('\n', stderr);
	}
	pg->lines = (int)pg->n;
	fflush(stderr);
}

static void *run(void *arg)
{
	struct progress *pg = arg;
	while (!__atomic_load_n(&pg->stop, __ATOMIC_ACQUIRE)) {
		draw(pg);
		usleep(PROGRESS_PERIOD_US);
	}
	return NULL;
}

void progress_start(struct progress *pg, const struct push_blob_job *jobs, size_t n, int64_t t0_us)
{
	pg->jobs = jobs;
	pg->n = n;
	pg->t0_us = t0_us;
	pg->lines = 0;
	pg->stop = 0;
	pg->running = pthread_create(&pg->tid, NULL, run, pg) == 0;
}

void progress_stop(struct progress *pg)
{
	if (!pg->running)
		return;
	__atomic_store_n(&pg->stop, 1, __ATOMIC_RELEASE);
	pthread_join(pg->tid, NULL);
	pg->running = 0;
	draw(pg);
}
