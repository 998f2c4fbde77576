/* transfer.c - images into a sink, in an order every registry takes, and
 * nothing put twice (transfer.h). */
#include "transfer.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "manifest.h"
#include "map.h"

/* Mark in want the blobs of img's image manifests that the sink lacks. */
static int wanted_blobs(const struct image *img, const unsigned char *held, unsigned char *want,
			char *err, size_t cap)
{
	struct map at;
	int rc = 0;

	map_init(&at);
	for (size_t i = 0; i < img->nblobs; i++)
		if (map_put(&at, img->blobs[i].digest, (void *)(i + 1)) < 0) {
			map_free(&at);
			return log_fail(err, cap, "out of memory");
		}
	for (size_t i = 0; i < img->nmanifests && rc == 0; i++) {
		const struct image_manifest *m = &img->manifests[i];
		struct manifest pm;
		char why[256];
		void *v;
		if (held[i])
			continue;
		if (manifest_parse(&pm, m->bytes, m->len, m->media_type, why, sizeof why) < 0) {
			rc = log_fail(err, cap, "manifest %s: %s", m->digest, why);
			break;
		}
		if (pm.kind == MANIFEST_IMAGE) {
			if ((v = map_get(&at, pm.config.digest)))
				want[(size_t)v - 1] = 1;
			for (size_t k = 0; k < pm.nrefs; k++)
				if ((v = map_get(&at, pm.refs[k].digest)))
					want[(size_t)v - 1] = 1;
		}
		manifest_free(&pm);
	}
	map_free(&at);
	return rc;
}

/* Put img; its top manifest goes under tag when one is given (a PUT by tag
 * stores the manifest too: one request less), else by digest.  *top_held:
 * the sink held the top manifest already. */
static int put_image(struct sink *sink, const struct sink_from *from, struct image *img,
		     const char *tag, int *top_held, struct sink_stats *st, char *err, size_t cap)
{
	unsigned char *held = calloc(img->nmanifests + 1, 1);
	unsigned char *want = calloc(img->nblobs + 1, 1);
	int rc = -1;

	if (!held || !want) {
		log_fail(err, cap, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < img->nmanifests; i++) {
		char got[DIGEST_STR_MAX];
		int r = sink->ops->has_manifest(sink->impl, img->manifests[i].digest, got, err, cap);
		if (r < 0)
			goto out;
		/* a registry that answers a digest with another is not trusted */
		held[i] = r == 1 && (!got[0] || strcmp(got, img->manifests[i].digest) == 0);
	}
	if (wanted_blobs(img, held, want, err, cap) < 0 ||
	    sink->ops->put_blobs(sink->impl, img, want, from, st, err, cap) < 0)
		goto out;
	for (size_t i = 0; i < img->nmanifests; i++) {
		const struct image_manifest *m = &img->manifests[i];
		int top = i + 1 == img->nmanifests;
		if (held[i])
			st->manifests_found++;
		else if (sink->ops->put_manifest(sink->impl, m, top && tag ? tag : m->digest, st, err,
						 cap) < 0)
			goto out;
	}
	*top_held = held[img->nmanifests - 1];
	rc = 0;
out:
	free(held);
	free(want);
	return rc;
}

int transfer_images(struct sink *sink, const struct sink_from *from, struct image *imgs, size_t n,
		    const char *tag, struct sink_stats *st, char *err, size_t cap)
{
	const struct image_manifest *top;
	char got[DIGEST_STR_MAX];
	int r, held = 0;

	if (!n || !imgs[0].nmanifests)
		return log_fail(err, cap, "nothing to copy");
	if (tag && !tag[0])
		tag = NULL;
	for (size_t i = 0; i < n; i++) {
		int h;
		if (put_image(sink, from, &imgs[i], i ? NULL : tag, &h, st, err, cap) < 0)
			return -1;
		if (!i)
			held = h;
	}
	/* the tag went with the top manifest, unless the sink held that */
	if (!tag || !held)
		return 0;
	top = &imgs[0].manifests[imgs[0].nmanifests - 1];
	r = sink->ops->has_manifest(sink->impl, tag, got, err, cap);
	if (r < 0)
		return -1;
	if (r == 1 && strcmp(got, top->digest) == 0)
		return 0;
	return sink->ops->put_manifest(sink->impl, top, tag, st, err, cap);
}
