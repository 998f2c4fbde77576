/* store.h - the content store: blobs, uploads, repositories, manifests and tags.
 *
 * Its files (they share store_int.h): store.c, the index in memory and its
 * operations; store_layout.c, the layout drawn below, index.json, the journal
 * and start-up recovery; store_upload.c, upload sessions and the temporary
 * files of imports; store_gc.c, garbage collection.  File I/O goes through
 * file.h.
 *
 * On disk, under the root (every path is built from a validated repository
 * name and digest, relative to the root's directory descriptor):
 *
 *   ROOT/
 *     lock                            flock'ed by the process that has the store
 *                                     open (exclusive to write, shared to read);
 *                                     holds the writer's pid
 *     blobs/sha256/<hex>              every committed blob, stored once
 *     blobs/sha512/<hex>
 *     inplace/sha256/<hex>            a blob served in place: a record of where its
 *                                     bytes are (a source file's path and identity,
 *                                     offset, length; inplace.h), not the bytes
 *     uploads/<id>                    uploads in progress (cleared at start-up)
 *     uploads/import-<id>             an import's temporary files (likewise)
 *     journal/<generation>            tag/manifest changes index.json does not show yet
 *     repos/<name>/_layout/           one OCI image layout per repository
 *         oci-layout
 *         index.json                  manifests; tags as org.opencontainers.image.ref.name
 *         blobs/sha256/<hex>          hard links into ROOT/blobs: what the repository holds
 *         inplace/sha256/<hex>        hard links into ROOT/inplace: the same, for blobs
 *                                     served in place
 *
 * "_layout" can never be a name component (components start with [a-z0-9]), so
 * nested names ("a" and "a/b") never collide.  A repository holds a blob when
 * its layout has the link; the shared copy goes when the last link goes.
 *
 * Commit is verify -> fsync -> rename -> fsync(dir): a crash leaves at most an
 * orphan that start-up removes, never a partial blob under a digest.
 *
 * Tags and manifests: a change is one record appended to ROOT/journal/ (O(1)
 * in the number of tags; synced by a thread off the event loop, journal.h),
 * and each index.json catches up at compaction (a new file renamed into
 * place, in the background): when the journal passes 1 MiB, when writes
 * pause for 2 s, at close, and at start-up, which replays the journal first.
 *
 * Blobs served in place (an import's tarball or layout directory; store_source.c)
 * are held exactly like blob files, through their record.  The store keeps one
 * descriptor open per source file and checks its identity (fstat: device,
 * inode, size, mtime, ctime) before each response: a source that no longer
 * matches what was verified is detached, and its blobs are then absent to
 * every reader (store_blob_get), as are the manifests that use them (hidden:
 * not served, not listed; kept on disk), until an import of a file with the
 * same bytes attaches them again or a client uploads them (the record then
 * becomes a blob file).  Start-up does the same check.
 *
 * In memory, everything the request path asks is a hash lookup: repositories,
 * tags, manifests (with their bytes), the blobs each repository holds, and the
 * size of every blob.  Only blob bodies are read from disk.
 *
 * The store reads no clock: what needs the time takes now_ms, any monotonic
 * milliseconds the caller keeps (serve passes its loop's ev_now), and
 * store_clock dates what repositories get, for the grace period of gc. */
#ifndef PH_STORE_H
#define PH_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "bytes.h"
#include "digest.h"
#include "manifest.h"
#include "ref.h"
#include "tmpdir.h"

#define STORE_NAME_MAX REF_NAME_MAX
#define STORE_TAG_MAX REF_TAG_MAX

struct store;
struct store_source;   /* store_int.h: a source file blobs are served from in place */
struct inplace_rec;

struct store_blob {
	uint64_t size;
	unsigned nrepos;   /* repositories that hold it */
	struct store_source *src; /* in place: the file that holds its bytes; NULL: a blob file */
	uint64_t off;      /* in place: where its bytes start in src */
};

