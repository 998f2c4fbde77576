/* SHA-256 on the CPU's SHA instructions (digest_sha256_hw: SHA-NI on x86-64,
 * the crypto extensions on ARMv8) or AVX2 (x86-64 without SHA-NI) against
 * BearSSL's, over many lengths, split points and uneven updates, and all
 * against the NIST vectors.
 *
 * What the CPU offers is read here independently of digest.c where we can
 * (x86-64: the "sha_ni" and "sse4_1", else "avx2" and "bmi2" flags of
 * /proc/cpuinfo; AArch64: HWCAP_SHA2 in the auxiliary vector, which qemu-user
 * fills in as well), and a path that is expected but not taken is a failure,
 * not a note.  On x86-64 with both SHA-NI and AVX2, the AVX2 path is compared
 * too, in a second run of this binary with PACKHELPER_SHA256=avx2. */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__aarch64__)
#include <sys/auxv.h>
#ifndef HWCAP_SHA2
#define HWCAP_SHA2 (1 << 6) /* the kernel's bit, as in digest.c */
#endif
#endif

#include "digest.h"
#include "unit.h"

/* FIPS 180-2 appendix B */
#define ABC "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define EMPTY "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define MSG2 "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
#define MILLION_A "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"

static const char *expected;  /* the name digest_sha256_hw() must give, or NULL */

#if defined(__x86_64__)
/* both words among the "flags" of the first processor in /proc/cpuinfo */
static int cpuinfo_flags(const char *a, const char *b)
{
	char line[8192];
	int found = 0;
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "flags", 5) != 0 || !strchr(line, ':'))
			continue;
		for (char *w = strtok(strchr(line, ':'), ": \t\n"); w; w = strtok(NULL, " \t\n"))
			found |= (strcmp(w, a) == 0) | (strcmp(w, b) == 0) << 1;
		break;
	}
	fclose(f);
	return found == 3;
}
#endif

static const char *cpu_expected(void)
{
#if defined(__x86_64__)
	return cpuinfo_flags("sha_ni", "sse4_1") ? "sha-ni" : cpuinfo_flags("avx2", "bmi2") ? "avx2" : NULL;
#elif defined(__aarch64__) && defined(__AARCH64EL__)
	return getauxval(AT_HWCAP) & HWCAP_SHA2 ? "armv8" : NULL;
#else
	return NULL;
#endif
}

static const char *or_none(const char *s)
{
	return s ? s : "(BearSSL)";
}

/* digest of data[0..len) with the hardware path allowed or not, in pieces
 * of the given sizes (cycled; 0 = one update) */
static void digest_in(int hw, const unsigned char *data, size_t len, const size_t *piece,
		      size_t npiece, char out[DIGEST_STR_MAX])
{
	struct hasher h;
	size_t off = 0, k = 0;
	digest_allow_sha256_hw(hw);
	hasher_init(&h, DIGEST_SHA256);
	CHECK_EQ_INT(!!h.hw, hw && expected);
	if (len == 0)
		hasher_update(&h, data, 0); /* data may be NULL */
	while (off < len) {
		size_t n = npiece && piece[k % npiece] ? piece[k % npiece] : len - off;
		if (n > len - off)
			n = len - off;
		hasher_update(&h, data + off, n);
		off += n;
		k++;
	}
	hasher_final(&h, out);
	digest_allow_sha256_hw(1);
}

/* PACKHELPER_SHA256=bearssl is read once, at the first call: each case runs
 * in a child that makes that first call with its own environment.  Runs
 * before anything else in this process asks. */
