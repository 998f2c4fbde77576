/* digest.c - digest grammar and hashing: BearSSL, and SHA-256 on the CPU's
 * SHA instructions (x86-64 SHA-NI, ARMv8 crypto extensions) where it has
 * them, else on x86-64 with AVX2 a schedule of 8 blocks at once. */
#include "digest.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#elif defined(__aarch64__) && defined(__AARCH64EL__)
#include <arm_neon.h>
#include <sys/auxv.h>
#endif

static int is_alg_component(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_alg_separator(char c)
{
	return c == '+' || c == '.' || c == '_' || c == '-';
}

static int is_encoded_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '=' || c == '_' || c == '-';
}

static int is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

size_t digest_hex_len(enum digest_alg alg)
{
	return alg == DIGEST_SHA256 ? 64 : alg == DIGEST_SHA512 ? 128 : 0;
}

const char *digest_alg_name(enum digest_alg alg)
{
	return alg == DIGEST_SHA256 ? "sha256" : alg == DIGEST_SHA512 ? "sha512" : "";
}

int digest_parse(const char *s, size_t n, enum digest_alg *alg)
{
	size_t i = 0, colon, hexlen;
	enum digest_alg a;

	*alg = DIGEST_NONE;
	if (n == 0 || n >= 256)
		return DIGEST_BAD;
	/* algorithm: component (separator component)* */
	for (;;) {
		size_t start = i;
		while (i < n && is_alg_component(s[i]))
			i++;
		if (i == start)
			return DIGEST_BAD;
		if (i < n && is_alg_separator(s[i])) {
			i++;
			continue;
		}
		break;
	}
	if (i >= n || s[i] != ':')
		return DIGEST_BAD;
	colon = i++;
	if (i == n)
		return DIGEST_BAD;
	for (size_t j = i; j < n; j++)
		if (!is_encoded_char(s[j]))
			return DIGEST_BAD;
	if (colon == 6 && memcmp(s, "sha256", 6) == 0)
		a = DIGEST_SHA256;
	else if (colon == 6 && memcmp(s, "sha512", 6) == 0)
		a = DIGEST_SHA512;
	else
		return DIGEST_UNSUPPORTED;
	hexlen = digest_hex_len(a);
	if (n - i != hexlen)
		return DIGEST_BAD;
	for (size_t j = i; j < n; j++)
		if (!is_lower_hex(s[j]))
			return DIGEST_BAD;
	*alg = a;
	return DIGEST_OK;
}

/* ---- SHA-256 on the CPU's SHA instructions, or AVX2 ----
 *
 * One block function per path (sha256_hw_blocks: SHA-NI on x86-64, the
 * crypto extensions on little-endian ARMv8; sha256_avx2_blocks: x86-64
 * without SHA-NI), one buffering and padding (hw_update, hw_final) and one
 * dispatch (hasher->hw, the path, set by hasher_init from sha256_path()).
 * Anything else, or a CPU without them, is BearSSL. */

static const uint32_t sha256_iv[8] = {
	0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

enum { PATH_BEARSSL, PATH_HW, PATH_AVX2 };

static int hw_allowed = 1;

void digest_allow_sha256_hw(int allow)
{
	__atomic_store_n(&hw_allowed, allow, __ATOMIC_RELAXED);
}

#if defined(__x86_64__) || (defined(__aarch64__) && defined(__AARCH64EL__))
static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};
#endif

#if defined(__x86_64__)
#define SHA256_HW_NAME "sha-ni"

/* SHA extensions and SSE4.1 (the shuffles and blends below) */
static int cpu_has_sha256(void)
{
	unsigned a, b, c, d;
	return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSE4_1) &&
	       __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_SHA);
}

/* Hash n 64-byte blocks.  The state lives as ABEF/CDGH in two registers;
 * each group of four rounds takes one message vector, and the schedule for
 * group g+1 (msg2) and g+3 (msg1) is computed alongside. */
