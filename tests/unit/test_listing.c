/* Unit tests for listing.c: tags/list and _catalog pages, and the Link
 * header that pages them. */
#include "listing.h"
#include "unit.h"

static struct unit_guard guard;

/* The names of body's `key` array joined with ",", or "!" + the reason. */
static int add(void *ctx, const char *s)
{
	char *out = ctx;
	if (strcmp(s, "stop") == 0)
		return -1;
	if (out[0])
		strcat(out, ",");
	strcat(out, s);
	return 0;
}

static const char *names(const char *body, const char *key, size_t max)
{
	static char out[512];
	char why[256];
	long n;
	out[0] = '\0';
	n = listing_each(unit_guard_str(&guard, body), strlen(body), key, max, add, out, why, sizeof why);
	unit_guard_free(&guard);
	if (n < 0) {
		snprintf(out, sizeof out, "!%s", why);
		return out;
	}
	{
		long commas = 0;
		for (const char *c = out; *c; c++)
			commas += *c == ',';
		CHECK_EQ_INT(n, out[0] ? commas + 1 : 0); /* the count is what each saw */
	}
	return out;
}

TEST(pages)
{
	CHECK_EQ_STR(names("{\"name\":\"a/b\",\"tags\":[\"v1\",\"latest\"]}", "tags", 129), "v1,latest");
	CHECK_EQ_STR(names("{\"name\":\"a/b\",\"tags\":null}", "tags", 129), "");
	CHECK_EQ_STR(names("{\"name\":\"a/b\"}", "tags", 129), "");
	CHECK_EQ_STR(names("{\"repositories\":[\"a\",\"a/b\"]}", "repositories", 256), "a,a/b");
	CHECK_EQ_STR(names("{\"tags\":[\"v\\u0031\"]}", "tags", 129), "v1");
}

TEST(page_refusals)
{
	CHECK_EQ_STR(names("[]", "tags", 129), "!not a JSON object");
	CHECK_EQ_STR(names("{\"tags\":", "tags", 129), "!not JSON");
	CHECK_EQ_STR(names("{\"tags\":\"v1\"}", "tags", 129), "!\"tags\" is not an array");
	CHECK_EQ_STR(names("{\"tags\":[],\"tags\":[]}", "tags", 129), "!\"tags\" twice");
	CHECK_EQ_STR(names("{\"tags\":[1]}", "tags", 129),
		     "!\"tags\" holds something other than a name of 1 to 128 bytes");
	CHECK_EQ_STR(names("{\"tags\":[\"\"]}", "tags", 129),
		     "!\"tags\" holds something other than a name of 1 to 128 bytes");
	CHECK_EQ_STR(names("{\"tags\":[\"abcdef\"]}", "tags", 6),
		     "!\"tags\" holds something other than a name of 1 to 5 bytes");
	/* each's -1 stops the page */
	CHECK(names("{\"tags\":[\"a\",\"stop\",\"b\"]}", "tags", 129)[0] == '!');
}

static const char *next(const char *v)
{
	static char out[128];
	int r = listing_next(unit_guard_str(&guard, v), strlen(v), out, sizeof out);
	unit_guard_free(&guard);
	if (r < 0)
		return "(malformed)";
	return r == 0 ? "(none)" : out;
}

TEST(link)
{
	CHECK_EQ_STR(next("</v2/a/tags/list?last=v1&n=2>; rel=\"next\""), "/v2/a/tags/list?last=v1&n=2");
	CHECK_EQ_STR(next("</v2/_catalog?n=1>;rel=next"), "/v2/_catalog?n=1");
	CHECK_EQ_STR(next("<https://x.example/p>; rel=\"prev\", <https://x.example/n>; title=\"a, b\"; rel=\"x next\""),
		     "https://x.example/n");
	CHECK_EQ_STR(next("<https://x.example/p>; rel=\"prev\""), "(none)");
	CHECK_EQ_STR(next(""), "(none)");
	CHECK_EQ_STR(next("/v2/a; rel=next"), "(malformed)");
	CHECK_EQ_STR(next("</v2/a; rel=next"), "(malformed)");
	CHECK_EQ_STR(next("</v2/a b>; rel=next"), "(malformed)");
	CHECK_EQ_STR(next("<>; rel=next"), "(malformed)");
	CHECK_EQ_STR(next("</v2/a>; title=\"open; rel=next"), "(malformed)");
	CHECK_EQ_STR(next("</v2/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa>; rel=next"), "(malformed)");
}

int main(void)
{
	RUN(pages);
	RUN(page_refusals);
	RUN(link);
	return unit_report("unit listing");
}
