/* source_archive.c - image sources: tars through libarchive (read in place,
 * fetched on demand, or copied as they stream), and OCI layout directories
 * read on demand. */
#include "source.h"
#include "file.h"
#include "hashjobs.h"
#include "hashside.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#define Q(x) (tarname_quote(x).s)

static void source_init(struct source *src, const struct tmpdir *tmp, const char *what)
{
	memset(src, 0, sizeof *src);
	src->tmp = tmp;
	src->dirfd = -1;
	src->tarfd = -1;
	src->zfd = -1;
	/* every message starts with it: no control bytes from a path */
	snprintf(src->what, sizeof src->what, "%s", Q(what));
	map_init(&src->names);
}

/* Forget what an entry held (a later member of the same name replaces it). */
static void entry_clear(struct source *src, struct source_entry *e)
{
	if (e->tmp[0])
		tmpdir_remove(src->tmp, e->tmp);
	if (e->mem)
		src->cached -= e->size;
	free(e->mem);
	free(e->link);
	if (e->fd >= 0)
		close(e->fd);
	e->fd = -1;
	e->mem = NULL;
	e->link = NULL;
	e->tmp[0] = '\0';
	e->digest[0] = '\0';
	e->off = -1;
	e->size = 0;
	e->synced = 0;
	e->unverified = 0;
	e->claimed_by = NULL;
	e->deferred = 0;
}

