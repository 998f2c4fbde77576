/* ocindex.h - the index.json at the top of an OCI image layout.
 *
 * An OCI image index (checked by manifest_parse) whose descriptors may name
 * their image with the org.opencontainers.image.ref.name annotation ("v1",
 * or "repo:tag" as skopeo and buildkit write it), and with containerd's
 * io.containerd.image.name (the full name, "host/repo:tag" or
 * "host/repo@digest", as ctr export and packhelper export write it).  The
 * text must outlive the struct.  No I/O (fuzzed by tests/fuzz/fuzz_ocindex.c). */
#ifndef PH_OCINDEX_H
#define PH_OCINDEX_H

#include <stddef.h>

#include "manifest.h"

#define OCINDEX_REF_NAME "org.opencontainers.image.ref.name"
#define OCINDEX_CONTAINERD_NAME "io.containerd.image.name"
#define OCINDEX_REF_MAX 512 /* one ref name, with its NUL */

struct ocindex {
	struct manifest m;   /* m.refs[i] is the i-th descriptor */
	int *ref;            /* token of descriptor i's ref name, or -1 */
	int *cname;          /* token of descriptor i's containerd name, or -1 */
};

/* Parse text[0..len).  0 (release with ocindex_free), or -1 with a one-line
 * reason in why. */
int ocindex_parse(struct ocindex *x, const char *text, size_t len, char *why, size_t cap);
void ocindex_free(struct ocindex *x);
/* Descriptor i's ref name into out[cap] (OCINDEX_REF_MAX fits); its length,
 * 0 when it has none. */
long ocindex_ref(const struct ocindex *x, size_t i, char *out, size_t cap);
/* The same for descriptor i's io.containerd.image.name. */
long ocindex_containerd_name(const struct ocindex *x, size_t i, char *out, size_t cap);

#endif
