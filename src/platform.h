/* platform.h - a platform as --platform takes it ("os/arch[/variant]"), and
 * the child of an image index that matches it.  No I/O (fuzzed by
 * tests/fuzz/fuzz_platform.c).
 *
 * Matching is what a pull does (containerd, crane): os and architecture
 * equal; a variant given must be equal, no variant given matches any; the
 * first child that matches wins, in the index's order.  Names are compared
 * after the usual normalisation: x86_64 is amd64, aarch64 is arm64, arm64's
 * "v8" is no variant, arm with no variant is "v7", amd64's "v1" is none.
 * Children without a platform (attestations have "unknown/unknown") never
 * match a real one.
 *
 * Limits: each field at most PLATFORM_FIELD_MAX - 1 bytes of [a-z0-9._-];
 * anything else is refused, never cut. */
#ifndef PH_PLATFORM_H
#define PH_PLATFORM_H

#include <stddef.h>

#include "manifest.h"

#define PLATFORM_FIELD_MAX 32
#define PLATFORM_STR_MAX (3 * PLATFORM_FIELD_MAX)

struct platform {
	char os[PLATFORM_FIELD_MAX];
	char arch[PLATFORM_FIELD_MAX];
	char variant[PLATFORM_FIELD_MAX]; /* "" when none */
};

/* Parse s ("linux/amd64", "linux/arm64/v8"), normalised.  0, or -1. */
int platform_parse(const char *s, struct platform *p);
/* The platform this binary was built for (linux/amd64, linux/arm64...). */
void platform_host(struct platform *p);
/* "os/arch[/variant]" into out[cap] (PLATFORM_STR_MAX fits). */
void platform_format(const struct platform *p, char *out, size_t cap);
/* The child of index idx (manifest_parse'd, MANIFEST_INDEX) that matches
 * want: its position in idx->refs, or -1 when none does. */
long platform_pick(const struct manifest *idx, const struct platform *want);
/* The platforms of idx's children, "linux/amd64, linux/arm64/v8", into
 * out[cap] (cut short with "..." when it does not fit), for a message. */
void platform_list(const struct manifest *idx, char *out, size_t cap);

#endif