struct store_manifest {
	char digest[DIGEST_STR_MAX];
	char media_type[MEDIA_TYPE_MAX];
	char artifact_type[MEDIA_TYPE_MAX];
	char subject[DIGEST_STR_MAX];  /* "" when it has none */
	struct bytes *body;            /* the exact bytes the client sent; a
	                                * response takes a reference to them */
	const char *bytes;             /* body->p and body->len */
	size_t len;
	char *annotations;             /* raw JSON object text, or NULL */
	size_t annotations_len;
	unsigned ntags;
	int hidden;                    /* uses a blob whose source is detached:
	                                * not served, not listed (kept on disk) */
};

/* An upload session.  Between requests it holds no descriptor: the request
 * that writes into it claims it (opens the file), and releases it when done,
 * so idle sessions cost memory only, never a file descriptor. */
#define STORE_OWNER_MAX 63
struct store_upload {
	char id[33];
	char repo[STORE_NAME_MAX + 1];
	char owner[STORE_OWNER_MAX + 1]; /* the client's address, for the per-owner bound */
	int fd;            /* >= 0 while claimed by a request, else -1 */
	uint64_t size;     /* bytes hashed; the file holds exactly these */
	struct hasher h;   /* sha256 of the bytes so far */
	int64_t touched;   /* the caller's now_ms at the last activity */
	/* what size and h were when the request claimed it: a failed write
	 * returns the session here, so no request is ever half applied */
	uint64_t claim_size;
	struct hasher claim_h;
};

/* Bounds on open upload sessions; 0 = the default. */
struct store_limits {
	unsigned max_uploads;
	unsigned max_uploads_per_owner;
};
#define STORE_MAX_UPLOADS_DEFAULT 1024
#define STORE_MAX_UPLOADS_PER_OWNER_DEFAULT 256

#define STORE_READ_ONLY 1 /* leave the disk alone: no clean-up of uploads or orphans */
#define STORE_FOR_GC 2    /* leave uploads/ and orphan blobs for gc to find and count */

/* Open (creating if needed) the store at root and load it.  A writable store
 * takes ROOT/lock exclusively, a read-only one shared (when the file exists;
 * it is never created read-only), without waiting: a store another process
 * holds is refused.  -1 with a message logged on failure. */
int store_open(struct store **out, const char *root, int flags);
void store_close(struct store *st);
/* The caller's clock (monotonic ms), every loop turn: it dates the links
 * repositories get, and the first one dates the links found at open. */
void store_clock(struct store *st, int64_t now_ms);
/* A client asked for digest in repo (a blob or a manifest by digest, GET or
 * HEAD): a link it holds counts as new again for the grace period, so a push
 * that found the blob there and skipped it does not lose it to gc before its
 * manifest arrives. */
void store_touch(struct store *st, const char *repo, const char *digest);

/* The blob if repo holds it (repo NULL: if any repository does) and its
 * bytes can be read: NULL for a blob in place whose source is detached. */
const struct store_blob *store_blob_get(const struct store *st, const char *repo,
					const char *digest);
/* Open the committed blob for reading: a descriptor the caller owns, whose
 * bytes [*base, *base + size) are the blob's (base 0 for a blob file; the
 * offset in the source for one in place, whose identity is checked first).
 * -1 with errno: ENOENT, ESTALE when the source changed since its blobs were
 * verified (it is detached now, and logged), or another. */
int store_blob_open(struct store *st, const char *digest, uint64_t *base);
/* For a HEAD: 0 if the blob's bytes can be served (a source's identity is
 * checked as store_blob_open does), -1 with errno ENOENT or ESTALE. */
int store_blob_check(struct store *st, const char *digest);
/* How many manifests repo holds (0: none, or no such repository). */
size_t store_repo_manifests(const struct store *st, const char *repo);
/* Give repo a blob that the store holds.  0, or -1 with errno. */
int store_blob_mount(struct store *st, const char *repo, const char *digest);
/* Take the blob from repo; the bytes go when no repository holds them.
 * 0, -1 with errno ENOENT when repo does not hold it. */