__attribute__((target("sha,sse4.1"))) static void sha256_hw_blocks(uint32_t h[8],
								  const unsigned char *p,
								  size_t n)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
	__m128i s0, s1, t, m[4];

	t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[0]), 0xB1); /* CDAB */
	s1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[4]), 0x1B); /* HGFE */
	s0 = _mm_alignr_epi8(t, s1, 8);         /* ABEF */
	s1 = _mm_blend_epi16(s1, t, 0xF0);      /* CDGH */
	for (; n; n--, p += 64) {
		__m128i save0 = s0, save1 = s1;
		/* unrolled, so that m[] lives in registers (a third more per CPU second) */
#pragma GCC unroll 16
		for (int g = 0; g < 16; g++) {
			__m128i msg;
			if (g < 4)
				m[g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * g)), bswap);
			msg = _mm_add_epi32(m[g & 3], _mm_loadu_si128((const __m128i *)&sha256_k[4 * g]));
			s1 = _mm_sha256rnds2_epu32(s1, s0, msg);
			if (g >= 3 && g <= 14) {
				t = _mm_alignr_epi8(m[g & 3], m[(g - 1) & 3], 4);
				m[(g + 1) & 3] = _mm_add_epi32(m[(g + 1) & 3], t);
				m[(g + 1) & 3] = _mm_sha256msg2_epu32(m[(g + 1) & 3], m[g & 3]);
			}
			msg = _mm_shuffle_epi32(msg, 0x0E);
			s0 = _mm_sha256rnds2_epu32(s0, s1, msg);
			if (g >= 1 && g <= 12)
				m[(g - 1) & 3] = _mm_sha256msg1_epu32(m[(g - 1) & 3], m[g & 3]);
		}
		s0 = _mm_add_epi32(s0, save0);
		s1 = _mm_add_epi32(s1, save1);
	}
	t = _mm_shuffle_epi32(s0, 0x1B);        /* FEBA */
	s1 = _mm_shuffle_epi32(s1, 0xB1);       /* DCHG */
	s0 = _mm_blend_epi16(t, s1, 0xF0);      /* DCBA */
	s1 = _mm_alignr_epi8(s1, t, 8);         /* HGFE */
	_mm_storeu_si128((__m128i *)&h[0], s0);
	_mm_storeu_si128((__m128i *)&h[4], s1);
}

/* AVX2 and BMI2 (rorx), with the OS saving the YMM registers */
static int cpu_has_avx2(void)
{
	unsigned a, b, c, d, lo, hi;
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE) || !(c & bit_AVX))
		return 0;
	__asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	(void)hi;
	return (lo & 6) == 6 && __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_AVX2) &&
	       (b & bit_BMI2);
}

#define ROR32(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#define VROR32(x, n) _mm256_or_si256(_mm256_srli_epi32(x, n), _mm256_slli_epi32(x, 32 - (n)))

/* The message schedule does not depend on the state: here it is computed
 * for 8 blocks at once, block i in lane i, wk[t][i] = W[t] + K[t]. */
__attribute__((target("avx2,bmi2"))) static void sha256_avx2_schedule(const unsigned char *p,
								     uint32_t wk[64][8])
{
	const __m256i lane = _mm256_setr_epi32(0, 16, 32, 48, 64, 80, 96, 112); /* in words */
	const __m256i bswap = _mm256_setr_epi8(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12,
					       3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12);
	__m256i w[16];
	for (int t = 0; t < 16; t++) {
		__m256i v = _mm256_i32gather_epi32((const int *)(const void *)(p + 4 * t), lane, 4);
		w[t] = _mm256_shuffle_epi8(v, bswap);
		_mm256_store_si256((__m256i *)(void *)wk[t],
				   _mm256_add_epi32(w[t], _mm256_set1_epi32((int)sha256_k[t])));
	}
	for (int t = 16; t < 64; t++) {
		__m256i a = w[(t - 15) & 15], b = w[(t - 2) & 15], s0, s1, v;
		s0 = _mm256_xor_si256(_mm256_xor_si256(VROR32(a, 7), VROR32(a, 18)), _mm256_srli_epi32(a, 3));
		s1 = _mm256_xor_si256(_mm256_xor_si256(VROR32(b, 17), VROR32(b, 19)),
				      _mm256_srli_epi32(b, 10));
		v = _mm256_add_epi32(_mm256_add_epi32(w[t & 15], s0), _mm256_add_epi32(w[(t - 7) & 15], s1));
		w[t & 15] = v;
		_mm256_store_si256((__m256i *)(void *)wk[t],
				   _mm256_add_epi32(v, _mm256_set1_epi32((int)sha256_k[t])));
	}
}

/* one round; Maj(a,b,c) = b ^ ((a ^ b) & (b ^ c)), b ^ c being the round
 * before's a ^ b */
#define SHA256_ROUND(a, b, c, d, e, f, g, h, x)                                                    \
	do {                                                                                       \
		uint32_t t1_ = h + (ROR32(e, 6) ^ ROR32(e, 11) ^ ROR32(e, 25)) + (x) +              \
			       (g ^ (e & (f ^ g)));                                                \
		uint32_t ab_ = a ^ b;                                                              \
		d += t1_;                                                                          \
		h = t1_ + (ROR32(a, 2) ^ ROR32(a, 13) ^ ROR32(a, 22)) + (b ^ (ab_ & bc));          \
		bc = ab_;                                                                          \
	} while (0)

