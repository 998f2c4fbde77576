/* test_ref.c - the name and tag grammar, its one limit, and reference parsing
 * (Docker Hub rules, ports, digests, malformed input) on guard pages. */
#include <string.h>

#include "ref.h"
#include "unit.h"

static void deep_name(char *out, size_t components)
{
	size_t o = 0;
	for (size_t i = 0; i < components; i++) {
		if (i)
			out[o++] = '/';
		out[o++] = 'a';
	}
	out[o] = '\0';
}

TEST(names_at_and_past_the_limit)
{
	char name[2 * REF_NAME_COMPONENTS_MAX + 4];
	deep_name(name, REF_NAME_COMPONENTS_MAX);
	CHECK(strlen(name) == REF_NAME_MAX);
	CHECK(ref_name_valid(name));
	deep_name(name, REF_NAME_COMPONENTS_MAX + 1);
	CHECK(!ref_name_valid(name));
	memset(name, 'a', REF_NAME_MAX + 1);
	name[REF_NAME_MAX + 1] = '\0';
	CHECK(!ref_name_valid(name));
	name[REF_NAME_MAX] = '\0';
	CHECK(ref_name_valid(name));
}

TEST(grammar)
{
	CHECK(ref_name_valid("library/ubuntu"));
	CHECK(ref_name_valid("a0.b_c__d-e--f/g"));
	CHECK(!ref_name_valid("a//b"));
	CHECK(!ref_name_valid("a/_layout"));
	CHECK(!ref_name_valid("a___b"));
	CHECK(ref_component_valid("ab", 2));
	CHECK(!ref_component_valid("ab/", 3));
	CHECK(ref_tag_valid("v1.0-rc_1"));
	CHECK(!ref_tag_valid(".v"));
}

TEST(tag_limit)
{
	char tag[REF_TAG_MAX + 2];
	memset(tag, 'T', sizeof tag - 1);
	tag[REF_TAG_MAX] = '\0';
	CHECK(ref_tag_valid(tag));
	tag[REF_TAG_MAX] = 'T';
	tag[REF_TAG_MAX + 1] = '\0';
	CHECK(!ref_tag_valid(tag));
}

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* input -> host, repo, tag, digest; host NULL: refused */
static const struct {
	const char *in, *host, *repo, *tag, *digest, *familiar;
} golden[] = {
	/* Docker Hub, under every name it goes by */
	{ "ubuntu", REF_HUB_HOST, "library/ubuntu", "latest", "", "ubuntu" },
	{ "ubuntu:22.04", REF_HUB_HOST, "library/ubuntu", "22.04", "", "ubuntu" },
	{ "library/ubuntu", REF_HUB_HOST, "library/ubuntu", "latest", "", "ubuntu" },
	{ "docker.io/ubuntu", REF_HUB_HOST, "library/ubuntu", "latest", "", "ubuntu" },
	{ "docker.io/library/ubuntu:x", REF_HUB_HOST, "library/ubuntu", "x", "", "ubuntu" },
	{ "index.docker.io/ubuntu", REF_HUB_HOST, "library/ubuntu", "latest", "", "ubuntu" },
	{ "registry-1.docker.io/ubuntu", REF_HUB_HOST, "library/ubuntu", "latest", "", "ubuntu" },
	{ "bitnami/redis:7", REF_HUB_HOST, "bitnami/redis", "7", "", "bitnami/redis" },
	{ "docker.io/library/a/b", REF_HUB_HOST, "library/a/b", "latest", "", "library/a/b" },
	{ "ubuntu@sha256:" D64, REF_HUB_HOST, "library/ubuntu", "", "sha256:" D64, "ubuntu" },
	/* a first component with '.' or ':' or "localhost" is a host */
	{ "localhost/a", "localhost", "a", "latest", "", "a" },
	{ "localhost:5000/a/b:v1", "localhost:5000", "a/b", "v1", "", "a/b" },
	{ "127.0.0.1:5000/x@sha256:" D64, "127.0.0.1:5000", "x", "", "sha256:" D64, "x" },
	{ "[::1]:5000/x:t", "[::1]:5000", "x", "t", "", "x" },
	{ "ghcr.io/o/r", "ghcr.io", "o/r", "latest", "", "o/r" },
	{ "docker.io:443/x", "docker.io:443", "x", "latest", "", "x" },
	{ "host:1/library/x", "host:1", "library/x", "latest", "", "library/x" },
	{ "localhostx/a", REF_HUB_HOST, "localhostx/a", "latest", "", "localhostx/a" },
	{ "r.io/a:B_9.-x", "r.io", "a", "B_9.-x", "", "a" },
	/* no '/': no host, so the ':' starts a tag, as docker reads it */
	{ "r.io:5000", REF_HUB_HOST, "library/r.io", "5000", "", "r.io" },
	/* refused */
	{ "", NULL, NULL, NULL, NULL, NULL },
	{ "/", NULL, NULL, NULL, NULL, NULL },
	{ "r.io/", NULL, NULL, NULL, NULL, NULL },
	{ "r.io//x", NULL, NULL, NULL, NULL, NULL },
	{ "/x", NULL, NULL, NULL, NULL, NULL },
	{ "r.io/UPPER", NULL, NULL, NULL, NULL, NULL },
	{ "r.io/a:", NULL, NULL, NULL, NULL, NULL },
	{ "r.io/a:-t", NULL, NULL, NULL, NULL, NULL },
	{ "r.io/a:.t", NULL, NULL, NULL, NULL, NULL },
	{ "r.io/a:bad tag", NULL, NULL, NULL, NULL, NULL },
	{ "r.io/a:b/c", NULL, NULL, NULL, NULL, NULL },
	{ "r.io/a@", NULL, NULL, NULL, NULL, NULL },
	{ "r.io/a@sha256:1234", NULL, NULL, NULL, NULL, NULL },
	{ "r.io/a@md5:0123456789abcdef0123456789abcdef", NULL, NULL, NULL, NULL, NULL },
	{ "r.io/a:t@sha256:" D64, NULL, NULL, NULL, NULL, NULL },
	{ "r.io/a@sha256:" D64 ":x", NULL, NULL, NULL, NULL, NULL },
	{ "local host:5000/a", NULL, NULL, NULL, NULL, NULL },
	{ ":5000/a", NULL, NULL, NULL, NULL, NULL },
	{ "r.io:99999/a", NULL, NULL, NULL, NULL, NULL },
	{ "u@r.io/a", NULL, NULL, NULL, NULL, NULL },
	{ "a__/b", NULL, NULL, NULL, NULL, NULL },
};

