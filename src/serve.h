/* serve.h - the server: listener, store, connections, options, readiness. */
#ifndef PH_SERVE_H
#define PH_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "ev.h"

struct store;
struct conn;

struct serve_options {
	const char *listen;      /* ADDR:PORT */
	const char *root;
	int read_only;
	int log_level;
	int64_t idle_timeout_ms;
	int64_t header_timeout_ms;
	int64_t body_timeout_ms;
	int64_t upload_expiry_ms;
	unsigned max_conns;
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
	long date_sec;
	char date[30];           /* cached Date header value */
	char listen_addr[64];    /* the bound address, port resolved */
};

/* `packhelper serve ...`; returns the process exit status. */
int serve_main(int argc, char **argv);
/* Accept was paused at max_conns; a connection closed. */
void serve_conn_closed(struct server *srv);

#endif