/* the 64 rounds of block i of a schedule (BMI2: the rotations are rorx) */
__attribute__((target("avx2,bmi2"))) static void sha256_avx2_rounds(uint32_t s[8],
								   uint32_t wk[64][8], int i)
{
	uint32_t a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
	uint32_t bc = b ^ c;
	for (int t = 0; t < 64; t += 8) {
		SHA256_ROUND(a, b, c, d, e, f, g, h, wk[t][i]);
		SHA256_ROUND(h, a, b, c, d, e, f, g, wk[t + 1][i]);
		SHA256_ROUND(g, h, a, b, c, d, e, f, wk[t + 2][i]);
		SHA256_ROUND(f, g, h, a, b, c, d, e, wk[t + 3][i]);
		SHA256_ROUND(e, f, g, h, a, b, c, d, wk[t + 4][i]);
		SHA256_ROUND(d, e, f, g, h, a, b, c, wk[t + 5][i]);
		SHA256_ROUND(c, d, e, f, g, h, a, b, wk[t + 6][i]);
		SHA256_ROUND(b, c, d, e, f, g, h, a, wk[t + 7][i]);
	}
	s[0] += a, s[1] += b, s[2] += c, s[3] += d, s[4] += e, s[5] += f, s[6] += g, s[7] += h;
}

/* Hash n 64-byte blocks, 8 at a time: about 1.6x BearSSL per CPU second
 * (a fewer than 8 are scheduled from a zero-padded copy). */
__attribute__((target("avx2,bmi2"))) static void sha256_avx2_blocks(uint32_t h[8],
								   const unsigned char *p,
								   size_t n)
{
	_Alignas(32) uint32_t wk[64][8];
	for (; n >= 8; n -= 8, p += 8 * 64) {
		sha256_avx2_schedule(p, wk);
		for (int i = 0; i < 8; i++)
			sha256_avx2_rounds(h, wk, i);
	}
	if (n) {
		unsigned char last[8 * 64] = { 0 };
		memcpy(last, p, n * 64);
		sha256_avx2_schedule(last, wk);
		for (int i = 0; i < (int)n; i++)
			sha256_avx2_rounds(h, wk, i);
	}
}
#elif defined(__aarch64__) && defined(__AARCH64EL__)
#define SHA256_HW_NAME "armv8"

/* The kernel's bit (arch/arm64/include/uapi/asm/hwcap.h).  musl's
 * <sys/auxv.h> brings it through <bits/hwcap.h>, but musl has no
 * <asm/hwcap.h> to fall back on if a libc's header lacks it. */
#ifndef HWCAP_SHA2
#define HWCAP_SHA2 (1 << 6)
#endif

static int cpu_has_sha256(void)
{
	return (getauxval(AT_HWCAP) & HWCAP_SHA2) != 0;
}

/* Hash n 64-byte blocks.  The state lives as ABCD/EFGH in two registers;
 * each group of four rounds takes one message vector (sha256h/sha256h2),
 * and while groups 0..11 run, su0/su1 turn their vector into that of group
 * g+4.  GCC 12 wants "+crypto" here: "+sha2" fails to inline the
 * intrinsics. */
__attribute__((target("+crypto"))) static void sha256_hw_blocks(uint32_t h[8],
								const unsigned char *p, size_t n)
{
	uint32x4_t s0 = vld1q_u32(&h[0]), s1 = vld1q_u32(&h[4]);

	for (; n; n--, p += 64) {
		uint32x4_t save0 = s0, save1 = s1, m[4];
		/* unrolled, so that m[] lives in registers */
#pragma GCC unroll 4
		for (int g = 0; g < 4; g++)
			m[g] = vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(p + 16 * g)));
#pragma GCC unroll 16
		for (int g = 0; g < 16; g++) {
			uint32x4_t wk = vaddq_u32(m[g & 3], vld1q_u32(&sha256_k[4 * g]));
			uint32x4_t abcd = s0;
			if (g < 12) {
				uint32x4_t t = vsha256su0q_u32(m[g & 3], m[(g + 1) & 3]);
				m[g & 3] = vsha256su1q_u32(t, m[(g + 2) & 3], m[(g + 3) & 3]);
			}
			s0 = vsha256hq_u32(s0, s1, wk);
			s1 = vsha256h2q_u32(s1, abcd, wk);
		}
		s0 = vaddq_u32(s0, save0);
		s1 = vaddq_u32(s1, save1);
	}
	vst1q_u32(&h[0], s0);
	vst1q_u32(&h[4], s1);
}
#else
#define SHA256_HW_NAME NULL

static int cpu_has_sha256(void)
{
	return 0;
}

static void sha256_hw_blocks(uint32_t h[8], const unsigned char *p, size_t n)
{
	(void)h;
	(void)p;
	(void)n;
}
#endif

/* The path new hashers take: PACKHELPER_SHA256=bearssl forces BearSSL,
 * =avx2 the AVX2 path where the CPU has it (tests and benchmarks on a CPU
 * with SHA-NI); else the SHA instructions, else AVX2, else BearSSL. */