int store_blob_delete(struct store *st, const char *repo, const char *digest);

/* ref is a tag or a digest.  NULL when unknown. */
const struct store_manifest *store_manifest_get(const struct store *st, const char *repo,
						const char *ref);
/* Store bytes (already validated into m, whose digest is digest) in repo and
 * point the tags at it.  0, or -1 with errno. */
int store_manifest_put(struct store *st, const char *repo, const char *digest,
		       const struct manifest *m, const char *bytes, size_t len,
		       const char *const *tags, size_t ntags);
/* Remove the manifest and every tag on it.  -1 with ENOENT if unknown. */
int store_manifest_delete(struct store *st, const char *repo, const char *digest);
/* Remove one tag.  -1 with ENOENT if unknown. */
int store_tag_delete(struct store *st, const char *repo, const char *tag);

/* Sorted listings.  The array is malloc'd (free it); its strings belong to the
 * store and stay valid until the next write. */
int store_tags(const struct store *st, const char *repo, const char ***out, size_t *n);
int store_catalog(const struct store *st, const char ***out, size_t *n);
/* Manifests in repo whose subject is digest, sorted by digest. */
int store_referrers(const struct store *st, const char *repo, const char *digest,
		    const struct store_manifest ***out, size_t *n);

/* ---- imports: temporary files filled outside the event loop ---- */

/* uploads/ as a tmpdir (names "import-<id>"), for an import's source: its
 * files are then on the store's filesystem, and start-up clears what a crash
 * leaves.  The store owns it; using it (create, open, remove) is safe from
 * another thread, as it touches no shared state.  Valid until store_close. */
const struct tmpdir *store_tmpdir(const struct store *st);
/* Publish the temporary file name in td (store_tmpdir, or a directory on the
 * same filesystem), already verified to hold size bytes with this digest and
 * synced to disk, as a blob of repo: rename, then fsync the directory.
 * Consumes name. */
int store_blob_commit_tmp(struct store *st, const char *repo, const struct tmpdir *td,
			  const char *name, const char *digest, uint64_t size);

/* Give repo the blob rec describes, served in place from the file open as
 * fd (the importer's; the store keeps a descriptor of its own per source
 * file): rec was verified (digest, identity after the hashing).  A blob
 * already stored is linked as it is; one detached from its source is
 * attached to this one (its record rewritten).  0, or -1 with errno. */
int store_blob_commit_inplace(struct store *st, const char *repo, const struct inplace_rec *rec,
			      int fd);

void store_set_limits(struct store *st, const struct store_limits *lim);
/* Start an upload session for repo on behalf of owner (the client's address
 * without port, at most STORE_OWNER_MAX chars).  The session is not claimed.
 * NULL with errno: EAGAIN when a limit (total or this owner's) is reached,
 * else the error (ENOSPC, EIO...). */
struct store_upload *store_upload_start(struct store *st, const char *repo, const char *owner,
					int64_t now_ms);
struct store_upload *store_upload_get(const struct store *st, const char *id);
/* Open the upload's file for this request.  0, or -1 with EBUSY if another
 * request holds it, else errno. */
int store_upload_claim(struct store *st, struct store_upload *up, int64_t now_ms);
/* Close the file; idempotent. */
void store_upload_release(struct store *st, struct store_upload *up);
/* Append and hash (claims the upload if it is not).  0, or -1 with errno
 * (ENOSPC, EIO...); on failure the session, file included, is back where it
 * was when this request claimed it. */
int store_upload_write(struct store *st, struct store_upload *up, const void *data, size_t n,
		       int64_t now_ms);
