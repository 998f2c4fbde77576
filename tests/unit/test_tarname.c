/* Unit tests for tarname.c: golden normalisations, symlink resolution, and
 * quoting.  Inputs sit against a PROT_NONE page, so an over-read crashes. */
#include "tarname.h"
#include "unit.h"

static struct unit_guard guard;

/* The clean form of in, or "-" when refused. */
static const char *clean(const char *in, size_t cap)
{
	static char out[TARNAME_MAX];
	/* the NUL is the last byte before the guard page */
	const char *p = unit_guard_put(&guard, in, strlen(in) + 1);
	int r = tarname_clean(p, out, cap);
	unit_guard_free(&guard);
	return r < 0 ? "-" : out;
}

/* golden: input -> clean form */
static const struct {
	const char *in, *want;
} golden_clean[] = {
	{ "manifest.json", "manifest.json" },
	{ "./manifest.json", "manifest.json" },
	{ "/blobs/sha256/ab", "blobs/sha256/ab" },
	{ "a//b///c/", "a/b/c" },
	{ "a/./b/.", "a/b" },
	{ "a/b/../c", "a/c" },
	{ "a/../b", "b" },
	{ "a/b/../../c", "c" },
	{ "..", "-" },
	{ "../x", "-" },
	{ "a/../../x", "-" },
	{ "./", "-" },
	{ "", "-" },
	{ "/", "-" },
	{ "...", "..." },
	{ ".hidden/..x", ".hidden/..x" },
	{ "a\x1b[2Jb", "a\x1b[2Jb" }, /* kept as is: only quoted when printed */
};

TEST(clean_golden)
{
	for (size_t i = 0; i < sizeof golden_clean / sizeof golden_clean[0]; i++)
		CHECK_EQ_STR(clean(golden_clean[i].in, TARNAME_MAX), golden_clean[i].want);
}

TEST(clean_respects_cap)
{
	/* room is kept for a '/' and the NUL after each component */
	CHECK_EQ_STR(clean("abcd", 6), "abcd");
	CHECK_EQ_STR(clean("abcd", 5), "-");
	CHECK_EQ_STR(clean("a/b", 4), "a/b");
	CHECK_EQ_STR(clean("a/b", 3), "-");
}

TEST(resolve_golden)
{
	char out[TARNAME_MAX];
	CHECK_EQ_INT(tarname_resolve("1111/layer.tar", "../2222/layer.tar", out, sizeof out), 0);
	CHECK_EQ_STR(out, "2222/layer.tar");
	CHECK_EQ_INT(tarname_resolve("a/b/c", "d", out, sizeof out), 0);
	CHECK_EQ_STR(out, "a/b/d");
	CHECK_EQ_INT(tarname_resolve("a/b", "/x/y", out, sizeof out), 0);
	CHECK_EQ_STR(out, "x/y");
	CHECK_EQ_INT(tarname_resolve("top", "other", out, sizeof out), 0);
	CHECK_EQ_STR(out, "other");
	CHECK_EQ_INT(tarname_resolve("a/b", "../../etc/passwd", out, sizeof out), -1);
}

TEST(resolve_long_names_are_refused_not_cut)
{
	char cur[TARNAME_MAX], target[TARNAME_MAX], out[TARNAME_MAX];
	memset(cur, 'a', sizeof cur - 1);
	cur[sizeof cur - 1] = '\0';
	cur[10] = '/';
	memset(target, 'b', sizeof target - 1);
	target[sizeof target - 1] = '\0';
	CHECK_EQ_INT(tarname_resolve(cur, target, out, sizeof out), -1);
}

TEST(quote_golden)
{
	CHECK_EQ_STR(tarname_quote("blobs/sha256/ab").s, "blobs/sha256/ab");
	CHECK_EQ_STR(tarname_quote("\x1b]0;owned\x07").s, "\\x1b]0;owned\\x07");
	CHECK_EQ_STR(tarname_quote("a\r\nb\tc").s, "a\\x0d\\x0ab\\x09c");
	CHECK_EQ_STR(tarname_quote("back\\slash").s, "back\\\\slash");
	CHECK_EQ_STR(tarname_quote("\x7f\xc2\x9b").s, "\\x7f\\xc2\\x9b");
	CHECK_EQ_STR(tarname_quote("").s, "");
}

TEST(quote_cuts_long_names)
{
	char in[2000];
	struct tarname_quoted q;
	memset(in, '\x01', sizeof in - 1);
	in[sizeof in - 1] = '\0';
	q = tarname_quote(in);
	CHECK(strlen(q.s) < TARNAME_QUOTE_MAX);
	CHECK(strlen(q.s) > TARNAME_QUOTE_MAX - 10);
	CHECK(strcmp(q.s + strlen(q.s) - 3, "...") == 0);
}

int main(void)
{
	RUN(clean_golden);
	RUN(clean_respects_cap);
	RUN(resolve_golden);
	RUN(resolve_long_names_are_refused_not_cut);
	RUN(quote_golden);
	RUN(quote_cuts_long_names);
	return unit_report("unit tarname");
}
