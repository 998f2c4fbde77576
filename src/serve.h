/* serve.h - the server: listener, store, connections, options, readiness. */
#ifndef PH_SERVE_H
#define PH_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "ev.h"
#include "map.h"

#define SERVE_MAX_IMPORTS 64
/* budget defaults (README, "Limits") */
#define SERVE_MAX_CONNS_PER_PEER 512
#define SERVE_MAX_BUFFERED ((size_t)256 << 20)
#define SERVE_MIN_RATE 1024 /* bytes/s over each 10 s window of a transfer */

struct store;
struct conn;
struct import_job;

struct serve_options {
	const char *listen;      /* ADDR:PORT */
	const char *root;
	int read_only;
	int log_level;
	int64_t idle_timeout_ms;
	int64_t header_timeout_ms;
	int64_t body_timeout_ms;
	int64_t upload_expiry_ms;
	unsigned max_conns;       /* connections in all (from RLIMIT_NOFILE) */
	unsigned max_conns_per_peer;
	size_t max_buffered;      /* bytes of response and request bodies held in memory */
	uint64_t min_rate;        /* bytes/s a busy connection must move, per window */
	unsigned max_uploads;
	unsigned max_uploads_per_peer;
	int allow_sparse;         /* accept manifests whose blobs are missing */
	const char *ready_file;  /* write the ready line here too */
	const char *imports[SERVE_MAX_IMPORTS];
	unsigned nimports;
};

struct server {
	struct ev *ev;
	struct store *store;
	const struct serve_options *opt;
	int ready;
	int listen_fd;
	struct ev_io listen_io;
	int accept_paused;
	struct conn *conns;      /* list of open connections */
	struct conn *dead;       /* closed this turn, freed before sleeping */
	unsigned nconns;
	struct map peers;        /* peer address -> open connections (as uintptr_t) */
	size_t buffered;         /* sum of every connection's charged bytes */
	int reserve_fd;          /* a descriptor held back so accept can refuse politely */
	long date_sec;
	char date[30];           /* cached Date header value */
	char listen_addr[64];    /* the bound address, port resolved */
	int exit_status;
	/* imports run on a thread and come back through this pipe to commit */
	int import_pipe[2];
	struct ev_io import_io;
	unsigned imports_done;
	int import_running;       /* the import thread has not returned */
	struct buf *ready_images; /* JSON array items for the ready line */
	int64_t t_start_ms;
};

/* `packhelper serve ...`; returns the process exit status. */
int serve_main(int argc, char **argv);
/* A connection from peer_addr closed: its per-peer count drops, and a
 * listener paused for want of descriptors resumes. */
void serve_conn_closed(struct server *srv, const char *peer_addr);

#endif
