/* sink_file.c - what both file sinks share: open, names, commit, and a
 * blob's bytes streamed in and verified (sink_file.h). */

#include "sink_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file.h"
#include "log.h"
#include "source.h"
#include "tmpdir.h"

#define COPY_BUF ((size_t)1 << 20)

int sink_file_is_digest(const char *ref)
{
	return strchr(ref, ':') != NULL; /* a tag never has one */
}

void sink_file_member(const char *d, char *out, size_t cap)
{
	const char *colon = strchr(d, ':');
	snprintf(out, cap, "blobs/%.*s/%s", colon ? (int)(colon - d) : 0, d, colon ? colon + 1 : d);
}

static const struct sink_ops sink_file_ops;

int sink_file_open(struct sink_file *f, enum sink_file_format fmt, const char *path, int dir,
		   const struct tmpdir *scratch, char *err, size_t cap)
{
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";

	memset(f, 0, sizeof *f);
	f->format = fmt;
	f->scratch = scratch;
	map_init(&f->written);
	map_init(&f->mindex);
	f->sink.ops = &sink_file_ops;
	f->sink.impl = f;
	snprintf(f->sink.what, sizeof f->sink.what, "%s", path);
	if (fmt == SINK_FILE_DOCKER && dir)
		return log_fail(err, cap, "a docker-save output is a tar, not a directory (%s)", path);
	if (fileout_open(&f->out, path, dir, err, cap) < 0) {
		map_free(&f->written);
		map_free(&f->mindex);
		return -1;
	}
	if (fmt == SINK_FILE_OCI &&
	    fileout_add(&f->out, "oci-layout", layout, sizeof layout - 1, err, cap) < 0) {
		sink_file_close(f);
		return -1;
	}
	return 0;
}

void sink_file_name(struct sink_file *f, const char *full_repo, const char *ref_repo)
{
	snprintf(f->full_repo, sizeof f->full_repo, "%s", full_repo);
	snprintf(f->ref_repo, sizeof f->ref_repo, "%s", ref_repo);
}

int sink_file_commit(struct sink_file *f, char *err, size_t cap)
{
	int r = f->format == SINK_FILE_DOCKER ? sink_dockersave_finish(f, err, cap)
					      : sink_layout_finish(f, err, cap);
	if (r < 0 || fileout_commit(&f->out, err, cap) < 0)
		return -1;
	f->committed = 1;
	return 0;
}

void sink_file_close(struct sink_file *f)
{
	fileout_abort(&f->out);
	map_free(&f->written);
	map_free(&f->mindex);
	free(f->m);
	free(f->names);
	for (size_t i = 0; i < f->nitems; i++)
		free(f->items[i].layers);
	free(f->items);
	f->m = NULL;
	f->names = NULL;
	f->items = NULL;
	f->nm = f->nnames = f->nitems = 0;
}

/* ---- names ---- */

/* The name the image being put gets for tag, or -1 when it has none. */
static long find_name(const struct sink_file *f, const char *tag)
{
	char full[SINK_FILE_NAME_MAX + 8];
	snprintf(full, sizeof full, "%s:%s", f->full_repo, tag);
	for (size_t i = 0; i < f->nnames; i++)
		if (strcmp(f->names[i].full, full) == 0)
			return (long)i;
	return -1;
}

/* A digest is held when its manifest (OCI) or image (docker) is in the
 * file, a tag when the image being put has that name there. */
static int has_manifest(void *impl, const char *ref, char digest[DIGEST_STR_MAX], char *err,
			size_t cap)
{
	struct sink_file *f = impl;
	long i;
	(void)err;
	(void)cap;
	digest[0] = '\0';
	if (sink_file_is_digest(ref)) {
		if (!map_get(&f->mindex, ref))
			return 0;
		snprintf(digest, DIGEST_STR_MAX, "%s", ref);
		return 1;
	}
	if ((i = find_name(f, ref)) < 0)
		return 0;
	snprintf(digest, DIGEST_STR_MAX, "%s",
		 f->format == SINK_FILE_DOCKER ? f->items[f->names[i].manifest].manifest
					       : f->m[f->names[i].manifest].digest);
	return 1;
}

/* One blob reader for the call, whichever format takes the blobs. */
static int put_blobs(void *impl, struct image *img, const unsigned char *want,
		     const struct sink_from *from, struct sink_stats *st, char *err, size_t cap)
{
	struct sink_file *f = impl;
	void *rd = NULL;
	int rc;

	if (from->reader && !(rd = from->reader->open(from->reader->ctx)))
		return log_fail(err, cap, "cannot start a blob reader");
	rc = f->format == SINK_FILE_DOCKER
		     ? sink_dockersave_put_blobs(f, img, want, from, rd, st, err, cap)
		     : sink_layout_put_blobs(f, img, want, from, rd, st, err, cap);
	if (rd)
		from->reader->close(rd);
	return rc;
}

static int put_manifest(void *impl, const struct image_manifest *m, const char *ref,
			struct sink_stats *st, char *err, size_t cap)
{
	struct sink_file *f = impl;
	return f->format == SINK_FILE_DOCKER ? sink_dockersave_put_manifest(f, m, ref, st, err, cap)
					     : sink_layout_put_manifest(f, m, ref, st, err, cap);
}

