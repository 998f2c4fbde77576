/* regsink.h - a registry as the place images go (push, copy).
 *
 * Blobs go through push_blob.c's workers (HEAD first and skip what is
 * there, a cross-repository mount when told where from, one PUT or
 * resumable PATCHes): all at once, the biggest first, so the longest
 * upload starts first and the workers finish together; manifests by PUT,
 * byte for byte,
 * the registry's Docker-Content-Digest checked against ours.  A manifest
 * with a subject that the registry does not index (its answer has no
 * OCI-Subject: registries without the referrers API, distribution 2.8 among
 * them) is added to the subject's fallback tag (sha256-<hex>): that index is
 * read, extended and written back, as the distribution spec asks of clients.
 *
 * Ownership: struct regsink owns its client and its handle (one thread);
 * put_blobs's workers open handles of their own.  Limits: a fallback index
 * of at most MANIFEST_MAX bytes; the client's budgets (client.h). */
#ifndef PH_REGSINK_H
#define PH_REGSINK_H

#include "client.h"
#include "image.h"
#include "ref.h"
#include "sink.h"

struct regsink_opts {
	struct client_opts copt;
	const char *mount_from;   /* a repository on the same registry, or NULL */
	int jobs;                 /* 1..PUSH_BLOB_THREADS_MAX */
	uint64_t chunk;           /* PATCH size */
	int gzip_level;           /* push: compress docker-save layers; 0: as they are */
	enum image_format format; /* push: the media type a compressed layer gets */
	int progress;             /* draw progress.c's display on stderr */
};

/* Defaults: 4 jobs, 128 MiB chunks, --timeout 1h; verb names the command
 * in messages ("push", "copy"). */
void regsink_opts_init(struct regsink_opts *o, const char *verb);
/* The options push and copy share: --insecure, --ca-file, -j/--jobs,
 * --chunk-size, --timeout, --stall-timeout, -v/--verbose.  1 when argv[*i]
 * is one (its value taken), 0 when not; a bad value is fatal(2). */
int regsink_option(struct regsink_opts *o, int argc, char **argv, int *i, const char *usage);
/* After the options: the deadline from now (the whole command counts),
 * log lines as they happen, debug for -v, progress on a TTY unless quiet
 * or verbose. */
void regsink_opts_start(struct regsink_opts *o, int quiet);

struct regsink {
	struct client cl;
	CURL *h;
	struct ref ref;           /* host and repository (tag, digest unused) */
	struct regsink_opts o;
	struct sink sink;         /* this registry as a struct sink */
};

/* Connect to ref's registry (client_connect).  0, or -1 with err (then
 * nothing to close). */
int regsink_open(struct regsink *k, const struct ref *ref, const struct regsink_opts *o,
		 char *err, size_t cap);
void regsink_close(struct regsink *k);

#endif
