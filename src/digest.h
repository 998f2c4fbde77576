/* digest.h - content digests: parse, format, verify, and streaming hashes.
 *
 * A digest is "algorithm:encoded".  Supported: sha256 (64 lowercase hex) and
 * sha512 (128 lowercase hex), per the OCI image spec.  The hasher is a plain
 * struct with no interior pointers (BearSSL contexts), so it can be copied. */
#ifndef PH_DIGEST_H
#define PH_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include <bearssl_hash.h>

enum digest_alg { DIGEST_NONE = 0, DIGEST_SHA256 = 1, DIGEST_SHA512 = 2 };

/* "sha512:" + 128 hex + NUL */
#define DIGEST_STR_MAX 136

enum digest_parse_result {
	DIGEST_OK = 0,
	DIGEST_BAD = -1,         /* not of the grammar algorithm:encoded */
	DIGEST_UNSUPPORTED = -2, /* grammatical, but not an algorithm we know */
};

/* Check s[0..n) and return its algorithm through alg.  The canonical string
 * is s itself (uppercase hex is rejected, as the image spec requires). */
int digest_parse(const char *s, size_t n, enum digest_alg *alg);
/* Length of the hex part for alg (64 or 128). */
size_t digest_hex_len(enum digest_alg alg);
const char *digest_alg_name(enum digest_alg alg);

/* SHA-256 on the CPU's SHA instructions or AVX2: the block function is
 * ours, the buffering and padding are the usual. */
struct sha256_hw {
	uint32_t h[8];
	unsigned char buf[64];
	uint64_t count;
};

struct hasher {
	enum digest_alg alg;
	int hw;  /* sha256 on our block function (u.hw): which one, 0 for BearSSL; fixed by hasher_init */
	union {
		br_sha256_context s256;
		br_sha512_context s512;
		struct sha256_hw hw;
	} u;
};

/* The SHA-256 that new hashers use: "sha-ni" (x86-64 SHA extensions with
 * SSE4.1), "armv8" (AArch64 crypto extensions, HWCAP_SHA2), "avx2" (x86-64
 * without SHA-NI, with AVX2 and BMI2), or NULL for BearSSL's portable code.
 * The environment's PACKHELPER_SHA256 (read once, at the first call) forces
 * BearSSL with "bearssl", the AVX2 path with "avx2" where the CPU has it;
 * any other value is ignored.  NULL as well after digest_allow_sha256_hw(0).
 * The CPU test is cached; safe from any thread. */
const char *digest_sha256_hw(void);
/* For tests and benchmarks: 0 forces BearSSL's SHA-256 for the hashers
 * initialised after it, 1 gives the default back (the CPU and the
 * environment decide). */
void digest_allow_sha256_hw(int allow);

void hasher_init(struct hasher *h, enum digest_alg alg);
void hasher_update(struct hasher *h, const void *data, size_t n);
/* Write "alg:hex" into out (DIGEST_STR_MAX bytes).  h is not changed. */
void hasher_final(const struct hasher *h, char out[DIGEST_STR_MAX]);
/* One-shot: digest of data[0..n) into out. */
void digest_of(enum digest_alg alg, const void *data, size_t n, char out[DIGEST_STR_MAX]);

#endif
