/* imageconfig.c - rootfs.diff_ids of an image config. */
#include "imageconfig.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"

int imageconfig_parse(struct imageconfig *c, const char *text, size_t len, char *why, size_t cap)
{
	struct json j;
	int rootfs, diffs, rc = -1;

	memset(c, 0, sizeof *c);
	if (json_parse(&j, text, len) < 0)
		return log_fail(why, cap, "not valid JSON");
	if (j.t[0].type != JSON_OBJECT) {
		log_fail(why, cap, "not a JSON object");
		goto out;
	}
	rootfs = json_get(&j, 0, "rootfs");
	diffs = rootfs >= 0 && j.t[rootfs].type == JSON_OBJECT ? json_get(&j, rootfs, "diff_ids") : -1;
	if (diffs < 0 || j.t[diffs].type != JSON_ARRAY) {
		log_fail(why, cap, "no rootfs.diff_ids");
		goto out;
	}
	if (j.t[diffs].size > IMAGECONFIG_MAX_LAYERS) {
		log_fail(why, cap, "more than %d diff_ids (the limit)", IMAGECONFIG_MAX_LAYERS);
		goto out;
	}
	c->n = j.t[diffs].size;
	c->diff_ids = calloc(c->n ? c->n : 1, sizeof *c->diff_ids);
	if (!c->diff_ids) {
		log_fail(why, cap, "out of memory");
		goto out;
	}
	for (uint32_t i = 0; i < c->n; i++) {
		enum digest_alg alg;
		long n = json_str_copy(&j, json_index(&j, diffs, i), c->diff_ids[i], DIGEST_STR_MAX);
		if (n <= 0 || digest_parse(c->diff_ids[i], (size_t)n, &alg) != DIGEST_OK ||
		    alg != DIGEST_SHA256) {
			log_fail(why, cap, "rootfs.diff_ids[%u] is not a sha256 digest", i);
			goto out;
		}
	}
	rc = 0;
out:
	json_free(&j);
	if (rc < 0)
		imageconfig_free(c);
	return rc;
}

void imageconfig_free(struct imageconfig *c)
{
	free(c->diff_ids);
	c->diff_ids = NULL;
	c->n = 0;
}
