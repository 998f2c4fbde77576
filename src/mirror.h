/* mirror.h - the pull-through mirror: `serve --mirror URL`.
 *
 * The mirror sits beside the registry (reg): reg maps each request's
 * repository to an upstream and a store name (mirror_route), serves what
 * the store holds, and on a miss - a manifest or blob the store lacks, a
 * tag older than the TTL - hands the connection here.  The mirror fetches
 * from the upstream, stores what it got, and answers:
 *
 *   manifests  the request is held (conn_hold) while a worker GETs the
 *              manifest (a stale tag: HEAD first, GET only when its digest
 *              moved); the loop verifies and stores the exact bytes
 *              (sparse: an index's other platforms need not be there), and
 *              hands the connection back to reg (hooks.manifest_done),
 *              which answers from the store as for any hit.  A by-digest
 *              manifest must hash to its digest and is never asked for
 *              again; a tag is, after tag_ttl_ms.  When the upstream cannot
 *              be reached (or fails), a tag the store holds is served stale
 *              with a log line; an upstream 404 for a tag is believed: the
 *              tag goes from the store and the client gets 404.
 *   blobs      single flight per (repository, digest): the first request
 *              starts one GET that a worker writes into a file under the
 *              store's uploads/ while hashing it; that request and every
 *              other one for the same blob are answered from the growing
 *              file (conn_file_limit follows the writer), but the last byte
 *              is held back until the hash is verified.  A blob that is
 *              not its digest closes those connections and is discarded,
 *              so no client ever receives a whole blob with other bytes.
 *              Verified, it is committed into the store (rename), and later
 *              requests are ordinary store hits.  (A blob the store holds
 *              in another repository never gets here: reg links it.)
 *   blob HEADs when no GET of the blob is under way: one upstream HEAD per
 *              (repository, digest) answers every HEAD waiting on it with
 *              the size, and nothing is stored; an upstream that answers
 *              the HEAD without a length (a redirect to a CDN, whose URLs
 *              are signed for GET) gets the GET above, which answers them.
 *
 * Threads: the loop (every function here) and `jobs` worker threads, which
 * own their upstream clients (libcurl, tokens, credential helpers run on
 * the first fetch from each upstream) and touch nothing but their job, the
 * queue (under a mutex) and the store's uploads/ directory (store_tmpdir:
 * safe from any thread).  A worker reports through an eventfd the loop
 * watches; the loop reads the job's atomics (head known, bytes written,
 * done).  The store is only touched on the loop.
 *
 * Ownership: struct mirror owns its jobs, workers and waiters.  A waiter
 * (a connection waiting on or streaming from a job) is pointed to by a slot
 * in the caller's per-request state; the mirror clears the slot when it
 * lets go, and the caller calls mirror_forget when the connection closes or
 * starts another request.
 *
 * Budgets (README, "Limits"): at most `jobs` fetches run at once (others
 * queue); at most max_waiting connections wait on or stream from upstream
 * fetches, and at most max_waiting fetches exist, else 503 UNAVAILABLE; a
 * manifest over MANIFEST_MAX (4 MiB) is 502; each fetch has a deadline
 * (timeout_ms) and fails when it moves under 1 KiB/s for stall_s (502 or
 * 504, or a closed connection once the blob's head went out). */
#ifndef PH_MIRROR_H
#define PH_MIRROR_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "regerr.h"
#include "upstream.h"

struct store;
struct mirror;
struct mirror_wait;

#define MIRROR_MAX_UPSTREAMS 16
#define MIRROR_JOBS_DEFAULT 8
#define MIRROR_MAX_WAITING_DEFAULT 256
#define MIRROR_TAG_TTL_MS_DEFAULT ((int64_t)300 * 1000)
#define MIRROR_TIMEOUT_MS_DEFAULT ((int64_t)1800 * 1000)
#define MIRROR_STALL_S_DEFAULT 30

struct mirror_options {
	struct upstream ups[MIRROR_MAX_UPSTREAMS]; /* [0] serves requests without ns */
	unsigned nups;
	int insecure;          /* plain HTTP and any certificate, for every upstream */
	int64_t tag_ttl_ms;    /* a tag is asked for again after this */
	unsigned jobs;         /* worker threads: fetches at once */
	unsigned max_waiting;  /* connections waiting on fetches; fetches in all */
	int64_t timeout_ms;    /* one fetch, from its start */
	long stall_s;          /* under 1 KiB/s this long fails a fetch */
};

/* reg's side: answer a held manifest request, now that the store holds
 * what the upstream said (e RE_OK: answer from the store; else the error,
 * detail may be NULL).  accept is the request's Accept header (alen bytes,
 * 0: none).  The mirror resumes the connection afterwards. */
typedef void mirror_manifest_fn(struct conn *c, enum regerr e, const char *detail,
				const char *accept, size_t alen);

/* Start the workers.  NULL with err on failure (threads, eventfd). */
struct mirror *mirror_new(const struct mirror_options *o, struct store *st, struct ev *ev,
			  mirror_manifest_fn *manifest_done, char *err, size_t cap);
/* Stop the workers (a fetch under way is abandoned); 1 when a worker was
 * still inside a fetch and was left to the process's end (the store's
 * uploads/ directory must then stay open), else 0.  Frees m. */
int mirror_free(struct mirror *m);

/* The upstream a request names (?ns=HOST in query[0..qlen), else the first
 * --mirror) and name's store name there (out, REF_NAME_MAX + 1 bytes).
 * *up is the upstream's index.  RE_OK, or the error with *detail. */
enum regerr mirror_route(const struct mirror *m, const char *query, size_t qlen, const char *name,
			 int *up, char *out, const char **detail);
/* Was the tag fetched (or checked) within the TTL? */
int mirror_tag_fresh(const struct mirror *m, const char *store_name, const char *tag, int64_t now);

/* A manifest the store lacks, or a stale tag (held: the digest the store
 * has under it, else NULL): RE_OK with c held, or an error to answer now
 * (503 when a budget is spent). */
enum regerr mirror_manifest(struct mirror *m, struct conn *c, struct mirror_wait **slot, int up,
			    const char *name, const char *store_name, const char *ref,
			    const char *held, const char *accept, size_t alen, const char **detail);
/* A blob the store lacks: RE_OK (answered, or held until the upstream's
 * head is in), or an error to answer now.  range: the Range header's value
 * (n 0: none; copied when under 128 bytes, else ignored: the whole blob).
 * A HEAD (c->method) asks the upstream with a HEAD unless the blob's GET is
 * under way. */
enum regerr mirror_blob(struct mirror *m, struct conn *c, struct mirror_wait **slot, int up,
			const char *name, const char *store_name, const char *digest,
			struct http_slice range, const char **detail);
/* The waiter's connection closes or moves on: let go of it. */
void mirror_forget(struct mirror *m, struct mirror_wait *w);

#endif