static const struct sink_ops sink_file_ops = { has_manifest, put_blobs, put_manifest };

int sink_file_add_name(struct sink_file *f, size_t k, const char *tag, char *err, size_t cap)
{
	long i = find_name(f, tag);
	struct sink_file_name *n;
	if (i < 0) {
		if (f->nnames == SINK_FILE_MAX_MANIFESTS)
			return log_fail(err, cap, "more than %d names in one file", SINK_FILE_MAX_MANIFESTS);
		n = realloc(f->names, (f->nnames + 1) * sizeof *n);
		if (!n)
			return log_fail(err, cap, "out of memory");
		f->names = n;
		i = (long)f->nnames++;
	}
	n = &f->names[i];
	snprintf(n->full, sizeof n->full, "%s:%.*s", f->full_repo, REF_TAG_MAX, tag);
	snprintf(n->ref, sizeof n->ref, "%s:%.*s", f->ref_repo, REF_TAG_MAX, tag);
	n->manifest = k;
	return 0;
}

/* ---- a blob's bytes ---- */

int sink_file_blob_open(struct sink_file_blob *r, const struct sink_from *from, void *rd,
			const struct image_blob *b, char *err, size_t cap)
{
	enum digest_alg alg = DIGEST_SHA256;

	memset(r, 0, sizeof *r);
	r->from = from;
	r->b = b;
	r->fd = -1;
	digest_parse(b->digest, strlen(b->digest), &alg);
	hasher_init(&r->hs, alg);
	if (b->off >= 0) {
		if (!from->src || from->src->tarfd < 0)
			return log_fail(err, cap, "blob %s: no source file to read it from", b->digest);
		r->fd = fcntl(from->src->tarfd, F_DUPFD_CLOEXEC, 0);
		r->off = (uint64_t)b->off;
	} else if (b->tmp[0]) {
		if (!from->scratch)
			return log_fail(err, cap, "blob %s: no scratch directory", b->digest);
		r->fd = tmpdir_open(from->scratch, b->tmp);
	} else if (rd) {
		r->rd = rd;
		from->reader->start(rd, b);
		return 0;
	} else {
		return log_fail(err, cap, "blob %s: its bytes are nowhere", b->digest);
	}
	if (r->fd < 0)
		return log_fail(err, cap, "blob %s: open: %s", b->digest, strerror(errno));
	return 0;
}

long sink_file_blob_read(struct sink_file_blob *r, void *buf, size_t n, char *err, size_t cap)
{
	const struct image_blob *b = r->b;
	long got;

	if (r->pos == b->size) {
		char d[DIGEST_STR_MAX];
		if (r->rd)
			return r->from->reader->verify(r->rd, err, cap) < 0 ? -1 : 0;
		hasher_final(&r->hs, d);
		if (strcmp(d, b->digest) != 0)
			return log_fail(err, cap, "blob %s from %s: its bytes are %s", b->digest,
					r->from->src ? r->from->src->what : "the source", d);
		return 0;
	}
	if ((uint64_t)n > b->size - r->pos)
		n = (size_t)(b->size - r->pos);
	if (r->rd) {
		got = r->from->reader->read_at(r->rd, buf, n, r->pos);
		if (got <= 0) {
			r->from->reader->failed(r->rd, err, cap);
			if (!err[0])
				log_fail(err, cap, "blob %s: the source failed", b->digest);
			return -1;
		}
	} else {
		if (file_pread_all(r->fd, buf, n, r->off + r->pos) < 0)
			return log_fail(err, cap, "blob %s: read: %s", b->digest,
					errno == ENODATA ? "the file ends early" : strerror(errno));
		got = (long)n;
		hasher_update(&r->hs, buf, n);
	}
	r->pos += (uint64_t)got;
	return got;
}

void sink_file_blob_close(struct sink_file_blob *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
}

int sink_file_put_blob(struct sink_file *f, const struct sink_from *from, void *rd,
		       const struct image_blob *b, const char *name, struct sink_stats *st,
		       char *err, size_t cap)
{
	struct sink_file_blob r;
	char *buf = NULL;
	long got;
	int rc = -1;

	if (map_get(&f->written, b->digest)) {
		st->blobs_found++;
		return 0;
	}
	if (sink_file_blob_open(&r, from, rd, b, err, cap) < 0)
		goto out;
	if (!(buf = malloc(COPY_BUF))) {
		log_fail(err, cap, "out of memory");
		goto out;
	}
	if (fileout_begin(&f->out, name, b->size, err, cap) < 0)
		goto out;
	while ((got = sink_file_blob_read(&r, buf, COPY_BUF, err, cap)) > 0)
		if (fileout_write(&f->out, buf, (size_t)got, err, cap) < 0)
			goto out;
	if (got < 0 || fileout_end(&f->out, err, cap) < 0)
		goto out;
	if (map_put(&f->written, b->digest, (void *)1) < 0) {
		log_fail(err, cap, "out of memory");
		goto out;
	}
	st->blobs_sent++;
	st->bytes_sent += b->size;
	rc = 0;
out:
	sink_file_blob_close(&r);
	free(buf);
	return rc;
}
