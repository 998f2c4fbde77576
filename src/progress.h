/* progress.h - push's display on a TTY: one line per blob (digest, state,
 * MiB sent of total, and the rate while uploading), redrawn in place on
 * stderr every 200 ms by a thread of its own, and once more at the end.
 *
 * It only reads the jobs (their state and done fields, atomically); the
 * jobs are the caller's and must outlive progress_stop.  Nothing is drawn
 * if the thread cannot start.  Escape codes: cursor up, clear line. */
#ifndef PH_PROGRESS_H
#define PH_PROGRESS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "push_blob.h"

struct progress {
	const struct push_blob_job *jobs;
	size_t n;
	int64_t t0_us;            /* clock_us() the rate is measured from */
	int lines;                /* drawn last time, to move back over */
	int stop;                 /* atomic */
	int running;
	pthread_t tid;
};

void progress_start(struct progress *pg, const struct push_blob_job *jobs, size_t n, int64_t t0_us);
/* Stop the thread and draw the final state (when it was running). */
void progress_stop(struct progress *pg);

#endif
