/* file.h - the one place for file I/O that must not go half-way: write
 * everything, write at an offset, read exactly so much, hash a range, publish
 * a file atomically and durably, fsync a directory, make directories, read a
 * whole file with a maximum.  Used by the store, its journal, serve and push.
 *
 * Paths are relative to a directory descriptor (AT_FDCWD for the working
 * directory) and at most PATH_MAX bytes.  Every function returns 0, or -1
 * with errno; none keeps state, so each is safe on any thread. */
#ifndef PH_FILE_H
#define PH_FILE_H

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "digest.h"

#define FILE_REL_MAX 640

/* Write all of data (retrying short writes and EINTR). */
int file_write_all(int fd, const void *data, size_t n);
/* The same at offset off, leaving the file offset alone.  On failure some of
 * the bytes may be written: the caller truncates if it must. */
int file_pwrite_all(int fd, const void *data, size_t n, uint64_t off);
/* Read exactly n bytes at off into out; ENODATA when the file ends first. */
int file_pread_all(int fd, void *out, size_t n, uint64_t off);
/* Hash len bytes of fd from off with alg; "alg:hex" into out.  ENODATA when
 * the file ends first.  Reads through a buffer of its own (1 MiB). */
int file_hash_range(int fd, uint64_t off, uint64_t len, enum digest_alg alg,
		    char out[DIGEST_STR_MAX]);

/* opendir for the directory rel (relative to dfd); NULL with errno.
 * closedir releases it; dirfd(d) is its descriptor. */
DIR *file_opendir(int dfd, const char *rel);
/* fsync the directory rel (relative to dfd). */
int file_fsync_dir(int dfd, const char *rel);
/* fsync the directory that holds rel, after a rename or link into it. */
int file_fsync_parent(int dfd, const char *rel);
/* mkdir -p rel (mode 0755); existing directories are fine. */
int file_mkdirs(int dfd, const char *rel);
/* Write data to rel through "rel.tmp": write, fdatasync, rename, fsync the
 * directory.  A crash leaves the old file or the new one, never a mix; a
 * failure (ENOSPC...) leaves the old one and no temporary file. */
int file_write_atomic(int dfd, const char *rel, const void *data, size_t n);
/* Read all of rel into out (initialised here with maximum max; the caller
 * frees it).  EFBIG when the file is larger than max. */
int file_read_at(int dfd, const char *rel, size_t max, struct buf *out);

#endif
