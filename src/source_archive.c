/* source_archive.c - image sources: tar streams through libarchive, and
 * OCI layout directories read on demand. */
#include "source.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#define COPY_CHUNK (1 << 20)

static void source_init(struct source *src, const struct store *st, const char *what)
{
	memset(src, 0, sizeof *src);
	src->st = st;
	src->dirfd = -1;
	src->tarfd = -1;
	snprintf(src->what, sizeof src->what, "%s", what);
	map_init(&src->names);
}

/* Normalise a member name: drop leading "/", "." and empty components, fold
 * ".." into its parent.  Writes into out; -1 if it climbs out of the archive,
 * is empty, or does not fit.  What comes out never holds "..". */
static int clean_name(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	while (*in) {
		const char *slash = strchr(in, '/');
		size_t n = slash ? (size_t)(slash - in) : strlen(in);
		if (n == 2 && in[0] == '.' && in[1] == '.') {
			if (o == 0)
				return -1;
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
		} else if (n > 0 && !(n == 1 && in[0] == '.')) {
			if (o + n + 2 > cap)
				return -1;
			if (o)
				out[o++] = '/';
			memcpy(out + o, in, n);
			o += n;
		}
		in += n + (slash ? 1 : 0);
	}
	if (o == 0)
		return -1;
	out[o] = '\0';
	return 0;
}

static struct source_entry *add_entry(struct source *src, const char *name, char *err, size_t cap)
{
	struct source_entry *e;
	void *old = map_get(&src->names, name);
	if (old) {
		/* a later member of the same name replaces the earlier one */
		e = &src->e[(size_t)old - 1];
		if (e->tmp[0])
			store_tmp_remove(src->st, e->tmp);
		free(e->link);
		e->link = NULL;
		e->tmp[0] = '\0';
		e->off = -1;
		e->size = 0;
		e->synced = 0;
		return e;
	}
	if (src->n == SOURCE_MAX_ENTRIES) {
		log_fail(err, cap, "%s: more than %d files", src->what, SOURCE_MAX_ENTRIES);
		return NULL;
	}
	if (src->n == src->cap) {
		size_t ncap = src->cap ? src->cap * 2 : 64;
		struct source_entry *v = realloc(src->e, ncap * sizeof *v);
		if (!v) {
			log_fail(err, cap, "out of memory");
			return NULL;
		}
		src->e = v;
		src->cap = ncap;
	}
	e = &src->e[src->n];
	memset(e, 0, sizeof *e);
	e->off = -1;
	e->name = strdup(name);
	if (!e->name || map_put(&src->names, name, (void *)(src->n + 1)) < 0) {
		free(e->name);
		log_fail(err, cap, "out of memory");
		return NULL;
	}
	src->n++;
	return e;
}

/* Copy from a reader into a new temporary file, hashing. */
typedef long read_fn(void *ctx, const void **buf, char *err, size_t cap);

