/* Unit tests for digest.c: the OCI digest grammar and the hashers. */
#include "digest.h"
#include "unit.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HEX128 HEX64 HEX64

/* digest_parse on s placed right before a PROT_NONE page. */
static int dparse(const char *s, enum digest_alg *alg)
{
	struct unit_guard g;
	char *p = unit_guard_str(&g, s);
	int r = digest_parse(p, strlen(s), alg);
	unit_guard_free(&g);
	return r;
}

TEST(supported)
{
	enum digest_alg alg;
	CHECK_EQ_INT(dparse("sha256:" HEX64, &alg), DIGEST_OK);
	CHECK_EQ_INT(alg, DIGEST_SHA256);
	CHECK_EQ_INT(dparse("sha512:" HEX128, &alg), DIGEST_OK);
	CHECK_EQ_INT(alg, DIGEST_SHA512);
	CHECK_EQ_INT(dparse("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
			    &alg),
		     DIGEST_OK);
}

TEST(bad_encoded_for_known_algorithms)
{
	enum digest_alg alg = DIGEST_SHA256;
	/* uppercase hex is rejected (image spec: lowercase only) */
	CHECK_EQ_INT(dparse("sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", &alg),
		     DIGEST_BAD);
	CHECK_EQ_INT(alg, DIGEST_NONE);
	CHECK_EQ_INT(dparse("sha512:" HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeF",
			    &alg),
		     DIGEST_BAD);
	/* wrong lengths */
	CHECK_EQ_INT(dparse("sha256:" HEX128, &alg), DIGEST_BAD);
	CHECK_EQ_INT(dparse("sha512:" HEX64, &alg), DIGEST_BAD);
	CHECK_EQ_INT(dparse("sha256:" HEX64 "0", &alg), DIGEST_BAD);
	CHECK_EQ_INT(dparse("sha256:abc", &alg), DIGEST_BAD);
	/* encoded chars that are grammatical but not hex */
	CHECK_EQ_INT(dparse("sha256:0123456789abcdeg0123456789abcdef0123456789abcdef0123456789abcdef", &alg),
		     DIGEST_BAD);
	CHECK_EQ_INT(dparse("sha256:0123456789abcde=0123456789abcdef0123456789abcdef0123456789abcdef", &alg),
		     DIGEST_BAD);
	CHECK_EQ_INT(dparse("sha256:0123456789abcde_0123456789abcdef0123456789abcdef0123456789abcdef", &alg),
		     DIGEST_BAD);
	CHECK_EQ_INT(alg, DIGEST_NONE);
}

TEST(unsupported_algorithms)
{
	enum digest_alg alg = DIGEST_SHA256;
	static const char *const cases[] = {
		"md5:d41d8cd98f00b204e9800998ecf8427e",
		"sha384:" HEX64,
		"sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709",
		"blake3:" HEX64,
		"sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564",
		"multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8",
		"sha256.x:" HEX64,
		"a-b_c.d+e:x",
		"sha2560:" HEX64,
		"sha25:" HEX64,
		"0:0",
		"s:A=_-",
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		CHECK_EQ_INT(dparse(cases[i], &alg), DIGEST_UNSUPPORTED);
		CHECK_EQ_INT(alg, DIGEST_NONE);
	}
}

TEST(bad_grammar)
{
	enum digest_alg alg = DIGEST_SHA256;
	static const char *const cases[] = {
		"",
		":",
		"sha256",
		"sha256:",
		":" HEX64,
		"SHA256:" HEX64,       /* algorithm components are lowercase */
		"Sha256:" HEX64,
		"sha256 :" HEX64,
		" sha256:" HEX64,
		"sha256: " HEX64,
		"sha256:" HEX64 " ",
		"sha256:" HEX64 "\n",
		"sha256::" HEX64,
		"sha256:" HEX64 ":",
		"sha256+:" HEX64,      /* separator must be followed by a component */
		"+sha256:" HEX64,
		"sha256..x:" HEX64,
		"sha256+-x:" HEX64,
		"sha/256:" HEX64,
		"md5:abc!",
		"md5:ab/c",
		"md5:ab.c",
		"md5:ab+c",
		"md5:",
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		CHECK_EQ_INT(dparse(cases[i], &alg), DIGEST_BAD);
		if (dparse(cases[i], &alg) != DIGEST_BAD)
			fprintf(stderr, "  case %zu: %s\n", i, cases[i]);
		CHECK_EQ_INT(alg, DIGEST_NONE);
	}
	/* embedded NUL, and lengths: n counts, not the terminator */
	CHECK_EQ_INT(digest_parse("sha256:" HEX64, 71, &alg), DIGEST_OK);
	CHECK_EQ_INT(digest_parse("sha256:" HEX64, 70, &alg), DIGEST_BAD);
	CHECK_EQ_INT(digest_parse("sha256:\0" HEX64, 72, &alg), DIGEST_BAD);
	CHECK_EQ_INT(digest_parse("sha256:" HEX64, 0, &alg), DIGEST_BAD);
	{
		/* overly long input is refused before anything else */
		char s[300];
		memset(s, 'a', sizeof s);
		memcpy(s, "md5:", 4);
		CHECK_EQ_INT(digest_parse(s, 255, &alg), DIGEST_UNSUPPORTED);
		CHECK_EQ_INT(digest_parse(s, 256, &alg), DIGEST_BAD);
		CHECK_EQ_INT(digest_parse(s, sizeof s, &alg), DIGEST_BAD);
	}
}

