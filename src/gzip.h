/* gzip.h - a layer compressed for the wire: one gzip stream, its level
 * adapted between 1 MiB chunks.
 *
 * Data that does not shrink (output over 97% of input in a 1 MiB window) is
 * stored instead, and compression is tried again every 64 MiB: incompressible
 * layers cost no CPU, the output is still one valid gzip stream, and the same
 * input at the same level always gives the same bytes (so the same digest).
 *
 * Knows nothing of stores, images or registries: descriptors in, a digest
 * and a size out.  Memory: two 1 MiB buffers and zlib's state per call;
 * thread-safe (push compresses layers in parallel). */
#ifndef PH_GZIP_H
#define PH_GZIP_H

#include <stddef.h>
#include <stdint.h>

#include "digest.h"

/* Compress len bytes of ifd, read with pread from off, onto ofd (written
 * from its current offset) at level 1..9.  in, when not NULL, is updated
 * with every input byte (for an input whose digest is only claimed).  The
 * sha256 of the output goes to out_digest and its length to *out_size.
 * 0, or -1 with a short reason (strerror, "short read", "zlib error") in
 * err[cap]. */
int gzip_copy(int ifd, uint64_t off, uint64_t len, int ofd, int level, struct hasher *in,
	      char out_digest[DIGEST_STR_MAX], uint64_t *out_size, char *err, size_t cap);

#endif
