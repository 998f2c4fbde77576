/* client.h - talking to a remote registry: libcurl + BearSSL transport,
 * scheme choice, authentication, retries.
 *
 * One struct client per registry host, shared by the push workers; each
 * worker owns a CURL easy handle (so its connection is reused).  The token
 * cache is the only shared mutable state, under a mutex.
 *
 * Origins: the registry's origin (scheme, host, port) is fixed by
 * client_connect.  Credentials (Basic, or a Bearer token) go only to that
 * origin: a Location naming another origin is followed without them, a 401
 * from another origin is an error, and a Location from an HTTPS registry to
 * plain HTTP is refused outright.  A token endpoint gets the Basic
 * credentials only over HTTPS, or over plain HTTP when both it and the
 * registry are plain-HTTP loopback (with --insecure: on the registry's own
 * host).  libcurl never follows redirects itself.
 *
 * Budgets: a request that moves under 1 KiB/s for stall_s seconds fails
 * (retried once when idempotent); a response body over 1 MiB is an error;
 * deadline_ms bounds everything, retries and back-off included.
 *
 * Scheme: HTTPS with verified certificates.  Plain HTTP only for loopback
 * hosts (localhost, *.localhost, 127.0.0.0/8, ::1) or with --insecure, and
 * only when the server answers a plain GET /v2/ as a registry (200 or 401):
 * decided by what the server says, never by a timeout, and never a fallback
 * after a failed HTTPS attempt. */
#ifndef PH_CLIENT_H
#define PH_CLIENT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "auth.h"
#include "buf.h"
#include "digest.h"
#include "url.h"

struct client_opts {
	const char *ca_file;   /* NULL: the system bundle */
	int insecure;          /* plain HTTP allowed, any certificate accepted */
	int verbose;           /* print the HTTP exchange (secrets masked) */
	const char *username;  /* NULL: from the environment or docker config */
	const char *password;
	int64_t deadline_ms;   /* CLOCK_MONOTONIC ms when everything stops; 0: none */
	int64_t timeout_ms;    /* the --timeout that set it, for the message */
	long stall_s;          /* under 1 KiB/s this long is a stall; 0: 60 */
};

struct client_token {
	char scope[512];
	char *value;
};

struct client {
	char host[256];        /* host[:port] as given */
	char base[300];        /* "https://host[:port]" once connected */
	struct url origin;     /* the registry's origin, once connected */
	int plain_http;
	int plain_http_probe;  /* during client_connect's plain GET /v2/ only */
	struct client_opts opt;
	char user[256];
	char *pass;            /* never printed */
	int have_creds;
	int identity;          /* pass is an identity (OAuth2 refresh) token */
	char cred_source[448]; /* where the credentials came from (or had none), for messages */
	/* the challenge from GET /v2/ */
	int auth_kind;         /* enum auth_scheme */
	char realm[AUTH_REALM_MAX];
	char service[AUTH_SERVICE_MAX];
	pthread_mutex_t lock;
	struct client_token tokens[16];
	size_t ntokens;
};

/* A request body: none, memory, or a file range. */
struct client_body {
	const void *mem;
	size_t mem_len;
	int fd;                /* -1 for none/memory */
	uint64_t off, len;
	const char *content_range; /* "a-b" for a chunked PATCH, or NULL */
	/* progress, optional: called with bytes sent so far */
	void (*progress)(void *ctx, uint64_t sent);
	void *progress_ctx;
};

struct client_resp {
	long status;
	char location[2048];
	char range[64];
	char digest[DIGEST_STR_MAX];
	char content_type[256];
	char www_auth[1024];
	int from_registry;     /* answered by the registry's origin */
	int too_big;           /* the body passed 1 MiB: the request failed */
	int stalled;           /* the request failed on a stall or a timeout */
	long retry_after;
	struct buf body;       /* at most 64 KiB kept (error JSON, manifests); a
			        * body over 1 MiB fails the request */
};

/* Set up a client for host ("host[:port]").  Loads credentials: the
 * options, else PACKHELPER_USERNAME/PASSWORD, else config.json and its
 * credential helpers (credhelper.h); -1 with err when a helper fails. */
int client_init(struct client *c, const char *host, const struct client_opts *opt, char *err,
		size_t cap);
void client_fini(struct client *c);
/* Choose the scheme and read the auth challenge (GET /v2/). */
int client_connect(struct client *c, CURL *h, char *err, size_t cap);
CURL *client_handle(struct client *c);

/* Perform one request.  path is "/v2/..." or an absolute URL (a Location);
 * scope names the repository access needed ("repository:x:pull,push").
 * Handles 401 (fetches a token and retries once) and, when idempotent,
 * transient failures (connection errors, 5xx, 429) with backoff.
 * Returns 0 with resp filled (any HTTP status), or -1 with err set. */
int client_request(struct client *c, CURL *h, const char *method, const char *path,
		   const char *scope, const char *content_type, const struct client_body *body,
		   int idempotent, struct client_resp *resp, char *err, size_t cap);
void client_resp_init(struct client_resp *r);
void client_resp_free(struct client_resp *r);
/* "HTTP 400 DIGEST_INVALID: message" from a registry error response. */
void client_describe(const struct client_resp *r, char *out, size_t cap);
/* Resolve a Location header against the registry's URL into out[cap]
 * (canonical form).  0, or -1 with err set (not an http(s) URL we accept). */
int client_abs_url(const struct client *c, const char *loc, char *out, size_t cap, char *err,
		   size_t ecap);
/* Has the overall deadline passed? */
int client_expired(const struct client *c);

#endif
