/* image.c - images from sources: docker-save manifest.json and OCI layouts,
 * verified; and their commit into the store. */
#include "image.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "router.h"
#include "log.h"

#define SMALL_MAX ((size_t)4 << 20)    /* manifest.json, index.json, manifests */
#define CONFIG_MAX ((size_t)16 << 20)
#define MAX_LAYERS 4096
#define MAX_INDEX_DEPTH 4

#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_OCI_LAYER_TAR "application/vnd.oci.image.layer.v1.tar"
#define REF_NAME "org.opencontainers.image.ref.name"

/* ---- references ---- */

int image_parse_ref(const char *ref, char repo[STORE_NAME_MAX + 1], char tag[STORE_TAG_MAX + 1])
{
	const char *slash = strchr(ref, '/');
	const char *colon, *at;
	size_t n;

	/* a first component with '.' or ':' or "localhost" is a registry host */
	if (slash && (memchr(ref, '.', (size_t)(slash - ref)) || memchr(ref, ':', (size_t)(slash - ref)) ||
		      ((size_t)(slash - ref) == 9 && strncmp(ref, "localhost", 9) == 0))) {
		int docker_io = (size_t)(slash - ref) == 9 && strncmp(ref, "docker.io", 9) == 0;
		ref = slash + 1;
		if (docker_io && strncmp(ref, "library/", 8) == 0)
			ref += 8;
	}
	at = strchr(ref, '@');
	if (at)
		return -1; /* digests are not names to import under */
	colon = strrchr(ref, ':');
	if (colon && strchr(colon, '/'))
		colon = NULL;
	n = colon ? (size_t)(colon - ref) : strlen(ref);
	if (n == 0 || n > STORE_NAME_MAX)
		return -1;
	memcpy(repo, ref, n);
	repo[n] = '\0';
	snprintf(tag, STORE_TAG_MAX + 1, "%s", colon ? colon + 1 : "latest");
	if (colon && strlen(colon + 1) > STORE_TAG_MAX)
		return -1;
	return router_name_valid(repo) && router_tag_valid(tag) ? 0 : -1;
}

/* Do two references name the same repo:tag? */
static int same_ref(const char *a, const char *b)
{
	char ra[STORE_NAME_MAX + 1], ta[STORE_TAG_MAX + 1], rb[STORE_NAME_MAX + 1],
		tb[STORE_TAG_MAX + 1];
	if (image_parse_ref(a, ra, ta) < 0 || image_parse_ref(b, rb, tb) < 0)
		return strcmp(a, b) == 0;
	return strcmp(ra, rb) == 0 && strcmp(ta, tb) == 0;
}

/* ---- building images ---- */

static struct image *set_add(struct image_set *set, const char *repo, const char *tag)
{
	struct image *v = realloc(set->v, (set->n + 1) * sizeof *v), *img;
	if (!v)
		return NULL;
	set->v = v;
	img = &v[set->n++];
	memset(img, 0, sizeof *img);
	snprintf(img->repo, sizeof img->repo, "%s", repo);
	snprintf(img->tag, sizeof img->tag, "%s", tag);
	return img;
}

/* Add e as a blob of img; its file is synced now, as the blob must be on disk
 * before anything points at it. */
static long add_blob(struct source *src, struct image *img, struct source_entry *e,
		     const char *digest, const char *media_type, char *err, size_t cap)
{
	struct image_blob *b;
	for (size_t i = 0; i < img->nblobs; i++)
		if (strcmp(img->blobs[i].digest, digest) == 0)
			return (long)i;
	if (source_sync(src, e) < 0)
		return log_fail(err, cap, "sync %s: %s", e->name, strerror(errno));
	b = realloc(img->blobs, (img->nblobs + 1) * sizeof *b);
	if (!b)
		return log_fail(err, cap, "out of memory");
	img->blobs = b;
	b = &b[img->nblobs++];
	memset(b, 0, sizeof *b);
	snprintf(b->digest, sizeof b->digest, "%s", digest);
	snprintf(b->media_type, sizeof b->media_type, "%s", media_type);
	snprintf(b->tmp, sizeof b->tmp, "%s", e->tmp);
	b->off = e->off;
	b->unverified = e->unverified;
	b->size = e->size;
	return (long)(img->nblobs - 1);
}

