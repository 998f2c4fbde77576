/* Unit tests for imageconfig.c: rootfs.diff_ids, golden cases. */
#include "imageconfig.h"
#include "unit.h"

#define DA "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DB "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static struct unit_guard guard;

static const char *parse(struct imageconfig *c, const char *text)
{
	static char why[256];
	const char *p = unit_guard_str(&guard, text);
	int r;
	why[0] = '\0';
	r = imageconfig_parse(c, p, strlen(text), why, sizeof why);
	unit_guard_free(&guard);
	if (r < 0) {
		CHECK(why[0] != '\0');
		CHECK(c->diff_ids == NULL);
		return why;
	}
	return "";
}

TEST(diff_ids)
{
	struct imageconfig c;
	CHECK_EQ_STR(parse(&c, "{\"architecture\":\"amd64\",\"rootfs\":{\"type\":\"layers\","
			      "\"diff_ids\":[\"" DA "\",\"" DB "\"]},\"history\":[]}"), "");
	CHECK_EQ_INT(c.n, 2);
	CHECK_EQ_STR(c.diff_ids[0], DA);
	CHECK_EQ_STR(c.diff_ids[1], DB);
	imageconfig_free(&c);
	CHECK_EQ_STR(parse(&c, "{\"rootfs\":{\"diff_ids\":[]}}"), "");
	CHECK_EQ_INT(c.n, 0);
	imageconfig_free(&c);
}

static const struct {
	const char *text, *why;
} bad[] = {
	{ "{", "not valid JSON" },
	{ "[]", "not a JSON object" },
	{ "{}", "no rootfs.diff_ids" },
	{ "{\"rootfs\":[]}", "no rootfs.diff_ids" },
	{ "{\"rootfs\":{\"diff_ids\":{}}}", "no rootfs.diff_ids" },
	{ "{\"rootfs\":{\"diff_ids\":[1]}}", "rootfs.diff_ids[0] is not a sha256 digest" },
	{ "{\"rootfs\":{\"diff_ids\":[\"" DA "\",\"sha256:AA\"]}}",
	  "rootfs.diff_ids[1] is not a sha256 digest" },
	{ "{\"rootfs\":{\"diff_ids\":[\"sha512:" "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"]}}",
	  "rootfs.diff_ids[0] is not a sha256 digest" },
};

TEST(refusals_golden)
{
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct imageconfig c;
		CHECK_EQ_STR(parse(&c, bad[i].text), bad[i].why);
	}
}

int main(void)
{
	RUN(diff_ids);
	RUN(refusals_golden);
	return unit_report("unit imageconfig");
}
