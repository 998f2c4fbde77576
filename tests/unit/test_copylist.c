/* Unit tests for copylist.c: the --from-file list of copies. */
#include "copylist.h"
#include "unit.h"

static struct unit_guard guard;

static int add(void *ctx, unsigned long line, const char *src, const char *dst)
{
	char *out = ctx;
	char one[256];
	if (strcmp(src, "stop") == 0)
		return -1;
	snprintf(one, sizeof one, "%s%lu:%s>%s", out[0] ? " " : "", line, src, dst);
	strcat(out, one);
	return 0;
}

/* "LINE:SRC>DST ..." for text, or "!" + the reason. */
static const char *pairs(const char *text, size_t len)
{
	static char out[1024];
	char why[256];
	long n;
	out[0] = '\0';
	n = copylist_parse(unit_guard_put(&guard, text, len), len, add, out, why, sizeof why);
	unit_guard_free(&guard);
	if (n < 0)
		snprintf(out, sizeof out, "!%s", why);
	return out;
}
#define P(s) pairs(s, sizeof(s) - 1)

TEST(lists)
{
	CHECK_EQ_STR(P("a b\n"), "1:a>b");
	CHECK_EQ_STR(P("a b"), "1:a>b");
	CHECK_EQ_STR(P("# head\n\n  a\tb  # why\r\n#c d\n\tc   d\n"), "3:a>b 5:c>d");
	CHECK_EQ_STR(P("a b#not-a-comment\n"), "1:a>b#not-a-comment");
	CHECK_EQ_STR(P(""), "");
	CHECK_EQ_STR(P("\n\n# only comments\n"), "");
}

TEST(refusals)
{
	char big[COPYLIST_LINE_MAX + 10];
	CHECK_EQ_STR(P("a b\nc\n"), "!line 2: want SRC DST, found one word");
	CHECK_EQ_STR(P("a b c\n"), "!line 1: want SRC DST, found more than two words");
	CHECK_EQ_STR(P("a b\n\x01 c d\n"), "!line 2: a control byte (0x01)");
	CHECK_EQ_STR(pairs("a\0b c", 5), "!line 1: a control byte (0x00)");
	CHECK_EQ_STR(P("a\x7f b\n"), "!line 1: a control byte (0x7f)");
	memset(big, 'a', sizeof big);
	big[1] = ' ';
	CHECK_EQ_STR(pairs(big, sizeof big), "!line 1: longer than 8192 bytes");
	/* each's -1 stops the list */
	CHECK(P("a b\nstop x\nc d\n")[0] == '!');
}

TEST(check_only)
{
	char why[64];
	CHECK_EQ_INT(copylist_parse("a b\nc d\n", 8, NULL, NULL, why, sizeof why), 2);
}

int main(void)
{
	RUN(lists);
	RUN(refusals);
	RUN(check_only);
	return unit_report("unit copylist");
}