/* Take ownership of bytes as a manifest of img (unless already there). */
static int add_manifest(struct image *img, const char *digest, const char *media_type, char *bytes,
			size_t len)
{
	struct image_manifest *m;
	for (size_t i = 0; i < img->nmanifests; i++)
		if (strcmp(img->manifests[i].digest, digest) == 0) {
			free(bytes);
			return 0;
		}
	m = realloc(img->manifests, (img->nmanifests + 1) * sizeof *m);
	if (!m) {
		free(bytes);
		return -1;
	}
	img->manifests = m;
	m = &m[img->nmanifests++];
	snprintf(m->digest, sizeof m->digest, "%s", digest);
	snprintf(m->media_type, sizeof m->media_type, "%s", media_type);
	m->bytes = bytes;
	m->len = len;
	return 0;
}

/* An in-place member has no digest until read: take the archive's word for
 * it now, and mark it for verification by whoever reads its bytes. */
static int claim(struct source_entry *e, const char *digest)
{
	int r = source_claim(e, digest);
	if (r == 1)
		e->unverified = 1;
	return r;
}

/* A "blobs/<alg>/<hex>" member must hold what its name says. */
static int check_blob_name(struct source *src, struct source_entry *e, char *err, size_t cap)
{
	char want[DIGEST_STR_MAX];
	const char *n = e->name;
	if (strncmp(n, "blobs/sha256/", 13) != 0)
		return 0;
	snprintf(want, sizeof want, "sha256:%s", n + 13);
	if (claim(e, want) < 0)
		return log_fail(err, cap, "%s: %s is not named by a digest", src->what, n);
	if (strcmp(want, e->digest) != 0)
		return log_fail(err, cap, "%s: %s does not hold what its name says (it is %s)", src->what,
			    n, e->digest);
	return 0;
}

/* ---- docker save ---- */

static int docker_item_matches(const struct json *j, int item, const char *select)
{
	int tags = json_get(j, item, "RepoTags");
	char t[512];
	if (tags < 0 || j->t[tags].type != JSON_ARRAY)
		return 0;
	for (uint32_t k = 0; k < j->t[tags].size; k++)
		if (json_str_copy(j, json_index(j, tags, k), t, sizeof t) > 0 && same_ref(t, select))
			return 1;
	return 0;
}

static void docker_item_names(const struct json *j, struct buf *b)
{
	char t[512];
	for (uint32_t i = 0; i < j->t[0].size; i++) {
		int tags = json_get(j, json_index(j, 0, i), "RepoTags");
		if (tags < 0 || j->t[tags].type != JSON_ARRAY || j->t[tags].size == 0) {
			buf_printf(b, "%s(untagged)", b->len ? ", " : "");
			continue;
		}
		for (uint32_t k = 0; k < j->t[tags].size; k++)
			if (json_str_copy(j, json_index(j, tags, k), t, sizeof t) > 0)
				buf_printf(b, "%s%s", b->len ? ", " : "", t);
	}
}

