/* serve.h - `packhelper serve`: options, the listener, imports, readiness.
 *
 * The top of the server: it owns the listener, the store, the registry
 * (struct reg), the pull-through mirror when --mirror is given (struct
 * mirror) and every connection (struct conn_set), and runs the loop.
 * Calls go one way: serve -> reg -> mirror -> store, and serve -> conn ->
 * http/ev. */
#ifndef PH_SERVE_H
#define PH_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "mirror.h"

#define SERVE_MAX_IMPORTS 64
/* budget defaults (README, "Limits") */
#define SERVE_MAX_CONNS_PER_PEER 512
#define SERVE_MAX_BUFFERED ((size_t)256 << 20)
#define SERVE_MAX_SNDBUF ((size_t)1 << 20) /* tests/bench/run.sh: blob GETs as fast */
#define SERVE_MIN_RATE 1024 /* bytes/s over each 10 s window of a transfer */
#define SERVE_GC_GRACE_MS ((int64_t)3600 * 1000)

struct serve_options {
	const char *listen;      /* ADDR:PORT */
	const char *root;
	int read_only;
	int import_mode;            /* enum import_mode (import.h): --import-mode */
	int log_level;
	int64_t idle_timeout_ms;
	int64_t header_timeout_ms;
	int64_t body_timeout_ms;
	int64_t upload_expiry_ms;
	unsigned max_conns;       /* connections in all (from RLIMIT_NOFILE) */
	unsigned max_conns_per_peer;
	size_t max_buffered;      /* bytes of response and request bodies held in memory */
	size_t max_sndbuf;        /* the kernel's send buffer of each connection; 0: autotuned */
	uint64_t min_rate;        /* bytes/s a busy connection must move, per window */
	unsigned max_uploads;
	unsigned max_uploads_per_peer;
	int allow_sparse;         /* accept manifests whose blobs are missing */
	int64_t gc_interval_ms;   /* collect garbage this long after the last run ended; 0: never */
	int64_t gc_grace_ms;      /* what a repository got more recently stays */
	int gc_untagged;          /* collect untagged manifests too */
	const char *ready_file;  /* write the ready line here too */
	const char *imports[SERVE_MAX_IMPORTS];
	unsigned nimports;
	struct mirror_options mirror; /* --mirror and --mirror-*: nups 0 for none */
};

/* `packhelper serve ...`; returns the process exit status. */
int serve_main(int argc, char **argv);

#endif
