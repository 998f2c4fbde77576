/* source.h - where an image comes from, as a set of named files.
 *
 * A tar (a docker-save tarball in either layout, an OCI layout tar) is
 * scanned once with libarchive, and what is done with a member's bytes
 * depends on whether the tar can be read again:
 *   - a regular file, uncompressed: nothing; the bytes stay where they are
 *     (entry->off) and are hashed when used;
 *   - a regular file, compressed: small members are kept in memory (hashed),
 *     the rest are skipped, and a later pass fetches only what is used;
 *   - a pipe (stdin) or a stream (the docker daemon's, source_open_stream):
 *     every member is copied into a temporary file as it streams past,
 *     hashed on the way, because docker-save puts manifest.json after the
 *     blobs and a pipe cannot seek;
 *     a compressed pipe may not expand more than SOURCE_GZIP_RATIO times.
 * So from a file, only the blobs an image uses are ever written out
 * (source_fetch), each of the size its descriptor declares: a gzip
 * bomb or junk member costs CPU, never disk or tmpfs memory.  A directory
 * (an OCI layout) is read on demand, regular files only.  Nothing here
 * touches the store: scanning runs off the event loop.
 * Entry names are only looked up, never used to build paths, except in a
 * directory source after checking they stay inside.
 *
 * Served in place (SOURCE_SERVE, serve --import-mode in-place|auto): an
 * uncompressed tar file's members, and a layout directory's files, are never
 * copied; the store serves them from the file (store_blob_commit_inplace).
 * source_fetch then hashes every blob an image uses, side by side on every
 * core (hashjobs.h), and checks that the files did not change meanwhile
 * (their identity, inplace.h, the same before the first read and after the
 * last).  The copy path (a pipe, a compressed file, SOURCE_SERVE not given)
 * copies an uncompressed file's members in parallel the same way, hashing
 * what it writes.
 *
 * Temporary files go into the tmpdir the caller lends (tmpdir.h): the
 * store's uploads/ for an import, so a verified file is published by a
 * rename; push's own directory under $TMPDIR. */
#ifndef PH_SOURCE_H
#define PH_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "inplace.h"
#include "map.h"
#include "tarname.h"
#include "tmpdir.h"

#define SOURCE_MAX_ENTRIES 100000
#define SOURCE_NAME_MAX TARNAME_MAX
/* Members of a compressed file kept in memory while scanning (most configs
 * and manifests), so reading them needs no second pass. */
#define SOURCE_CACHE_ONE ((uint64_t)1 << 20)
#define SOURCE_CACHE_MAX ((uint64_t)64 << 20)
/* A compressed pipe is copied as it streams: past SOURCE_GZIP_GRACE bytes it
 * may not have expanded more than SOURCE_GZIP_RATIO times. */
#define SOURCE_GZIP_RATIO 16
#define SOURCE_GZIP_GRACE ((uint64_t)16 << 20)

struct source_entry {
	char *name;
	char *link;                    /* a symlink's target, resolved on lookup */
	char tmp[TMPDIR_NAME_MAX];     /* the bytes, a file in the source's tmpdir, or */
	int64_t off;                   /* -1, or: the bytes are at off in the tar (in place) */
	char digest[DIGEST_STR_MAX];   /* sha256 of the bytes; "" for an in-place
	                                  member not read yet (see source_claim) */
	uint64_t size;
	int synced;                    /* fdatasync'd, ready to commit */
	int unverified;                /* digest is the archive's claim (source_claim) */
	const char *claimed_by;        /* for messages: who claimed it ("its name"), static */
	char *mem;                     /* the bytes, kept from a compressed file, or */
	int deferred;                  /* in a compressed file, not read yet */
	unsigned long member;          /* its ordinal in the tar (a later pass finds it) */
	int wanted;                    /* an image uses it: source_fetch brings it in */
	int fd;                        /* a directory's file read in place (SOURCE_SERVE), or -1 */
	struct inplace_id id;          /* ... and its identity when it was opened */
};

