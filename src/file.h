/* file.h - small file-system tools shared by the store and its journal: write
 * everything, publish a file atomically and durably, fsync a directory, read a
 * whole file with a maximum.  Paths are relative to a directory descriptor.
 * Every function returns 0, or -1 with errno. */
#ifndef PH_FILE_H
#define PH_FILE_H

#include <stddef.h>

#include "buf.h"

#define FILE_REL_MAX 640

int file_write_all(int fd, const void *data, size_t n);
/* fsync the directory rel (relative to dfd). */
int file_fsync_dir(int dfd, const char *rel);
/* fsync the directory that holds rel, after a rename or link into it. */
int file_fsync_parent(int dfd, const char *rel);
/* Write data to rel through "rel.tmp": write, fdatasync, rename, fsync the
 * directory.  A crash leaves the old file or the new one, never a mix; a
 * failure (ENOSPC...) leaves the old one and no temporary file. */
int file_write_atomic(int dfd, const char *rel, const void *data, size_t n);
/* Read all of rel into out (initialised here with maximum max; the caller
 * frees it).  EFBIG when the file is larger than max. */
int file_read_at(int dfd, const char *rel, size_t max, struct buf *out);

#endif
