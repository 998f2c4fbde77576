/* tmpdir.h - a directory for temporary files: where an image source copies
 * what it cannot read in place, and where push writes compressed layers.
 *
 * A tmpdir is a directory descriptor and a prefix for the names of the files
 * made in it ("<prefix><32 hex>", random, created O_EXCL).  It is either
 * lent (tmpdir_init: a directory that outlives it, such as the store's
 * uploads/, so that a finished file can be renamed into place on the same
 * filesystem), or made (tmpdir_make: a fresh mkdtemp directory that
 * tmpdir_fini removes whole, files and all).
 *
 * After init, a tmpdir is only read: create, open and remove are safe from
 * any thread (they only call openat and unlinkat on the descriptor). */
#ifndef PH_TMPDIR_H
#define PH_TMPDIR_H

#include <stddef.h>

#define TMPDIR_PREFIX_MAX 15
/* A file's name: the prefix and 32 hex digits. */
#define TMPDIR_NAME_MAX (TMPDIR_PREFIX_MAX + 33)
#define TMPDIR_PATH_MAX 4096

struct tmpdir {
	int fd;                             /* the directory, or -1 */
	int made;                           /* tmpdir_make made it: fini removes it */
	char prefix[TMPDIR_PREFIX_MAX + 1]; /* of every file's name */
	char path[TMPDIR_PATH_MAX];         /* for messages; the directory made */
};

/* Use the existing directory rel (relative to dfd), which stays when
 * tmpdir_fini closes it.  prefix is at most TMPDIR_PREFIX_MAX chars.
 * 0, or -1 with errno. */
int tmpdir_init(struct tmpdir *td, int dfd, const char *rel, const char *prefix);
/* Make a fresh directory "<parent>/<name>XXXXXX" (mkdtemp, mode 0700).
 * 0, or -1 with errno (ENAMETOOLONG when the path would not fit). */
int tmpdir_make(struct tmpdir *td, const char *parent, const char *name, const char *prefix);
/* Close the directory; one that tmpdir_make made is removed with every file
 * in it (it holds no subdirectories).  Idempotent. */
void tmpdir_fini(struct tmpdir *td);

/* Create a new empty file: its name into name, and a read-write descriptor,
 * or -1 with errno. */
int tmpdir_create(const struct tmpdir *td, char name[TMPDIR_NAME_MAX]);
/* Open the file called name for reading; -1 with errno. */
int tmpdir_open(const struct tmpdir *td, const char *name);
/* Remove the file called name; a name that is gone is fine. */
void tmpdir_remove(const struct tmpdir *td, const char *name);

#endif
