/* transfer.h - one copy: images into a sink, digests kept.
 *
 * The images are a registry's (regsrc.c) or a file's (import.c): imgs[0]
 * is the image asked for, the rest its referrers, each after its subject.
 * Image by image: the sink is asked which manifests it holds already (by
 * digest); the blobs of the image manifests it lacks go first, then those
 * manifests, children before parents, by digest; the tag goes last, unless
 * the sink holds it already pointing at the same digest.  So a copy that
 * fails half-way leaves only content-addressed things behind (blobs,
 * untagged manifests), never a tag on a partial image.
 *
 * What is skipped: a manifest the sink holds under its digest is not put
 * again, and the blobs of an image manifest it holds are not looked at (a
 * registry refuses a manifest whose blobs it lacks, so it has them; a
 * sparse mirror that does not is not completed by a copy).
 *
 * Ownership: everything is the caller's; nothing is kept after the call. */
#ifndef PH_TRANSFER_H
#define PH_TRANSFER_H

#include <stddef.h>

#include "image.h"
#include "sink.h"

/* Put imgs[0..n) into sink (blob bytes from `from`), then imgs[0]'s top
 * manifest under tag (NULL or "": none).  0, or -1 with err. */
int transfer_images(struct sink *sink, const struct sink_from *from, struct image *imgs, size_t n,
		    const char *tag, struct sink_stats *st, char *err, size_t cap);

#endif
