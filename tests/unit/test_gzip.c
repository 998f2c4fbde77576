/* test_gzip.c - the adaptive per-layer gzip: the output inflates back to the
 * input, its digest and size are the output's, the same input gives the
 * same bytes, incompressible data does not grow, the input hash is
 * the input's, and a short input is an error. */
#include <stdint.h>
#include <stdio.h>

#include <zlib.h>

#include "gzip.h"
#include "unit.h"

#define MIB ((size_t)1 << 20)

/* n bytes: runs of text, then (from half) xorshift noise when noisy */
static unsigned char *make_input(size_t n, int noisy)
{
	unsigned char *p = malloc(n);
	uint32_t x = 2463534242u;
	for (size_t i = 0; i < n; i++) {
		if (noisy && i >= n / 2) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			p[i] = (unsigned char)x;
		} else {
			p[i] = (unsigned char)"layer.tar "[i % 10];
		}
	}
	return p;
}

static FILE *file_with(const unsigned char *p, size_t n)
{
	FILE *f = tmpfile();
	if (!f || fwrite(p, 1, n, f) != n || fflush(f) != 0) {
		perror("tmpfile");
		exit(2);
	}
	return f;
}

/* gzip in[0..n) at offset 3 of a file; the output's bytes into *out */
static int run(const unsigned char *in, size_t n, int level, char digest[DIGEST_STR_MAX],
	       uint64_t *size, unsigned char **out, char *in_digest)
{
	unsigned char *padded = malloc(n + 3);
	FILE *fi, *fo = tmpfile();
	struct hasher h;
	char err[256] = "";
	int rc;

	memcpy(padded, "xyz", 3);
	memcpy(padded + 3, in, n);
	fi = file_with(padded, n + 3);
	hasher_init(&h, DIGEST_SHA256);
	rc = gzip_copy(fileno(fi), 3, n, fileno(fo), level, in_digest ? &h : NULL, digest, size, err,
		       sizeof err);
	if (rc == 0 && in_digest)
		hasher_final(&h, in_digest);
	if (rc == 0) {
		*out = malloc(*size ? *size : 1);
		if (pread(fileno(fo), *out, *size, 0) != (ssize_t)*size)
			rc = -2;
	}
	fclose(fi);
	fclose(fo);
	free(padded);
	return rc;
}

static int inflates_to(const unsigned char *gz, size_t n, const unsigned char *want, size_t wn)
{
	unsigned char *back = malloc(wn + 1);
	z_stream z;
	int zr, ok;
	memset(&z, 0, sizeof z);
	inflateInit2(&z, 15 + 16);
	z.next_in = (unsigned char *)(uintptr_t)gz;
	z.avail_in = (uInt)n;
	z.next_out = back;
	z.avail_out = (uInt)(wn + 1);
	zr = inflate(&z, Z_FINISH);
	ok = zr == Z_STREAM_END && z.total_out == wn && memcmp(back, want, wn) == 0 && z.avail_in == 0;
	inflateEnd(&z);
	free(back);
	return ok;
}

TEST(round_trip_digest_and_determinism)
{
	size_t n = 3 * MIB + 123;
	unsigned char *in = make_input(n, 1), *a = NULL, *b = NULL;
	char da[DIGEST_STR_MAX], db[DIGEST_STR_MAX], hashed[DIGEST_STR_MAX], want[DIGEST_STR_MAX];
	uint64_t sa = 0, sb = 0;

	CHECK_EQ_INT(run(in, n, 1, da, &sa, &a, hashed), 0);
	CHECK(a && inflates_to(a, sa, in, n));
	digest_of(DIGEST_SHA256, a, sa, want);
	CHECK_EQ_STR(da, want);
	digest_of(DIGEST_SHA256, in, n, want);
	CHECK_EQ_STR(hashed, want);
	CHECK_EQ_INT(run(in, n, 1, db, &sb, &b, NULL), 0);
	CHECK_EQ_INT(sb, sa);
	CHECK_EQ_STR(db, da);
	free(in);
	free(a);
	free(b);
}

TEST(incompressible_data_does_not_grow)
{
	size_t n = 8 * MIB;
	unsigned char *in = make_input(n, 1), *out = NULL;
	char d[DIGEST_STR_MAX];
	uint64_t size = 0;

	/* half text (shrinks to almost nothing), half noise: the noise goes
	 * out no more than 1% larger, across the switches of level */
	CHECK_EQ_INT(run(in, n, 9, d, &size, &out, NULL), 0);
	if (size >= n / 2 + n / 200)
		fprintf(stderr, "%llu bytes from %zu\n", (unsigned long long)size, n);
	CHECK(size < n / 2 + n / 200);
	CHECK(out && inflates_to(out, size, in, n));
	free(in);
	free(out);
}

TEST(empty_input_and_short_read)
{
	unsigned char *out = NULL;
	char d[DIGEST_STR_MAX], err[256] = "";
	uint64_t size = 0;
	FILE *fi = tmpfile(), *fo = tmpfile();

	CHECK_EQ_INT(run((const unsigned char *)"", 0, 1, d, &size, &out, NULL), 0);
	CHECK(size > 0 && out && inflates_to(out, size, (const unsigned char *)"", 0));
	free(out);
	/* the file holds less than len */
	fwrite("abc", 1, 3, fi);
	fflush(fi);
	CHECK_EQ_INT(gzip_copy(fileno(fi), 0, 10, fileno(fo), 1, NULL, d, &size, err, sizeof err), -1);
	CHECK_EQ_STR(err, "short read");
	fclose(fi);
	fclose(fo);
}

int main(void)
{
	RUN(round_trip_digest_and_determinism);
	RUN(incompressible_data_does_not_grow);
	RUN(empty_input_and_short_read);
	return unit_report("unit gzip");
}
