/* inplace.h - a blob served in place: its bytes are a range of a source file
 * (a docker-save or OCI layout tarball, a layout directory's blob file) that
 * the store does not own.  What the store records for one (struct
 * inplace_rec: the source's path and identity, the range, the digest), the
 * record's text on disk (format, parse), and the identity of an open file.
 *
 * Identity is what fstat says of the file: device, inode, size, mtime and
 * ctime in nanoseconds.  A source whose identity differs from the one
 * recorded when its blobs were verified is never read for them again (a file
 * rewritten in place with the same size and both times unchanged is the one
 * case this cannot see; README, "Files: the store").
 *
 * The record on disk is one JSON line and a second line with the sha256 of
 * the first, so a torn or edited record is refused, never half read:
 *   {"v":1,"digest":D,"path":P,"dev":N,"ino":N,"fsize":N,"mtime_ns":N,
 *    "ctime_ns":N,"off":N,"len":N}
 *   sha256:<hex of the line above, newline included>
 * No state; every function is safe on any thread. */
#ifndef PH_INPLACE_H
#define PH_INPLACE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "digest.h"

#define INPLACE_PATH_MAX 4096     /* an absolute path, NUL included */
#define INPLACE_REC_MAX 16384     /* a record's text */

struct inplace_id {
	uint64_t dev, ino, size;
	int64_t mtime_ns, ctime_ns;
};

struct inplace_rec {
	char digest[DIGEST_STR_MAX];
	char path[INPLACE_PATH_MAX];
	struct inplace_id id;
	uint64_t off, len;           /* the blob is [off, off + len) of the file */
};

/* The identity of the open file fd.  0, or -1 with errno. */
int inplace_id_of(int fd, struct inplace_id *id);
int inplace_id_eq(const struct inplace_id *a, const struct inplace_id *b);
/* Is the open file fd still the version id describes?  1, or 0 (also when
 * fstat fails). */
int inplace_id_same(int fd, const struct inplace_id *id);
/* "dev:ino:size:mtime:ctime", a key for one version of one file. */
void inplace_id_key(const struct inplace_id *id, char out[128]);

/* Append rec's text to out (initialised by the caller).  0, or -1 when the
 * buffer's limit is hit. */
int inplace_format(const struct inplace_rec *rec, struct buf *out);
/* Parse a record's text: 0, or -1 with a reason in why.  The checksum must
 * hold, the digest must parse, the path must be absolute, and the range must
 * lie inside the recorded file size. */
int inplace_parse(struct inplace_rec *rec, const char *text, size_t len, char *why, size_t cap);

#endif
