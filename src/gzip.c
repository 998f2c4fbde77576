/* gzip.c - adaptive per-layer gzip (see gzip.h). */
#include "gzip.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "file.h"
#include "log.h"

#define GZ_CHUNK ((size_t)1 << 20)
#define GZ_WINDOW ((uint64_t)1 << 20)   /* judge compressibility over this much input */
#define GZ_PROBE ((uint64_t)64 << 20)   /* stored this long, then try compressing again */

/* Write n bytes of compressed output to fd, hashing them. */
static int emit(int fd, struct hasher *h, const unsigned char *q, size_t n, uint64_t *total)
{
	hasher_update(h, q, n);
	*total += n;
	return file_write_all(fd, q, n);
}

int gzip_copy(int ifd, uint64_t off, uint64_t len, int ofd, int level, struct hasher *in,
	      char out_digest[DIGEST_STR_MAX], uint64_t *out_size, char *err, size_t cap)
{
	unsigned char *ibuf = malloc(GZ_CHUNK), *obuf = malloc(GZ_CHUNK);
	uint64_t done = 0, win_in = 0, win_out = 0, stored_since = 0, total = 0;
	const int want_level = level;
	struct hasher h;
	z_stream z;
	int rc = -1, zr = Z_OK;

	memset(&z, 0, sizeof z);
	if (!ibuf || !obuf) {
		log_fail(err, cap, "%s", strerror(errno));
		goto out;
	}
	if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		log_fail(err, cap, "zlib init failed");
		goto out;
	}
	hasher_init(&h, DIGEST_SHA256);
	for (int eof = 0; zr != Z_STREAM_END;) {
		if (z.avail_in == 0 && !eof) {
			size_t want = len - done < GZ_CHUNK ? (size_t)(len - done) : GZ_CHUNK;
			ssize_t n;
			int next = level;
			/* adapt, between chunks: compressing what does not shrink only
			 * costs time */
			if (level > 0 && z.total_in - win_in >= GZ_WINDOW) {
				if ((z.total_out - win_out) * 100 > (z.total_in - win_in) * 97)
					next = 0;
				win_in = z.total_in;
				win_out = z.total_out;
			} else if (level == 0 && z.total_in - stored_since >= GZ_PROBE) {
				next = want_level;
			}
			if (next != level) {
				/* deflateParams flushes what it holds: give it room */
				z.next_out = obuf;
				z.avail_out = (uInt)GZ_CHUNK;
				zr = deflateParams(&z, next, Z_DEFAULT_STRATEGY);
				if (emit(ofd, &h, obuf, GZ_CHUNK - z.avail_out, &total) < 0) {
					log_fail(err, cap, "%s", strerror(errno));
					goto outz;
				}
				if (zr == Z_OK) {
					level = next;
					stored_since = win_in = z.total_in;
					win_out = z.total_out;
				}
				zr = Z_OK;
			}
			n = want ? pread(ifd, ibuf, want, (off_t)(off + done)) : 0;
			if (n < 0 || (n == 0 && want)) {
				log_fail(err, cap, "%s", n < 0 ? strerror(errno) : "short read");
				goto outz;
			}
			done += (uint64_t)n;
			eof = done == len;
			if (in)
				hasher_update(in, ibuf, (size_t)n);
			z.next_in = ibuf;
			z.avail_in = (uInt)n;
		}
		z.next_out = obuf;
		z.avail_out = (uInt)GZ_CHUNK;
		zr = deflate(&z, eof ? Z_FINISH : Z_NO_FLUSH);
		if (zr == Z_STREAM_ERROR) {
			log_fail(err, cap, "zlib error");
			goto outz;
		}
		if (emit(ofd, &h, obuf, GZ_CHUNK - z.avail_out, &total) < 0) {
			log_fail(err, cap, "%s", strerror(errno));
			goto outz;
		}
	}
	hasher_final(&h, out_digest);
	*out_size = total;
	rc = 0;
outz:
	deflateEnd(&z);
out:
	free(ibuf);
	free(obuf);
	return rc;
}
