/* shabench.c - SHA-256 throughput of src/digest.c's paths, for tests/bench/sha.sh.
 *
 *   shabench FILE [REPS]
 *       reads FILE into memory, then hashes it REPS times (3) with each
 *       path this process takes: ours (digest_sha256_hw(): "sha-ni",
 *       "armv8", "avx2") when there is one, then BearSSL's
 *       (digest_allow_sha256_hw(0)).
 *       The hasher is fed 1 MiB updates, as the server's uploads are; the
 *       file's read is not timed.  One line per path on stdout:
 *           PATH BEST_MIBPS MEDIAN_MIBPS CPU_MIBPS sha256:HEX
 *       (MiB/s by the best and the median wall-clock run, and by the least
 *       process CPU time)
 *       PACKHELPER_SHA256=bearssl leaves the first line out, =avx2 makes
 *       it the AVX2 path where the CPU has AVX2.
 *
 * Linked with the same digest.o and BearSSL as packhelper (make bench-sha
 * builds one per architecture).  Exit status 0, or 1 with a message. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "digest.h"

static double now_s(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double mibps(size_t n, double s)
{
	return (double)n / 1048576.0 / (s > 0 ? s : 1e-9);
}

/* REPS timed runs over buf[0..n): MiB/s by the best wall-clock run, the
 * median one, and by the least CPU time (the figure other load moves
 * least); the digest */
static void run(const char *name, const unsigned char *buf, size_t n, int reps,
		char out[DIGEST_STR_MAX])
{
	double wall[64], cpu[64];
	for (int r = 0; r < reps; r++) {
		struct hasher h;
		double w0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_PROCESS_CPUTIME_ID);
		hasher_init(&h, DIGEST_SHA256);
		for (size_t off = 0; off < n; off += 1 << 20)
			hasher_update(&h, buf + off, n - off < 1 << 20 ? n - off : 1 << 20);
		hasher_final(&h, out);
		cpu[r] = mibps(n, now_s(CLOCK_PROCESS_CPUTIME_ID) - c0);
		wall[r] = mibps(n, now_s(CLOCK_MONOTONIC) - w0);
	}
	qsort(wall, (size_t)reps, sizeof wall[0], cmp_double);
	qsort(cpu, (size_t)reps, sizeof cpu[0], cmp_double);
	printf("%s %.1f %.1f %.1f %s\n", name, wall[reps - 1],
	       reps % 2 ? wall[reps / 2] : (wall[reps / 2 - 1] + wall[reps / 2]) / 2, cpu[reps - 1],
	       out);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	int reps = argc > 2 ? atoi(argv[2]) : 3, fd;
	struct stat st;
	unsigned char *buf;
	size_t got = 0;
	char hw_out[DIGEST_STR_MAX], br_out[DIGEST_STR_MAX];
	const char *hw;

	if (argc < 2 || argc > 3 || reps < 1 || reps > 64) {
		fprintf(stderr, "usage: shabench FILE [REPS 1..64]\n");
		return 1;
	}
	fd = open(argv[1], O_RDONLY);
	if (fd < 0 || fstat(fd, &st) != 0) {
		fprintf(stderr, "shabench: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
	if (!buf) {
		fprintf(stderr, "shabench: out of memory\n");
		return 1;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r <= 0) {
			fprintf(stderr, "shabench: %s: short read\n", argv[1]);
			return 1;
		}
		got += (size_t)r;
	}
	close(fd);

	hw = digest_sha256_hw();
	if (hw)
		run(hw, buf, got, reps, hw_out);
	digest_allow_sha256_hw(0);
	run("bearssl", buf, got, reps, br_out);
	if (hw && strcmp(hw_out, br_out) != 0) {
		fprintf(stderr, "shabench: %s and BearSSL disagree\n", hw);
		return 1;
	}
	return 0;
}
