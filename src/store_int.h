/* store_int.h - what the store's own files share; nothing outside them
 * includes it (store.h is the API, and draws the layout on disk).
 *
 *   store.c          open and close; the index in memory - repositories,
 *                    blobs, manifests, tags - and its operations
 *   store_layout.c   the layout on disk: paths, each repository's
 *                    index.json, the journal of changes and its compaction,
 *                    start-up loading and recovery
 *   store_upload.c   upload sessions (bounds, claims, expiry) and the
 *                    publishing of imports' temporary files, all under
 *                    uploads/
 *   store_gc.c       garbage collection in steps: untagged manifests,
 *                    mark, sweep, upload and blob leftovers
 *   store_source.c   blobs served in place: their records, the source files
 *                    held open and their identity, detaching, hidden manifests
 *
 * Everything here runs on the store's one thread (the event loop), except
 * what imports do in st->imports, which touches no shared state. */
#ifndef PH_STORE_INT_H
#define PH_STORE_INT_H

#include <stdint.h>

#include "file.h"
#include "inplace.h"
#include "journal.h"
#include "manifest.h"
#include "map.h"
#include "store.h"
#include "tmpdir.h"

#define STORE_BLOB_REL_MAX 160 /* "blobs/sha512/" + 128 hex */
#define STORE_REL_MAX FILE_REL_MAX
#define STORE_INDEX_MAX ((size_t)256 << 20)

/* A repository's hold on a blob: its link in the layout, and since when (the
 * store's clock when the repository got it, or a client last asked for it;
 * STORE_SINCE_OPEN for links found on disk at open).  gc keeps an
 * unreferenced link until it is older than the grace period. */
#define STORE_SINCE_OPEN INT64_MIN
struct store_link {
	struct store_blob *b; /* not owned */
	int64_t since;
};

struct store_repo {
	char *name;
	int dirty;            /* journaled changes index.json does not show yet */
	struct map tags;      /* tag -> struct store_manifest * (not owned) */
	struct map manifests; /* digest -> struct store_manifest * (owned) */
	struct map blobs;     /* digest -> struct store_link * (owned) */
};

/* A source file that blobs are served from in place: one version of one file
 * (path and identity), open while attached.  Owned by st->sources; freed
 * when its last blob goes. */
struct store_source {
	char *key;            /* path, newline, identity (inplace_id_key): st->sources' key */
	char *path;
	struct inplace_id id; /* what the blobs were verified against */
	int fd;               /* O_RDONLY, while attached; else -1 */
	int attached;         /* fd's identity matched id when last checked */
	unsigned nblobs;      /* blobs whose record names it */
};

struct store_gc;    /* store_gc.c: a collection under way */
struct store_trash; /* store_trash.c: the thread that removes freed blob files */

struct store {
	int rootfd;
	char *root;
	struct map repos;   /* name -> struct store_repo * */
	struct map blobs;   /* digest -> struct store_blob * */
	struct map uploads; /* id -> struct store_upload * */
	struct map sources; /* key -> struct store_source * (store_source.c) */
	unsigned long detached; /* blobs in place whose source is detached */
	int hidden_stale;   /* a blob was attached or converted: recompute hidden */
	struct map owners;  /* owner -> unsigned * : that owner's open sessions */
	struct tmpdir imports; /* uploads/, lent to imports' sources (store_tmpdir) */
	struct store_limits lim;
	struct journal *j;  /* tag and manifest changes since index.json */
	int appended;       /* journal records since the last store_tick */
	int64_t last_append; /* the tick's clock when it first saw them */
	int read_only;      /* never change what is on disk */
	int for_gc;         /* STORE_FOR_GC: leftovers are gc's to find */
	int loaded;         /* store_open finished: memory is the whole truth */
	int lockfd;         /* ROOT/lock, flock'ed while the store is open, or -1 */
	int64_t now;        /* the caller's clock (store_clock), for links */
	int64_t t0;         /* the first clock the caller gave: links found at
	                     * open count from here (STORE_SINCE_OPEN) */
	int has_clock;      /* t0 is set */
	struct store_gc *gc; /* the collection under way, or NULL */
	struct store_trash *trash; /* started by the first file freed online */
	struct store_gc_stats gc_last; /* of the last collection */
};

/* ---- store.c: the index ---- */

/* A repository in memory only (loading); NULL with ENOMEM. */
struct store_repo *store_repo_new(struct store *st, const char *name);
void store_repo_free(struct store_repo *r);
/* The link of repo r to digest, or NULL. */
struct store_link *store_link_get(const struct store_repo *r, const char *digest);
/* r holds b (digest) from since on, unless it did already: the link in
 * memory only (the caller made the one on disk).  0, or -1 with ENOMEM. */
int store_link_add(struct store_repo *r, struct store_blob *b, const char *digest,
		   int64_t since);
/* Drop r's link to digest; the bytes go when no repository holds them
 * (*freed set to 1 then, when freed is not NULL): at once, or with defer
 * renamed into uploads/ for the trash thread to remove (store_trash: what
 * serve's loop calls defers; a STORE_FOR_GC store removes at once).
 * -1 with errno. */
int store_repo_unlink(struct store *st, struct store_repo *r, const char *digest, int *freed,
		      int defer);
/* A blob in memory that no repository holds yet; NULL with ENOMEM. */
struct store_blob *store_blob_add(struct store *st, const char *digest, uint64_t size);
/* Move the finished, verified temporary file tmp_rel (relative to tmp_dfd,
 * on the store's filesystem; open as fd, size bytes; fd -1 when the caller
 * synced it) to its content address and link it into r.  Consumes tmp_rel. */
