/* fuzz_json.c - json_parse, a walk over every token with every accessor,
 * json_str_copy of every string (and a json_write_str round trip), then
 * manifest_parse with each known Content-Type and manifest_accepts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const struct json *j, size_t size)
{
	char *out = malloc(size + 1);
	for (uint32_t i = 0; i < j->n; i++) {
		const struct json_tok *t = &j->t[i];
		size_t len;
		uint64_t v;
		if (t->next <= i || t->next > j->n || t->start > t->end || t->end > size)
			abort();
		json_raw(j, (int)i, &len);
		json_u64(j, (int)i, &v);
		json_index(j, (int)i, 0);
		if (t->type == JSON_OBJECT) {
			/* every key finds its own value, unless it appears twice */
			for (uint32_t k = i + 1, m = 0; m < t->size; m++, k = j->t[k + 1].next) {
				long n = json_str_copy(j, (int)k, out, size + 1);
				int g = n < 0 || (j->t[k].escaped && n >= 255) ? -3 : json_get(j, (int)i, out);
				if (g != -3 && g != -2 && g != (int)k + 1)
					abort();
			}
		}
		if (t->type == JSON_STRING) {
			long n = json_str_copy(j, (int)i, out, size + 1);
			if (n >= 0 && (n < 255 || !t->escaped) && !json_str_eq(j, (int)i, out))
				abort();
			if (n >= 0) {
				/* writing the decoded bytes back gives JSON that decodes the same */
				struct buf b;
				struct json j2;
				buf_init(&b, 6 * (size_t)n + 2);
				if (json_write_str(&b, out, (size_t)n) < 0 || json_parse(&j2, b.p, b.len) < 0 ||
				    (n < 255 && !json_str_eq(&j2, 0, out)))
					abort();
				json_free(&j2);
				buf_free(&b);
			}
		}
	}
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const cts[] = { NULL, MT_OCI_MANIFEST, MT_OCI_INDEX, MT_DOCKER_MANIFEST,
					   MT_DOCKER_LIST, "application/json; charset=utf-8" };
	const char *s = (const char *)data;
	struct json j;
	struct manifest m;
	char why[128];

	if (json_parse(&j, s, size) == 0) {
		walk(&j, size);
		json_free(&j);
	}
	for (size_t k = 0; k < sizeof cts / sizeof cts[0]; k++)
		if (manifest_parse(&m, s, size, cts[k], why, sizeof why) == 0)
			manifest_free(&m);
	manifest_accepts(s, size, MT_OCI_MANIFEST);
	return 0;
}
