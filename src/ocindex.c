/* ocindex.c - an OCI layout's index.json and its ref names. */
#include "ocindex.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

int ocindex_parse(struct ocindex *x, const char *text, size_t len, char *why, size_t cap)
{
	char what[256];
	int arr;

	memset(x, 0, sizeof *x);
	if (manifest_parse(&x->m, text, len, MT_OCI_INDEX, what, sizeof what) < 0)
		return log_fail(why, cap, "%s", what);
	if (x->m.kind != MANIFEST_INDEX) {
		log_fail(why, cap, "not an image index");
		goto bad;
	}
	x->ref = calloc(x->m.nrefs ? x->m.nrefs : 1, sizeof *x->ref);
	x->cname = calloc(x->m.nrefs ? x->m.nrefs : 1, sizeof *x->cname);
	if (!x->ref || !x->cname) {
		log_fail(why, cap, "out of memory");
		goto bad;
	}
	arr = json_get(&x->m.j, 0, "manifests");
	for (size_t i = 0; i < x->m.nrefs; i++) {
		const struct json *j = &x->m.j;
		int d = json_index(j, arr, (uint32_t)i);
		int ann = json_get(j, d, "annotations");
		int r = ann >= 0 ? json_get(j, ann, OCINDEX_REF_NAME) : -1;
		int c = ann >= 0 ? json_get(j, ann, OCINDEX_CONTAINERD_NAME) : -1;
		char tmp[OCINDEX_REF_MAX];
		x->ref[i] = x->cname[i] = -1;
		if (r == -2 || (r >= 0 && json_str_copy(j, r, tmp, sizeof tmp) <= 0)) {
			log_fail(why, cap, "manifest %zu: its ref name is not a string of 1 to %d bytes", i,
				 OCINDEX_REF_MAX - 1);
			goto bad;
		}
		if (c == -2 || (c >= 0 && json_str_copy(j, c, tmp, sizeof tmp) <= 0)) {
			log_fail(why, cap, "manifest %zu: its %s is not a string of 1 to %d bytes", i,
				 OCINDEX_CONTAINERD_NAME, OCINDEX_REF_MAX - 1);
			goto bad;
		}
		x->ref[i] = r;
		x->cname[i] = c;
	}
	return 0;
bad:
	ocindex_free(x);
	return -1;
}

void ocindex_free(struct ocindex *x)
{
	manifest_free(&x->m);
	free(x->ref);
	free(x->cname);
	x->ref = x->cname = NULL;
}

long ocindex_ref(const struct ocindex *x, size_t i, char *out, size_t cap)
{
	if (i >= x->m.nrefs || x->ref[i] < 0) {
		if (cap)
			out[0] = '\0';
		return 0;
	}
	return json_str_copy(&x->m.j, x->ref[i], out, cap);
}

long ocindex_containerd_name(const struct ocindex *x, size_t i, char *out, size_t cap)
{
	if (i >= x->m.nrefs || x->cname[i] < 0) {
		if (cap)
			out[0] = '\0';
		return 0;
	}
	return json_str_copy(&x->m.j, x->cname[i], out, cap);
}