static int child_takes_hw(const char *env)
{
	pid_t pid = fork();
	int st;
	if (pid == 0) {
		struct hasher h;
		char out[DIGEST_STR_MAX];
		if (env)
			setenv("PACKHELPER_SHA256", env, 1);
		else
			unsetenv("PACKHELPER_SHA256");
		hasher_init(&h, DIGEST_SHA256);
		hasher_update(&h, "abc", 3);
		hasher_final(&h, out);
		if (strcmp(out, ABC) != 0)
			_exit(3);
		/* the switch outlives digest_allow_sha256_hw(1) */
		digest_allow_sha256_hw(1);
		if (!digest_sha256_hw() != !h.hw)
			_exit(4);
		_exit(!h.hw ? 0 : strcmp(digest_sha256_hw(), "avx2") == 0 ? 2 : 1);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

TEST(env_switch)
{
	CHECK_EQ_INT(child_takes_hw("bearssl"), 0);
	/* what child_takes_hw gives for the default path */
	int def = !expected ? 0 : strcmp(expected, "avx2") == 0 ? 2 : 1;
	CHECK_EQ_INT(child_takes_hw(NULL), def);
	CHECK_EQ_INT(child_takes_hw("anything-else"), def);
#if defined(__x86_64__)
	/* =avx2 where the CPU has it, else the default */
	CHECK_EQ_INT(child_takes_hw("avx2"), cpuinfo_flags("avx2", "bmi2") ? 2 : def);
#endif
}

TEST(path_taken)
{
	printf("digest_hw: CPU offers %s; comparing %s against BearSSL\n", or_none(expected),
	       or_none(digest_sha256_hw()));
	CHECK_EQ_STR(or_none(digest_sha256_hw()), or_none(expected));
	digest_allow_sha256_hw(0);
	CHECK(digest_sha256_hw() == NULL);
	digest_allow_sha256_hw(1);
	CHECK_EQ_STR(or_none(digest_sha256_hw()), or_none(expected));
}

TEST(hw_matches_bearssl)
{
	static unsigned char data[70000 + 8];
	static const size_t uneven[] = { 1, 63, 64, 65, 3, 127, 128, 200, 7, 4096, 55, 56, 57 };
	char a[DIGEST_STR_MAX], b[DIGEST_STR_MAX];
	srand(7);
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (unsigned char)rand();
	/* every length over the first blocks, in one update */
	for (size_t len = 0; len < 300; len++) {
		digest_in(1, data, len, NULL, 0, a);
		digest_in(0, data, len, NULL, 0, b);
		CHECK_EQ_STR(a, b);
	}
	/* every split point of two updates, around the padding boundaries */
	for (size_t len = 50; len < 200; len += 7) {
		for (size_t split = 0; split <= len; split++) {
			size_t two[2] = { split, len };
			digest_in(1, data, len, two, split ? 2 : 0, a);
			digest_in(0, data, len, NULL, 0, b);
			CHECK_EQ_STR(a, b);
		}
	}
	/* long inputs at every alignment, in uneven and random pieces */
	for (size_t len = 1000; len < 70000; len += 9973) {
		for (size_t align = 0; align < 8; align++) {
			size_t rnd[16];
			for (size_t i = 0; i < 16; i++)
				rnd[i] = (size_t)(rand() % 300) + 1;
			digest_in(0, data + align, len, NULL, 0, b);
			digest_in(1, data + align, len, NULL, 0, a);
			CHECK_EQ_STR(a, b);
			digest_in(1, data + align, len, uneven, sizeof uneven / sizeof *uneven, a);
			CHECK_EQ_STR(a, b);
			digest_in(1, data + align, len, rnd, 16, a);
			CHECK_EQ_STR(a, b);
		}
	}
}

/* a hasher is a plain value: final leaves it as it was, a copy goes on alone */
TEST(hw_copy_and_final)
{
	struct hasher h, c;
	char a[DIGEST_STR_MAX], b[DIGEST_STR_MAX];
	hasher_init(&h, DIGEST_SHA256);
	CHECK_EQ_INT(!!h.hw, expected != NULL);
	hasher_update(&h, "abcdbcdecdefdefgefghfghighijhijk", 32);
	c = h;
	hasher_final(&h, a);
	hasher_final(&h, b);
	CHECK_EQ_STR(a, b);
	hasher_update(&c, "ijkljklmklmnlmnomnopnopq", 24);
	hasher_update(&h, "ijkljklmklmnlmnomnopnopq", 24);
	hasher_final(&c, a);
	hasher_final(&h, b);
	CHECK_EQ_STR(a, b);
	CHECK_EQ_STR(a, MSG2);
}

/* "abc", the empty message, the 448-bit two-block one, a million 'a' */
TEST(known_answers)
{
	static const char *msg2 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	static const size_t thousand[] = { 1000 }, odd[] = { 1, 64, 999, 4097 };
	static unsigned char million[1000000];
	char out[DIGEST_STR_MAX];
	memset(million, 'a', sizeof million);
	for (int hw = 1; hw >= 0; hw--) {
		digest_in(hw, (const unsigned char *)"abc", 3, NULL, 0, out);
		CHECK_EQ_STR(out, ABC);
		digest_in(hw, NULL, 0, NULL, 0, out);
		CHECK_EQ_STR(out, EMPTY);
		digest_in(hw, (const unsigned char *)msg2, strlen(msg2), NULL, 0, out);
		CHECK_EQ_STR(out, MSG2);
		digest_in(hw, million, sizeof million, NULL, 0, out);
		CHECK_EQ_STR(out, MILLION_A);
		digest_in(hw, million, sizeof million, thousand, 1, out);
		CHECK_EQ_STR(out, MILLION_A);
		digest_in(hw, million, sizeof million, odd, 4, out);
		CHECK_EQ_STR(out, MILLION_A);
	}
}

#if defined(__x86_64__)
/* Where SHA-NI is the default, the AVX2 path is compared in a second run of
 * this binary (the path is chosen once per process). */
TEST(avx2_where_sha_ni_is_the_default)
{
	pid_t pid;
	int st;
	if (!expected || strcmp(expected, "sha-ni") != 0 || !cpuinfo_flags("avx2", "bmi2")) {
		printf("digest_hw: the AVX2 path is %s\n",
		       expected && strcmp(expected, "avx2") == 0 ? "the default here, compared above"
								 : "not offered by this CPU");
		return;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		setenv("PACKHELPER_SHA256", "avx2", 1);
		execl("/proc/self/exe", "test_digest_hw", "avx2", (char *)NULL);
		_exit(127);
	}
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}
#endif

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "avx2") == 0) {
		/* the second run: PACKHELPER_SHA256=avx2 from the first */
		expected = "avx2";
		RUN(path_taken);
		RUN(hw_matches_bearssl);
		RUN(hw_copy_and_final);
		RUN(known_answers);
		printf("digest_hw (PACKHELPER_SHA256=avx2): %d of %d cases passed\n", unit_passed,
		       unit_passed + unit_failed);
		return unit_failed ? 1 : 0;
	}
	/* this process compares both paths whatever the caller's environment */
	unsetenv("PACKHELPER_SHA256");
	expected = cpu_expected();
	RUN(env_switch); /* first: see child_takes_hw */
	RUN(path_taken);
	RUN(hw_matches_bearssl);
	RUN(hw_copy_and_final);
	RUN(known_answers);
#if defined(__x86_64__)
	RUN(avx2_where_sha_ni_is_the_default);
#endif
	return unit_report("unit digest_hw");
}