/* Build and verify the OCI image of one manifest.json item. */
static int docker_image(struct source *src, const struct json *j, int item, struct image *img,
			char *err, size_t cap)
{
	char name[SOURCE_NAME_MAX], diff[DIGEST_STR_MAX];
	struct source_entry *cfg;
	int layers = json_get(j, item, "Layers"), diffs, rootfs;
	char *cbytes = NULL;
	size_t clen;
	struct json cj;
	struct buf m;
	uint32_t nl;
	int rc = -1;

	if (json_str_copy(j, json_get(j, item, "Config"), name, sizeof name) <= 0 || layers < 0 ||
	    j->t[layers].type != JSON_ARRAY)
		return log_fail(err, cap, "%s: manifest.json entry lacks Config or Layers", src->what);
	nl = j->t[layers].size;
	if (nl > MAX_LAYERS)
		return log_fail(err, cap, "%s: more than %d layers", src->what, MAX_LAYERS);
	cfg = source_get(src, name, err, cap);
	if (!cfg || check_blob_name(src, cfg, err, cap) < 0 ||
	    source_read(src, cfg, CONFIG_MAX, &cbytes, &clen, err, cap) < 0)
		return -1;
	if (json_parse(&cj, cbytes, clen) < 0) {
		free(cbytes);
		return log_fail(err, cap, "%s: config %s is not valid JSON", src->what, name);
	}
	rootfs = json_get(&cj, 0, "rootfs");
	diffs = json_get(&cj, rootfs, "diff_ids");
	if (diffs < 0 || cj.t[diffs].type != JSON_ARRAY) {
		log_fail(err, cap, "%s: config %s has no rootfs.diff_ids", src->what, name);
		goto out;
	}
	if (cj.t[diffs].size != nl) {
		log_fail(err, cap, "%s: config lists %u layers but manifest.json has %u", src->what,
		     cj.t[diffs].size, nl);
		goto out;
	}
	{
		long ci = add_blob(src, img, cfg, cfg->digest, MT_OCI_CONFIG, err, cap);
		if (ci < 0)
			goto out;
		img->config = (size_t)ci;
		img->blobs[ci].is_config = 1;
	}
	img->layers = calloc(nl ? nl : 1, sizeof *img->layers);
	if (!img->layers)
		goto oom;
	for (uint32_t i = 0; i < nl; i++) {
		struct source_entry *le;
		long li;
		if (json_str_copy(j, json_index(j, layers, i), name, sizeof name) <= 0) {
			log_fail(err, cap, "%s: manifest.json layer %u is not a file name", src->what, i);
			goto out;
		}
		le = source_get(src, name, err, cap);
		if (!le || check_blob_name(src, le, err, cap) < 0)
			goto out;
		if (json_str_copy(&cj, json_index(&cj, diffs, i), diff, sizeof diff) <= 0 ||
		    claim(le, diff) < 0 || strcmp(diff, le->digest) != 0) {
			log_fail(err, cap, "%s: layer %u (%s) is %s but the config's diff_id says %s",
			     src->what, i, name, le->digest, diff);
			goto out;
		}
		li = add_blob(src, img, le, le->digest, MT_OCI_LAYER_TAR, err, cap);
		if (li < 0)
			goto out;
		img->layers[img->nlayers++] = (size_t)li;
	}
	img->generated = 1;
	{
		const struct image_blob **lp = calloc(nl ? nl : 1, sizeof *lp);
		char d[DIGEST_STR_MAX];
		if (!lp)
			goto oom;
		for (size_t i = 0; i < img->nlayers; i++)
			lp[i] = &img->blobs[img->layers[i]];
		buf_init(&m, SMALL_MAX);
		if (image_write_manifest(&m, IMAGE_FORMAT_OCI, &img->blobs[img->config], lp,
					 img->nlayers) < 0) {
			free(lp);
			buf_free(&m);
			goto oom;
		}
		free(lp);
		digest_of(DIGEST_SHA256, m.p, m.len, d);
		if (add_manifest(img, d, MT_OCI_MANIFEST, m.p, m.len) < 0)
			goto oom;
	}
	rc = 0;
	goto out;
oom:
	log_fail(err, cap, "out of memory");
out:
	json_free(&cj);
	free(cbytes);
	return rc;
}

