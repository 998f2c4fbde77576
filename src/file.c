/* file.c - write-all, write/read at an offset, hash a range, atomic durable
 * publish, directory fsync, mkdir -p, bounded read (file.h). */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HASH_CHUNK ((size_t)1 << 20)

int file_write_all(int fd, const void *data, size_t n)
{
	const char *p = data;
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int file_pwrite_all(int fd, const void *data, size_t n, uint64_t off)
{
	const char *p = data;
	while (n) {
		ssize_t w = pwrite(fd, p, n, (off_t)off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		off += (uint64_t)w;
		n -= (size_t)w;
	}
	return 0;
}

int file_pread_all(int fd, void *out, size_t n, uint64_t off)
{
	char *p = out;
	while (n) {
		ssize_t r = pread(fd, p, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0) {
			errno = ENODATA;
			return -1;
		}
		p += r;
		off += (uint64_t)r;
		n -= (size_t)r;
	}
	return 0;
}

int file_hash_range(int fd, uint64_t off, uint64_t len, enum digest_alg alg,
		    char out[DIGEST_STR_MAX])
{
	char *chunk = malloc(len < HASH_CHUNK ? (size_t)len + 1 : HASH_CHUNK);
	struct hasher h;
	if (!chunk)
		return -1;
	hasher_init(&h, alg);
	while (len) {
		size_t want = len < HASH_CHUNK ? (size_t)len : HASH_CHUNK;
		if (file_pread_all(fd, chunk, want, off) < 0) {
			int e = errno;
			free(chunk);
			errno = e;
			return -1;
		}
		hasher_update(&h, chunk, want);
		off += want;
		len -= want;
	}
	free(chunk);
	hasher_final(&h, out);
	return 0;
}

DIR *file_opendir(int dfd, const char *rel)
{
	int fd = openat(dfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (!d) {
		int e = errno;
		close(fd);
		errno = e;
	}
	return d;
}

int file_fsync_dir(int dfd, const char *rel)
{
	int fd = openat(dfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;
	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

int file_fsync_parent(int dfd, const char *rel)
{
	char p[PATH_MAX];
	const char *slash = strrchr(rel, '/');
	size_t n = slash ? (size_t)(slash - rel) : 0;
	if (!slash)
		return file_fsync_dir(dfd, ".");
	if (n == 0)
		return file_fsync_dir(dfd, "/");
	if (n >= sizeof p) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(p, rel, n);
	p[n] = '\0';
	return file_fsync_dir(dfd, p);
}

int file_mkdirs(int dfd, const char *rel)
{
	char p[PATH_MAX];
	size_t n = strlen(rel);
	if (n >= sizeof p) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(p, rel, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		p[i] = '\0';
		if (mkdirat(dfd, p, 0755) < 0 && errno != EEXIST)
			return -1;
		if (i < n)
			p[i] = '/';
	}
	return 0;
}

int file_write_atomic(int dfd, const char *rel, const void *data, size_t n)
{
	char tmp[PATH_MAX];
	int fd, saved;

	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", rel) >= sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (file_write_all(fd, data, n) < 0 || fdatasync(fd) < 0)
		goto fail;
	close(fd);
	if (renameat(dfd, tmp, dfd, rel) < 0) {
		saved = errno;
		unlinkat(dfd, tmp, 0);
		errno = saved;
		return -1;
	}
	return file_fsync_parent(dfd, rel);
fail:
	saved = errno;
	close(fd);
	unlinkat(dfd, tmp, 0);
	errno = saved;
	return -1;
}

int file_read_at(int dfd, const char *rel, size_t max, struct buf *out)
{
	int fd = openat(dfd, rel, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) < 0 || (size_t)sb.st_size > max) {
		close(fd);
		errno = EFBIG;
		return -1;
	}
	buf_init(out, max);
	for (;;) {
		char probe;
		ssize_t r;
		/* a file of exactly max bytes is read whole: the read that must
		 * find its end goes into probe, not past the buffer's maximum */
		int full = buf_reserve(out, 65536) < 0 && buf_reserve(out, 1) < 0;
		r = full ? read(fd, &probe, 1) : read(fd, out->p + out->len, out->cap - out->len);
		if (full && r > 0) {
			close(fd);
			buf_free(out);
			errno = EFBIG;
			return -1;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			close(fd);
			buf_free(out);
			errno = e;
			return -1;
		}
		if (r == 0)
			break;
		out->len += (size_t)r;
	}
	close(fd);
	return 0;
}