int store_blob_commit(struct store *st, struct store_repo *r, int tmp_dfd, const char *tmp_rel,
		      int fd, const char *digest, uint64_t size);
/* A manifest entry holding a copy of bytes; NULL with ENOMEM. */
struct store_manifest *store_entry_new(const char *digest, const struct manifest *m,
				       const char *bytes, size_t len);
void store_entry_free(struct store_manifest *e);
/* Point tag at e, in memory. */
int store_tag_set(struct store_repo *r, const char *tag, struct store_manifest *e);
/* Drop manifest e of r and every tag on it, in memory. */
void store_manifest_forget(struct store_repo *r, struct store_manifest *e);
/* For qsort over an array of strings. */
int store_cmp_str(const void *a, const void *b);

/* ---- store_layout.c: the layout on disk ---- */

/* "blobs/<alg>/<hex>" */
void store_blob_rel(char out[STORE_BLOB_REL_MAX], const char *digest);
/* "repos/<name>/_layout/<tail>" */
void store_layout_rel(char out[STORE_REL_MAX], const char *repo, const char *tail);
/* "repos/<name>/_layout/blobs/<alg>/<hex>" */
void store_link_rel(char out[STORE_REL_MAX], const char *repo, const char *digest);
/* The repository, created on disk and in memory if new; NULL with errno. */
struct store_repo *store_repo_open(struct store *st, const char *name);
/* Start-up, once st->rootfd is open: make the directories, clear uploads/,
 * load blobs and repositories, replay the journal and compact it.  -1 (logged)
 * when the store cannot be loaded. */
int store_layout_load(struct store *st);
/* Close: compact the journal (if the store was loaded) and stop it. */
void store_layout_close(struct store *st);
/* Journal one change (op "put", "del" or "untag") before memory changes.
 * 0, or -1 with errno: then nothing changed. */
int store_journal_put(struct store *st, const char *op, const char *repo, const char *digest,
		      const char *mt, const char *tag, const char *const *tags, size_t ntags);
/* Start a background compaction when the journal is large, or (idle) when
 * writes have paused. */
void store_compact_if_due(struct store *st, int idle);

/* "inplace/<alg>/<hex>": the record of a blob served in place */
void store_record_rel(char out[STORE_BLOB_REL_MAX], const char *digest);
/* "repos/<name>/_layout/inplace/<alg>/<hex>" */
void store_record_link_rel(char out[STORE_REL_MAX], const char *repo, const char *digest);
/* b's shared file (blob or record) and repo's link to it. */
void store_file_rel(char out[STORE_REL_MAX], const struct store_blob *b, const char *digest);
void store_hold_rel(char out[STORE_REL_MAX], const char *repo, const struct store_blob *b,
		    const char *digest);

/* ---- store_source.c ---- */

/* Load the record at rel (ROOT/inplace/..., or a repository's link to one),
 * which must be digest's, as a blob held by no repository yet (start-up):
 * its source is opened and checked.  NULL with errno (EINVAL: not a valid
 * record, logged). */
struct store_blob *store_record_load(struct store *st, const char *rel, const char *digest);
/* Is src still the file its blobs were verified against (fstat of the
 * descriptor held)?  0, or -1 with errno ESTALE: src is detached now (logged,
 * its blobs and the manifests using them hidden). */
int store_source_check(struct store *st, struct store_source *src);
/* Blob b (in place) no longer needs its source: the source is freed with
 * its last blob. */
void store_source_release(struct store *st, struct store_blob *b);
/* A blob file was committed for b, held in place until now: every
 * repository's link becomes a link to the file (already at ROOT/blobs),
 * and the record goes.  0, or -1 with errno. */
int store_record_to_file(struct store *st, struct store_blob *b, const char *digest);
/* Recompute every manifest's hidden flag (store.h). */
void store_refresh_hidden(struct store *st);
/* The same for r's manifests only: a manifest's flag depends on its own
 * repository's links and manifests alone. */
void store_repo_refresh_hidden(const struct store *st, struct store_repo *r);
/* Check every attached source (store_tick, once a second): a change is
 * noticed, and its manifests hidden, without waiting for a blob request. */
void store_sources_tick(struct store *st);
/* Close every source (store_close). */
void store_sources_free(struct store *st);

/* ---- store_upload.c ---- */

/* Free every session (close): their files stay for start-up to clear. */
void store_uploads_free(struct store *st);

/* ---- store_gc.c ---- */

/* A manifest went into r (the write barrier): a collection marking or
 * sweeping r counts what it references as referenced. */
void store_gc_note(struct store *st, struct store_repo *r, const char *digest,
		   const struct manifest *m);
/* Free a collection under way (close). */
void store_gc_free(struct store *st);

/* ---- store_trash.c ---- */

/* Move the blob file rel (its last name) to uploads/gc-<id>, where a thread
 * removes it: freeing a file's blocks is the slow part of a removal (a
 * millisecond or more on a busy ext4), and it stays off the event loop; the
 * blob's name is free at once for a new commit.  -1 with errno when it could
 * not be moved (the caller removes it itself); start-up clears what a stop
 * leaves. */
int store_trash(struct store *st, const char *rel);
/* Stop the thread (close) once the queue is done, or after a second (the
 * unlink in hand finished): what is still queued then stays in uploads/ for
 * start-up, so a stop never waits long for a long queue. */
void store_trash_stop(struct store *st);

#endif