static int write_full(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int copy_in(struct source *src, struct source_entry *e, read_fn *rd, void *ctx, char *err,
		   size_t cap)
{
	struct hasher h;
	int fd = store_tmp_create(src->st, e->tmp);
	if (fd < 0) {
		e->tmp[0] = '\0';
		return log_fail(err, cap, "cannot create a temporary file in the store: %s",
			    strerror(errno));
	}
	hasher_init(&h, DIGEST_SHA256);
	for (;;) {
		const void *buf;
		long n = rd(ctx, &buf, err, cap);
		if (n < 0)
			goto bad;
		if (n == 0)
			break;
		if (write_full(fd, buf, (size_t)n) < 0) {
			log_fail(err, cap, "writing into the store: %s", strerror(errno));
			goto bad;
		}
		hasher_update(&h, buf, (size_t)n);
		e->size += (uint64_t)n;
		src->bytes += (uint64_t)n;
	}
	hasher_final(&h, e->digest);
	close(fd);
	return 0;
bad:
	close(fd);
	store_tmp_remove(src->st, e->tmp);
	e->tmp[0] = '\0';
	return -1;
}

/* ---- tar streams ---- */

/* Where the data of the member whose headers start at pos begins: skip pax
 * ('x', 'g') and GNU long-name ('L', 'K') headers to the member's own, whose
 * size must be size.  -1 if the blocks there do not say so. */
static int64_t tar_data_offset(int fd, int64_t pos, uint64_t size)
{
	for (int hops = 0; hops < 8; hops++) {
		unsigned char h[512];
		uint64_t sz = 0;
		if (pread(fd, h, sizeof h, (off_t)pos) != (ssize_t)sizeof h)
			return -1;
		if (memcmp(h + 257, "ustar", 5) != 0)
			return -1;
		if (h[124] & 0x80) {
			/* base-256 size (GNU): big-endian in the last 8 bytes */
			for (int i = 4; i < 12; i++)
				sz = sz << 8 | h[124 + i];
		} else {
			for (int i = 0; i < 12 && h[124 + i] >= '0' && h[124 + i] <= '7'; i++)
				sz = sz << 3 | (uint64_t)(h[124 + i] - '0');
		}
		pos += 512;
		if (h[156] == 'x' || h[156] == 'g' || h[156] == 'L' || h[156] == 'K') {
			pos += (int64_t)((sz + 511) & ~(uint64_t)511);
			continue;
		}
		return sz == size || size == 0 ? pos : -1;
	}
	return -1;
}

struct ar_ctx {
	struct archive *a;
	const char *what;
	const char *name;
	int64_t expect;  /* next offset: sparse members are refused */
};

static long ar_read(void *ctx, const void **buf, char *err, size_t cap)
{
	struct ar_ctx *c = ctx;
	size_t size;
	la_int64_t off;
	int r = archive_read_data_block(c->a, buf, &size, &off);
	if (r == ARCHIVE_EOF)
		return 0;
	if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
		return log_fail(err, cap, "%s: reading %s: %s", c->what, c->name, archive_error_string(c->a));
	if (off != c->expect)
		return log_fail(err, cap, "%s: %s is a sparse file, which an image never holds", c->what,
			    c->name);
	c->expect += (int64_t)size;
	return (long)size;
}

static int scan_archive(struct source *src, struct archive *a, char *err, size_t cap)
{
	struct archive_entry *ent;
	char name[SOURCE_NAME_MAX];
	int r, members = 0;

	for (;;) {
		r = archive_read_next_header(a, &ent);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			const char *why = archive_error_string(a);
			if (members == 0)
				return log_fail(err, cap, "%s is not a tar archive (%s)%s", src->what,
					    why ? why : "unrecognised format",
					    strcmp(src->what, "stdin") == 0
						    ? "; empty stdin? `docker run` needs -i to pass it on"
						    : "");
			return log_fail(err, cap, "%s: %s", src->what, why ? why : "damaged archive");
		}
		members++;
		if (clean_name(archive_entry_pathname(ent) ? archive_entry_pathname(ent) : "", name,
			       sizeof name) < 0) {
			if (archive_entry_filetype(ent) == AE_IFDIR)
				continue; /* "./" and the like */
			return log_fail(err, cap, "%s: unacceptable member name %.200s", src->what,
				    archive_entry_pathname(ent) ? archive_entry_pathname(ent) : "");
		}
		switch (archive_entry_filetype(ent)) {
		case AE_IFREG: {
			struct ar_ctx c = { a, src->what, name, 0 };
			struct source_entry *e = add_entry(src, name, err, cap);
			int64_t off = -1;
			if (!e)
				return -1;
			if (src->tarfd >= 0 && archive_filter_code(a, 0) == ARCHIVE_FILTER_NONE)
				off = tar_data_offset(src->tarfd, archive_read_header_position(a),
						      (uint64_t)archive_entry_size(ent));
			if (off >= 0) {
				/* leave it where it is, unread: seeking past is free */
				e->off = off;
				e->size = (uint64_t)archive_entry_size(ent);
				e->digest[0] = '\0';
				e->synced = 1;
				src->bytes += e->size;
				if (archive_read_data_skip(a) != ARCHIVE_OK)
					return log_fail(err, cap, "%s: reading %s: %s", src->what, name,
							archive_error_string(a));
			} else if (copy_in(src, e, ar_read, &c, err, cap) < 0) {
				return -1;
			}
			break;
		}
		case AE_IFLNK: {
			/* docker save links repeated layers to the first copy */
			const char *t = archive_entry_symlink(ent);
			struct source_entry *e;
			if (!t || strlen(t) >= SOURCE_NAME_MAX)
				return log_fail(err, cap, "%s: bad symlink %s", src->what, name);
			e = add_entry(src, name, err, cap);
			if (!e)
				return -1;
			e->link = strdup(t);
			if (!e->link)
				return log_fail(err, cap, "out of memory");
			break;
		}
		default:
			break; /* directories and anything else carry nothing we need */
		}
	}
	if (members == 0)
		return log_fail(err, cap, "%s is empty or not a tar archive", src->what);
	return 0;
}