static int load_docker(struct source *src, struct source_entry *mj, const char *select,
		       const char *repo, const char *tag, struct image_set *out, char *err, size_t cap)
{
	char *bytes;
	size_t len;
	struct json j;
	int rc = -1;

	if (source_read(src, mj, SMALL_MAX, &bytes, &len, err, cap) < 0)
		return -1;
	if (json_parse(&j, bytes, len) < 0 || j.t[0].type != JSON_ARRAY || j.t[0].size == 0) {
		if (j.t)
			json_free(&j);
		free(bytes);
		return log_fail(err, cap, "%s: manifest.json is not a non-empty JSON array", src->what);
	}
	if (repo) {
		/* one image: the only one, the one named, or the one tagged repo:tag */
		int item = -1;
		char want[STORE_NAME_MAX + STORE_TAG_MAX + 2];
		snprintf(want, sizeof want, "%s:%s", repo, tag);
		for (uint32_t i = 0; i < j.t[0].size && item < 0; i++)
			if (docker_item_matches(&j, json_index(&j, 0, i), select ? select : want))
				item = json_index(&j, 0, i);
		if (item < 0 && !select && j.t[0].size == 1)
			item = json_index(&j, 0, 0);
		if (item < 0) {
			struct buf names;
			buf_init(&names, 4096);
			docker_item_names(&j, &names);
			buf_cstr(&names);
			log_fail(err, cap, "%s holds %u images (%s)%s%s; name one with SRC#NAME=REPO:TAG",
			     src->what, j.t[0].size, names.p ? names.p : "", select ? ", none is " : "",
			     select ? select : "");
			buf_free(&names);
			goto out;
		}
		{
			struct image *img = set_add(out, repo, tag);
			if (!img || docker_image(src, &j, item, img, err, cap) < 0)
				goto out;
		}
	} else {
		/* every image under each of its own tags */
		for (uint32_t i = 0; i < j.t[0].size; i++) {
			int item = json_index(&j, 0, i);
			int tags = json_get(&j, item, "RepoTags");
			char t[512], r[STORE_NAME_MAX + 1], tg[STORE_TAG_MAX + 1];
			if (tags < 0 || j.t[tags].type != JSON_ARRAY || j.t[tags].size == 0) {
				log_fail(err, cap, "%s: image %u has no RepoTags; import it with =REPO:TAG",
				     src->what, i);
				goto out;
			}
			for (uint32_t k = 0; k < j.t[tags].size; k++) {
				struct image *img;
				if (json_str_copy(&j, json_index(&j, tags, k), t, sizeof t) <= 0 ||
				    image_parse_ref(t, r, tg) < 0) {
					log_fail(err, cap, "%s: RepoTag %.200s is not a repo:tag", src->what, t);
					goto out;
				}
				img = set_add(out, r, tg);
				if (!img || docker_image(src, &j, item, img, err, cap) < 0)
					goto out;
			}
		}
	}
	rc = 0;
out:
	json_free(&j);
	free(bytes);
	return rc;
}

/* ---- OCI layout ---- */

static struct source_entry *oci_blob(struct source *src, const struct descriptor *d,
					   char *err, size_t cap)
{
	char name[SOURCE_NAME_MAX], got[DIGEST_STR_MAX];
	const char *colon = strchr(d->digest, ':');
	struct source_entry *e;

	snprintf(name, sizeof name, "blobs/%.*s/%s", (int)(colon - d->digest), d->digest, colon + 1);
	e = source_get(src, name, err, cap);
	if (!e)
		return NULL;
	if (e->size != d->size) {
		log_fail(err, cap, "%s: %s has %llu bytes but its descriptor says %llu", src->what, name,
		     (unsigned long long)e->size, (unsigned long long)d->size);
		return NULL;
	}
	if (strncmp(d->digest, "sha256:", 7) == 0) {
		if (claim(e, d->digest) < 0 || strcmp(e->digest, d->digest) != 0) {
			log_fail(err, cap, "%s: %s does not match its digest (it is %s)", src->what, name,
			     e->digest);
			return NULL;
		}
	} else {
		/* sha512: hash again */
		char *bytes;
		size_t len;
		if (e->size > CONFIG_MAX) {
			log_fail(err, cap, "%s: sha512 blob %s is too large to verify", src->what, name);
			return NULL;
		}
		if (source_read(src, e, CONFIG_MAX, &bytes, &len, err, cap) < 0)
			return NULL;
		digest_of(DIGEST_SHA512, bytes, len, got);
		free(bytes);
		if (strcmp(got, d->digest) != 0) {
			log_fail(err, cap, "%s: %s does not match its digest", src->what, name);
			return NULL;
		}
	}
	return e;
}