static int sha256_path(void)
{
	/* push workers ask at once: the answer is the same for all, but the
	 * cache is read and written atomically */
	static int cached = -1;
	int path = __atomic_load_n(&cached, __ATOMIC_RELAXED);
	if (path < 0) {
		const char *env = getenv("PACKHELPER_SHA256");
		if (env && strcmp(env, "bearssl") == 0)
			path = PATH_BEARSSL;
#if defined(__x86_64__)
		else if (env && strcmp(env, "avx2") == 0 && cpu_has_avx2())
			path = PATH_AVX2;
#endif
		else if (cpu_has_sha256())
			path = PATH_HW;
#if defined(__x86_64__)
		else if (cpu_has_avx2())
			path = PATH_AVX2;
#endif
		else
			path = PATH_BEARSSL;
		__atomic_store_n(&cached, path, __ATOMIC_RELAXED);
	}
	return __atomic_load_n(&hw_allowed, __ATOMIC_RELAXED) ? path : PATH_BEARSSL;
}

const char *digest_sha256_hw(void)
{
	switch (sha256_path()) {
	case PATH_HW:
		return SHA256_HW_NAME;
	case PATH_AVX2:
		return "avx2";
	default:
		return NULL;
	}
}

static void sha256_blocks(int path, uint32_t h[8], const unsigned char *p, size_t n)
{
#if defined(__x86_64__)
	if (path == PATH_AVX2) {
		sha256_avx2_blocks(h, p, n);
		return;
	}
#endif
	(void)path;
	sha256_hw_blocks(h, p, n);
}

static void hw_update(int path, struct sha256_hw *c, const unsigned char *p, size_t n)
{
	size_t have = (size_t)(c->count & 63);
	if (n == 0)
		return; /* p may be NULL (an empty body), which memcpy must not see */
	c->count += n;
	if (have) {
		size_t take = 64 - have < n ? 64 - have : n;
		memcpy(c->buf + have, p, take);
		p += take;
		n -= take;
		if (have + take < 64)
			return;
		sha256_blocks(path, c->h, c->buf, 1);
	}
	if (n >= 64) {
		sha256_blocks(path, c->h, p, n / 64);
		p += n & ~(size_t)63;
		n &= 63;
	}
	memcpy(c->buf, p, n);
}

static void hw_final(int path, const struct sha256_hw *in, unsigned char out[32])
{
	struct sha256_hw c = *in;
	unsigned char pad[72] = { 0x80 };
	uint64_t bits = c.count * 8;
	size_t padlen = (c.count & 63) < 56 ? 56 - (c.count & 63) : 120 - (c.count & 63);
	for (int i = 0; i < 8; i++)
		pad[padlen + (size_t)i] = (unsigned char)(bits >> (56 - 8 * i));
	hw_update(path, &c, pad, padlen + 8);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(c.h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(c.h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(c.h[i] >> 8);
		out[4 * i + 3] = (unsigned char)c.h[i];
	}
}

void hasher_init(struct hasher *h, enum digest_alg alg)
{
	h->alg = alg;
	h->hw = 0;
	if (alg == DIGEST_SHA512) {
		br_sha512_init(&h->u.s512);
	} else if ((h->hw = sha256_path()) != PATH_BEARSSL) {
		memcpy(h->u.hw.h, sha256_iv, sizeof sha256_iv);
		h->u.hw.count = 0;
	} else {
		br_sha256_init(&h->u.s256);
	}
}

void hasher_update(struct hasher *h, const void *data, size_t n)
{
	if (h->alg == DIGEST_SHA512)
		br_sha512_update(&h->u.s512, data, n);
	else if (h->hw)
		hw_update(h->hw, &h->u.hw, data, n);
	else
		br_sha256_update(&h->u.s256, data, n);
}

void hasher_final(const struct hasher *h, char out[DIGEST_STR_MAX])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[64];
	size_t rawlen, o;
	const char *name = digest_alg_name(h->alg);

	if (h->alg == DIGEST_SHA512) {
		br_sha512_out(&h->u.s512, raw);
		rawlen = 64;
	} else if (h->hw) {
		hw_final(h->hw, &h->u.hw, raw);
		rawlen = 32;
	} else {
		br_sha256_out(&h->u.s256, raw);
		rawlen = 32;
	}
	o = strlen(name);
	memcpy(out, name, o);
	out[o++] = ':';
	for (size_t i = 0; i < rawlen; i++) {
		out[o++] = hex[raw[i] >> 4];
		out[o++] = hex[raw[i] & 15];
	}
	out[o] = '\0';
}

void digest_of(enum digest_alg alg, const void *data, size_t n, char out[DIGEST_STR_MAX])
{
	struct hasher h;
	hasher_init(&h, alg);
	hasher_update(&h, data, n);
	hasher_final(&h, out);
}
