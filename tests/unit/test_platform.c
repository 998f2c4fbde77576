/* Unit tests for platform.c: --platform's text and the index child it picks. */
#include "platform.h"
#include "unit.h"

#define D(c) "sha256:" c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c \
	c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c
#define CHILD(c, pl) "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" \
	D(c) "\",\"size\":7" pl "}"
#define INDEX(children) "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\"," \
	"\"manifests\":[" children "]}"

static struct unit_guard guard;

static const char *fmt(const char *s)
{
	static char out[PLATFORM_STR_MAX];
	struct platform p;
	if (platform_parse(s, &p) < 0)
		return "(refused)";
	platform_format(&p, out, sizeof out);
	return out;
}

TEST(parse_and_normalise)
{
	CHECK_EQ_STR(fmt("linux/amd64"), "linux/amd64");
	CHECK_EQ_STR(fmt("linux/arm64/v8"), "linux/arm64");
	CHECK_EQ_STR(fmt("linux/aarch64"), "linux/arm64");
	CHECK_EQ_STR(fmt("linux/x86_64"), "linux/amd64");
	CHECK_EQ_STR(fmt("linux/amd64/v1"), "linux/amd64");
	CHECK_EQ_STR(fmt("linux/amd64/v3"), "linux/amd64/v3");
	CHECK_EQ_STR(fmt("linux/arm"), "linux/arm/v7");
	CHECK_EQ_STR(fmt("linux/arm/v6"), "linux/arm/v6");
	CHECK_EQ_STR(fmt("windows/amd64"), "windows/amd64");
}

TEST(refusals)
{
	static const char *const bad[] = { "", "linux", "linux/", "/amd64", "linux/amd64/", "linux//v7",
					   "Linux/amd64", "linux/amd64/v8/x", "linux/am d64",
					   "linux/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		CHECK_EQ_STR(fmt(bad[i]), "(refused)");
}

/* The position platform_pick gives for want in text, or -2 if text is not a manifest. */
static long pick(const char *text, const char *want)
{
	struct manifest m;
	struct platform p;
	char why[256];
	long k;
	if (platform_parse(want, &p) < 0 ||
	    manifest_parse(&m, unit_guard_str(&guard, text), strlen(text), NULL, why, sizeof why) < 0) {
		unit_guard_free(&guard);
		return -2;
	}
	k = platform_pick(&m, &p);
	manifest_free(&m);
	unit_guard_free(&guard);
	return k;
}

TEST(pick)
{
	const char *idx = INDEX(CHILD("a", ",\"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"}") ","
				CHILD("b", ",\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}") ","
				CHILD("c", ",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v6\"}") ","
				CHILD("d", ",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\"}") ","
				CHILD("e", ",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}") ","
				CHILD("8", "") ","
				CHILD("9", ",\"platform\":{\"os\":\"linux\",\"architecture\":7}"));
	CHECK_EQ_INT(pick(idx, "linux/amd64"), 1);
	CHECK_EQ_INT(pick(idx, "linux/x86_64"), 1);
	CHECK_EQ_INT(pick(idx, "linux/arm/v6"), 2);
	CHECK_EQ_INT(pick(idx, "linux/arm"), 3);     /* no variant is v7 */
	CHECK_EQ_INT(pick(idx, "linux/arm/v7"), 3);
	CHECK_EQ_INT(pick(idx, "linux/arm64"), 4);   /* v8 is no variant */
	CHECK_EQ_INT(pick(idx, "linux/aarch64/v8"), 4);
	CHECK_EQ_INT(pick(idx, "linux/s390x"), -1);
	CHECK_EQ_INT(pick(idx, "windows/amd64"), -1);
	/* an image manifest has no children to pick from */
	CHECK_EQ_INT(pick("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
			  "\"config\":" CHILD("a", "") ",\"layers\":[]}", "linux/amd64"), -1);
}

TEST(list)
{
	struct manifest m;
	char why[256], out[256], small[20];
	const char *idx = INDEX(CHILD("b", ",\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}") ","
				CHILD("8", "") ","
				CHILD("e", ",\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}"));
	CHECK_EQ_INT(manifest_parse(&m, idx, strlen(idx), NULL, why, sizeof why), 0);
	platform_list(&m, out, sizeof out);
	CHECK_EQ_STR(out, "linux/amd64, (none), linux/arm64");
	platform_list(&m, small, sizeof small);
	CHECK_EQ_STR(small, "linux/amd64, (no...");
	manifest_free(&m);
}

int main(void)
{
	RUN(parse_and_normalise);
	RUN(refusals);
	RUN(pick);
	RUN(list);
	return unit_report("unit platform");
}
