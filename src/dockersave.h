/* dockersave.h - the manifest.json of a `docker save` archive.
 *
 *   [{"Config": "<member>", "RepoTags": ["repo:tag", ...], "Layers": ["<member>", ...]}, ...]
 *
 * dockersave_parse checks the whole shape once (every name a non-empty string
 * without NUL that fits TARNAME_MAX, the counts within the limits below), so
 * the accessors cannot fail afterwards.  Strings stay in the caller's text,
 * which must outlive the struct.  No I/O (fuzzed by fuzz_dockersave.c). */
#ifndef PH_DOCKERSAVE_H
#define PH_DOCKERSAVE_H

#include <stddef.h>
#include <stdint.h>

#include "json.h"

#define DOCKERSAVE_MAX_ITEMS 4096   /* images in one manifest.json */
#define DOCKERSAVE_MAX_LAYERS 4096  /* layers of one image */
#define DOCKERSAVE_MAX_TAGS 4096    /* RepoTags of all images together */
#define DOCKERSAVE_TAG_MAX 512      /* one RepoTag, with its NUL */

struct dockersave_item {
	int config;       /* token of the Config string */
	int layers;       /* token of the Layers array */
	uint32_t nlayers;
	int tags;         /* token of the RepoTags array, -1 when absent or null */
	uint32_t ntags;
};

struct dockersave {
	struct json j;
	struct dockersave_item *items;
	size_t n;
};

/* Parse text[0..len).  0 (release with dockersave_free), or -1 with a
 * one-line reason in why. */
int dockersave_parse(struct dockersave *d, const char *text, size_t len, char *why, size_t cap);
void dockersave_free(struct dockersave *d);
/* Copy a name into out[cap] (TARNAME_MAX fits every one); its length. */
long dockersave_config(const struct dockersave *d, size_t item, char *out, size_t cap);
long dockersave_layer(const struct dockersave *d, size_t item, uint32_t i, char *out, size_t cap);
long dockersave_tag(const struct dockersave *d, size_t item, uint32_t k, char *out, size_t cap);

#endif
