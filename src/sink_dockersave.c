/* sink_dockersave.c - a docker-save tarball as a sink: per image manifest
 * its config and uncompressed layers, manifest.json last (sink_file.h). */
#include "sink_file.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "buf.h"
#include "file.h"
#include "imageconfig.h"
#include "json.h"
#include "log.h"
#include "manifest.h"
#include "tmpdir.h"

#define CONFIG_MAX ((size_t)16 << 20)
#define MANIFEST_JSON_MAX ((size_t)64 << 20)
#define IO_BUF ((size_t)1 << 20)

static const struct image_blob *blob_of(const struct image *img, const char *digest)
{
	for (size_t i = 0; i < img->nblobs; i++)
		if (strcmp(img->blobs[i].digest, digest) == 0)
			return &img->blobs[i];
	return NULL;
}

/* The whole config, verified, into a malloc'd buffer. */
static int read_config(const struct sink_from *from, void *rd, const struct image_blob *b,
		       char **out, char *err, size_t cap)
{
	struct sink_file_blob r;
	char *p;
	size_t len = 0;
	long got;

	if (b->size > CONFIG_MAX)
		return log_fail(err, cap, "config %s is over %zu bytes", b->digest, CONFIG_MAX);
	if (!(p = malloc(b->size + 1)))
		return log_fail(err, cap, "out of memory");
	if (sink_file_blob_open(&r, from, rd, b, err, cap) < 0) {
		free(p);
		return -1;
	}
	while ((got = sink_file_blob_read(&r, p + len, b->size + 1 - len, err, cap)) > 0)
		len += (size_t)got;
	sink_file_blob_close(&r);
	if (got < 0) {
		free(p);
		return -1;
	}
	*out = p;
	return 0;
}

/* Inflate gzip layer b into a scratch file; its uncompressed digest must be
 * diff.  The file's name into tmp and its size into *size. */
static int inflate_layer(struct sink_file *f, const struct sink_from *from, void *rd,
			 const struct image_blob *b, const char *diff, char tmp[TMPDIR_NAME_MAX],
			 uint64_t *size, char *err, size_t cap)
{
	struct sink_file_blob r;
	unsigned char *in = malloc(IO_BUF), *outb = malloc(IO_BUF);
	struct hasher hs;
	z_stream z;
	int fd = -1, zr = Z_OK, rc = -1, zinit = 0;
	long got;
	char d[DIGEST_STR_MAX];

	*size = 0;
	tmp[0] = '\0';
	memset(&z, 0, sizeof z);
	memset(&r, 0, sizeof r);
	r.fd = -1;
	hasher_init(&hs, DIGEST_SHA256);
	if (!in || !outb) {
		log_fail(err, cap, "out of memory");
		goto out;
	}
	if (!f->scratch || (fd = tmpdir_create(f->scratch, tmp)) < 0) {
		log_fail(err, cap, "cannot create a scratch file to inflate layer %s: %s", b->digest,
			 strerror(errno));
		goto out;
	}
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
		log_fail(err, cap, "zlib: cannot start");
		goto out;
	}
	zinit = 1;
	if (sink_file_blob_open(&r, from, rd, b, err, cap) < 0)
		goto out;
	while ((got = sink_file_blob_read(&r, in, IO_BUF, err, cap)) > 0) {
		z.next_in = in;
		z.avail_in = (uInt)got;
		while (z.avail_in) {
			if (zr == Z_STREAM_END) {
				/* another gzip member follows */
				if (inflateReset(&z) != Z_OK)
					break;
			}
			z.next_out = outb;
			z.avail_out = (uInt)IO_BUF;
			zr = inflate(&z, Z_NO_FLUSH);
			if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
				log_fail(err, cap, "layer %s: not gzip data (%s)", b->digest,
					 z.msg ? z.msg : "zlib error");
				goto out;
			}
			{
				size_t n = IO_BUF - z.avail_out;
				hasher_update(&hs, outb, n);
				if (n && file_write_all(fd, outb, n) < 0) {
					log_fail(err, cap, "write a scratch file: %s", strerror(errno));
					goto out;
				}
				*size += n;
				if (zr == Z_BUF_ERROR && !n)
					break;
			}
		}
	}
	if (got < 0)
		goto out;
	if (zr != Z_STREAM_END) {
		log_fail(err, cap, "layer %s: the gzip stream ends early", b->digest);
		goto out;
	}
	hasher_final(&hs, d);
	if (strcmp(d, diff) != 0) {
		log_fail(err, cap, "layer %s uncompressed is %s, but the config's diff_id says %s",
			 b->digest, d, diff);
		goto out;
	}
	rc = 0;
