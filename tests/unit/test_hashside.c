/* test_hashside.c - blocks hashed on the side thread, and small ones inline,
 * give the digest of all the bytes in order; a stopped hashside frees cleanly. */
#include "unit.h"

#include "digest.h"
#include "hashjobs.h"
#include "hashside.h"

static unsigned char data[(size_t)5 << 20];

TEST(mixed_blocks_in_order)
{
	/* block sizes around HASHSIDE_MIN, so both ways (thread, inline) run */
	static const size_t sizes[] = { 1, HASHSIDE_MIN, HASHSIDE_MIN - 1, 1 << 20, 100, 3 << 20,
					HASHSIDE_MIN + 1, 7 };
	char want[DIGEST_STR_MAX], got[DIGEST_STR_MAX];
	size_t off = 0;
	struct hashside *s = hashside_start(DIGEST_SHA256);

	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (unsigned char)(i * 2654435761u >> 13);
	if (!s) {
		/* only a machine of one core has no side thread; anywhere else it is a failure */
		CHECK(hashjobs_cores() < 2);
		fprintf(stderr, "# hashside_start: one CPU here, nothing to test\n");
		return;
	}
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		hashside_give(s, data + off, sizes[i]);
		hashside_wait(s);
		off += sizes[i];
	}
	CHECK(off <= sizeof data);
	hashside_finish(s, got);
	digest_of(DIGEST_SHA256, data, off, want);
	CHECK_EQ_STR(got, want);
}

TEST(back_to_back_gives_keep_the_order)
{
	char want[DIGEST_STR_MAX], got[DIGEST_STR_MAX];
	struct hashside *s = hashside_start(DIGEST_SHA256);
	if (!s) {
		CHECK(hashjobs_cores() < 2);
		return;
	}
	/* no wait between them: each give waits for the one before */
	hashside_give(s, data, 2 << 20);
	hashside_give(s, data + (2 << 20), 10);
	hashside_give(s, data + (2 << 20) + 10, 1 << 20);
	hashside_give(s, data + (3 << 20) + 10, HASHSIDE_MIN);
	hashside_finish(s, got);
	digest_of(DIGEST_SHA256, data, (3 << 20) + 10 + HASHSIDE_MIN, want);
	CHECK_EQ_STR(got, want);
}

TEST(give_then_finish_without_wait)
{
	char want[DIGEST_STR_MAX], got[DIGEST_STR_MAX];
	struct hashside *s = hashside_start(DIGEST_SHA256);
	if (!s) {
		CHECK(hashjobs_cores() < 2);
		return;
	}
	hashside_give(s, data, 1 << 20);
	hashside_finish(s, got); /* waits for the block given */
	digest_of(DIGEST_SHA256, data, 1 << 20, want);
	CHECK_EQ_STR(got, want);
}

TEST(free_midway)
{
	struct hashside *s = hashside_start(DIGEST_SHA256);
	if (!s) {
		CHECK(hashjobs_cores() < 2);
		return;
	}
	hashside_give(s, data, 2 << 20);
	hashside_free(s); /* the copy failed: no leak, no hang (ASan, the harness's clock) */
	hashside_free(NULL);
}

int main(void)
{
	RUN(mixed_blocks_in_order);
	RUN(back_to_back_gives_keep_the_order);
	RUN(give_then_finish_without_wait);
	RUN(free_midway);
	return unit_report("hashside");
}
