/* Unit tests for dockersave.c: docker save's manifest.json, golden cases
 * (accepted with what the accessors give, or refused with the reason). */
#include "dockersave.h"
#include "tarname.h"
#include "unit.h"

static struct unit_guard guard;

/* Parse text; "" when accepted, else the reason. */
static const char *parse(struct dockersave *d, const char *text)
{
	static char why[256];
	const char *p = unit_guard_str(&guard, text);
	why[0] = '\0';
	if (dockersave_parse(d, p, strlen(text), why, sizeof why) < 0) {
		CHECK(why[0] != '\0');
		unit_guard_free(&guard);
		return why;
	}
	return "";
}

static void done(struct dockersave *d)
{
	dockersave_free(d);
	unit_guard_free(&guard);
}

TEST(legacy_item)
{
	struct dockersave d;
	char name[TARNAME_MAX];
	CHECK_EQ_STR(parse(&d, "[{\"Config\":\"abc.json\",\"RepoTags\":[\"agent:latest\",\"a:b\"],"
			      "\"Layers\":[\"1/layer.tar\",\"2/layer.tar\"]}]"), "");
	CHECK_EQ_INT(d.n, 1);
	CHECK_EQ_INT(d.items[0].nlayers, 2);
	CHECK_EQ_INT(d.items[0].ntags, 2);
	CHECK_EQ_INT(dockersave_config(&d, 0, name, sizeof name), 8);
	CHECK_EQ_STR(name, "abc.json");
	dockersave_layer(&d, 0, 1, name, sizeof name);
	CHECK_EQ_STR(name, "2/layer.tar");
	dockersave_tag(&d, 0, 1, name, sizeof name);
	CHECK_EQ_STR(name, "a:b");
	done(&d);
}

TEST(untagged_and_escaped)
{
	struct dockersave d;
	char name[TARNAME_MAX];
	CHECK_EQ_STR(parse(&d, "[{\"Config\":\"c\\u002ejson\",\"RepoTags\":null,\"Layers\":[]},"
			      "{\"Config\":\"d\",\"Layers\":[\"x\"]}]"), "");
	CHECK_EQ_INT(d.n, 2);
	CHECK_EQ_INT(d.items[0].ntags, 0);
	CHECK_EQ_INT(d.items[0].tags, -1);
	CHECK_EQ_INT(d.items[1].ntags, 0);
	dockersave_config(&d, 0, name, sizeof name);
	CHECK_EQ_STR(name, "c.json");
	done(&d);
}

/* golden refusals: text -> reason */
static const struct {
	const char *text, *why;
} bad[] = {
	{ "", "not valid JSON" },
	{ "{}", "not a non-empty JSON array" },
	{ "[]", "not a non-empty JSON array" },
	{ "[1]", "entry 0 is not an object" },
	{ "[{\"Layers\":[]}]", "entry 0 has no Config file name" },
	{ "[{\"Config\":\"\",\"Layers\":[]}]", "entry 0 has no Config file name" },
	{ "[{\"Config\":\"a\\u0000b\",\"Layers\":[]}]", "entry 0 has no Config file name" },
	{ "[{\"Config\":\"a\",\"Config\":\"b\",\"Layers\":[]}]", "entry 0 has no Config file name" },
	{ "[{\"Config\":\"a\"}]", "entry 0 has no Layers array" },
	{ "[{\"Config\":\"a\",\"Layers\":\"x\"}]", "entry 0 has no Layers array" },
	{ "[{\"Config\":\"a\",\"Layers\":[1]}]", "entry 0: layer 0 is not a file name" },
	{ "[{\"Config\":\"a\",\"Layers\":[],\"RepoTags\":\"a:b\"}]", "entry 0: RepoTags is not an array" },
	{ "[{\"Config\":\"a\",\"Layers\":[],\"RepoTags\":[null]}]", "entry 0: RepoTag 0 is not a string" },
	{ "[{\"Config\":\"a\",\"Layers\":[],\"RepoTags\":[],\"RepoTags\":[]}]", "entry 0 has RepoTags twice" },
};

TEST(refusals_golden)
{
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct dockersave d;
		CHECK_EQ_STR(parse(&d, bad[i].text), bad[i].why);
	}
}

TEST(limits)
{
	struct buf b;
	struct dockersave d;
	buf_init(&b, 1 << 20);
	/* 4097 tags over two items */
	buf_puts(&b, "[{\"Config\":\"a\",\"Layers\":[],\"RepoTags\":[");
	for (int i = 0; i < 4000; i++)
		buf_printf(&b, "%s\"r:%d\"", i ? "," : "", i);
	buf_puts(&b, "]},{\"Config\":\"a\",\"Layers\":[],\"RepoTags\":[");
	for (int i = 0; i < 97; i++)
		buf_printf(&b, "%s\"s:%d\"", i ? "," : "", i);
	buf_puts(&b, "]}]");
	buf_cstr(&b);
	CHECK_EQ_STR(parse(&d, b.p), "more than 4096 RepoTags (the limit)");
	b.len = 0;
	buf_puts(&b, "[{\"Config\":\"a\",\"Layers\":[");
	for (int i = 0; i < 4097; i++)
		buf_printf(&b, "%s\"l\"", i ? "," : "");
	buf_puts(&b, "]}]");
	buf_cstr(&b);
	CHECK_EQ_STR(parse(&d, b.p), "entry 0 has more than 4096 layers (the limit)");
	buf_free(&b);
}

int main(void)
{
	RUN(legacy_item);
	RUN(untagged_and_escaped);
	RUN(refusals_golden);
	RUN(limits);
	return unit_report("unit dockersave");
}
