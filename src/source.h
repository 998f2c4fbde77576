/* source.h - where an image comes from, as a set of named files.
 *
 * A tar stream (a docker-save tarball in either layout, an OCI layout tar;
 * from a file, stdin, or the docker daemon) is read once with libarchive:
 * every regular file is copied into a store temporary file as it streams
 * past, hashed on the way, because docker-save puts manifest.json after the
 * blobs and a pipe cannot seek.  A directory (an OCI layout) is read on
 * demand instead.  Nothing here touches the store's shared state: scanning
 * runs off the event loop.  Entry names are only looked up, never used to
 * build paths, except in a directory source after checking they stay inside. */
#ifndef PH_SOURCE_H
#define PH_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "map.h"
#include "store.h"

#define SOURCE_MAX_ENTRIES 100000
#define SOURCE_NAME_MAX 1024

struct source_entry {
	char *name;
	char *link;                    /* a symlink's target, resolved on lookup */
	char tmp[STORE_TMP_REL_MAX];   /* the bytes, in the store's uploads area, or */
	int64_t off;                   /* -1, or: the bytes are at off in the tar (in place) */
	char digest[DIGEST_STR_MAX];   /* sha256 of the bytes; "" for an in-place
	                                  member not read yet (see source_claim) */
	uint64_t size;
	int synced;                    /* fdatasync'd, ready to commit */
	int unverified;                /* digest is the archive's claim (source_claim) */
};

struct source {
	const struct store *st;
	char what[512];                /* for messages: a path, "stdin", "docker://x" */
	int dirfd;                     /* directory source, or -1 */
	int tarfd;                     /* an uncompressed tar file read in place, or -1 */
	struct source_entry *e;
	size_t n, cap;
	struct map names;              /* name -> (void *)(index + 1) */
	uint64_t bytes;                /* total bytes copied */
};

/* Open path: a directory, or a tar file (read completely now).  With
 * SOURCE_IN_PLACE an uncompressed tar file is only read and hashed: its
 * members stay where they are (entry->off), for a sink that reads them back
 * (push); otherwise every member is copied.  0, or -1 with a reason in err. */
#define SOURCE_IN_PLACE 1
int source_open_path(struct source *src, const struct store *st, const char *path, int flags,
		     char *err, size_t cap);
/* An in-place member is not hashed while the tar is scanned (that would
 * read it twice): a consumer takes the digest the archive claims for it and
 * verifies the bytes when it reads them (push hashes each blob before
 * sending it).  Returns 1 if e was unhashed and now carries claim, 0 if e
 * has its own digest (compare it), -1 if claim is no digest. */
int source_claim(struct source_entry *e, const char *claim);
/* Open the entry's bytes: sets *off to where they start.  -1 with errno. */
int source_entry_open(const struct source *src, const struct source_entry *e, uint64_t *off);
/* Read a tar stream from fd completely (fd is not closed). */
int source_open_fd(struct source *src, const struct store *st, int fd, const char *what,
		   char *err, size_t cap);
/* The file called name (symlinks followed), or NULL with the reason in err. */
struct source_entry *source_get(struct source *src, const char *name, char *err,
				      size_t cap);
/* Read a small file (at most max bytes) into a malloc'd buffer. */
int source_read(struct source *src, struct source_entry *e, size_t max, char **out,
		size_t *len, char *err, size_t cap);
/* Sync the entry's temporary file so it can be committed. */
int source_sync(struct source *src, struct source_entry *e);
/* Remove every temporary file still present and free the source. */
void source_close(struct source *src);

#endif
