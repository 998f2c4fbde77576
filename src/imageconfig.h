/* imageconfig.h - what import needs from an image config: rootfs.diff_ids.
 *
 * The config is the image's own JSON (application/vnd.oci.image.config.v1+json
 * or Docker's container.image.v1+json); its rootfs.diff_ids list the sha256 of
 * each uncompressed layer, bottom first, which docker save's layer.tar files
 * must match.  No I/O (fuzzed by tests/fuzz/fuzz_imageconfig.c). */
#ifndef PH_IMAGECONFIG_H
#define PH_IMAGECONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "digest.h"

#define IMAGECONFIG_MAX_LAYERS 4096

struct imageconfig {
	char (*diff_ids)[DIGEST_STR_MAX]; /* owned; each a valid sha256 digest */
	uint32_t n;
};

/* Parse text[0..len).  0 (release with imageconfig_free), or -1 with a
 * one-line reason in why. */
int imageconfig_parse(struct imageconfig *c, const char *text, size_t len, char *why, size_t cap);
void imageconfig_free(struct imageconfig *c);

#endif
