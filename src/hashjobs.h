/* hashjobs.h - hash many ranges of files at once, one thread per core.
 *
 * An import verifies every blob before it is served; the blobs are
 * independent, so they are hashed side by side: a thread per core the
 * process may run on (sched_getaffinity), each taking the biggest job left,
 * reading with pread in HASHJOBS_BLOCK blocks.  A job may also copy what it
 * reads into another file (the copy path: read once, hash and write).
 *
 * Memory: one block per thread, freed when hashjobs_run returns. */
#ifndef PH_HASHJOBS_H
#define PH_HASHJOBS_H

#include <stddef.h>
#include <stdint.h>

#include "digest.h"

#define HASHJOBS_BLOCK ((size_t)2 << 20)
#define HASHJOBS_MAX_THREADS 64

struct hashjob {
	int fd;                        /* read [off, off + len) of fd */
	uint64_t off, len;
	enum digest_alg alg;
	int wfd;                       /* >= 0: also write the bytes there (from 0) */
	char out[DIGEST_STR_MAX];      /* "alg:hex" once done */
	int err;                       /* 0, or errno (ENODATA: the file ends early) */
};

/* How many threads hashjobs_run uses by default: the CPUs this process may
 * run on, at least 1, at most HASHJOBS_MAX_THREADS. */
unsigned hashjobs_cores(void);
/* Run every job, on up to threads threads (0: hashjobs_cores()), biggest
 * first.  0 when all succeeded, else -1 (each job's err says which). */
int hashjobs_run(struct hashjob *jobs, size_t n, unsigned threads);

#endif
