/* image.c - images from sources: docker-save manifest.json and OCI layouts,
 * verified; and their commit into the store. */
#include "image.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dockersave.h"
#include "imageconfig.h"
#include "json.h"
#include "log.h"
#include "map.h"
#include "ocindex.h"
#include "platform.h"
#include "ref.h"
#include "store.h"
#include "tarname.h"

#define SMALL_MAX ((size_t)4 << 20)    /* manifest.json, index.json, manifests */
#define CONFIG_MAX ((size_t)16 << 20)

#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_OCI_LAYER_TAR "application/vnd.oci.image.layer.v1.tar"

/* ---- references ---- */

int image_parse_ref(const char *ref, char repo[STORE_NAME_MAX + 1], char tag[STORE_TAG_MAX + 1])
{
	struct ref r;
	char why[256];
	/* ref.c's grammar and Docker Hub rules; stored under the familiar name */
	if (ref_parse(ref, strlen(ref), &r, why, sizeof why) < 0 || r.digest[0])
		return -1; /* digests are not names to import under */
	snprintf(repo, STORE_NAME_MAX + 1, "%s", ref_familiar_name(&r));
	snprintf(tag, STORE_TAG_MAX + 1, "%s", r.tag);
	return 0;
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

/* One image_load (or image_walk): the budgets of the whole import, and the
 * image being built with its digest -> index + 1 maps (each digest is
 * walked once).  fetch reads manifests and places blobs: the source's files
 * (file_fetch), or the caller's (a registry). */
struct walk {
	struct source *src;           /* files, or NULL */
	const struct image_fetch *fetch;
	const char *what;             /* the source, for messages */
	const struct platform *platform; /* NULL: every child of a top index */
	struct image *img;
	struct map mseen, bseen;
	unsigned long descriptors;
	size_t manifests, blobs, images;
	uint64_t manifest_bytes;
	char *err;
	size_t cap;
};

static int over(struct walk *w, unsigned long limit, const char *what)
{
	return log_fail(w->err, w->cap, "%s: more than %lu %s (an import limit)", w->what, limit,
			what);
}

/* Count n more descriptors read. */
static int spend(struct walk *w, unsigned long n)
{
	w->descriptors += n;
	if (w->descriptors > IMAGE_MAX_DESCRIPTORS)
		return over(w, IMAGE_MAX_DESCRIPTORS, "descriptors");
	return 0;
}

static void walk_init(struct walk *w, const struct image_fetch *f, const struct platform *platform,
		      char *err, size_t cap)
{
	memset(w, 0, sizeof *w);
	w->fetch = f;
	w->what = f->what;
	w->platform = platform;
	w->err = err;
	w->cap = cap;
	map_init(&w->mseen);
	map_init(&w->bseen);
}

static void walk_reset(struct walk *w, struct image *img)
{
	map_free(&w->mseen);
	map_free(&w->bseen);
	map_init(&w->mseen);
	map_init(&w->bseen);
	w->img = img;
}

static struct image *set_add(struct walk *w, struct image_set *set, const char *repo,
			     const char *tag)
{
	struct image *v, *img;
	if (++w->images > IMAGE_MAX_IMAGES) {
		over(w, IMAGE_MAX_IMAGES, "images");
		return NULL;
	}
	v = realloc(set->v, (set->n + 1) * sizeof *v);
	if (!v) {
		log_fail(w->err, w->cap, "out of memory");
		return NULL;
	}
	set->v = v;
	img = &v[set->n++];
	memset(img, 0, sizeof *img);
	snprintf(img->repo, sizeof img->repo, "%s", repo);
	snprintf(img->tag, sizeof img->tag, "%s", tag);
	return img;
}

/* A blob of the image being built (once per digest), whose bytes are
 * nowhere yet: off -1, no file. */
static long add_blob(struct walk *w, const char *digest, const char *media_type, uint64_t size)
{
	struct image *img = w->img;
	struct image_blob *b;
	void *seen = map_get(&w->bseen, digest);
	if (seen)
		return (long)((size_t)seen - 1);
	if (++w->blobs > IMAGE_MAX_BLOBS)
		return over(w, IMAGE_MAX_BLOBS, "blobs");
	b = realloc(img->blobs, (img->nblobs + 1) * sizeof *b);
	if (!b || map_put(&w->bseen, digest, (void *)(img->nblobs + 1)) < 0) {
		if (b)
			img->blobs = b;
		return log_fail(w->err, w->cap, "out of memory");
	}
	img->blobs = b;
	b = &b[img->nblobs++];
	memset(b, 0, sizeof *b);
	snprintf(b->digest, sizeof b->digest, "%s", digest);
	snprintf(b->media_type, sizeof b->media_type, "%s", media_type);
	b->off = -1;
	b->size = size;
	return (long)(img->nblobs - 1);
}

/* A blob whose bytes are source entry e's: fetched into the store after
 * the walk (source_fetch). */
static long add_entry_blob(struct walk *w, struct source_entry *e, const char *digest,
			   const char *media_type)
{
	long i = add_blob(w, digest, media_type, e->size);
	if (i >= 0) {
		w->img->blobs[i].entry = (size_t)(e - w->src->e);
		e->wanted = 1;
	}
	return i;
}

/* Take ownership of bytes as a manifest of the image being built. */
static int add_manifest(struct walk *w, const char *digest, const char *media_type, char *bytes,
			size_t len)
{
	struct image *img = w->img;
	struct image_manifest *m;
	if (map_get(&w->mseen, digest)) {
		free(bytes);
		return 0;
	}
	if (++w->manifests > IMAGE_MAX_MANIFESTS) {
		free(bytes);
		return over(w, IMAGE_MAX_MANIFESTS, "manifests");
	}
	w->manifest_bytes += len;
	if (w->manifest_bytes > IMAGE_MAX_MANIFEST_BYTES) {
		free(bytes);
		return over(w, IMAGE_MAX_MANIFEST_BYTES, "bytes of manifests");
	}
	m = realloc(img->manifests, (img->nmanifests + 1) * sizeof *m);
	if (!m || map_put(&w->mseen, digest, (void *)(img->nmanifests + 1)) < 0) {
		if (m)
			img->manifests = m;
		free(bytes);
		return log_fail(w->err, w->cap, "out of memory");
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
static int claim(struct source_entry *e, const char *digest, const char *by)
{
	int r = source_claim(e, digest);
	if (r == 1) {
		e->unverified = 1;
		e->claimed_by = by;
	}
	return r;
}

/* A "blobs/<alg>/<hex>" member must hold what its name says. */
static int check_blob_name(struct walk *w, struct source_entry *e)
{
	char want[DIGEST_STR_MAX];
	const char *n = e->name;
	if (strncmp(n, "blobs/sha256/", 13) != 0)
		return 0;
	snprintf(want, sizeof want, "sha256:%.64s", n + 13);
	if (strlen(n + 13) != 64 || claim(e, want, "its name") < 0)
		return log_fail(w->err, w->cap, "%s: %s is not named by a digest", w->src->what,
				tarname_quote(n).s);
	if (strcmp(want, e->digest) != 0)
		return log_fail(w->err, w->cap, "%s: %s does not hold what its name says (it is %s)",
				w->src->what, tarname_quote(n).s, e->digest);
	return 0;
}

/* Copy the arrays of an image already built: another tag of the same item. */
static void share_image(struct image *img, const struct image *from)
{
	img->blobs = from->blobs;
	img->nblobs = from->nblobs;
	img->manifests = from->manifests;
	img->nmanifests = from->nmanifests;
	img->generated = from->generated;
	img->config = from->config;
	img->layers = from->layers;
	img->nlayers = from->nlayers;
	img->shared = 1;
}

/* ---- docker save ---- */

/* Parsed configs by member name, so an item that many entries (or many
 * tags) name is read and parsed once. */
struct config_cache {
	struct map byname;   /* entry name -> struct imageconfig * */
};

static void config_cache_free(struct config_cache *cc)
{
	size_t pos = 0;
	const char *k;
	void *v;
	while (map_next(&cc->byname, &pos, &k, &v)) {
		imageconfig_free(v);
		free(v);
	}
	map_free(&cc->byname);
}

static const struct imageconfig *config_get(struct walk *w, struct config_cache *cc,
					    struct source_entry *cfg)
{
	struct imageconfig *c = map_get(&cc->byname, cfg->name);
	char *bytes;
	size_t len;
	char why[256];

	if (c)
		return c;
	if (check_blob_name(w, cfg) < 0 ||
	    source_read(w->src, cfg, CONFIG_MAX, &bytes, &len, w->err, w->cap) < 0)
		return NULL;
	c = calloc(1, sizeof *c);
	if (!c) {
		free(bytes);
		log_fail(w->err, w->cap, "out of memory");
		return NULL;
	}
	if (imageconfig_parse(c, bytes, len, why, sizeof why) < 0) {
		free(bytes);
		free(c);
		log_fail(w->err, w->cap, "%s: config %s: %s", w->src->what, tarname_quote(cfg->name).s,
			 why);
		return NULL;
	}
	free(bytes);
	if (map_put(&cc->byname, cfg->name, c) < 0) {
		imageconfig_free(c);
		free(c);
		log_fail(w->err, w->cap, "out of memory");
		return NULL;
	}
	return c;
}

static int docker_item_matches(const struct dockersave *ds, size_t item, const char *select)
{
	char t[DOCKERSAVE_TAG_MAX];
	for (uint32_t k = 0; k < ds->items[item].ntags; k++)
		if (dockersave_tag(ds, item, k, t, sizeof t) > 0 && same_ref(t, select))
			return 1;
	return 0;
}

static void docker_item_names(const struct dockersave *ds, struct buf *b)
{
	char t[DOCKERSAVE_TAG_MAX];
	for (size_t i = 0; i < ds->n; i++) {
		if (!ds->items[i].ntags) {
			buf_printf(b, "%s(untagged)", b->len ? ", " : "");
			continue;
		}
		for (uint32_t k = 0; k < ds->items[i].ntags; k++)
			if (dockersave_tag(ds, i, k, t, sizeof t) > 0)
				buf_printf(b, "%s%s", b->len ? ", " : "", tarname_quote(t).s);
	}
}

/* Build and verify the OCI image of one manifest.json item into w->img. */
static int docker_image(struct walk *w, struct config_cache *cc, const struct dockersave *ds,
			size_t item)
{
	struct source *src = w->src;
	struct image *img = w->img;
	char name[TARNAME_MAX];
	struct source_entry *cfg;
	const struct imageconfig *conf;
	uint32_t nl = ds->items[item].nlayers;
	struct buf m;

	if (spend(w, 1 + (unsigned long)nl) < 0)
		return -1;
	dockersave_config(ds, item, name, sizeof name);
	cfg = source_get(src, name, w->err, w->cap);
	if (!cfg || !(conf = config_get(w, cc, cfg)))
		return -1;
	if (conf->n != nl)
		return log_fail(w->err, w->cap, "%s: config lists %u layers but manifest.json has %u",
				src->what, conf->n, nl);
	{
		long ci = add_entry_blob(w, cfg, cfg->digest, MT_OCI_CONFIG);
		if (ci < 0)
			return -1;
		img->config = (size_t)ci;
		img->blobs[ci].is_config = 1;
	}
	img->layers = calloc(nl ? nl : 1, sizeof *img->layers);
	if (!img->layers)
		return log_fail(w->err, w->cap, "out of memory");
	for (uint32_t i = 0; i < nl; i++) {
		struct source_entry *le;
		long li;
		dockersave_layer(ds, item, i, name, sizeof name);
		le = source_get(src, name, w->err, w->cap);
		if (!le || check_blob_name(w, le) < 0)
			return -1;
		if (claim(le, conf->diff_ids[i], "the config's diff_id") < 0 ||
		    strcmp(conf->diff_ids[i], le->digest) != 0)
			return log_fail(w->err, w->cap,
					"%s: layer %u (%s) is %s but the config's diff_id says %s",
					src->what, i, tarname_quote(name).s, le->digest,
					conf->diff_ids[i]);
		li = add_entry_blob(w, le, le->digest, MT_OCI_LAYER_TAR);
		if (li < 0)
			return -1;
		img->layers[img->nlayers++] = (size_t)li;
	}
	img->generated = 1;
	{
		const struct image_blob **lp = calloc(nl ? nl : 1, sizeof *lp);
		char d[DIGEST_STR_MAX];
		if (!lp)
			return log_fail(w->err, w->cap, "out of memory");
		for (size_t i = 0; i < img->nlayers; i++)
			lp[i] = &img->blobs[img->layers[i]];
		buf_init(&m, SMALL_MAX);
		if (image_write_manifest(&m, IMAGE_FORMAT_OCI, &img->blobs[img->config], lp,
					 img->nlayers) < 0) {
			free(lp);
			buf_free(&m);
			return log_fail(w->err, w->cap, "out of memory");
		}
		free(lp);
		digest_of(DIGEST_SHA256, m.p, m.len, d);
		if (add_manifest(w, d, MT_OCI_MANIFEST, m.p, m.len) < 0)
			return -1;
	}
	return 0;
}

static int load_docker(struct walk *w, struct source_entry *mj, const char *select,
		       const char *repo, const char *tag, struct image_set *out)
{
	struct source *src = w->src;
	struct config_cache cc;
	struct dockersave ds;
	char *bytes, why[256];
	size_t len;
	int rc = -1;

	if (source_read(src, mj, SMALL_MAX, &bytes, &len, w->err, w->cap) < 0)
		return -1;
	if (dockersave_parse(&ds, bytes, len, why, sizeof why) < 0) {
		free(bytes);
		return log_fail(w->err, w->cap, "%s: manifest.json: %s", src->what, why);
	}
	map_init(&cc.byname);
	if (repo) {
		/* one image: the only one, the one named, or the one tagged repo:tag */
		size_t item = ds.n;
		char want[STORE_NAME_MAX + STORE_TAG_MAX + 2];
		snprintf(want, sizeof want, "%s:%s", repo, tag);
		for (size_t i = 0; i < ds.n && item == ds.n; i++)
			if (docker_item_matches(&ds, i, select ? select : want))
				item = i;
		if (item == ds.n && !select && ds.n == 1)
			item = 0;
		if (item == ds.n) {
			struct buf names;
			buf_init(&names, 4096);
			docker_item_names(&ds, &names);
			buf_cstr(&names);
			log_fail(w->err, w->cap, "%s holds %zu images (%s)%s%s; name one with SRC#NAME=REPO:TAG",
				 src->what, ds.n, names.p ? names.p : "", select ? ", none is " : "",
				 select ? tarname_quote(select).s : "");
			buf_free(&names);
			goto out;
		}
		{
			struct image *img = set_add(w, out, repo, tag);
			if (!img)
				goto out;
			walk_reset(w, img);
			if (docker_image(w, &cc, &ds, item) < 0)
				goto out;
		}
	} else {
		/* every image under each of its own tags; the tags of one item share it */
		for (size_t i = 0; i < ds.n; i++) {
			char t[DOCKERSAVE_TAG_MAX], r[STORE_NAME_MAX + 1], tg[STORE_TAG_MAX + 1];
			size_t first = out->n;
			if (!ds.items[i].ntags) {
				log_fail(w->err, w->cap, "%s: image %zu has no RepoTags; import it with =REPO:TAG",
					 src->what, i);
				goto out;
			}
			for (uint32_t k = 0; k < ds.items[i].ntags; k++) {
				struct image *img;
				dockersave_tag(&ds, i, k, t, sizeof t);
				if (image_parse_ref(t, r, tg) < 0) {
					log_fail(w->err, w->cap, "%s: RepoTag %s is not a repo:tag", src->what,
						 tarname_quote(t).s);
					goto out;
				}
				if (spend(w, 1) < 0 || !(img = set_add(w, out, r, tg)))
					goto out;
				if (k) {
					share_image(img, &out->v[first]);
					continue;
				}
				walk_reset(w, img);
				if (docker_image(w, &cc, &ds, i) < 0)
					goto out;
			}
		}
	}
	rc = 0;
out:
	config_cache_free(&cc);
	dockersave_free(&ds);
	free(bytes);
	return rc;
}

/* ---- OCI layout ---- */

static struct source_entry *oci_blob(struct walk *w, const struct descriptor *d)
{
	struct source *src = w->src;
	char name[TARNAME_MAX], got[DIGEST_STR_MAX];
	const char *colon = strchr(d->digest, ':');
	struct source_entry *e;

	snprintf(name, sizeof name, "blobs/%.*s/%s", (int)(colon - d->digest), d->digest, colon + 1);
	e = source_get(src, name, w->err, w->cap);
	if (!e)
		return NULL;
	if (e->size != d->size) {
		log_fail(w->err, w->cap, "%s: %s has %llu bytes but its descriptor says %llu", src->what,
			 name, (unsigned long long)e->size, (unsigned long long)d->size);
		return NULL;
	}
	if (strncmp(d->digest, "sha256:", 7) == 0) {
		if (claim(e, d->digest, "its descriptor") < 0 || strcmp(e->digest, d->digest) != 0) {
			log_fail(w->err, w->cap, "%s: %s does not match its digest (it is %s)", src->what,
				 name, e->digest);
			return NULL;
		}
	} else {
		/* sha512: hash again */
		char *bytes;
		size_t len;
		if (e->size > CONFIG_MAX) {
			log_fail(w->err, w->cap, "%s: sha512 blob %s is too large to verify", src->what, name);
			return NULL;
		}
		if (source_read(src, e, CONFIG_MAX, &bytes, &len, w->err, w->cap) < 0)
			return NULL;
		digest_of(DIGEST_SHA512, bytes, len, got);
		free(bytes);
		if (strcmp(got, d->digest) != 0) {
			log_fail(w->err, w->cap, "%s: %s does not match its digest", src->what, name);
			return NULL;
		}
	}
	return e;
}

/* file_fetch: a layout's blob is its file, checked against d. */
static int file_blob(void *ctx, const struct descriptor *d, struct image_blob *b, char *err,
		     size_t cap)
{
	struct walk *w = ctx;
	struct source_entry *e = oci_blob(w, d);
	(void)err;
	(void)cap;
	if (!e)
		return -1;
	b->entry = (size_t)(e - w->src->e);
	e->wanted = 1;
	return 0;
}

/* file_fetch: a layout's manifest, read from its file. */
static int file_manifest(void *ctx, const struct descriptor *d, char **bytes, size_t *len,
			 char *err, size_t cap)
{
	struct walk *w = ctx;
	struct source_entry *e = oci_blob(w, d);
	if (!e)
		return -1;
	return source_read(w->src, e, SMALL_MAX, bytes, len, err, cap);
}

/* A blob of the image being built, once per digest. */
static int oci_add_blob(struct walk *w, const struct descriptor *d, int is_config)
{
	void *seen = map_get(&w->bseen, d->digest);
	long bi;
	if (seen) {
		if (w->img->blobs[(size_t)seen - 1].size != d->size)
			return log_fail(w->err, w->cap, "%s: two descriptors of %s disagree on its size",
					w->what, d->digest);
		if (is_config)
			w->img->blobs[(size_t)seen - 1].is_config = 1;
		return 0;
	}
	if ((bi = add_blob(w, d->digest, d->media_type, d->size)) < 0)
		return -1;
	if (w->fetch->blob && w->fetch->blob(w->fetch->ctx, d, &w->img->blobs[bi], w->err, w->cap) < 0)
		return -1;
	if (is_config)
		w->img->blobs[bi].is_config = 1;
	return 0;
}

/* Add manifest d (and everything below it, each digest once) to the image.
 * At depth 0 with a platform, an index stands aside for its one child. */
static int oci_manifest(struct walk *w, const struct descriptor *d, int depth)
{
	void *seen = map_get(&w->mseen, d->digest);
	struct manifest m;
	char *bytes;
	size_t len;
	char why[256];
	int rc = -1;

	if (seen) {
		if (w->img->manifests[(size_t)seen - 1].len != d->size)
			return log_fail(w->err, w->cap, "%s: two descriptors of %s disagree on its size",
					w->what, d->digest);
		return 0;
	}
	if (depth > IMAGE_MAX_DEPTH)
		return log_fail(w->err, w->cap, "%s: indexes nested more than %d deep (an import limit)",
				w->what, IMAGE_MAX_DEPTH);
	if (w->fetch->manifest(w->fetch->ctx, d, &bytes, &len, w->err, w->cap) < 0)
		return -1;
	if (manifest_parse(&m, bytes, len, d->media_type, why, sizeof why) < 0) {
		free(bytes);
		return log_fail(w->err, w->cap, "%s: manifest %s: %s", w->what, d->digest, why);
	}
	if (spend(w, m.nrefs + (m.kind == MANIFEST_IMAGE)) < 0)
		goto out;
	if (m.kind == MANIFEST_IMAGE) {
		if (oci_add_blob(w, &m.config, 1) < 0)
			goto out;
		for (size_t i = 0; i < m.nrefs; i++)
			if (!m.refs[i].has_urls && oci_add_blob(w, &m.refs[i], 0) < 0)
				goto out;
	} else if (depth == 0 && w->platform) {
		long k = platform_pick(&m, w->platform);
		if (k < 0) {
			char want[PLATFORM_STR_MAX], have[512];
			platform_format(w->platform, want, sizeof want);
			platform_list(&m, have, sizeof have);
			log_fail(w->err, w->cap, "%s: index %s has no manifest for %s (it has: %s)",
				 w->what, d->digest, want, have[0] ? have : "none");
			goto out;
		}
		rc = oci_manifest(w, &m.refs[k], depth + 1);
		goto out;
	} else {
		for (size_t i = 0; i < m.nrefs; i++)
			if (oci_manifest(w, &m.refs[i], depth + 1) < 0)
				goto out;
	}
	rc = add_manifest(w, d->digest, m.media_type, bytes, len);
	bytes = NULL;
out:
	manifest_free(&m);
	free(bytes);
	return rc;
}

/* The name index.json gives descriptor i: its ref name when that is a
 * repo:tag (skopeo, buildkit, packhelper export), else its containerd name
 * (ctr export writes the tag alone as the ref name): host/repo:tag, or
 * host/repo@digest for an image kept untagged (tag "") in repo, such as a
 * referrer.  The host is dropped, as for every name imported.  0 or -1. */
static int oci_name(const struct ocindex *idx, size_t i, const char *ref,
		    char r[STORE_NAME_MAX + 1], char tg[STORE_TAG_MAX + 1])
{
	char cn[OCINDEX_REF_MAX], why[256];
	struct ref parsed;

	if (ref[0] && strchr(ref, ':') && image_parse_ref(ref, r, tg) == 0)
		return 0;
	if (ocindex_containerd_name(idx, i, cn, sizeof cn) <= 0 ||
	    ref_parse(cn, strlen(cn), &parsed, why, sizeof why) < 0)
		return -1;
	if (parsed.digest[0] && strcmp(parsed.digest, idx->m.refs[i].digest) != 0)
		return -1; /* a name by digest must be the entry's own */
	snprintf(r, STORE_NAME_MAX + 1, "%s", ref_familiar_name(&parsed));
	snprintf(tg, STORE_TAG_MAX + 1, "%s", parsed.digest[0] ? "" : parsed.tag);
	return 0;
}

static int load_oci(struct walk *w, struct source_entry *ie, const char *select,
		    const char *repo, const char *tag, struct image_set *out)
{
	struct source *src = w->src;
	char *bytes;
	size_t len;
	struct ocindex idx;
	char why[256];
	int rc = -1, taken = 0;

	if (source_read(src, ie, SMALL_MAX, &bytes, &len, w->err, w->cap) < 0)
		return -1;
	if (ocindex_parse(&idx, bytes, len, why, sizeof why) < 0) {
		free(bytes);
		return log_fail(w->err, w->cap, "%s: index.json: %s", src->what, why);
	}
	if (spend(w, idx.m.nrefs) < 0)
		goto out;
	for (size_t i = 0; i < idx.m.nrefs; i++) {
		char ref[OCINDEX_REF_MAX], r[STORE_NAME_MAX + 1], tg[STORE_TAG_MAX + 1];
		struct image *img;
		ocindex_ref(&idx, i, ref, sizeof ref);
		if (repo) {
			int match = select ? (ref[0] && (strcmp(ref, select) == 0 || same_ref(ref, select)))
					   : idx.m.nrefs == 1;
			if (!select && !match && ref[0]) {
				char want[STORE_NAME_MAX + STORE_TAG_MAX + 2];
				snprintf(want, sizeof want, "%s:%s", repo, tag);
				match = strcmp(ref, tag) == 0 || same_ref(ref, want);
			}
			if (!match || taken)
				continue;
			snprintf(r, sizeof r, "%s", repo);
			snprintf(tg, sizeof tg, "%s", tag);
		} else if (oci_name(&idx, i, ref, r, tg) < 0) {
			log_fail(w->err, w->cap,
				 "%s: manifest %zu has no repo:tag ref name; import it with =REPO:TAG",
				 src->what, i);
			goto out;
		}
		if (!(img = set_add(w, out, r, tg)))
			goto out;
		walk_reset(w, img);
		if (oci_manifest(w, &idx.m.refs[i], 0) < 0)
			goto out;
		taken++;
	}
	if (!taken) {
		log_fail(w->err, w->cap, "%s: no image in index.json matches %s", src->what,
			 select ? tarname_quote(select).s : "the target (name one with SRC#NAME=REPO:TAG)");
		goto out;
	}
	rc = 0;
out:
	ocindex_free(&idx);
	free(bytes);
	return rc;
}

/* Point each blob at where source_fetch left its bytes. */
static void image_locate(const struct source *src, struct image *img)
{
	for (size_t i = 0; i < img->nblobs; i++) {
		struct image_blob *b = &img->blobs[i];
		const struct source_entry *e = &src->e[b->entry];
		snprintf(b->tmp, sizeof b->tmp, "%s", e->tmp);
		b->off = e->tmp[0] ? -1 : e->off;
		b->unverified = e->unverified;
	}
}

int image_load(struct source *src, const char *select, const char *repo, const char *tag,
	       const struct platform *platform, struct image_set *out, char *err, size_t cap)
{
	struct source_entry *e;
	struct walk w;
	int rc = -1;
	struct image_fetch files;

	memset(out, 0, sizeof *out);
	files.manifest = file_manifest;
	files.blob = file_blob;
	files.ctx = &w;
	files.what = src->what;
	walk_init(&w, &files, platform, err, cap);
	w.src = src;
	/* docker save writes manifest.json in both layouts; prefer it, as the
	 * layer order it gives is the image's */
	e = source_get(src, "manifest.json", err, cap);
	if (e) {
		if (load_docker(&w, e, select, repo, tag, out) < 0)
			goto out;
	} else if (errno != ENOENT) {
		goto out; /* there, but not a file we may read */
	} else if ((e = source_get(src, "index.json", err, cap))) {
		if (load_oci(&w, e, select, repo, tag, out) < 0)
			goto out;
	} else if (errno != ENOENT) {
		goto out;
	} else {
		log_fail(err, cap, "%s holds neither manifest.json (docker save) nor index.json (OCI layout)",
			 src->what);
		goto out;
	}
	if (source_fetch(src, err, cap) < 0)
		goto out;
	for (size_t i = 0; i < out->n; i++)
		if (!out->v[i].shared)
			image_locate(src, &out->v[i]);
	rc = 0;
out:
	map_free(&w.mseen);
	map_free(&w.bseen);
	if (rc < 0)
		image_set_free(out);
	return rc;
}

int image_walk(const struct image_fetch *f, const struct descriptor *top,
	       const struct platform *platform, struct image *img, char *err, size_t cap)
{
	struct walk w;
	int rc;

	walk_init(&w, f, platform, err, cap);
	walk_reset(&w, img);
	rc = oci_manifest(&w, top, 0);
	map_free(&w.mseen);
	map_free(&w.bseen);
	return rc;
}

int image_commit(struct store *st, const struct source *src, const struct image *img, char *err,
		 size_t cap)
{
	const struct tmpdir *tmp = src->tmp;
	for (size_t i = 0; i < img->nblobs; i++) {
		const struct image_blob *b = &img->blobs[i];
		struct inplace_rec rec;
		int fd;
		if (store_blob_get(st, img->repo, b->digest))
			continue;
		if (store_blob_get(st, NULL, b->digest)) {
			if (store_blob_mount(st, img->repo, b->digest) < 0)
				return log_fail(err, cap, "link %s: %s", b->digest, strerror(errno));
			continue;
		}
		if (!b->tmp[0] && source_place(src, &src->e[b->entry], &rec, &fd) == 0) {
			snprintf(rec.digest, sizeof rec.digest, "%s", b->digest);
			if (store_blob_commit_inplace(st, img->repo, &rec, fd) < 0)
				return log_fail(err, cap, "commit %s in place: %s", b->digest,
						errno == ESTALE ? "the file changed after it was verified"
								: strerror(errno));
			continue;
		}
		if (!b->tmp[0])
			return log_fail(err, cap, "commit %s: its bytes are not in the store", b->digest);
		if (store_blob_commit_tmp(st, img->repo, tmp, b->tmp, b->digest, b->size) < 0)
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
				       last && img->tag[0] ? 1 : 0);
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

void image_free(struct image *img)
{
	if (img->shared)
		return; /* another image's arrays */
	for (size_t k = 0; k < img->nmanifests; k++)
		free(img->manifests[k].bytes);
	free(img->manifests);
	free(img->blobs);
	free(img->layers);
	img->manifests = NULL;
	img->blobs = NULL;
	img->layers = NULL;
	img->nmanifests = img->nblobs = img->nlayers = 0;
}

void image_set_free(struct image_set *set)
{
	for (size_t i = 0; i < set->n; i++)
		image_free(&set->v[i]);
	free(set->v);
	set->v = NULL;
	set->n = 0;
}