static struct archive *new_reader(void)
{
	struct archive *a = archive_read_new();
	if (!a)
		return NULL;
	archive_read_support_format_tar(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_none(a);
	return a;
}

/* Read the tar stream on fd into src (already initialised). */
static int read_tar(struct source *src, int fd, char *err, size_t cap)
{
	struct archive *a = new_reader();
	int r;

	if (!a)
		return log_fail(err, cap, "out of memory");
	if (archive_read_open_fd(a, fd, COPY_CHUNK) != ARCHIVE_OK) {
		r = log_fail(err, cap, "%s is not a tar archive (%s)%s", src->what,
			     archive_error_string(a),
			     strcmp(src->what, "stdin") == 0
				     ? "; empty stdin? `docker run` needs -i to pass it on"
				     : "");
		archive_read_free(a);
		return r;
	}
	r = scan_archive(src, a, err, cap);
	archive_read_free(a);
	return r;
}

int source_open_fd(struct source *src, const struct store *st, int fd, const char *what,
		   char *err, size_t cap)
{
	source_init(src, st, what);
	return read_tar(src, fd, err, cap);
}

int source_open_path(struct source *src, const struct store *st, const char *path, int flags,
		     char *err, size_t cap)
{
	struct stat sb;
	int fd, r;

	source_init(src, st, path);
	if (stat(path, &sb) < 0)
		return log_fail(err, cap, "%s: %s", path, strerror(errno));
	if (S_ISDIR(sb.st_mode)) {
		src->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (src->dirfd < 0)
			return log_fail(err, cap, "%s: %s", path, strerror(errno));
		return 0;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return log_fail(err, cap, "%s: %s", path, strerror(errno));
	/* a regular file can be read again later: leave its members in place */
	if ((flags & SOURCE_IN_PLACE) && S_ISREG(sb.st_mode))
		src->tarfd = fd;
	r = read_tar(src, fd, err, cap);
	if (src->tarfd < 0)
		close(fd);
	return r;
}

int source_entry_open(const struct source *src, const struct source_entry *e, uint64_t *off)
{
	if (e->off >= 0) {
		*off = (uint64_t)e->off;
		return fcntl(src->tarfd, F_DUPFD_CLOEXEC, 0);
	}
	*off = 0;
	return store_tmp_open(src->st, e->tmp);
}

/* ---- directories ---- */

struct fd_ctx {
	int fd;
	char *buf;
	const char *name;
};

static long fd_read(void *ctx, const void **buf, char *err, size_t cap)
{
	struct fd_ctx *c = ctx;
	for (;;) {
		ssize_t n = read(c->fd, c->buf, COPY_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return log_fail(err, cap, "reading %s: %s", c->name, strerror(errno));
		*buf = c->buf;
		return (long)n;
	}
}

/* Open name below dirfd without following any symlink on the way (Linux
 * openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), so a layout directory
 * cannot point the reader elsewhere; kernels before 5.6 get O_NOFOLLOW on
 * the last component, names being already free of "..". */
static int open_beneath(int dirfd, const char *name)
{
#if defined(__x86_64__)
	struct {
		uint64_t flags, mode, resolve;
	} how = { O_RDONLY | O_CLOEXEC, 0, 0x08 /* BENEATH */ | 0x04 /* NO_SYMLINKS */ };
	long fd = syscall(437 /* openat2 */, dirfd, name, &how, sizeof how);
	if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
		return (int)fd;
#endif
	return openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
}

/* Copy name from the directory into the table (names are clean: no "..",
 * not absolute; symlinks are not followed). */
static struct source_entry *dir_load(struct source *src, const char *name, char *err, size_t cap)
{
	struct fd_ctx c = { -1, NULL, name };
	struct source_entry *e;
	struct stat sb;

	c.fd = open_beneath(src->dirfd, name);
	if (c.fd < 0) {
		log_fail(err, cap, "%s has no %s (%s)", src->what, name,
			 errno == ELOOP ? "a symlink on the way, which a layout directory may not use"
					: strerror(errno));
		return NULL;
	}
	if (fstat(c.fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(c.fd);
		log_fail(err, cap, "%s/%s is not a regular file", src->what, name);
		return NULL;
	}
	c.buf = malloc(COPY_CHUNK);
	e = c.buf ? add_entry(src, name, err, cap) : NULL;
	if (!c.buf)
		log_fail(err, cap, "out of memory");
	if (e && copy_in(src, e, fd_read, &c, err, cap) < 0)
		e = NULL;
	free(c.buf);
	close(c.fd);
	return e;
}

/* ---- lookups ---- */

/* What a symlink at cur pointing at target names: target taken relative to
 * cur's directory (docker save writes "../<id>/layer.tar"), normalised.  -1
 * if it climbs out of the archive or does not fit in cap. */
static int resolve_link(const char *cur, const char *target, char *out, size_t cap)
{
	char joined[SOURCE_NAME_MAX * 2 + 2];
	const char *slash = strrchr(cur, '/');

	if (target[0] == '/' || !slash)
		snprintf(joined, sizeof joined, "%s", target);
	else
		snprintf(joined, sizeof joined, "%.*s/%s", (int)(slash - cur), cur, target);
	return clean_name(joined, out, cap);
}

struct source_entry *source_get(struct source *src, const char *name, char *err, size_t cap)
{
	char cur[SOURCE_NAME_MAX], next[SOURCE_NAME_MAX];

	if (clean_name(name, cur, sizeof cur) < 0) {
		log_fail(err, cap, "%s: unacceptable file name %.200s", src->what, name);
		return NULL;
	}
	for (int depth = 0; depth < 8; depth++) {
		void *v = map_get(&src->names, cur);
		struct source_entry *e;
		if (!v) {
			if (src->dirfd >= 0)
				return dir_load(src, cur, err, cap);
			log_fail(err, cap, "%s has no %s", src->what, cur);
			return NULL;
		}
		e = &src->e[(size_t)v - 1];
		if (!e->link)
			return e;
		if (resolve_link(cur, e->link, next, sizeof next) < 0) {
			log_fail(err, cap, "%s: symlink %s leaves the archive", src->what, name);
			return NULL;
		}
		memcpy(cur, next, sizeof cur);
	}
	log_fail(err, cap, "%s: too many symlinks at %s", src->what, name);
	return NULL;
}

int source_claim(struct source_entry *e, const char *claim)
{
	enum digest_alg alg;
	if (e->digest[0])
		return 0;
	if (digest_parse(claim, strlen(claim), &alg) != DIGEST_OK || alg != DIGEST_SHA256)
		return -1;
	snprintf(e->digest, sizeof e->digest, "%s", claim);
	return 1;
}

int source_read(struct source *src, struct source_entry *e, size_t max, char **out,
		size_t *len, char *err, size_t cap)
{
	int fd;
	char *buf;
	size_t got = 0;
	uint64_t off;

	if (e->size > max)
		return log_fail(err, cap, "%s: %s is larger than %zu bytes", src->what, e->name, max);
	fd = source_entry_open(src, e, &off);
	if (fd < 0)
		return log_fail(err, cap, "%s: %s: %s", src->what, e->name, strerror(errno));
	buf = malloc(e->size + 1);
	if (!buf) {
		close(fd);
		return log_fail(err, cap, "out of memory");
	}
	while (got < e->size) {
		ssize_t n = pread(fd, buf + got, e->size - got, (off_t)(off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			close(fd);
			return log_fail(err, cap, "%s: %s: short read", src->what, e->name);
		}
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	if (!e->digest[0] || e->unverified) {
		/* an in-place member, read now: hash it now */
		char d[DIGEST_STR_MAX];
		digest_of(DIGEST_SHA256, buf, got, d);
		if (e->unverified && strcmp(d, e->digest) != 0) {
			free(buf);
			return log_fail(err, cap, "%s: %s is %s, not %s as the archive says", src->what,
					e->name, d, e->digest);
		}
		snprintf(e->digest, sizeof e->digest, "%s", d);
		e->unverified = 0;
	}
	*out = buf;
	*len = got;
	return 0;
}

int source_sync(struct source *src, struct source_entry *e)
{
	int fd, r;
	if (e->synced)
		return 0;
	fd = store_tmp_open(src->st, e->tmp);
	if (fd < 0)
		return -1;
	r = fdatasync(fd);
	close(fd);
	if (r == 0)
		e->synced = 1;
	return r;
}

void source_close(struct source *src)
{
	for (size_t i = 0; i < src->n; i++) {
		if (src->e[i].tmp[0])
			store_tmp_remove(src->st, src->e[i].tmp);
		free(src->e[i].name);
		free(src->e[i].link);
	}
	free(src->e);
	map_free(&src->names);
	if (src->dirfd >= 0)
		close(src->dirfd);
	if (src->tarfd >= 0)
		close(src->tarfd);
	src->tarfd = -1;
	src->e = NULL;
	src->n = src->cap = 0;
	src->dirfd = -1;
}
