/* Unit tests for ocindex.c: an OCI layout's index.json and its ref names. */
#include "ocindex.h"
#include "unit.h"

#define DA "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define M(ann) "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" DA \
	"\",\"size\":7" ann "}"

static struct unit_guard guard;

static const char *parse(struct ocindex *x, const char *text)
{
	static char why[256];
	const char *p = unit_guard_str(&guard, text);
	why[0] = '\0';
	if (ocindex_parse(x, p, strlen(text), why, sizeof why) < 0) {
		CHECK(why[0] != '\0');
		unit_guard_free(&guard);
		return why;
	}
	return "";
}

TEST(ref_names)
{
	struct ocindex x;
	char ref[OCINDEX_REF_MAX];
	CHECK_EQ_STR(parse(&x, "{\"schemaVersion\":2,\"manifests\":[" M(",\"annotations\":{\"org.opencontainers.image.ref.name\":\"v1\"}")
			      "," M("") "," M(",\"annotations\":{\"org.opencontainers.image.ref.name\":\"docker.io/library/a:3\"}") "]}"),
		     "");
	CHECK_EQ_INT(x.m.nrefs, 3);
	CHECK_EQ_INT(ocindex_ref(&x, 0, ref, sizeof ref), 2);
	CHECK_EQ_STR(ref, "v1");
	CHECK_EQ_INT(ocindex_ref(&x, 1, ref, sizeof ref), 0);
	CHECK_EQ_STR(ref, "");
	ocindex_ref(&x, 2, ref, sizeof ref);
	CHECK_EQ_STR(ref, "docker.io/library/a:3");
	CHECK_EQ_INT(ocindex_ref(&x, 3, ref, sizeof ref), 0);
	ocindex_free(&x);
	unit_guard_free(&guard);
}

/* ctr export and packhelper export: the full name in io.containerd.image.name */
TEST(containerd_names)
{
	struct ocindex x;
	char n[OCINDEX_REF_MAX];
	CHECK_EQ_STR(parse(&x, "{\"schemaVersion\":2,\"manifests\":[" M(",\"annotations\":{\"io.containerd.image.name\":"
			      "\"reg:5000/a/b:v1\",\"org.opencontainers.image.ref.name\":\"v1\"}") "," M("") "]}"),
		     "");
	CHECK_EQ_INT(ocindex_containerd_name(&x, 0, n, sizeof n), 15);
	CHECK_EQ_STR(n, "reg:5000/a/b:v1");
	ocindex_ref(&x, 0, n, sizeof n);
	CHECK_EQ_STR(n, "v1");
	CHECK_EQ_INT(ocindex_containerd_name(&x, 1, n, sizeof n), 0);
	CHECK_EQ_STR(n, "");
	CHECK_EQ_INT(ocindex_containerd_name(&x, 2, n, sizeof n), 0);
	ocindex_free(&x);
	unit_guard_free(&guard);
}

static const struct {
	const char *text, *why;
} bad[] = {
	{ "{\"schemaVersion\":2,\"manifests\":[" M(",\"annotations\":{\"io.containerd.image.name\":7}") "]}",
	  "manifest 0: its io.containerd.image.name is not a string of 1 to 511 bytes" },
	{ "{\"schemaVersion\":2,\"manifests\":[" M(",\"annotations\":{\"org.opencontainers.image.ref.name\":1}") "]}",
	  "manifest 0: its ref name is not a string of 1 to 511 bytes" },
	{ "{\"schemaVersion\":2,\"manifests\":[" M(",\"annotations\":{\"org.opencontainers.image.ref.name\":\"\"}") "]}",
	  "manifest 0: its ref name is not a string of 1 to 511 bytes" },
	{ "{\"schemaVersion\":2,\"manifests\":[" M(",\"annotations\":{\"org.opencontainers.image.ref.name\":\"a\","
	  "\"org.opencontainers.image.ref.name\":\"b\"}") "]}",
	  "manifest 0: its ref name is not a string of 1 to 511 bytes" },
	{ "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"manifests\":[]}",
	  "Content-Type application/vnd.oci.image.index.v1+json does not match mediaType "
	  "application/vnd.oci.image.manifest.v1+json" },
	{ "{\"schemaVersion\":1,\"manifests\":[]}", "schemaVersion must be 2" },
	{ "[]", "manifest must be a JSON object" },
};

TEST(refusals_golden)
{
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct ocindex x;
		CHECK_EQ_STR(parse(&x, bad[i].text), bad[i].why);
	}
}

int main(void)
{
	RUN(ref_names);
	RUN(containerd_names);
	RUN(refusals_golden);
	return unit_report("unit ocindex");
}