TEST(guard_page_prefixes)
{
	/* every prefix of a valid digest, ending at a guard page */
	static const char *const full[] = { "sha256:" HEX64, "sha512:" HEX128, "a.b+c:x" };
	for (size_t d = 0; d < 3; d++) {
		for (size_t k = 0; k <= strlen(full[d]); k++) {
			struct unit_guard g;
			enum digest_alg alg;
			char *p = unit_guard_put(&g, full[d], k);
			int r = digest_parse(p, k, &alg);
			unit_guard_free(&g);
			if (k == strlen(full[d]))
				CHECK_EQ_INT(r, d == 2 ? DIGEST_UNSUPPORTED : DIGEST_OK);
			else if (k > 6 && d < 2) /* "shaNNN:" plus some hex */
				CHECK_EQ_INT(r, DIGEST_BAD);
		}
	}
}

TEST(names_and_lengths)
{
	CHECK_EQ_INT(digest_hex_len(DIGEST_SHA256), 64);
	CHECK_EQ_INT(digest_hex_len(DIGEST_SHA512), 128);
	CHECK_EQ_INT(digest_hex_len(DIGEST_NONE), 0);
	CHECK_EQ_STR(digest_alg_name(DIGEST_SHA256), "sha256");
	CHECK_EQ_STR(digest_alg_name(DIGEST_SHA512), "sha512");
	CHECK_EQ_STR(digest_alg_name(DIGEST_NONE), "");
	CHECK(sizeof "sha512:" HEX128 == DIGEST_STR_MAX);
}

TEST(hash_vectors)
{
	char out[DIGEST_STR_MAX];
	digest_of(DIGEST_SHA256, "", 0, out);
	CHECK_EQ_STR(out, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	digest_of(DIGEST_SHA256, "abc", 3, out);
	CHECK_EQ_STR(out, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	digest_of(DIGEST_SHA256, "{}", 2, out); /* the OCI empty descriptor */
	CHECK_EQ_STR(out, "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
	digest_of(DIGEST_SHA512, "", 0, out);
	CHECK_EQ_STR(out, "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
			  "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e");
	digest_of(DIGEST_SHA512, "abc", 3, out);
	CHECK_EQ_STR(out, "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
			  "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
	/* every digest we produce parses */
	{
		enum digest_alg alg;
		CHECK_EQ_INT(digest_parse(out, strlen(out), &alg), DIGEST_OK);
		CHECK_EQ_INT(alg, DIGEST_SHA512);
	}
}

TEST(streaming)
{
	/* one million 'a', fed in odd pieces; the hasher can be copied and
	 * finalised mid-stream without disturbing it */
	static char a[1000000];
	struct hasher h, copy;
	char out[DIGEST_STR_MAX], mid[DIGEST_STR_MAX], want_mid[DIGEST_STR_MAX];
	size_t off = 0, step = 1;
	memset(a, 'a', sizeof a);
	hasher_init(&h, DIGEST_SHA256);
	while (off < sizeof a) {
		size_t n = sizeof a - off < step ? sizeof a - off : step;
		hasher_update(&h, a + off, n);
		off += n;
		step = step * 3 + 1;
		if (off == 1 + 4 + 13 + 40) {
			copy = h;
			hasher_final(&copy, mid);
		}
	}
	hasher_final(&h, out);
	CHECK_EQ_STR(out, "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	hasher_final(&h, out); /* final does not change the state */
	CHECK_EQ_STR(out, "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	digest_of(DIGEST_SHA256, a, 58, want_mid);
	CHECK_EQ_STR(mid, want_mid);
	hasher_update(&copy, "x", 1);
	hasher_final(&copy, mid);
	CHECK(strcmp(mid, want_mid) != 0);
	{
		struct hasher h5;
		hasher_init(&h5, DIGEST_SHA512);
		for (size_t i = 0; i < sizeof a; i += 1000)
			hasher_update(&h5, a + i, 1000);
		hasher_final(&h5, out);
		CHECK_EQ_STR(out, "sha512:e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973eb"
				  "de0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b");
	}
}

int main(void)
{
	RUN(supported);
	RUN(bad_encoded_for_known_algorithms);
	RUN(unsupported_algorithms);
	RUN(bad_grammar);
	RUN(guard_page_prefixes);
	RUN(names_and_lengths);
	RUN(hash_vectors);
	RUN(streaming);
	return unit_report("unit digest");
}
