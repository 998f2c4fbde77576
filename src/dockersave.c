/* dockersave.c - docker save's manifest.json, checked once. */
#include "dockersave.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tarname.h"

/* A string token that decodes to a usable name (or tag) of fewer than max bytes. */
static int good_string(const struct json *j, int tok, size_t max)
{
	char tmp[TARNAME_MAX];
	if (max > sizeof tmp)
		max = sizeof tmp;
	return json_str_copy(j, tok, tmp, max) > 0;
}

static int check_item(struct dockersave *d, size_t i, int tok, size_t *tags_total, char *why,
		      size_t cap)
{
	const struct json *j = &d->j;
	struct dockersave_item *it = &d->items[i];
	int t;

	if (j->t[tok].type != JSON_OBJECT)
		return log_fail(why, cap, "entry %zu is not an object", i);
	it->config = json_get(j, tok, "Config");
	it->layers = json_get(j, tok, "Layers");
	t = json_get(j, tok, "RepoTags");
	if (it->config < 0 || !good_string(j, it->config, TARNAME_MAX))
		return log_fail(why, cap, "entry %zu has no Config file name", i);
	if (it->layers < 0 || j->t[it->layers].type != JSON_ARRAY)
		return log_fail(why, cap, "entry %zu has no Layers array", i);
	it->nlayers = j->t[it->layers].size;
	if (it->nlayers > DOCKERSAVE_MAX_LAYERS)
		return log_fail(why, cap, "entry %zu has more than %d layers (the limit)", i,
				DOCKERSAVE_MAX_LAYERS);
	for (uint32_t k = 0; k < it->nlayers; k++)
		if (!good_string(j, json_index(j, it->layers, k), TARNAME_MAX))
			return log_fail(why, cap, "entry %zu: layer %u is not a file name", i, k);
	it->tags = -1;
	it->ntags = 0;
	if (t == -2)
		return log_fail(why, cap, "entry %zu has RepoTags twice", i);
	if (t >= 0 && j->t[t].type != JSON_NULL) {
		if (j->t[t].type != JSON_ARRAY)
			return log_fail(why, cap, "entry %zu: RepoTags is not an array", i);
		it->tags = t;
		it->ntags = j->t[t].size;
		*tags_total += it->ntags;
		if (*tags_total > DOCKERSAVE_MAX_TAGS)
			return log_fail(why, cap, "more than %d RepoTags (the limit)", DOCKERSAVE_MAX_TAGS);
		for (uint32_t k = 0; k < it->ntags; k++)
			if (!good_string(j, json_index(j, t, k), DOCKERSAVE_TAG_MAX))
				return log_fail(why, cap, "entry %zu: RepoTag %u is not a string", i, k);
	}
	return 0;
}

int dockersave_parse(struct dockersave *d, const char *text, size_t len, char *why, size_t cap)
{
	size_t tags_total = 0;

	memset(d, 0, sizeof *d);
	if (json_parse(&d->j, text, len) < 0)
		return log_fail(why, cap, "not valid JSON");
	if (d->j.t[0].type != JSON_ARRAY || d->j.t[0].size == 0) {
		log_fail(why, cap, "not a non-empty JSON array");
		goto bad;
	}
	if (d->j.t[0].size > DOCKERSAVE_MAX_ITEMS) {
		log_fail(why, cap, "more than %d images (the limit)", DOCKERSAVE_MAX_ITEMS);
		goto bad;
	}
	d->n = d->j.t[0].size;
	d->items = calloc(d->n, sizeof *d->items);
	if (!d->items) {
		log_fail(why, cap, "out of memory");
		goto bad;
	}
	for (size_t i = 0; i < d->n; i++)
		if (check_item(d, i, json_index(&d->j, 0, (uint32_t)i), &tags_total, why, cap) < 0)
			goto bad;
	return 0;
bad:
	dockersave_free(d);
	return -1;
}

void dockersave_free(struct dockersave *d)
{
	json_free(&d->j);
	free(d->items);
	d->items = NULL;
	d->n = 0;
}

long dockersave_config(const struct dockersave *d, size_t item, char *out, size_t cap)
{
	return json_str_copy(&d->j, d->items[item].config, out, cap);
}

long dockersave_layer(const struct dockersave *d, size_t item, uint32_t i, char *out, size_t cap)
{
	return json_str_copy(&d->j, json_index(&d->j, d->items[item].layers, i), out, cap);
}

long dockersave_tag(const struct dockersave *d, size_t item, uint32_t k, char *out, size_t cap)
{
	return json_str_copy(&d->j, json_index(&d->j, d->items[item].tags, k), out, cap);
}
