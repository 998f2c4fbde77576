/* fileout.c - a tar or a directory written under a temporary name, renamed
 * into place at the end (fileout.h). */

#include "fileout.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "file.h"
#include "log.h"

static int fail_errno(struct fileout *o, char *err, size_t cap, const char *what)
{
	return log_fail(err, cap, "%s %s: %s", what, o->path, strerror(errno));
}

static int fail_archive(struct fileout *o, char *err, size_t cap)
{
	const char *why = archive_error_string(o->a);
	return log_fail(err, cap, "write %s: %s", o->path, why ? why : "libarchive failed");
}

/* Is path a directory with nothing in it? */
static int empty_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int empty = 1;
	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			empty = 0;
	closedir(d);
	return empty;
}

int fileout_open(struct fileout *o, const char *path, int dir, char *err, size_t cap)
{
	size_t n = strlen(path);
	struct stat sb;

	memset(o, 0, sizeof *o);
	o->fd = o->dirfd = -1;
	o->is_dir = dir;
	while (n > 1 && path[n - 1] == '/')
		n--;
	if (n == 0 || n + 16 >= sizeof o->path)
		return log_fail(err, cap, "output path \"%s\" is empty or too long", path);
	memcpy(o->path, path, n);
	o->path[n] = '\0';
	if (!dir && strcmp(o->path, "-") == 0) {
		o->to_stdout = 1;
		o->fd = 1;
	} else if (dir) {
		if (lstat(o->path, &sb) == 0 && !(S_ISDIR(sb.st_mode) && empty_dir(o->path)))
			return log_fail(err, cap, "%s exists (a layout directory is written whole: remove it "
					"or name another)", o->path);
		snprintf(o->tmp, sizeof o->tmp, "%s.tmp-XXXXXX", o->path);
		if (!mkdtemp(o->tmp)) {
			o->tmp[0] = '\0';
			return fail_errno(o, err, cap, "cannot create a directory next to");
		}
		{
			mode_t um = umask(0);
			umask(um);
			chmod(o->tmp, 0755 & ~um); /* mkdtemp makes it 0700 */
		}
		if ((o->dirfd = open(o->tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
			fail_errno(o, err, cap, "open");
			fileout_abort(o);
			return -1;
		}
		return 0;
	} else {
		mode_t um = umask(0);
		umask(um);
		if (lstat(o->path, &sb) == 0 && S_ISDIR(sb.st_mode))
			return log_fail(err, cap, "%s is a directory (a trailing / writes a layout "
					"directory; -o FILE writes a tar)", o->path);
		snprintf(o->tmp, sizeof o->tmp, "%s.tmp-XXXXXX", o->path);
		if ((o->fd = mkostemp(o->tmp, O_CLOEXEC)) < 0) {
			o->tmp[0] = '\0';
			return fail_errno(o, err, cap, "cannot create a file next to");
		}
		fchmod(o->fd, 0644 & ~um);
	}
	o->a = archive_write_new();
	if (!o->a || archive_write_set_format_pax_restricted(o->a) != ARCHIVE_OK ||
	    archive_write_open_fd(o->a, o->fd) != ARCHIVE_OK) {
		if (o->a)
			fail_archive(o, err, cap);
		else
			log_fail(err, cap, "out of memory");
		fileout_abort(o);
		return -1;
	}
	return 0;
}

int fileout_begin(struct fileout *o, const char *name, uint64_t size, char *err, size_t cap)
{
	if (o->in_member)
		return log_fail(err, cap, "write %s: %s begun inside another member", o->path, name);
	if (o->is_dir) {
		const char *slash = strrchr(name, '/');
		if (slash) {
			char parent[FILEOUT_NAME_MAX];
			snprintf(parent, sizeof parent, "%.*s", (int)(slash - name), name);
			if (file_mkdirs(o->dirfd, parent) < 0)
				return fail_errno(o, err, cap, "mkdir in");
		}
		o->fd = openat(o->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (o->fd < 0)
			return log_fail(err, cap, "create %s in %s: %s", name, o->tmp, strerror(errno));
	} else {
		struct archive_entry *e = archive_entry_new();
		int r;
		if (!e)
			return log_fail(err, cap, "out of memory");
		archive_entry_set_pathname(e, name);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)size);
		archive_entry_set_mtime(e, 0, 0);
		archive_entry_set_uid(e, 0);
		archive_entry_set_gid(e, 0);
		r = archive_write_header(o->a, e);
		archive_entry_free(e);
		if (r != ARCHIVE_OK)
			return fail_archive(o, err, cap);
	}
	o->left = size;
	o->in_member = 1;
	return 0;
}

int fileout_write(struct fileout *o, const void *p, size_t n, char *err, size_t cap)
{
	if (!o->in_member || n > o->left)
		return log_fail(err, cap, "write %s: more bytes than the member declared", o->path);
	if (o->is_dir) {
		if (file_write_all(o->fd, p, n) < 0)
			return fail_errno(o, err, cap, "write into");
	} else {
		const char *c = p;
		size_t done = 0;
		while (done < n) {
			la_ssize_t w = archive_write_data(o->a, c + done, n - done);
			if (w <= 0)
				return fail_archive(o, err, cap);
			done += (size_t)w;
		}
	}
	o->left -= n;
	o->bytes += n;
	return 0;
}

int fileout_end(struct fileout *o, char *err, size_t cap)
{
	if (!o->in_member)
		return 0;
	if (o->left)
		return log_fail(err, cap, "write %s: a member ended %llu bytes short", o->path,
				(unsigned long long)o->left);
	o->in_member = 0;
	if (o->is_dir) {
		int r = fdatasync(o->fd);
		close(o->fd);
		o->fd = -1;
		if (r < 0)
			return fail_errno(o, err, cap, "fsync a file in");
	} else if (archive_write_finish_entry(o->a) != ARCHIVE_OK) {
		return fail_archive(o, err, cap);
	}
	return 0;
}

int fileout_add(struct fileout *o, const char *name, const void *p, size_t n, char *err,
		size_t cap)
{
	if (fileout_begin(o, name, n, err, cap) < 0 || fileout_write(o, p, n, err, cap) < 0)
		return -1;
	return fileout_end(o, err, cap);
}

int fileout_commit(struct fileout *o, char *err, size_t cap)
{
	int rc = -1;

	if (o->in_member) {
		log_fail(err, cap, "write %s: unfinished member", o->path);
		goto out;
	}
	if (o->is_dir) {
		if (fsync(o->dirfd) < 0) {
			fail_errno(o, err, cap, "fsync");
			goto out;
		}
		if (rename(o->tmp, o->path) < 0) {
			fail_errno(o, err, cap, "rename into place");
			goto out;
		}
	} else {
		int r = archive_write_close(o->a);
		if (r != ARCHIVE_OK) {
			fail_archive(o, err, cap);
			goto out;
		}
		archive_write_free(o->a);
		o->a = NULL;
		if (o->to_stdout) {
			o->fd = -1;
			return 0;
		}
		if (fsync(o->fd) < 0) {
			fail_errno(o, err, cap, "fsync");
			goto out;
		}
		if (rename(o->tmp, o->path) < 0) {
			fail_errno(o, err, cap, "rename into place");
			goto out;
		}
	}
	o->tmp[0] = '\0'; /* committed: nothing to remove */
	file_fsync_parent(AT_FDCWD, o->path);
	rc = 0;
out:
	fileout_abort(o);
	return rc;
}

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void fileout_abort(struct fileout *o)
{
	if (o->a) {
		/* no trailer after a failure on stdout (libarchive then keeps its
		 * 10 KiB block: the process is about to exit); a temporary file
		 * is removed anyway */
		if (o->to_stdout)
			archive_write_fail(o->a);
		archive_write_free(o->a); /* the fd stays ours */
		o->a = NULL;
	}
	if (o->fd >= 0 && !o->to_stdout)
		close(o->fd);
	o->fd = -1;
	if (o->dirfd >= 0)
		close(o->dirfd);
	o->dirfd = -1;
	if (o->tmp[0]) {
		if (o->is_dir)
			nftw(o->tmp, remove_one, 16, FTW_DEPTH | FTW_PHYS);
		else
			unlink(o->tmp);
		o->tmp[0] = '\0';
	}
	o->in_member = 0;
}