static struct source_entry *add_entry(struct source *src, const char *name, char *err, size_t cap)
{
	struct source_entry *e;
	void *old = map_get(&src->names, name);
	if (old) {
		e = &src->e[(size_t)old - 1];
		entry_clear(src, e);
		return e;
	}
	if (src->n == SOURCE_MAX_ENTRIES) {
		log_fail(err, cap, "%s: more than %d files (an import limit)", src->what,
			 SOURCE_MAX_ENTRIES);
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
	e->fd = -1;
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

/* Copy rd's bytes into a new temporary file for e, hashing.  With limit
 * (> 0 when e's size is already known) no more than that is written.  Where
 * there is a second CPU, each block is hashed on a second thread while this
 * one writes it (hashside.h). */
static int copy_in(struct source *src, struct source_entry *e, read_fn *rd, void *ctx,
		   uint64_t limit, char *err, size_t cap)
{
	struct hasher h;
	struct hashside *side;
	uint64_t n_in = 0;
	int fd = tmpdir_create(src->tmp, e->tmp);
	if (fd < 0) {
		e->tmp[0] = '\0';
		return log_fail(err, cap, "cannot create a temporary file in %s: %s", src->tmp->path,
				strerror(errno));
	}
	side = hashside_start(DIGEST_SHA256);
	if (!side)
		hasher_init(&h, DIGEST_SHA256);
	for (;;) {
		const void *buf;
		long n = rd(ctx, &buf, err, cap);
		int w;
		if (n < 0)
			goto bad;
		if (n == 0)
			break;
		if (limit && n_in + (uint64_t)n > limit) {
			log_fail(err, cap, "%s: %s holds more than the %llu bytes declared for it",
				 src->what, Q(e->name), (unsigned long long)limit);
			goto bad;
		}
		if (side)
			hashside_give(side, buf, (size_t)n);
		else
			hasher_update(&h, buf, (size_t)n);
		w = file_write_all(fd, buf, (size_t)n);
		if (side)
			hashside_wait(side); /* before rd changes buf */
		if (w < 0) {
			log_fail(err, cap, "writing into %s: %s", src->tmp->path, strerror(errno));
			goto bad;
		}
		n_in += (uint64_t)n;
		src->bytes += (uint64_t)n;
	}
	if (side)
		hashside_finish(side, e->digest);
	else
		hasher_final(&h, e->digest);
	e->size = n_in;
	close(fd);
	return 0;
bad:
	hashside_free(side);
	close(fd);
	tmpdir_remove(src->tmp, e->tmp);
	e->tmp[0] = '\0';
	return -1;
}

/* The bytes of e hash to got, but the archive claimed something else. */
static int claim_broken(struct source *src, const struct source_entry *e, const char *got,
			const char *claimed, char *err, size_t cap)
{
	return log_fail(err, cap, "%s: %s is %s, but %s says %s", src->what, Q(e->name), got,
			e->claimed_by ? e->claimed_by : "the archive", claimed);
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
		if (file_pread_all(fd, h, sizeof h, (uint64_t)pos) < 0)
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
	struct source *src;
	struct archive *a;
	const char *name;
	int64_t expect;  /* next offset: sparse members are refused */
	int gzip_pipe;   /* a compressed stream: bound its expansion */
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
		return log_fail(err, cap, "%s: reading %s: %s", c->src->what, Q(c->name),
				Q(archive_error_string(c->a) ? archive_error_string(c->a) : "?"));
	if (off != c->expect)
		return log_fail(err, cap, "%s: %s is a sparse file, which an image never holds",
				c->src->what, Q(c->name));
	c->expect += (int64_t)size;
	if (c->gzip_pipe) {
		uint64_t out = (uint64_t)archive_filter_bytes(c->a, 0);
		uint64_t in = (uint64_t)archive_filter_bytes(c->a, -1);
		if (out > SOURCE_GZIP_GRACE && out / SOURCE_GZIP_RATIO > in)
			return log_fail(err, cap,
					"%s: the compressed stream expands more than %d times (an import "
					"limit; a gzip bomb?): import it from a file, or uncompressed",
					c->src->what, SOURCE_GZIP_RATIO);
	}
	return (long)size;
}

/* Read the member at the archive's position into memory, hashing it. */
static int read_mem(struct source *src, struct archive *a, struct source_entry *e, uint64_t size,
		    char *err, size_t cap)
{
	struct ar_ctx c = { src, a, e->name, 0, 0 };
	char *p = malloc(size ? size : 1);
	uint64_t got = 0;
	if (!p)
		return log_fail(err, cap, "out of memory");
	for (;;) {
		const void *buf;
		long n = ar_read(&c, &buf, err, cap);
		if (n < 0) {
			free(p);
			return -1;
		}
		if (n == 0)
			break;
		if (got + (uint64_t)n > size) {
			free(p);
			return log_fail(err, cap, "%s: %s holds more than its header says", src->what,
					Q(e->name));
		}
		memcpy(p + got, buf, (size_t)n);
		got += (uint64_t)n;
	}
	e->mem = p;
	e->size = got;
	src->cached += got;
	digest_of(DIGEST_SHA256, p, (size_t)got, e->digest);
	return 0;
}

/* What a pass does with one regular member. */
enum pass { PASS_SCAN, PASS_FETCH };

static int scan_member(struct source *src, struct archive *a, struct archive_entry *ent,
		       const char *name, unsigned long member, char *err, size_t cap)
{
	struct source_entry *e = add_entry(src, name, err, cap);
	uint64_t size = archive_entry_size_is_set(ent) ? (uint64_t)archive_entry_size(ent) : 0;
	int compressed = archive_filter_code(a, 0) != ARCHIVE_FILTER_NONE;
	int64_t off = -1;

	if (!e)
		return -1;
	e->member = member;
	if (src->tarfd >= 0 && !compressed)
		off = tar_data_offset(src->tarfd, archive_read_header_position(a), size);
	if (off >= 0) {
		/* leave it where it is, unread: seeking past is free */
		e->off = off;
		e->size = size;
		e->synced = 1;
		if (archive_read_data_skip(a) != ARCHIVE_OK)
			return log_fail(err, cap, "%s: reading %s: %s", src->what, Q(name),
					Q(archive_error_string(a) ? archive_error_string(a) : "?"));
		return 0;
	}
	if (src->tarfd >= 0) {
		/* a compressed file: keep what is small, come back for the rest */
		if (size <= SOURCE_CACHE_ONE && src->cached + size <= SOURCE_CACHE_MAX)
			return read_mem(src, a, e, size, err, cap);
		e->deferred = 1;
		e->size = size;
		if (archive_read_data_skip(a) != ARCHIVE_OK)
			return log_fail(err, cap, "%s: reading %s: %s", src->what, Q(name),
					Q(archive_error_string(a) ? archive_error_string(a) : "?"));
		return 0;
	}
	{
		struct ar_ctx c = { src, a, name, 0, compressed };
		return copy_in(src, e, ar_read, &c, 0, err, cap);
	}
}

/* A later pass over a compressed file: copy member if its entry wants it. */
static int fetch_member(struct source *src, struct archive *a, const char *name,
			unsigned long member, const struct source_entry *only, char *err, size_t cap)
{
	void *v = map_get(&src->names, name);
	struct source_entry *e = v ? &src->e[(size_t)v - 1] : NULL;
	char got[DIGEST_STR_MAX];
	struct ar_ctx c = { src, a, name, 0, 0 };
	uint64_t size;

	if (!e || e->member != member || !e->deferred || e->tmp[0] || (only ? e != only : !e->wanted))
		return 0;
	size = e->size;
	snprintf(got, sizeof got, "%s", e->digest);
	if (copy_in(src, e, ar_read, &c, size ? size : 1, err, cap) < 0)
		return -1;
	if (e->size != size)
		return log_fail(err, cap, "%s: %s changed while it was read", src->what, Q(name));
	if (got[0] && strcmp(got, e->digest) != 0)
		return claim_broken(src, e, e->digest, got, err, cap);
	e->deferred = 0;
	e->unverified = 0;
	return 0;
}

static int scan_archive(struct source *src, struct archive *a, enum pass pass,
			const struct source_entry *only, char *err, size_t cap)
{
	struct archive_entry *ent;
	char name[SOURCE_NAME_MAX];
	unsigned long members = 0;
	int r;

	for (;;) {
		const char *path;
		r = archive_read_next_header(a, &ent);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			const char *why = archive_error_string(a);
			if (members == 0)
				return log_fail(err, cap, "%s is not a tar archive (%s)%s", src->what,
					    why ? Q(why) : "unrecognised format",
					    strcmp(src->what, "stdin") == 0
						    ? "; empty stdin? `docker run` needs -i to pass it on"
						    : "");
			return log_fail(err, cap, "%s: %s", src->what, why ? Q(why) : "damaged archive");
		}
		members++;
		path = archive_entry_pathname(ent) ? archive_entry_pathname(ent) : "";
		if (tarname_clean(path, name, sizeof name) < 0) {
			if (archive_entry_filetype(ent) == AE_IFDIR)
				continue; /* "./" and the like */
			return log_fail(err, cap, "%s: unacceptable member name %s", src->what, Q(path));
		}
		switch (archive_entry_filetype(ent)) {
		case AE_IFREG:
			if (pass == PASS_FETCH) {
				if (fetch_member(src, a, name, members, only, err, cap) < 0)
					return -1;
			} else if (scan_member(src, a, ent, name, members, err, cap) < 0) {
				return -1;
			}
			break;
		case AE_IFLNK: {
			/* docker save links repeated layers to the first copy */
			const char *t = archive_entry_symlink(ent);
			struct source_entry *e;
			if (pass == PASS_FETCH)
				break;
			if (!t || strlen(t) >= SOURCE_NAME_MAX)
				return log_fail(err, cap, "%s: bad symlink %s", src->what, Q(name));
			e = add_entry(src, name, err, cap);
			if (!e)
				return -1;
			e->member = members;
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

/* A stream's reader (source_open_stream) as libarchive calls it. */
struct stream_ctx {
	source_read_fn *rd;
	void *ctx;
};

static la_ssize_t stream_read(struct archive *a, void *ctx, const void **buf)
{
	struct stream_ctx *c = ctx;
	long n = c->rd(c->ctx, buf);
	if (n < 0) {
		archive_set_error(a, EIO, "the stream broke off");
		return ARCHIVE_FATAL;
	}
	return (la_ssize_t)n;
}

/* Read the tar on fd (or, with fd < 0, from the stream sc) into src
 * (already initialised). */
static int read_tar_from(struct source *src, int fd, struct stream_ctx *sc, enum pass pass,
			 const struct source_entry *only, char *err, size_t cap)
{
	struct archive *a = new_reader();
	int r;

	if (!a)
		return log_fail(err, cap, "out of memory");
	if ((fd >= 0 ? archive_read_open_fd(a, fd, COPY_CHUNK)
		     : archive_read_open(a, sc, NULL, stream_read, NULL)) != ARCHIVE_OK) {
		const char *why = archive_error_string(a);
		r = log_fail(err, cap, "%s is not a tar archive (%s)%s", src->what,
			     why ? Q(why) : "?",
			     strcmp(src->what, "stdin") == 0
				     ? "; empty stdin? `docker run` needs -i to pass it on"
				     : "");
		archive_read_free(a);
		return r;
	}
	r = scan_archive(src, a, pass, only, err, cap);
	if (pass == PASS_SCAN && src->tarfd >= 0 &&
	    archive_filter_code(a, 0) != ARCHIVE_FILTER_NONE) {
		/* compressed: nothing can be read in place, what is used is
		 * fetched by reading it again */
		src->zfd = src->tarfd;
		src->tarfd = -1;
	}
	archive_read_free(a);
	return r;
}

static int read_tar(struct source *src, int fd, enum pass pass, const struct source_entry *only,
		    char *err, size_t cap)
{
	return read_tar_from(src, fd, NULL, pass, only, err, cap);
}

/* Scan fd (a file or a pipe): a regular file is read again later, a pipe
 * is copied now.  fd is the source's from now on. */
static int open_tar(struct source *src, int fd, int flags, char *err, size_t cap)
{
	struct stat sb;
	int r;

	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && lseek(fd, 0, SEEK_CUR) == 0) {
		src->tarfd = fd;
		src->in_place = flags & SOURCE_IN_PLACE;
		/* identity first: every byte read from here on is checked
		 * against it once the last one is (source_fetch) */
		if (inplace_id_of(fd, &src->id) < 0) {
			close(fd);
			src->tarfd = -1;
			return log_fail(err, cap, "%s: %s", src->what, strerror(errno));
		}
		src->serve = (flags & SOURCE_SERVE) && src->path[0];
		r = read_tar(src, fd, PASS_SCAN, NULL, err, cap);
		if (r == 0 && src->zfd >= 0) {
			src->serve = 0; /* compressed: copied */
			if (flags & SOURCE_SERVE_ONLY)
				return log_fail(err, cap, "%s is compressed: it cannot be served in place "
						"(--import-mode copy or auto copies it)", src->what);
		}
		return r;
	}
	if (flags & SOURCE_SERVE_ONLY) {
		close(fd);
		return log_fail(err, cap, "%s is not a regular file: it cannot be served in place "
				"(--import-mode copy or auto copies it)", src->what);
	}
	/* a pipe: larger reads, fewer wake-ups (best effort; the system's
	 * maximum for an unprivileged process is 1 MiB by default) */
	if (S_ISFIFO(sb.st_mode))
		(void)fcntl(fd, F_SETPIPE_SZ, COPY_CHUNK);
	r = read_tar(src, fd, PASS_SCAN, NULL, err, cap);
	close(fd);
	return r;
}

int source_open_fd(struct source *src, const struct tmpdir *tmp, int fd, const char *what,
		   int flags, char *err, size_t cap)
{
	/* a regular file on stdin (< file) is read like a named one; it has no
	 * path to serve it from after a restart, so it is copied */
	int own;
	source_init(src, tmp, what);
	if (flags & SOURCE_SERVE_ONLY)
		return log_fail(err, cap, "%s cannot be served in place (no file to serve it from); "
				"--import-mode copy or auto copies it", src->what);
	own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (own < 0)
		return log_fail(err, cap, "%s: %s", src->what, strerror(errno));
	return open_tar(src, own, flags & ~(SOURCE_SERVE | SOURCE_SERVE_ONLY), err, cap);
}

int source_open_stream(struct source *src, const struct tmpdir *tmp, source_read_fn *rd, void *ctx,
		       const char *what, char *err, size_t cap)
{
	struct stream_ctx sc = { rd, ctx };
	source_init(src, tmp, what);
	return read_tar_from(src, -1, &sc, PASS_SCAN, NULL, err, cap);
}

int source_open_path(struct source *src, const struct tmpdir *tmp, const char *path, int flags,
		     char *err, size_t cap)
{
	struct stat sb;
	int fd;

	source_init(src, tmp, path);
	if (stat(path, &sb) < 0)
		return log_fail(err, cap, "%s: %s", src->what, strerror(errno));
	/* served in place: found again by its absolute path after a restart */
	if ((flags & SOURCE_SERVE) && !realpath(path, src->path))
		return log_fail(err, cap, "%s: %s", src->what, strerror(errno));
	if (S_ISDIR(sb.st_mode)) {
		src->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (src->dirfd < 0)
			return log_fail(err, cap, "%s: %s", src->what, strerror(errno));
		src->serve = (flags & SOURCE_SERVE) != 0;
		return 0;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return log_fail(err, cap, "%s: %s", src->what, strerror(errno));
	return open_tar(src, fd, flags, err, cap);
}

int source_entry_open(const struct source *src, const struct source_entry *e, uint64_t *off)
{
	if (!e->tmp[0] && e->fd >= 0) {
		*off = 0;
		return fcntl(e->fd, F_DUPFD_CLOEXEC, 0);
	}
	if (!e->tmp[0] && e->off >= 0) {
		*off = (uint64_t)e->off;
		return fcntl(src->tarfd, F_DUPFD_CLOEXEC, 0);
	}
	*off = 0;
	if (!e->tmp[0]) {
		errno = ENOENT;
		return -1;
	}
	return tmpdir_open(src->tmp, e->tmp);
}

/* ---- fetching what is used ---- */

struct fd_ctx {
	int fd;
	char *buf;
	const char *name;
	uint64_t off, left;   /* pread from off, left bytes (in place); or read() */
	int pos;
};

static long fd_read(void *ctx, const void **buf, char *err, size_t cap)
{
	struct fd_ctx *c = ctx;
	for (;;) {
		size_t want = COPY_CHUNK;
		ssize_t n;
		if (c->pos && c->left < want)
			want = (size_t)c->left;
		if (c->pos && want == 0)
			return 0;
		n = c->pos ? pread(c->fd, c->buf, want, (off_t)c->off) : read(c->fd, c->buf, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return log_fail(err, cap, "reading %s: %s", Q(c->name), strerror(errno));
		if (c->pos && n == 0)
			return log_fail(err, cap, "reading %s: the file is shorter than it was", Q(c->name));
		if (c->pos) {
			c->off += (uint64_t)n;
			c->left -= (uint64_t)n;
		}
		*buf = c->buf;
		return (long)n;
	}
}

/* Write what e holds (memory or in place) into a temporary file, checking
 * the digest claimed for it. */
static int fetch_local(struct source *src, struct source_entry *e, char *err, size_t cap)
{
	char want[DIGEST_STR_MAX];
	uint64_t size = e->size;

	snprintf(want, sizeof want, "%s", e->digest);
	if (e->mem) {
		int fd = tmpdir_create(src->tmp, e->tmp);
		if (fd < 0 || file_write_all(fd, e->mem, (size_t)e->size) < 0) {
			int saved = errno;
			if (fd >= 0) {
				close(fd);
				tmpdir_remove(src->tmp, e->tmp);
			}
			e->tmp[0] = '\0';
			return log_fail(err, cap, "writing into %s: %s", src->tmp->path, strerror(saved));
		}
		close(fd);
		src->bytes += e->size;
		src->cached -= e->size;
		free(e->mem);
		e->mem = NULL;
	} else {
		struct fd_ctx c = { src->tarfd, malloc(COPY_CHUNK), e->name, (uint64_t)e->off, e->size, 1 };
		int r;
		if (!c.buf)
			return log_fail(err, cap, "out of memory");
		r = copy_in(src, e, fd_read, &c, size ? size : 1, err, cap);
		free(c.buf);
		if (r < 0)
			return -1;
		if (want[0] && strcmp(want, e->digest) != 0)
			return claim_broken(src, e, e->digest, want, err, cap);
		e->unverified = 0;
	}
	e->synced = 0;
	return 0;
}

/* One pass over a compressed file for the deferred entries wanted (or
 * just only). */
static int fetch_pass(struct source *src, const struct source_entry *only, char *err, size_t cap)
{
	int r;
	if (src->zfd < 0 || lseek(src->zfd, 0, SEEK_SET) != 0)
		return log_fail(err, cap, "%s: cannot read it again", src->what);
	r = read_tar(src, src->zfd, PASS_FETCH, only, err, cap);
	if (r == 0) {
		for (size_t i = 0; i < src->n; i++) {
			const struct source_entry *e = &src->e[i];
			if (e->deferred && (only ? e == only : e->wanted))
				return log_fail(err, cap, "%s: %s is gone from the archive", src->what,
						Q(e->name));
		}
	}
	return r;
}

static int sync_tmp(struct source *src, struct source_entry *e)
{
	int fd, r;
	if (e->synced)
		return 0;
	fd = tmpdir_open(src->tmp, e->tmp);
	if (fd < 0)
		return -1;
	r = fdatasync(fd);
	close(fd);
	if (r == 0)
		e->synced = 1;
	return r;
}

/* Is e's bytes' range in a file of the source (a tar member where it is, a
 * directory's file held open)?  The descriptor, or -1. */
static int entry_fd(const struct source *src, const struct source_entry *e)
{
	if (e->tmp[0] || e->mem || e->deferred)
		return -1;
	if (e->fd >= 0)
		return e->fd;
	return e->off >= 0 ? src->tarfd : -1;
}

/* The files the source read may not have changed since they were opened:
 * then every byte hashed is a byte of the file recorded. */
static int check_unchanged(struct source *src, char *err, size_t cap)
{
	if (src->tarfd >= 0 && !inplace_id_same(src->tarfd, &src->id))
		return log_fail(err, cap, "%s changed while it was read (size, mtime or ctime): "
				"it must not change while it is served", src->what);
	for (size_t i = 0; i < src->n; i++) {
		const struct source_entry *e = &src->e[i];
		if (e->fd >= 0 && !inplace_id_same(e->fd, &e->id))
			return log_fail(err, cap, "%s: %s changed while it was read: it must not "
					"change while it is served", src->what, Q(e->name));
	}
	return 0;
}

/* Hash (SOURCE_SERVE) or copy and hash (else) every wanted entry whose bytes
 * are in one of the source's files, on every core; check each against the
 * digest claimed for it. */
static int fetch_parallel(struct source *src, char *err, size_t cap)
{
	struct hashjob *jobs = calloc(src->n + 1, sizeof *jobs);
	size_t *which = calloc(src->n + 1, sizeof *which);
	size_t n = 0;
	int rc = -1, copy = !src->serve;

	if (!jobs || !which) {
		log_fail(err, cap, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < src->n; i++) {
		struct source_entry *e = &src->e[i];
		int fd = entry_fd(src, e);
		if (!e->wanted || fd < 0 || e->link)
			continue;
		if (!copy && e->digest[0] && !e->unverified)
			continue; /* read and hashed already (a config) */
		jobs[n] = (struct hashjob){ .fd = fd, .off = e->fd >= 0 ? 0 : (uint64_t)e->off,
					    .len = e->size, .alg = DIGEST_SHA256, .wfd = -1 };
		if (copy) {
			jobs[n].wfd = tmpdir_create(src->tmp, e->tmp);
			if (jobs[n].wfd < 0) {
				e->tmp[0] = '\0';
				log_fail(err, cap, "cannot create a temporary file in %s: %s", src->tmp->path,
					 strerror(errno));
				goto out;
			}
		}
		which[n++] = i;
	}
	if (hashjobs_run(jobs, n, 0) < 0) {
		for (size_t k = 0; k < n; k++)
			if (jobs[k].err) {
				const struct source_entry *e = &src->e[which[k]];
				log_fail(err, cap, "%s: reading %s: %s", src->what, Q(e->name),
					 jobs[k].err == ENODATA ? "the file is shorter than it was"
								: strerror(jobs[k].err));
				break;
			}
		goto out;
	}
	for (size_t k = 0; k < n; k++) {
		struct source_entry *e = &src->e[which[k]];
		if (e->digest[0] && strcmp(e->digest, jobs[k].out) != 0) {
			claim_broken(src, e, jobs[k].out, e->digest, err, cap);
			goto out;
		}
		snprintf(e->digest, sizeof e->digest, "%s", jobs[k].out);
		e->unverified = 0;
		if (copy) {
			e->synced = 0;
			src->bytes += e->size;
		} else {
			src->verified += e->size;
		}
	}
	rc = check_unchanged(src, err, cap);
out:
	for (size_t k = 0; k < n; k++) {
		if (jobs[k].wfd < 0)
			continue;
		close(jobs[k].wfd);
		if (rc < 0) {
			struct source_entry *e = &src->e[which[k]];
			tmpdir_remove(src->tmp, e->tmp);
			e->tmp[0] = '\0';
		}
	}
	free(jobs);
	free(which);
	return rc;
}

int source_fetch(struct source *src, char *err, size_t cap)
{
	int deferred = 0;
	/* push (SOURCE_IN_PLACE) hashes each blob as it sends it */
	if (!src->in_place && fetch_parallel(src, err, cap) < 0)
		return -1;
	for (size_t i = 0; i < src->n; i++) {
		struct source_entry *e = &src->e[i];
		if (!e->wanted || e->tmp[0])
			continue;
		if (e->deferred)
			deferred = 1;
		else if (e->mem || (e->off >= 0 && !src->in_place && !src->serve))
			if (fetch_local(src, e, err, cap) < 0)
				return -1;
	}
	if (deferred && fetch_pass(src, NULL, err, cap) < 0)
		return -1;
	for (size_t i = 0; i < src->n; i++) {
		struct source_entry *e = &src->e[i];
		if (!e->wanted && e->tmp[0] && !e->link) {
			/* copied from a pipe but not used: give the space back now */
			tmpdir_remove(src->tmp, e->tmp);
			e->tmp[0] = '\0';
		}
		if (e->wanted && e->tmp[0] && sync_tmp(src, e) < 0)
			return log_fail(err, cap, "sync %s: %s", Q(e->name), strerror(errno));
	}
	return 0;
}

/* ---- directories ---- */

/* Open name below dirfd without following any symlink on the way, so a
 * layout directory cannot point the reader elsewhere: openat2 with
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS where the kernel has it (5.6+), else
 * a walk one component at a time with O_NOFOLLOW (kernels without openat2,
 * seccomp profiles that refuse it, qemu user mode).  Names are already free
 * of ".." and not absolute.  PACKHELPER_NO_OPENAT2=1 forces the walk (tests).
 * O_NONBLOCK: a FIFO put where a file should be must not block the open. */
static int open_walk(int dirfd, const char *name)
{
	char comp[NAME_MAX + 1];
	int cur = dirfd;
	const char *p = name;

	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		int next;
		if (n == 0 || n > NAME_MAX) {
			if (cur != dirfd)
				close(cur);
			errno = n ? ENAMETOOLONG : ENOENT;
			return -1;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		/* O_NOFOLLOW makes a symlink ELOOP, on a directory as on a file */
		next = openat(cur, comp, slash ? O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
					      : O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (next < 0 && errno == ENOTDIR && slash) {
			/* with O_DIRECTORY a symlink is ENOTDIR: say ELOOP, as openat2 does */
			struct stat sb;
			if (fstatat(cur, comp, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(sb.st_mode))
				errno = ELOOP;
			else
				errno = ENOTDIR;
		}
		if (cur != dirfd) {
			int e = errno;
			close(cur);
			errno = e;
		}
		if (next < 0 || !slash)
			return next;
		cur = next;
		p = slash + 1;
	}
}

static int open_beneath(int dirfd, const char *name)
{
#ifdef SYS_openat2
	static int no_openat2 = -1;
	if (no_openat2 < 0) {
		const char *v = getenv("PACKHELPER_NO_OPENAT2");
		no_openat2 = v && v[0] == '1';
	}
	if (!no_openat2) {
		struct {
			uint64_t flags, mode, resolve;
		} how = { O_RDONLY | O_CLOEXEC | O_NONBLOCK, 0,
			  0x08 /* RESOLVE_BENEATH */ | 0x04 /* RESOLVE_NO_SYMLINKS */ };
		long fd = syscall(SYS_openat2, dirfd, name, &how, sizeof how);
		if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
			return (int)fd;
	}
#endif
	return open_walk(dirfd, name);
}

/* Copy name from the directory into the table (names are clean: no "..",
 * not absolute; symlinks are not followed; regular files only). */
static struct source_entry *dir_load(struct source *src, const char *name, char *err, size_t cap)
{
	struct fd_ctx c = { -1, NULL, name, 0, 0, 0 };
	struct source_entry *e;
	struct stat sb;

	c.fd = open_beneath(src->dirfd, name);
	if (c.fd < 0) {
		int saved = errno;
		log_fail(err, cap, "%s has no %s (%s)", src->what, Q(name),
			 errno == ELOOP ? "a symlink on the way, which a layout directory may not use"
					: strerror(errno));
		errno = saved;
		return NULL;
	}
	if (fstat(c.fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(c.fd);
		log_fail(err, cap, "%s/%s is not a regular file", src->what, Q(name));
		errno = EINVAL;
		return NULL;
	}
	/* a regular file never blocks; clear the flag for plain reads */
	fcntl(c.fd, F_SETFL, 0);
	if (src->serve) {
		/* served where it is: hashed when read (source_read) or by
		 * source_fetch, against the identity taken now */
		e = add_entry(src, name, err, cap);
		if (!e || inplace_id_of(c.fd, &e->id) < 0) {
			if (e)
				log_fail(err, cap, "%s/%s: %s", src->what, Q(name), strerror(errno));
			close(c.fd);
			errno = EIO;
			return NULL;
		}
		e->fd = c.fd;
		e->off = 0;
		e->size = e->id.size;
		e->synced = 1;
		return e;
	}
	c.buf = malloc(COPY_CHUNK);
	e = c.buf ? add_entry(src, name, err, cap) : NULL;
	if (!c.buf)
		log_fail(err, cap, "out of memory");
	if (e && copy_in(src, e, fd_read, &c, 0, err, cap) < 0)
		e = NULL;
	free(c.buf);
	close(c.fd);
	if (!e)
		errno = EIO;
	return e;
}

/* ---- lookups ---- */

struct source_entry *source_get(struct source *src, const char *name, char *err, size_t cap)
{
	char cur[SOURCE_NAME_MAX], next[SOURCE_NAME_MAX];

	if (tarname_clean(name, cur, sizeof cur) < 0) {
		log_fail(err, cap, "%s: unacceptable file name %s", src->what, Q(name));
		errno = EINVAL;
		return NULL;
	}
	for (int depth = 0; depth < 8; depth++) {
		void *v = map_get(&src->names, cur);
		struct source_entry *e;
		if (!v) {
			if (src->dirfd >= 0)
				return dir_load(src, cur, err, cap);
			log_fail(err, cap, "%s has no %s", src->what, Q(cur));
			errno = ENOENT;
			return NULL;
		}
		e = &src->e[(size_t)v - 1];
		if (!e->link)
			return e;
		if (tarname_resolve(cur, e->link, next, sizeof next) < 0) {
			log_fail(err, cap, "%s: symlink %s leaves the archive", src->what, Q(name));
			errno = EINVAL;
			return NULL;
		}
		memcpy(cur, next, sizeof cur);
	}
	log_fail(err, cap, "%s: too many symlinks at %s", src->what, Q(name));
	errno = ELOOP;
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
		return log_fail(err, cap, "%s: %s is larger than %zu bytes", src->what, Q(e->name), max);
	if (e->mem) {
		buf = malloc(e->size + 1);
		if (!buf)
			return log_fail(err, cap, "out of memory");
		memcpy(buf, e->mem, (size_t)e->size);
		got = (size_t)e->size;
		goto have;
	}
	if (e->deferred && !e->tmp[0] && fetch_pass(src, e, err, cap) < 0)
		return -1;
	fd = source_entry_open(src, e, &off);
	if (fd < 0)
		return log_fail(err, cap, "%s: %s: %s", src->what, Q(e->name), strerror(errno));
	buf = malloc(e->size + 1);
	if (!buf) {
		close(fd);
		return log_fail(err, cap, "out of memory");
	}
	if (file_pread_all(fd, buf, e->size, (uint64_t)off) < 0) {
		free(buf);
		close(fd);
		return log_fail(err, cap, "%s: %s: short read", src->what, Q(e->name));
	}
	got = (size_t)e->size;
	close(fd);
have:
	buf[got] = '\0';
	if (!e->digest[0] || e->unverified) {
		/* an in-place member, read now: hash it now */
		char d[DIGEST_STR_MAX];
		digest_of(DIGEST_SHA256, buf, got, d);
		if (e->unverified && strcmp(d, e->digest) != 0) {
			free(buf);
			return claim_broken(src, e, d, e->digest, err, cap);
		}
		snprintf(e->digest, sizeof e->digest, "%s", d);
		e->unverified = 0;
	}
	*out = buf;
	*len = got;
	return 0;
}

void source_close(struct source *src)
{
	for (size_t i = 0; i < src->n; i++) {
		if (src->e[i].tmp[0])
			tmpdir_remove(src->tmp, src->e[i].tmp);
		free(src->e[i].name);
		free(src->e[i].link);
		free(src->e[i].mem);
		if (src->e[i].fd >= 0)
			close(src->e[i].fd);
	}
	free(src->e);
	map_free(&src->names);
	if (src->dirfd >= 0)
		close(src->dirfd);
	if (src->tarfd >= 0)
		close(src->tarfd);
	if (src->zfd >= 0)
		close(src->zfd);
	src->tarfd = src->zfd = -1;
	src->e = NULL;
	src->n = src->cap = 0;
	src->dirfd = -1;
}

int source_place(const struct source *src, const struct source_entry *e, struct inplace_rec *rec,
		 int *fd)
{
	if (!src->serve || entry_fd(src, e) < 0 || !e->digest[0] || e->unverified)
		return -1;
	if (e->fd >= 0) {
		if ((size_t)snprintf(rec->path, sizeof rec->path, "%s/%s", src->path, e->name) >=
		    sizeof rec->path)
			return -1;
		rec->id = e->id;
		rec->off = 0;
		*fd = e->fd;
	} else {
		snprintf(rec->path, sizeof rec->path, "%s", src->path);
		rec->id = src->id;
		rec->off = (uint64_t)e->off;
		*fd = src->tarfd;
	}
	rec->len = e->size;
	return 0;
}
