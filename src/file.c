/* file.c - write-all, atomic durable publish, directory fsync, bounded read.
 * Shared by the store and its journal (file.h). */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* The directory part of rel, for fsync after a rename or link into it. */
int file_fsync_parent(int dfd, const char *rel)
{
	char p[FILE_REL_MAX];
	const char *slash = strrchr(rel, '/');
	size_t n = slash ? (size_t)(slash - rel) : 0;
	if (!slash)
		return file_fsync_dir(dfd, ".");
	memcpy(p, rel, n);
	p[n] = '\0';
	return file_fsync_dir(dfd, p);
}

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

int file_write_atomic(int dfd, const char *rel, const void *data, size_t n)
{
	char tmp[FILE_REL_MAX + 8];
	int fd, saved;

	snprintf(tmp, sizeof tmp, "%s.tmp", rel);
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
		ssize_t r;
		if (buf_reserve(out, 65536) < 0 && buf_reserve(out, 1) < 0) {
			close(fd);
			buf_free(out);
			errno = EFBIG;
			return -1;
		}
		r = read(fd, out->p + out->len, out->cap - out->len);
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