/* Add manifest d (and everything below it) to img. */
static int oci_manifest(struct source *src, const struct descriptor *d, struct image *img, int depth,
			char *err, size_t cap)
{
	struct source_entry *e = oci_blob(src, d, err, cap);
	struct manifest m;
	char *bytes;
	size_t len;
	char why[256];
	int rc = -1;

	if (!e)
		return -1;
	if (depth > MAX_INDEX_DEPTH)
		return log_fail(err, cap, "%s: indexes nested too deep", src->what);
	if (source_read(src, e, SMALL_MAX, &bytes, &len, err, cap) < 0)
		return -1;
	if (manifest_parse(&m, bytes, len, d->media_type, why, sizeof why) < 0) {
		free(bytes);
		return log_fail(err, cap, "%s: manifest %s: %s", src->what, d->digest, why);
	}
	if (m.kind == MANIFEST_IMAGE) {
		struct source_entry *c = oci_blob(src, &m.config, err, cap);
		long ci;
		if (!c || (ci = add_blob(src, img, c, m.config.digest, m.config.media_type, err, cap)) < 0)
			goto out;
		img->blobs[ci].is_config = 1;
		for (size_t i = 0; i < m.nrefs; i++) {
			struct source_entry *l;
			if (m.refs[i].has_urls)
				continue;
			l = oci_blob(src, &m.refs[i], err, cap);
			if (!l || add_blob(src, img, l, m.refs[i].digest, m.refs[i].media_type, err, cap) < 0)
				goto out;
		}
	} else {
		for (size_t i = 0; i < m.nrefs; i++)
			if (oci_manifest(src, &m.refs[i], img, depth + 1, err, cap) < 0)
				goto out;
	}
	if (add_manifest(img, d->digest, m.media_type, bytes, len) < 0) {
		bytes = NULL;
		log_fail(err, cap, "out of memory");
		goto out;
	}
	bytes = NULL;
	rc = 0;
out:
	manifest_free(&m);
	free(bytes);
	return rc;
}

static int load_oci(struct source *src, struct source_entry *ie, const char *select,
		    const char *repo, const char *tag, struct image_set *out, char *err, size_t cap)
{
	char *bytes;
	size_t len;
	struct manifest idx;
	char why[256];
	int rc = -1, taken = 0;

	if (source_read(src, ie, SMALL_MAX, &bytes, &len, err, cap) < 0)
		return -1;
	if (manifest_parse(&idx, bytes, len, MT_OCI_INDEX, why, sizeof why) < 0 ||
	    idx.kind != MANIFEST_INDEX) {
		free(bytes);
		return log_fail(err, cap, "%s: index.json: %s", src->what, why);
	}
	for (size_t i = 0; i < idx.nrefs; i++) {
		char ref[512] = "", r[STORE_NAME_MAX + 1], tg[STORE_TAG_MAX + 1];
		int d = json_index(&idx.j, json_get(&idx.j, 0, "manifests"), (uint32_t)i);
		int ann = json_get(&idx.j, d, "annotations");
		struct image *img;
		json_str_copy(&idx.j, json_get(&idx.j, ann, REF_NAME), ref, sizeof ref);
		if (repo) {
			int match = select ? (ref[0] && (strcmp(ref, select) == 0 || same_ref(ref, select)))
					   : idx.nrefs == 1;
			if (!select && !match && ref[0]) {
				char want[STORE_NAME_MAX + STORE_TAG_MAX + 2];
				snprintf(want, sizeof want, "%s:%s", repo, tag);
				match = strcmp(ref, tag) == 0 || same_ref(ref, want);
			}
			if (!match || taken)
				continue;
			snprintf(r, sizeof r, "%s", repo);
			snprintf(tg, sizeof tg, "%s", tag);
		} else if (!ref[0] || !strchr(ref, ':') || image_parse_ref(ref, r, tg) < 0) {
			log_fail(err, cap, "%s: manifest %zu has no repo:tag ref name; import it with =REPO:TAG",
			     src->what, i);
			goto out;
		}
		img = set_add(out, r, tg);
		if (!img || oci_manifest(src, &idx.refs[i], img, 0, err, cap) < 0)
			goto out;
		taken++;
	}
	if (!taken) {
		log_fail(err, cap, "%s: no image in index.json matches %s", src->what,
		     select ? select : "the target (name one with SRC#NAME=REPO:TAG)");
		goto out;
	}
	rc = 0;
out:
	manifest_free(&idx);
	free(bytes);
	return rc;
}