TEST(golden_references_on_guard_pages)
{
	for (size_t i = 0; i < sizeof golden / sizeof *golden; i++) {
		struct unit_guard g;
		struct ref r;
		char err[256] = "";
		const char *s = unit_guard_str(&g, golden[i].in);
		int rc = ref_parse(s, strlen(golden[i].in), &r, err, sizeof err);
		if (!golden[i].host) {
			if (rc != -1)
				fprintf(stderr, "accepted: \"%s\"\n", golden[i].in);
			CHECK_EQ_INT(rc, -1);
			CHECK(err[0] != '\0');
			CHECK(!strchr(err, '\n'));
			CHECK_EQ_STR(r.host, "");
		} else {
			if (rc != 0)
				fprintf(stderr, "refused: \"%s\": %s\n", golden[i].in, err);
			CHECK_EQ_INT(rc, 0);
			CHECK_EQ_STR(r.host, golden[i].host);
			CHECK_EQ_STR(r.repo, golden[i].repo);
			CHECK_EQ_STR(r.tag, golden[i].tag);
			CHECK_EQ_STR(r.digest, golden[i].digest);
			CHECK_EQ_STR(ref_familiar_name(&r), golden[i].familiar);
		}
		unit_guard_free(&g);
	}
}

/* Every limit, one byte either side; the slice ends at len even when the
 * bytes after it would make a different reference. */
TEST(reference_limits)
{
	char s[REF_MAX + 64], err[256];
	struct ref r;
	struct unit_guard g;
	const char *q;
	size_t n;

	/* a tag of REF_TAG_MAX, then one more */
	n = (size_t)snprintf(s, sizeof s, "r.io/a:");
	memset(s + n, 't', REF_TAG_MAX + 1);
	q = unit_guard_put(&g, s, n + REF_TAG_MAX);
	CHECK_EQ_INT(ref_parse(q, n + REF_TAG_MAX, &r, err, sizeof err), 0);
	CHECK_EQ_INT(strlen(r.tag), REF_TAG_MAX);
	unit_guard_free(&g);
	q = unit_guard_put(&g, s, n + REF_TAG_MAX + 1);
	CHECK_EQ_INT(ref_parse(q, n + REF_TAG_MAX + 1, &r, err, sizeof err), -1);
	unit_guard_free(&g);
	/* a name of REF_NAME_MAX; on the Hub "library/" counts too */
	n = (size_t)snprintf(s, sizeof s, "r.io/");
	memset(s + n, 'a', REF_NAME_MAX + 1);
	CHECK_EQ_INT(ref_parse(s, n + REF_NAME_MAX, &r, err, sizeof err), 0);
	CHECK_EQ_INT(strlen(r.repo), REF_NAME_MAX);
	CHECK_EQ_INT(ref_parse(s, n + REF_NAME_MAX + 1, &r, err, sizeof err), -1);
	CHECK_EQ_INT(ref_parse(s + n, REF_NAME_MAX - 8, &r, err, sizeof err), 0);
	CHECK_EQ_INT(strlen(r.repo), REF_NAME_MAX);
	CHECK_EQ_INT(ref_parse(s + n, REF_NAME_MAX - 7, &r, err, sizeof err), -1);
	/* a host of REF_HOST_MAX, then one more */
	memset(s, 'h', sizeof s);
	memcpy(s + REF_HOST_MAX - 3, ".io/a", 5);
	CHECK_EQ_INT(ref_parse(s, REF_HOST_MAX + 2, &r, err, sizeof err), 0);
	CHECK_EQ_INT(strlen(r.host), REF_HOST_MAX);
	memcpy(s + REF_HOST_MAX - 2, ".io/a", 5);
	CHECK_EQ_INT(ref_parse(s, REF_HOST_MAX + 3, &r, err, sizeof err), -1);
	/* len, not the NUL, ends the input; a NUL inside is refused */
	CHECK_EQ_INT(ref_parse("r.io/a:t1/zzz", 9, &r, err, sizeof err), 0);
	CHECK_EQ_STR(r.tag, "t1");
	CHECK_EQ_INT(ref_parse("r.io/a\0b", 8, &r, err, sizeof err), -1);
	/* nothing at all, on the guard page itself */
	q = unit_guard_put(&g, "", 0);
	CHECK_EQ_INT(ref_parse(q, 0, &r, err, sizeof err), -1);
	unit_guard_free(&g);
}

int main(void)
{
	RUN(names_at_and_past_the_limit);
	RUN(grammar);
	RUN(tag_limit);
	RUN(golden_references_on_guard_pages);
	RUN(reference_limits);
	return unit_report("unit ref");
}
