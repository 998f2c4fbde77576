/* fileout.h - the file an export (or a copy to a file) writes: a tar, or a
 * directory, built under a temporary name and renamed into place at the
 * end, so a failure leaves no partial output (skalibs' rule).
 *
 *   tar to a file   PATH.tmp-XXXXXX next to PATH, fsync'd, renamed over PATH
 *   tar to stdout   written as it goes ("-"); a failure leaves the stream
 *                   short, and the exit status says so
 *   directory       DIR.tmp-XXXXXX next to DIR, renamed to DIR, which must
 *                   not exist or be an empty directory
 *
 * Members are written one at a time, in order, each with its size given
 * first (a tar header needs it): fileout_begin, fileout_write..., then
 * fileout_end checks the count.  The tar is ustar (pax headers only where a
 * name needs them) with mtime 0, uid/gid 0, mode 0644 and no owner names,
 * so the same members in the same order give the same bytes.
 *
 * Ownership: struct fileout owns its descriptors and libarchive handle; one
 * thread.  Names are relative ("blobs/sha256/<hex>"), at most
 * FILEOUT_NAME_MAX bytes, checked by the caller (they are digests and fixed
 * names). */
#ifndef PH_FILEOUT_H
#define PH_FILEOUT_H

#include <stddef.h>
#include <stdint.h>

#define FILEOUT_NAME_MAX 256
#define FILEOUT_PATH_MAX 4096

struct archive;

struct fileout {
	int is_dir;
	int to_stdout;
	int fd;                          /* the tar file (or 1), or the member being written */
	int dirfd;                       /* directory output: the temporary directory */
	struct archive *a;               /* tar output */
	char path[FILEOUT_PATH_MAX];     /* where it goes */
	char tmp[FILEOUT_PATH_MAX + 16]; /* where it is written ("" for stdout) */
	uint64_t left;                   /* bytes of the current member still due */
	int in_member;
	uint64_t bytes;                  /* member bytes written, for the summary */
};

/* Start the output at path ("-": the tar on stdout); dir: a layout
 * directory instead of a tar.  0, or -1 with err naming path. */
int fileout_open(struct fileout *o, const char *path, int dir, char *err, size_t cap);
/* A member called name of exactly size bytes. */
int fileout_begin(struct fileout *o, const char *name, uint64_t size, char *err, size_t cap);
int fileout_write(struct fileout *o, const void *p, size_t n, char *err, size_t cap);
int fileout_end(struct fileout *o, char *err, size_t cap);
/* begin + write + end for bytes in memory. */
int fileout_add(struct fileout *o, const char *name, const void *p, size_t n, char *err,
		size_t cap);
/* Finish: close the tar, fsync, rename into place.  0, or -1 with err (and
 * the temporary output removed). */
int fileout_commit(struct fileout *o, char *err, size_t cap);
/* Remove what was written (unless committed); idempotent. */
void fileout_abort(struct fileout *o);

#endif
