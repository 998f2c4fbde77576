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
 * (retried once when idempotent); a response body over 1 MiB (or the larger
 * maximum a caller gives client_resp_init_max, e.g. a 4 MiB manifest) is an
 * error; deadline_ms bounds everything, retries and back-off included.
 *
 * Streams (copy): client_stream reads a blob's body as it arrives, for a
 * request body on another registry.  Its GET runs in a thread of its own
 * that fills a ring of 4 MiB (and waits while it is full), so receiving and
 * sending overlap; nothing more is held.  A redirect (a blob on a CDN) is
 * followed there, up to CLIENT_STREAM_HOPS, without credentials, by
 * client_abs_url's rules (no HTTPS -> HTTP).
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
	int config_creds_only; /* credentials from the docker config only, never
				  PACKHELPER_USERNAME/PASSWORD (copy: two registries) */
	const char *verb;      /* "push", "copy": for the --timeout message */
	int attempts;          /* tries of an idempotent request; 0: 6 (the mirror
				  takes 2: a client is waiting) */
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

/* A request body: none, memory, a file range, or a reader's range. */
struct client_body {
	const void *mem;
	size_t mem_len;
	int fd;                /* -1 for none/memory/reader */
	uint64_t off, len;
	/* bytes [off, off + len) from a reader, as pread(2) does: at most n bytes
	 * at position pos; -1 aborts the request.  Called again from off when the
	 * request is sent again (a retry, an auth round). */
	long (*read_at)(void *ctx, void *buf, size_t n, uint64_t pos);
	void *read_ctx;
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
	char link[2048];       /* Link: the next page of a listing */
	char content_range[96];
	int oci_subject;       /* OCI-Subject: the registry indexed a subject */
	int from_registry;     /* answered by the registry's origin */
	int too_big;           /* the body passed 1 MiB: the request failed */
	int stalled;           /* the request failed on a stall or a timeout */
	long retry_after;
	int64_t content_length; /* Content-Length, -1 when absent or malformed */
	size_t read_max;       /* a body over this fails the request */
	struct buf body;       /* at most 64 KiB kept (error JSON, small answers),
			        * or what client_resp_init_max says; a body over
			        * read_max (1 MiB at least) fails the request */
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
/* client_init, a handle (*h) and client_connect: 0, or -1 with err and
 * nothing to close.  client_close undoes it. */
int client_open(struct client *c, const char *host, const struct client_opts *opt, CURL **h,
		char *err, size_t cap);
void client_close(struct client *c, CURL **h);

/* What a manifest GET or HEAD accepts: every manifest type there is. */
#define CLIENT_ACCEPT_MANIFESTS                                                                    \
	"application/vnd.oci.image.manifest.v1+json,application/vnd.oci.image.index.v1+json,"      \
	"application/vnd.docker.distribution.manifest.v2+json,"                                   \
	"application/vnd.docker.distribution.manifest.list.v2+json"

/* Perform one request.  path is "/v2/..." or an absolute URL (a Location);
 * scope names the repository access needed ("repository:x:pull,push");
 * content_type is the body's Content-Type, or for GET and HEAD the Accept
 * header (NULL: none).
 * Handles 401 (fetches a token and retries once) and, when idempotent,
 * transient failures (connection errors, 5xx, 429) with backoff.
 * Returns 0 with resp filled (any HTTP status), or -1 with err set. */
int client_request(struct client *c, CURL *h, const char *method, const char *path,
		   const char *scope, const char *content_type, const struct client_body *body,
		   int idempotent, struct client_resp *resp, char *err, size_t cap);
void client_resp_init(struct client_resp *r);
/* Keep a body of up to max bytes (a manifest, a listing page); a longer one
 * fails the request (too_big). */
void client_resp_init_max(struct client_resp *r, size_t max);
void client_resp_free(struct client_resp *r);
/* "HTTP 400 DIGEST_INVALID: message" from a registry error response. */
void client_describe(const struct client_resp *r, char *out, size_t cap);
/* Resolve a Location header against the registry's URL into out[cap]
 * (canonical form).  0, or -1 with err set (not an http(s) URL we accept). */
int client_abs_url(const struct client *c, const char *loc, char *out, size_t cap, char *err,
		   size_t ecap);
/* Has the overall deadline passed? */
int client_expired(const struct client *c);

/* ---- streams ---- */

#define CLIENT_STREAM_HOPS 5   /* redirects followed for one GET */

struct client_stream;
/* A stream on c with a handle of its own (kept for connection reuse from
 * one GET to the next).  NULL: out of memory.  Its calls come from one
 * thread at a time (the transfer's own thread is internal). */
struct client_stream *client_stream_new(struct client *c);
void client_stream_free(struct client_stream *s);
/* GET path (on the registry, or absolute) from byte `from` on (a Range
 * request; a 200 to it has its first bytes skipped), through auth rounds,
 * redirects and retries as client_request does, until the body starts.
 * 0, or -1 with err set. */
int client_stream_open(struct client_stream *s, const char *path, const char *scope, uint64_t from,
		       char *err, size_t cap);
/* Up to n bytes of the body: their count, 0 at its end, or -1 with err set
 * (*transient 1 when a new GET may do better: a dropped connection, a
 * stall). */
long client_stream_read(struct client_stream *s, void *buf, size_t n, int *transient, char *err,
			size_t cap);
/* The answer's head once client_stream_open succeeded (Content-Length,
 * Content-Type...). */
const struct client_resp *client_stream_resp(const struct client_stream *s);
/* End the transfer in progress, if any (its connection is not reused). */
void client_stream_close(struct client_stream *s);

#endif
