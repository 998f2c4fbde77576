/* tmpdir.c - a directory for temporary files (tmpdir.h). */
#include "tmpdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hex.h"

static void tmpdir_clear(struct tmpdir *td, const char *path, const char *prefix)
{
	memset(td, 0, sizeof *td);
	td->fd = -1;
	snprintf(td->path, sizeof td->path, "%s", path);
	snprintf(td->prefix, sizeof td->prefix, "%s", prefix);
}

int tmpdir_init(struct tmpdir *td, int dfd, const char *rel, const char *prefix)
{
	tmpdir_clear(td, rel, prefix);
	if (strlen(prefix) > TMPDIR_PREFIX_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	td->fd = openat(dfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return td->fd < 0 ? -1 : 0;
}

int tmpdir_make(struct tmpdir *td, const char *parent, const char *name, const char *prefix)
{
	int n;
	tmpdir_clear(td, "", prefix);
	n = snprintf(td->path, sizeof td->path, "%s/%sXXXXXX", parent, name);
	if (n < 0 || (size_t)n >= sizeof td->path || strlen(prefix) > TMPDIR_PREFIX_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (!mkdtemp(td->path))
		return -1;
	td->fd = open(td->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (td->fd < 0) {
		int e = errno;
		rmdir(td->path);
		errno = e;
		return -1;
	}
	td->made = 1;
	return 0;
}

void tmpdir_fini(struct tmpdir *td)
{
	if (td->fd < 0)
		return;
	if (td->made) {
		/* flat: only files we made live here */
		int fd = fcntl(td->fd, F_DUPFD_CLOEXEC, 0);
		DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
		struct dirent *de;
		if (!d && fd >= 0)
			close(fd);
		while (d && (de = readdir(d)))
			if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
				unlinkat(td->fd, de->d_name, 0);
		if (d)
			closedir(d);
		rmdir(td->path);
	}
	close(td->fd);
	td->fd = -1;
	td->made = 0;
}

int tmpdir_create(const struct tmpdir *td, char name[TMPDIR_NAME_MAX])
{
	char id[33];
	hex_random128(id); /* no other process guesses the name */
	snprintf(name, TMPDIR_NAME_MAX, "%s%s", td->prefix, id);
	return openat(td->fd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
}

int tmpdir_open(const struct tmpdir *td, const char *name)
{
	return openat(td->fd, name, O_RDONLY | O_CLOEXEC);
}

void tmpdir_remove(const struct tmpdir *td, const char *name)
{
	unlinkat(td->fd, name, 0);
}
