/* SHA-NI SHA-256 against BearSSL's, over many lengths and split points. */
#include <stdlib.h>

#include "digest.h"
#include "unit.h"

TEST(ni_matches_bearssl)
{
	static unsigned char data[70000];
	char a[DIGEST_STR_MAX], b[DIGEST_STR_MAX];
	srand(7);
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (unsigned char)rand();
	if (!digest_have_sha_ni())
		printf("note: no SHA extensions on this CPU; both paths are BearSSL\n");
	for (size_t len = 0; len < 300; len++) {
		digest_allow_sha_ni(1);
		digest_of(DIGEST_SHA256, data, len, a);
		digest_allow_sha_ni(0);
		digest_of(DIGEST_SHA256, data, len, b);
		CHECK_EQ_STR(a, b);
	}
	for (size_t len = 1000; len < sizeof data; len += 9973) {
		struct hasher h;
		/* uneven updates exercise the buffering */
		digest_allow_sha_ni(1);
		hasher_init(&h, DIGEST_SHA256);
		for (size_t off = 0; off < len;) {
			size_t n = (size_t)(rand() % 200) + 1;
			if (n > len - off)
				n = len - off;
			hasher_update(&h, data + off, n);
			off += n;
		}
		hasher_final(&h, a);
		digest_allow_sha_ni(0);
		digest_of(DIGEST_SHA256, data, len, b);
		CHECK_EQ_STR(a, b);
	}
	digest_allow_sha_ni(1);
	digest_of(DIGEST_SHA256, "abc", 3, a);
	CHECK_EQ_STR(a, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

int main(void)
{
	RUN(ni_matches_bearssl);
	return unit_report("unit digest_ni");
}
