/* sink.h - where an image goes, whatever it is: a registry (regsink.c, used
 * by push and copy), or an OCI layout or docker-save tarball (sink_file.h,
 * used by export and copy to a file), behind the same three calls.
 *
 * A copy (transfer.c) asks a sink, image by image: which manifests it holds
 * already (the blobs of an image manifest it holds need not be looked at),
 * then puts the blobs still wanted, then the manifests, children before
 * parents, by digest, and the tags last.  A sink never changes a manifest's
 * bytes: what it is given under a digest is what it keeps.
 *
 * Ownership: images and the blobs' sources are the caller's; a sink keeps no
 * pointer into them once a call returns. */
#ifndef PH_SINK_H
#define PH_SINK_H

#include <stdint.h>

#include "digest.h"
#include "image.h"
#include "push_blob.h"
#include "ref.h"

/* What a sink did, summed over calls. */
struct sink_stats {
	unsigned long blobs_sent, blobs_found, blobs_mounted;
	uint64_t bytes_sent;
	unsigned long manifests_put, manifests_found;
};

/* Where the bytes of an image's blobs are: files (a source's, in place, and
 * scratch copies), or a reader for blobs in no file (a registry's). */
struct sink_from {
	const struct source *src;
	const struct tmpdir *scratch;
	const struct push_blob_reader *reader;
};

struct sink_ops {
	/* Does the sink hold ref (a tag or a digest)?  1 with the digest it
	 * holds under it in digest ("" when it does not say), 0 no, -1 err. */
	int (*has_manifest)(void *impl, const char *ref, char digest[DIGEST_STR_MAX], char *err,
			    size_t cap);
	/* Put img's blobs (want[i] set; want NULL: all); every one is in the
	 * sink (and its bytes were its digest) before this returns 0. */
	int (*put_blobs)(void *impl, struct image *img, const unsigned char *want,
			 const struct sink_from *from, struct sink_stats *st, char *err, size_t cap);
	/* Put manifest m under ref (its digest, or a tag). */
	int (*put_manifest)(void *impl, const struct image_manifest *m, const char *ref,
			    struct sink_stats *st, char *err, size_t cap);
};

struct sink {
	const struct sink_ops *ops;
	void *impl;
	char what[REF_MAX];       /* "host/repo", for messages */
};

#endif