out:
	sink_file_blob_close(&r);
	if (zinit)
		inflateEnd(&z);
	if (fd >= 0)
		close(fd);
	if (rc < 0 && tmp[0]) {
		tmpdir_remove(f->scratch, tmp);
		tmp[0] = '\0';
	}
	free(in);
	free(outb);
	return rc;
}

/* The scratch file tmp (size bytes) into the output as member name. */
static int copy_scratch(struct sink_file *f, const char *tmp, uint64_t size, const char *name,
			char *err, size_t cap)
{
	char *buf = malloc(IO_BUF);
	int fd = tmpdir_open(f->scratch, tmp), rc = -1;
	uint64_t at = 0;

	if (!buf || fd < 0) {
		log_fail(err, cap, "reopen a scratch file: %s", buf ? strerror(errno) : "out of memory");
		goto out;
	}
	if (fileout_begin(&f->out, name, size, err, cap) < 0)
		goto out;
	while (at < size) {
		size_t n = size - at < IO_BUF ? (size_t)(size - at) : IO_BUF;
		if (file_pread_all(fd, buf, n, at) < 0) {
			log_fail(err, cap, "read a scratch file: %s", strerror(errno));
			goto out;
		}
		if (fileout_write(&f->out, buf, n, err, cap) < 0)
			goto out;
		at += n;
	}
	rc = fileout_end(&f->out, err, cap);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

/* One layer, uncompressed, as blobs/sha256/<diff_id>. */
static int put_layer(struct sink_file *f, const struct sink_from *from, void *rd,
		     const struct image_blob *b, const char *diff, struct sink_stats *st, char *err,
		     size_t cap)
{
	char name[FILEOUT_NAME_MAX], tmp[TMPDIR_NAME_MAX];
	uint64_t size;
	int rc;

	sink_file_member(diff, name, sizeof name);
	if (map_get(&f->written, diff)) {
		st->blobs_found++;
		return 0;
	}
	if (strstr(b->media_type, "zstd"))
		return log_fail(err, cap, "layer %s is zstd (%s): a docker-save tarball here takes "
				"gzip or uncompressed layers", b->digest, b->media_type);
	if (!strstr(b->media_type, "gzip")) {
		if (strcmp(b->digest, diff) != 0)
			return log_fail(err, cap, "layer %s (%s) is not compressed, but the config's "
					"diff_id says %s", b->digest, b->media_type, diff);
		return sink_file_put_blob(f, from, rd, b, name, st, err, cap);
	}
	if (inflate_layer(f, from, rd, b, diff, tmp, &size, err, cap) < 0)
		return -1;
	rc = copy_scratch(f, tmp, size, name, err, cap);
	tmpdir_remove(f->scratch, tmp);
	if (rc < 0)
		return -1;
	if (map_put(&f->written, diff, (void *)1) < 0)
		return log_fail(err, cap, "out of memory");
	st->blobs_sent++;
	st->bytes_sent += size;
	return 0;
}

/* Image manifest m of img: config, layers, and its manifest.json item. */
static int put_image(struct sink_file *f, struct image *img, const struct image_manifest *m,
		     const struct manifest *pm, const struct sink_from *from, void *rd,
		     struct sink_stats *st, char *err, size_t cap)
{
	const struct image_blob *cb = blob_of(img, pm->config.digest);
	struct sink_file_item *it;
	struct imageconfig conf;
	char *cfg = NULL, why[256], name[FILEOUT_NAME_MAX];
	int rc = -1;

	memset(&conf, 0, sizeof conf);
	if (!cb)
		return log_fail(err, cap, "manifest %s: its config is not in the image", m->digest);
	if (read_config(from, rd, cb, &cfg, err, cap) < 0)
		return -1;
	if (imageconfig_parse(&conf, cfg, cb->size, why, sizeof why) < 0) {
		log_fail(err, cap, "config %s: %s", cb->digest, why);
		goto out;
	}
	if (conf.n != pm->nrefs) {
		log_fail(err, cap, "manifest %s has %zu layers but its config lists %u diff_ids",
			 m->digest, pm->nrefs, conf.n);
		goto out;
	}
	sink_file_member(cb->digest, name, sizeof name);
	if (!map_get(&f->written, cb->digest)) {
		if (fileout_add(&f->out, name, cfg, cb->size, err, cap) < 0)
			goto out;
		if (map_put(&f->written, cb->digest, (void *)1) < 0) {
			log_fail(err, cap, "out of memory");
			goto out;
		}
		st->blobs_sent++;
		st->bytes_sent += cb->size;
	}
	it = realloc(f->items, (f->nitems + 1) * sizeof *it);
	if (!it) {
		log_fail(err, cap, "out of memory");
		goto out;
	}
	f->items = it;
	it = &it[f->nitems];
	memset(it, 0, sizeof *it);
	snprintf(it->manifest, sizeof it->manifest, "%s", m->digest);
	snprintf(it->config, sizeof it->config, "%s", cb->digest);
	if (!(it->layers = calloc(pm->nrefs ? pm->nrefs : 1, sizeof *it->layers))) {
		log_fail(err, cap, "out of memory");
		goto out;
	}
	f->nitems++;
	for (size_t i = 0; i < pm->nrefs; i++) {
		const struct image_blob *lb = blob_of(img, pm->refs[i].digest);
		if (pm->refs[i].has_urls || !lb) {
			log_fail(err, cap, "layer %s is foreign (urls): a docker-save tarball needs "
				 "its bytes", pm->refs[i].digest);
			goto out;
		}
		if (put_layer(f, from, rd, lb, conf.diff_ids[i], st, err, cap) < 0)
			goto out;
		snprintf(it->layers[it->nlayers++], DIGEST_STR_MAX, "%s", conf.diff_ids[i]);
	}
	if (map_put(&f->mindex, m->digest, (void *)f->nitems) < 0) {
		log_fail(err, cap, "out of memory");
		goto out;
	}
	rc = 0;
out:
	imageconfig_free(&conf);
	free(cfg);
	return rc;
}

int sink_dockersave_put_blobs(struct sink_file *f, struct image *img, const unsigned char *want,
			      const struct sink_from *from, void *rd, struct sink_stats *st, char *err,
			      size_t cap)
{
	int rc = 0, images = 0;

	(void)want; /* an image in the file already is skipped whole */
	for (size_t i = 0; i < img->nmanifests && rc == 0; i++) {
		const struct image_manifest *m = &img->manifests[i];
		struct manifest pm;
		char why[256];
		if (manifest_parse(&pm, m->bytes, m->len, m->media_type, why, sizeof why) < 0) {
			rc = log_fail(err, cap, "manifest %s: %s", m->digest, why);
			break;
		}
		if (pm.kind == MANIFEST_IMAGE && ++images == 1 && !map_get(&f->mindex, m->digest))
			rc = put_image(f, img, m, &pm, from, rd, st, err, cap);
		manifest_free(&pm);
	}
	if (rc == 0 && images != 1)
		rc = log_fail(err, cap, "%s holds %d platforms; a docker-save tarball takes one "
			      "(--platform)", image_digest(img), images);
	return rc;
}

int sink_dockersave_put_manifest(struct sink_file *f, const struct image_manifest *m,
				 const char *ref, struct sink_stats *st, char *err, size_t cap)
{
	void *at = map_get(&f->mindex, m->digest);

	if (sink_file_is_digest(ref))
		return 0; /* docker save keeps no manifests */
	if (!at)
		return log_fail(err, cap, "%s is not an image manifest: a docker-save tarball takes "
				"one platform (--platform)", m->digest);
	st->manifests_put++;
	return sink_file_add_name(f, (size_t)at - 1, ref, err, cap);
}

int sink_dockersave_finish(struct sink_file *f, char *err, size_t cap)
{
	struct buf b;
	int r, rc;

	buf_init(&b, MANIFEST_JSON_MAX);
	r = buf_puts(&b, "[");
	for (size_t k = 0; k < f->nitems; k++) {
		const struct sink_file_item *it = &f->items[k];
		int first = 1;
		char name[FILEOUT_NAME_MAX];
		sink_file_member(it->config, name, sizeof name);
		r |= buf_printf(&b, "%s{\"Config\":\"%s\",\"RepoTags\":[", k ? "," : "", name);
		for (size_t i = 0; i < f->nnames; i++)
			if (f->names[i].manifest == k) {
				r |= buf_puts(&b, first ? "" : ",");
				r |= json_write_str(&b, f->names[i].full, strlen(f->names[i].full));
				first = 0;
			}
		r |= buf_puts(&b, "],\"Layers\":[");
		for (size_t i = 0; i < it->nlayers; i++) {
			sink_file_member(it->layers[i], name, sizeof name);
			r |= buf_printf(&b, "%s\"%s\"", i ? "," : "", name);
		}
		r |= buf_puts(&b, "]}");
	}
	r |= buf_puts(&b, "]");
	if (r) {
		buf_free(&b);
		return log_fail(err, cap, "manifest.json would pass %zu bytes", MANIFEST_JSON_MAX);
	}
	rc = fileout_add(&f->out, "manifest.json", b.p, b.len, err, cap);
	buf_free(&b);
	return rc;
}
