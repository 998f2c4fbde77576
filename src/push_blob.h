/* push_blob.h - one image's blobs into one repository, the client side of
 * the distribution spec's blob upload, on a pool of worker threads.
 *
 * Per blob, in a worker: gzip a docker-save layer when asked (gzip.h), then
 * HEAD (present: done, its bytes not read), a cross-repository mount
 * when a source repository is given, else an upload session: blobs up to
 * `chunk` bytes in one PUT (POST, PUT ?digest= with the bytes: two requests,
 * and on distribution 2.8 one fsync'd commit, where a PATCH adds a request
 * and a hash state it writes and syncs; a PUT that fails is sent again whole
 * in a new session), larger ones in PATCHes of `chunk` bytes with
 * Content-Range, resuming from the session's Range after a failed PATCH,
 * then an empty closing PUT.  A session that went away is started again,
 * at most 5 times; a second stall on one blob, the deadline, or any other
 * error ends it.  The first failure stops the pool; its message names the
 * blob and the target.
 *
 * Every blob whose digest is only claimed is hashed while it is sent, and
 * read once: a file's member whose digest the archive claims (its name, a
 * descriptor, the config's diff_id) through push_blob.c's own reader of the
 * file; a blob in no file (off -1, no tmp: copy from a registry) through
 * the caller's push_blob_reader, which each worker opens once and aims at
 * blob after blob.  Either hashes each byte once, however often it is sent
 * again, and refuses to hand over the last byte of a blob whose bytes are
 * not its digest, so such a blob's upload fails before the registry has all
 * of it (a monolithic PUT never completes; a chunked upload never gets its
 * closing PUT, and its session is cancelled): nothing is committed, and the
 * failure is one line naming the blob (a lying tarball: the layer, and what
 * its bytes are).  Resuming works the same: the reader serves any position
 * again (a pread, or a new ranged GET), hashing only what it had not.
 *
 * Ownership: everything in struct push_blobs is the caller's and outlives
 * push_blob_run; a worker only writes its job's blob (a compressed layer's
 * new digest, size, media type and scratch file) and its job's state. */
#ifndef PH_PUSH_BLOB_H
#define PH_PUSH_BLOB_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "image.h"
#include "ref.h"
#include "source.h"
#include "tmpdir.h"

#define PUSH_BLOB_THREADS_MAX 64

enum push_blob_state {
	PUSH_BLOB_WAIT, PUSH_BLOB_COMPRESS, PUSH_BLOB_CHECK, PUSH_BLOB_UPLOAD,
	PUSH_BLOB_EXISTS, PUSH_BLOB_MOUNTED, PUSH_BLOB_DONE, PUSH_BLOB_FAILED
};

/* state and done are written by a worker and read by the progress display
 * with __atomic builtins. */
struct push_blob_job {
	struct image_blob *blob;
	int state;                /* enum push_blob_state */
	uint64_t done;            /* bytes uploaded */
	uint64_t base;            /* bytes confirmed before the current request */
};

/* Where blobs with no file come from (copy: regsrc.c).  Called from one
 * worker at a time per reader. */
struct push_blob_reader {
	/* A reader for one worker, kept from blob to blob.  NULL: cannot. */
	void *(*open)(void *ctx);
	void (*close)(void *r);
	/* Aim r at blob b, from its first byte (no I/O yet). */
	void (*start)(void *r, const struct image_blob *b);
	/* client_body's read_at: bytes of b at pos, hashed on the way. */
	long (*read_at)(void *r, void *buf, size_t n, uint64_t pos);
	/* After a request that failed: 0 when a new attempt may do better (the
	 * upload's trouble, a source connection dropped), -1 when not (the
	 * bytes are not the blob's, the source refused it), with why in err. */
	int (*failed)(void *r, char *err, size_t cap);
	/* Every byte of b hashed (reading what was not), and they are its
	 * digest: 0, or -1 with err. */
	int (*verify)(void *r, char *err, size_t cap);
	void *ctx;
};

/* The hash a push_blob_reader keeps of the blob it serves: bytes
 * [0, hashed), each hashed once however often it is sent again. */
struct push_blob_hash {
	struct hasher hs;
	uint64_t hashed;
	int verified;             /* every byte hashed, and they are the digest */
};
/* For blob digest d (its algorithm; sha256 when it names none). */
void push_blob_hash_start(struct push_blob_hash *h, const char *d);
/* Take buf, the n bytes of b at pos (only what is past hashed counts; pos
 * beyond it: nothing); on b's last byte compare.  0, or -1 with what the
 * bytes are in got. */
int push_blob_hash_at(struct push_blob_hash *h, const struct image_blob *b, const void *buf,
		      size_t n, uint64_t pos, char got[DIGEST_STR_MAX]);

struct push_blobs {
	/* the caller's */
	struct client *cl;        /* connected */
	const struct ref *ref;
	const char *mount_from;   /* a repository on the same registry, or NULL */
	uint64_t chunk;           /* PATCH size, at least 4 KiB */
	int gzip_level;           /* 1..9: compress layers first; 0: as they are */
	enum image_format format; /* the media type a compressed layer gets */
	const struct tmpdir *scratch; /* blobs' temporary files, compressed layers */
	const struct source *src; /* in-place blobs are read from its tar */
	const struct push_blob_reader *reader; /* blobs with no file, or NULL */
	int threads;              /* 1..PUSH_BLOB_THREADS_MAX */
	struct push_blob_job *jobs;
	size_t njobs;
	/* the pool's, during push_blob_run */
	pthread_mutex_t lock;
	size_t next, end;
	int failed;
	char err[1024];
};

/* Push jobs [from, to) with pb->threads workers.  0, or -1 with the first
 * failure in err[cap]. */
int push_blob_run(struct push_blobs *pb, size_t from, size_t to, char *err, size_t cap);
/* The token scope for ref's repository (and mount_from's, when not NULL). */
void push_blob_scope(const struct ref *ref, const char *mount_from, char *out, size_t cap);
/* "waiting", "uploading", "pushed"...: fixed strings. */
const char *push_blob_state_name(int state);

#endif