int image_load(struct source *src, const char *select, const char *repo, const char *tag,
	       struct image_set *out, char *err, size_t cap)
{
	char ignore[8];
	struct source_entry *e;

	memset(out, 0, sizeof *out);
	/* docker save writes manifest.json in both layouts; prefer it, as the
	 * layer order it gives is the image's */
	e = source_get(src, "manifest.json", ignore, sizeof ignore);
	if (e) {
		if (load_docker(src, e, select, repo, tag, out, err, cap) < 0)
			goto bad;
	} else if ((e = source_get(src, "index.json", ignore, sizeof ignore))) {
		if (load_oci(src, e, select, repo, tag, out, err, cap) < 0)
			goto bad;
	} else {
		log_fail(err, cap, "%s holds neither manifest.json (docker save) nor index.json (OCI layout)",
		     src->what);
		goto bad;
	}
	return 0;
bad:
	image_set_free(out);
	return -1;
}

int image_commit(struct store *st, const struct image *img, char *err, size_t cap)
{
	for (size_t i = 0; i < img->nblobs; i++) {
		const struct image_blob *b = &img->blobs[i];
		if (store_blob_get(st, img->repo, b->digest))
			continue;
		if (store_blob_get(st, NULL, b->digest)) {
			if (store_blob_mount(st, img->repo, b->digest) < 0)
				return log_fail(err, cap, "link %s: %s", b->digest, strerror(errno));
			continue;
		}
		if (!b->tmp[0])
			return log_fail(err, cap, "commit %s: its bytes are not in the store", b->digest);
		if (store_blob_commit_tmp(st, img->repo, b->tmp, b->digest, b->size) < 0)
			return log_fail(err, cap, "commit %s: %s", b->digest, strerror(errno));
	}
	for (size_t i = 0; i < img->nmanifests; i++) {
		const struct image_manifest *m = &img->manifests[i];
		const char *tags[1] = { img->tag };
		struct manifest pm;
		char why[256];
		int last = i + 1 == img->nmanifests, r;
		if (manifest_parse(&pm, m->bytes, m->len, m->media_type, why, sizeof why) < 0)
			return log_fail(err, cap, "manifest %s: %s", m->digest, why);
		r = store_manifest_put(st, img->repo, m->digest, &pm, m->bytes, m->len, tags,
				       last ? 1 : 0);
		manifest_free(&pm);
		if (r < 0)
			return log_fail(err, cap, "store manifest %s: %s", m->digest, strerror(errno));
	}
	return 0;
}

int image_write_manifest(struct buf *out, enum image_format fmt, const struct image_blob *config,
			 const struct image_blob *const *layers, size_t nlayers)
{
	int r = 0;
	r |= buf_printf(out, "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":",
			fmt == IMAGE_FORMAT_DOCKER ? MT_DOCKER_MANIFEST : MT_OCI_MANIFEST);
	r |= json_write_str(out, config->media_type, strlen(config->media_type));
	r |= buf_printf(out, ",\"digest\":\"%s\",\"size\":%llu},\"layers\":[", config->digest,
			(unsigned long long)config->size);
	for (size_t i = 0; i < nlayers; i++) {
		r |= buf_puts(out, i ? ",{\"mediaType\":" : "{\"mediaType\":");
		r |= json_write_str(out, layers[i]->media_type, strlen(layers[i]->media_type));
		r |= buf_printf(out, ",\"digest\":\"%s\",\"size\":%llu}", layers[i]->digest,
				(unsigned long long)layers[i]->size);
	}
	r |= buf_puts(out, "]}");
	return r ? -1 : 0;
}

const char *image_digest(const struct image *img)
{
	return img->nmanifests ? img->manifests[img->nmanifests - 1].digest : "";
}

void image_set_free(struct image_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		for (size_t k = 0; k < set->v[i].nmanifests; k++)
			free(set->v[i].manifests[k].bytes);
		free(set->v[i].manifests);
		free(set->v[i].blobs);
		free(set->v[i].layers);
	}
	free(set->v);
	set->v = NULL;
	set->n = 0;
}