/* Verify the upload against digest (and the file's size against the bytes
 * hashed) and commit it into its repository (claims the upload if it is not).
 * Returns 0 (up is freed), STORE_DIGEST_MISMATCH, or -1 with errno.  On
 * failure the upload is cancelled. */
#define STORE_DIGEST_MISMATCH (-2)
int store_upload_commit(struct store *st, struct store_upload *up, const char *digest);
void store_upload_cancel(struct store *st, struct store_upload *up);
/* Periodic work (every second or so, on the loop): compacts the journal of
 * tag and manifest changes into index.json once writes pause. */
void store_tick(struct store *st, int64_t now_ms);

/* Cancel unclaimed uploads idle for longer than max_idle_ms. */
void store_upload_expire(struct store *st, int64_t now_ms, int64_t max_idle_ms);

/* ---- garbage collection ----
 *
 * Per repository, a blob it holds (a link in its layout) that no manifest of
 * the repository references - as its own bytes, config, layer or index child
 * - is released once the link is older than the grace period (see struct
 * store_link: dated when the repository got it or a client last asked for
 * it); the shared file goes with its last link.  Manifests, tagged or not,
 * are kept, unless untagged is set: then an untagged manifest older than the
 * grace period goes too, unless a kept index names it or it is a referrer
 * (subject) of a kept manifest.  Upload files no session owns go as well
 * (imports' files only when the store was opened STORE_FOR_GC; online they
 * may belong to an import under way).
 *
 * A collection runs in steps on the store's thread, each bounded
 * (GC_STEP_WORK in store_gc.c), so requests are served in between; every
 * decision is taken in the step that acts on it, and a manifest put while a
 * repository is being collected marks what it references (store_gc_note), so
 * nothing a manifest references is ever removed.  A read-only store never
 * collects. */
struct store_gc_options {
	int64_t grace_ms;   /* an unreferenced link younger than this stays */
	int untagged;       /* remove untagged manifests older than grace_ms */
	int dry_run;        /* decide and count, remove nothing */
	/* links found on disk at open: 0 dates them by the store's first clock
	 * (a server: the grace period counts from its start); else this wall
	 * clock (ms since the epoch) dates them by their inode's ctime, which
	 * every link and unlink moves (a stopped store, `packhelper gc`) */
	int64_t wall_ms;
	/* each removal, as it happens (or would): what is "link", "blob",
	 * "manifest", "upload" or "orphan"; repo NULL for the last three */
	void (*report)(void *arg, const char *what, const char *repo, const char *name,
		       uint64_t size);
	void *arg;
};

struct store_gc_stats {
	uint64_t links;        /* repository links released */
	uint64_t blobs;        /* blob files removed (their last link went), orphans included */
	uint64_t bytes;        /* their size */
	uint64_t repos;        /* repositories that released something */
	uint64_t manifests;    /* untagged manifests removed */
	uint64_t uploads;      /* upload leftovers removed */
	uint64_t upload_bytes;
	uint64_t steps;        /* steps it took */
	uint64_t max_step_work; /* the largest step, in work units */
	uint64_t mark_restarts; /* mark walks started again because the manifest
	                         * map was rehashed between two steps */
};

/* Start a collection (its first step runs at the next store_gc_step).
 * -1 with EBUSY while one runs, EROFS on a read-only store. */
int store_gc_start(struct store *st, const struct store_gc_options *o, int64_t now_ms);
/* One bounded step: 1 while there is more to do, 0 once done (the stats are
 * then final). */
int store_gc_step(struct store *st, int64_t now_ms);
int store_gc_running(const struct store *st);
/* The collection under way, or the last one. */
const struct store_gc_stats *store_gc_stats(const struct store *st);
/* "removed N blobs (X bytes) from M repositories (L links), K untagged
 * manifests, U upload leftovers (Y bytes)" ("would remove" when dry). */
void store_gc_describe(const struct store_gc_stats *s, int dry_run, char *out, size_t cap);

#endif
