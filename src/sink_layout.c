/* sink_layout.c - an OCI image layout as a sink: blobs and manifests as
 * they come, index.json last (sink_file.h). */
#include "sink_file.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "log.h"
#include "manifest.h"
#include "ocindex.h"

#define INDEX_MAX ((size_t)64 << 20)

int sink_layout_put_blobs(struct sink_file *f, struct image *img, const unsigned char *want,
			  const struct sink_from *from, void *rd, struct sink_stats *st, char *err,
			  size_t cap)
{
	int rc = 0;

	for (size_t i = 0; i < img->nblobs && rc == 0; i++) {
		char name[FILEOUT_NAME_MAX];
		if (want && !want[i])
			continue;
		sink_file_member(img->blobs[i].digest, name, sizeof name);
		rc = sink_file_put_blob(f, from, rd, &img->blobs[i], name, st, err, cap);
	}
	return rc;
}

int sink_layout_put_manifest(struct sink_file *f, const struct image_manifest *m, const char *ref,
			      struct sink_stats *st, char *err, size_t cap)
{
	void *at = map_get(&f->mindex, m->digest);
	size_t k;

	if (!at) {
		struct sink_file_manifest *v;
		struct manifest pm;
		char why[256], name[FILEOUT_NAME_MAX], d[DIGEST_STR_MAX];
		enum digest_alg alg = DIGEST_SHA256;
		if (f->nm == SINK_FILE_MAX_MANIFESTS)
			return log_fail(err, cap, "more than %d manifests in one file",
					SINK_FILE_MAX_MANIFESTS);
		/* the bytes are what the digest says (the walk checked; again, cheaply) */
		digest_parse(m->digest, strlen(m->digest), &alg);
		digest_of(alg, m->bytes, m->len, d);
		if (strcmp(d, m->digest) != 0)
			return log_fail(err, cap, "manifest %s: its bytes are %s", m->digest, d);
		if (manifest_parse(&pm, m->bytes, m->len, m->media_type, why, sizeof why) < 0)
			return log_fail(err, cap, "manifest %s: %s", m->digest, why);
		if (pm.kind == MANIFEST_INDEX)
			for (size_t i = 0; i < pm.nrefs; i++) {
				void *c = map_get(&f->mindex, pm.refs[i].digest);
				if (c)
					f->m[(size_t)c - 1].child = 1;
			}
		manifest_free(&pm);
		v = realloc(f->m, (f->nm + 1) * sizeof *v);
		if (!v)
			return log_fail(err, cap, "out of memory");
		f->m = v;
		v = &v[f->nm];
		memset(v, 0, sizeof *v);
		snprintf(v->digest, sizeof v->digest, "%s", m->digest);
		snprintf(v->media_type, sizeof v->media_type, "%s", m->media_type);
		v->size = m->len;
		snprintf(v->repo, sizeof v->repo, "%s", f->full_repo);
		sink_file_member(m->digest, name, sizeof name);
		if (!map_get(&f->written, m->digest)) {
			if (fileout_add(&f->out, name, m->bytes, m->len, err, cap) < 0)
				return -1;
			if (map_put(&f->written, m->digest, (void *)1) < 0)
				return log_fail(err, cap, "out of memory");
		}
		if (map_put(&f->mindex, m->digest, (void *)(f->nm + 1)) < 0)
			return log_fail(err, cap, "out of memory");
		at = (void *)(f->nm + 1);
		f->nm++;
		st->manifests_put++;
	}
	k = (size_t)at - 1;
	if (sink_file_is_digest(ref))
		return 0;
	f->m[k].named = 1;
	return sink_file_add_name(f, k, ref, err, cap);
}

static int entry(struct buf *b, int *first, const struct sink_file_manifest *m, const char *full,
		 const char *ref)
{
	int r = buf_puts(b, *first ? "{\"mediaType\":" : ",{\"mediaType\":");
	*first = 0;
	r |= json_write_str(b, m->media_type, strlen(m->media_type));
	r |= buf_printf(b, ",\"digest\":\"%s\",\"size\":%llu,\"annotations\":{"
			"\"io.containerd.image.name\":", m->digest, (unsigned long long)m->size);
	r |= json_write_str(b, full, strlen(full));
	if (ref) {
		r |= buf_puts(b, ",\"" OCINDEX_REF_NAME "\":");
		r |= json_write_str(b, ref, strlen(ref));
	}
	r |= buf_puts(b, "}}");
	return r;
}

int sink_layout_finish(struct sink_file *f, char *err, size_t cap)
{
	static const char head[] = "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX
				   "\",\"manifests\":[";
	struct buf b;
	int r, rc, first = 1;

	buf_init(&b, INDEX_MAX);
	r = buf_puts(&b, head);
	/* the names in the order given, then what nothing names, in the order put */
	for (size_t i = 0; i < f->nnames; i++)
		r |= entry(&b, &first, &f->m[f->names[i].manifest], f->names[i].full, f->names[i].ref);
	for (size_t k = 0; k < f->nm; k++) {
		const struct sink_file_manifest *m = &f->m[k];
		if (!m->named && !m->child) {
			char full[SINK_FILE_NAME_MAX + DIGEST_STR_MAX];
			snprintf(full, sizeof full, "%s@%s", m->repo, m->digest);
			r |= entry(&b, &first, m, full, NULL);
		}
	}
	r |= buf_puts(&b, "]}");
	if (r) {
		buf_free(&b);
		return log_fail(err, cap, "index.json would pass %zu bytes", INDEX_MAX);
	}
	rc = fileout_add(&f->out, "index.json", b.p, b.len, err, cap);
	buf_free(&b);
	return rc;
}