struct source {
	const struct tmpdir *tmp;      /* where copied bytes go (the caller's) */
	char what[512];                /* for messages: a path, "stdin", "docker://x" */
	int dirfd;                     /* directory source, or -1 */
	int tarfd;                     /* an uncompressed tar file read in place, or -1 */
	int in_place;                  /* SOURCE_IN_PLACE: source_fetch leaves tarfd members */
	int zfd;                       /* a compressed tar file, read again by source_fetch, or -1 */
	uint64_t cached;               /* bytes in entries' mem */
	struct source_entry *e;
	size_t n, cap;
	struct map names;              /* name -> (void *)(index + 1) */
	uint64_t bytes;                /* total bytes copied into tmp */
	uint64_t verified;             /* bytes hashed where they are (SOURCE_SERVE) */
	int serve;                     /* SOURCE_SERVE, and the source can be: in place */
	char path[INPLACE_PATH_MAX];   /* its absolute path (SOURCE_SERVE) */
	struct inplace_id id;          /* tarfd's identity when it was opened */
};

/* Open path: a directory, or a tar file (read completely now).  With
 * SOURCE_IN_PLACE an uncompressed tar file is only read and hashed: its
 * members stay where they are (entry->off), for a sink that reads them back
 * (push); otherwise every member is copied.  0, or -1 with a reason in err. */
#define SOURCE_IN_PLACE 1
/* SOURCE_SERVE: an uncompressed tar file or a directory is served in place
 * (see above); anything else is copied.  SOURCE_SERVE_ONLY (with it): fail
 * rather than copy. */
#define SOURCE_SERVE 2
#define SOURCE_SERVE_ONLY 4
int source_open_path(struct source *src, const struct tmpdir *tmp, const char *path, int flags,
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
int source_open_fd(struct source *src, const struct tmpdir *tmp, int fd, const char *what,
		   int flags, char *err, size_t cap);
/* A stream's next bytes: sets *buf and returns how many (valid until the
 * next call), 0 at the end, -1 when the stream broke (the reader knows why). */
typedef long source_read_fn(void *ctx, const void **buf);
/* Read a tar stream from rd completely, copying every member as from a pipe
 * (no thread, no pipe: the bytes rd hands over are written where they are). */
int source_open_stream(struct source *src, const struct tmpdir *tmp, source_read_fn *rd, void *ctx,
		       const char *what, char *err, size_t cap);
/* The file called name (symlinks followed), or NULL with the reason in err
 * and errno ENOENT when there is no such file. */
struct source_entry *source_get(struct source *src, const char *name, char *err,
				      size_t cap);
/* Read a small file (at most max bytes) into a malloc'd buffer. */
int source_read(struct source *src, struct source_entry *e, size_t max, char **out,
		size_t *len, char *err, size_t cap);
/* Bring the bytes of every wanted entry into a synced temporary file
 * (with SOURCE_IN_PLACE, an uncompressed file's members stay where they
 * are), hashing them and checking each against the digest claimed for it.
 * One more pass over a compressed file at most.  Temporary files of
 * entries no image uses are removed.  0, or -1 with a reason. */
int source_fetch(struct source *src, char *err, size_t cap);
/* Where e's bytes are, for a blob served in place: rec's path, identity,
 * offset and length (its digest is the caller's to fill), and the
 * descriptor they are read from (the source's: dup it to keep it).  0, or -1
 * when e is not served in place (a copy, or not SOURCE_SERVE). */
int source_place(const struct source *src, const struct source_entry *e, struct inplace_rec *rec,
		 int *fd);
/* Remove every temporary file still present and free the source. */
void source_close(struct source *src);

/* source_daemon.c: stream `docker save IMAGE` from the Engine API (libcurl
 * driven from the tar reader's reads, on this thread). */
int source_open_daemon(struct source *src, const struct tmpdir *tmp, const char *image, char *err,
		       size_t cap);

#endif
