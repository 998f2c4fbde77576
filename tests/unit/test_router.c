/* Unit tests for router.c: targets to routes, name/tag grammar, query values. */
#include "router.h"
#include "unit.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define D256 "sha256:" HEX64
#define D512 "sha512:" HEX64 HEX64
#define UPID "0123456789abcdef0123456789abcdef"

/* router_match on a target placed right before a PROT_NONE page. */
static enum regerr match(const char *target, struct route *rt)
{
	struct unit_guard g;
	char *p = unit_guard_str(&g, target);
	enum regerr e = router_match(p, strlen(target), rt);
	unit_guard_free(&g);
	return e;
}

struct rcase {
	const char *target;
	enum regerr err;
	enum route_kind kind;
	const char *name; /* checked when err is RE_OK */
	const char *ref;
};

static void run_cases(const struct rcase *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct route rt;
		enum regerr e = match(c[i].target, &rt);
		int bad = 0;
		if (e != c[i].err)
			bad = 1;
		else if (e == RE_OK && rt.kind != c[i].kind)
			bad = 1;
		else if (e == RE_OK && strcmp(rt.name, c[i].name ? c[i].name : "") != 0)
			bad = 1;
		else if (e == RE_OK && strcmp(rt.ref, c[i].ref ? c[i].ref : "") != 0)
			bad = 1;
		if (bad) {
			fprintf(stderr, "%s: got err %d kind %d name \"%s\" ref \"%s\"; want err %d kind %d\n",
				c[i].target, e, rt.kind, rt.name, rt.ref, c[i].err, c[i].kind);
			unit_failed_checks++;
		}
	}
}

#define RUN_CASES(c) run_cases(c, sizeof c / sizeof c[0])

TEST(fixed_routes)
{
	static const struct rcase c[] = {
		{ "/v2/", RE_OK, ROUTE_BASE, "", "" },
		{ "/v2", RE_OK, ROUTE_BASE, "", "" },
		{ "/v2/?x=1", RE_OK, ROUTE_BASE, "", "" },
		{ "/v2/_catalog", RE_OK, ROUTE_CATALOG, "", "" },
		{ "/v2/_catalog?n=10&last=a", RE_OK, ROUTE_CATALOG, "", "" },
		{ "/readyz", RE_OK, ROUTE_READY, "", "" },
		{ "/healthz", RE_OK, ROUTE_HEALTH, "", "" },
		{ "/", RE_NOT_FOUND, 0, 0, 0 },
		{ "", RE_NOT_FOUND, 0, 0, 0 },
		{ "*", RE_NOT_FOUND, 0, 0, 0 },
		{ "/V2/", RE_NOT_FOUND, 0, 0, 0 },
		{ "/v3/", RE_NOT_FOUND, 0, 0, 0 },
		{ "/v2//", RE_NOT_FOUND, 0, 0, 0 },
		{ "/v2/_catalog/", RE_NOT_FOUND, 0, 0, 0 },
		{ "/readyz/", RE_NOT_FOUND, 0, 0, 0 },
		{ "/v2/a", RE_NOT_FOUND, 0, 0, 0 },
		{ "/v2/a/", RE_NOT_FOUND, 0, 0, 0 },
		{ "/v2/a/blobs", RE_NOT_FOUND, 0, 0, 0 },
		{ "/v2/a/foo/bar", RE_NOT_FOUND, 0, 0, 0 },
		{ "/v2/a/tags", RE_NOT_FOUND, 0, 0, 0 },
		{ "/v2/a/tags/list/", RE_NOT_FOUND, 0, 0, 0 },
		{ "/v2/blobs/" D256, RE_NOT_FOUND, 0, 0, 0 },   /* no name at all */
		{ "/v2/manifests/latest", RE_NOT_FOUND, 0, 0, 0 },
	};
	RUN_CASES(c);
}

TEST(repository_routes)
{
	static const struct rcase c[] = {
		{ "/v2/library/ubuntu/tags/list", RE_OK, ROUTE_TAGS, "library/ubuntu", "" },
		{ "/v2/a/tags/list?n=2", RE_OK, ROUTE_TAGS, "a", "" },
		{ "/v2/a/b/c/manifests/latest", RE_OK, ROUTE_MANIFEST, "a/b/c", "latest" },
		{ "/v2/a/manifests/" D256, RE_OK, ROUTE_MANIFEST, "a", D256 },
		{ "/v2/a/manifests/" D512, RE_OK, ROUTE_MANIFEST, "a", D512 },
		{ "/v2/a/blobs/" D256, RE_OK, ROUTE_BLOB, "a", D256 },
		{ "/v2/a/blobs/" D512 "?x", RE_OK, ROUTE_BLOB, "a", D512 },
		{ "/v2/a/referrers/" D256, RE_OK, ROUTE_REFERRERS, "a", D256 },
		{ "/v2/a/referrers/" D256 "?artifactType=x%2Fy", RE_OK, ROUTE_REFERRERS, "a", D256 },
		{ "/v2/a/b/blobs/uploads/", RE_OK, ROUTE_UPLOADS, "a/b", "" },
		{ "/v2/a/blobs/uploads", RE_OK, ROUTE_UPLOADS, "a", "" },
		{ "/v2/a/blobs/uploads/?digest=" D256, RE_OK, ROUTE_UPLOADS, "a", "" },
		{ "/v2/a/blobs/uploads/" UPID, RE_OK, ROUTE_UPLOAD, "a", UPID },
		{ "/v2/a/b/blobs/uploads/" UPID "?digest=" D256, RE_OK, ROUTE_UPLOAD, "a/b", UPID },
	};
	RUN_CASES(c);
}

/* A name may contain components that look like route words. */
TEST(names_with_route_words)
{
	static const struct rcase c[] = {
		{ "/v2/blobs/manifests/latest", RE_OK, ROUTE_MANIFEST, "blobs", "latest" },
		{ "/v2/manifests/manifests/latest", RE_OK, ROUTE_MANIFEST, "manifests", "latest" },
		{ "/v2/a/manifests/b/manifests/t", RE_OK, ROUTE_MANIFEST, "a/manifests/b", "t" },
		{ "/v2/a/blobs/b/blobs/" D256, RE_OK, ROUTE_BLOB, "a/blobs/b", D256 },
		{ "/v2/blobs/blobs/" D256, RE_OK, ROUTE_BLOB, "blobs", D256 },
		{ "/v2/manifests/blobs/" D256, RE_OK, ROUTE_BLOB, "manifests", D256 },
		{ "/v2/a/tags/list/tags/list", RE_OK, ROUTE_TAGS, "a/tags/list", "" },
		{ "/v2/tags/tags/list", RE_OK, ROUTE_TAGS, "tags", "" },
		{ "/v2/x/blobs/uploads/blobs/uploads/", RE_OK, ROUTE_UPLOADS, "x/blobs/uploads", "" },
		{ "/v2/a/blobs/uploads/manifests/latest", RE_OK, ROUTE_MANIFEST, "a/blobs/uploads", "latest" },
		{ "/v2/uploads/blobs/uploads/" UPID, RE_OK, ROUTE_UPLOAD, "uploads", UPID },
		{ "/v2/referrers/referrers/" D256, RE_OK, ROUTE_REFERRERS, "referrers", D256 },
		{ "/v2/a/manifests/blobs/" D256, RE_OK, ROUTE_BLOB, "a/manifests", D256 },
		/* "uploads" needs "blobs" right before it */
		{ "/v2/a/b/uploads/" UPID, RE_NOT_FOUND, 0, 0, 0 },
		{ "/v2/blobs/uploads/" UPID, RE_NOT_FOUND, 0, 0, 0 },
	};
	RUN_CASES(c);
}

TEST(name_grammar)
{
	static const struct rcase c[] = {
		{ "/v2/a__b/tags/list", RE_OK, ROUTE_TAGS, "a__b", "" },
		{ "/v2/a--b/tags/list", RE_OK, ROUTE_TAGS, "a--b", "" },
		{ "/v2/a-b.c_d/e0/tags/list", RE_OK, ROUTE_TAGS, "a-b.c_d/e0", "" },
		{ "/v2/0/tags/list", RE_OK, ROUTE_TAGS, "0", "" },
		{ "/v2/A/tags/list", RE_NAME_INVALID, 0, 0, 0 },
		{ "/v2/a//b/tags/list", RE_NAME_INVALID, 0, 0, 0 },
		{ "/v2//a/tags/list", RE_NAME_INVALID, 0, 0, 0 },
		{ "/v2/a/ /tags/list", RE_NAME_INVALID, 0, 0, 0 },
		{ "/v2/a_/tags/list", RE_NAME_INVALID, 0, 0, 0 },
		{ "/v2/_a/tags/list", RE_NAME_INVALID, 0, 0, 0 },
		{ "/v2/a___b/tags/list", RE_NAME_INVALID, 0, 0, 0 },
		{ "/v2/a.-b/tags/list", RE_NAME_INVALID, 0, 0, 0 },
		{ "/v2/a..b/tags/list", RE_NAME_INVALID, 0, 0, 0 },
		{ "/v2/a-/tags/list", RE_NAME_INVALID, 0, 0, 0 },
		{ "/v2/-a/tags/list", RE_NAME_INVALID, 0, 0, 0 },
		{ "/v2/../tags/list", RE_NAME_INVALID, 0, 0, 0 },
		{ "/v2/./tags/list", RE_NAME_INVALID, 0, 0, 0 },
		{ "/v2/a/../b/tags/list", RE_NAME_INVALID, 0, 0, 0 },
		{ "/v2/a:b/tags/list", RE_NAME_INVALID, 0, 0, 0 },
		{ "/v2/a+b/tags/list", RE_NAME_INVALID, 0, 0, 0 },
		{ "/v2/tags/list", RE_NOT_FOUND, 0, 0, 0 },     /* nothing before "/tags/list" */
		{ "/v2//tags/list", RE_NAME_INVALID, 0, 0, 0 },  /* empty name */
		{ "/v2//manifests/x", RE_NAME_INVALID, 0, 0, 0 },
		{ "/v2/A/manifests/x", RE_NAME_INVALID, 0, 0, 0 },
		{ "/v2/A/blobs/" D256, RE_NAME_INVALID, 0, 0, 0 },
		{ "/v2/A/referrers/" D256, RE_NAME_INVALID, 0, 0, 0 },
		{ "/v2/A/blobs/uploads/", RE_NAME_INVALID, 0, 0, 0 },
		{ "/v2/A/blobs/uploads/" UPID, RE_NAME_INVALID, 0, 0, 0 },
		/* the store's private directories are not names */
		{ "/v2/_layout/tags/list", RE_NAME_INVALID, 0, 0, 0 },
		{ "/v2/a/_layout/manifests/latest", RE_NAME_INVALID, 0, 0, 0 },
		{ "/v2/a/_layout/b/blobs/" D256, RE_NAME_INVALID, 0, 0, 0 },
		{ "/v2/_layout/blobs/uploads/", RE_NAME_INVALID, 0, 0, 0 },
		{ "/v2/a%2F_layout/tags/list", RE_NAME_INVALID, 0, 0, 0 },
		{ "/v2/_uploads/tags/list", RE_NAME_INVALID, 0, 0, 0 },
	};
	RUN_CASES(c);
}

TEST(name_length)
{
	char t[1100], name[300];
	struct route rt;
	memset(name, 'a', 255);
	name[255] = '\0';
	snprintf(t, sizeof t, "/v2/%s/tags/list", name);
	CHECK_EQ_INT(match(t, &rt), RE_OK);
	CHECK_EQ_STR(rt.name, name);
	snprintf(t, sizeof t, "/v2/%s/manifests/latest", name);
	CHECK_EQ_INT(match(t, &rt), RE_OK);
	snprintf(t, sizeof t, "/v2/%sa/tags/list", name);
	CHECK_EQ_INT(match(t, &rt), RE_NAME_INVALID);
	snprintf(t, sizeof t, "/v2/%sa/blobs/uploads/" UPID, name);
	CHECK_EQ_INT(match(t, &rt), RE_NAME_INVALID);
	/* 128 two-letter components: 255 bytes with the slashes */
	for (int i = 0; i < 128; i++)
		memcpy(name + 2 * i, "a/", 2);
	name[255] = '\0';
	snprintf(t, sizeof t, "/v2/%s/tags/list", name);
	CHECK_EQ_INT(match(t, &rt), RE_OK);
	CHECK_EQ_INT(strlen(rt.name), 255);
	CHECK(ref_name_valid(name));
	name[255] = '/';
	name[256] = 'a';
	name[257] = '\0';
	CHECK(!ref_name_valid(name));
	/* a path over the decoder's limit is not found, not an overflow */
	memset(t, 'a', sizeof t);
	memcpy(t, "/v2/", 4);
	memcpy(t + sizeof t - 11, "/tags/list", 11);
	CHECK_EQ_INT(match(t, &rt), RE_NOT_FOUND);
}

TEST(references)
{
	static const struct rcase c[] = {
		{ "/v2/a/manifests/v1.0-rc_1", RE_OK, ROUTE_MANIFEST, "a", "v1.0-rc_1" },
		{ "/v2/a/manifests/_x", RE_OK, ROUTE_MANIFEST, "a", "_x" },
		{ "/v2/a/manifests/X", RE_OK, ROUTE_MANIFEST, "a", "X" },
		{ "/v2/a/manifests/", RE_TAG_INVALID, 0, 0, 0 },
		{ "/v2/a/manifests/.x", RE_TAG_INVALID, 0, 0, 0 },
		{ "/v2/a/manifests/-x", RE_TAG_INVALID, 0, 0, 0 },
		{ "/v2/a/manifests/a+b", RE_TAG_INVALID, 0, 0, 0 },
		{ "/v2/a/manifests/a%20b", RE_TAG_INVALID, 0, 0, 0 },
		{ "/v2/a/manifests/a@b", RE_TAG_INVALID, 0, 0, 0 },
		/* anything with a colon is a digest */
		{ "/v2/a/manifests/a:b", RE_DIGEST_INVALID, 0, 0, 0 },
		{ "/v2/a/manifests/sha256:abc", RE_DIGEST_INVALID, 0, 0, 0 },
		{ "/v2/a/manifests/sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
		  RE_DIGEST_INVALID, 0, 0, 0 },
		{ "/v2/a/manifests/md5:d41d8cd98f00b204e9800998ecf8427e", RE_DIGEST_INVALID, 0, 0, 0 },
		{ "/v2/a/manifests/" D256 "0", RE_DIGEST_INVALID, 0, 0, 0 },
		{ "/v2/a/blobs/latest", RE_DIGEST_INVALID, 0, 0, 0 },
		{ "/v2/a/blobs/", RE_DIGEST_INVALID, 0, 0, 0 },
		{ "/v2/a/blobs/md5:d41d8cd98f00b204e9800998ecf8427e", RE_DIGEST_INVALID, 0, 0, 0 },
		{ "/v2/a/blobs/sha256:" HEX64 HEX64, RE_DIGEST_INVALID, 0, 0, 0 },
		{ "/v2/a/referrers/latest", RE_DIGEST_INVALID, 0, 0, 0 },
		{ "/v2/a/referrers/", RE_DIGEST_INVALID, 0, 0, 0 },
		/* upload ids are 32 lowercase hex, anything else is unknown */
		{ "/v2/a/blobs/uploads/0123456789ABCDEF0123456789abcdef", RE_BLOB_UPLOAD_UNKNOWN, 0, 0, 0 },
		{ "/v2/a/blobs/uploads/0123456789abcdef0123456789abcde", RE_BLOB_UPLOAD_UNKNOWN, 0, 0, 0 },
		{ "/v2/a/blobs/uploads/" UPID "0", RE_BLOB_UPLOAD_UNKNOWN, 0, 0, 0 },
		{ "/v2/a/blobs/uploads/0123456789abcdef0123456789abcdeg", RE_BLOB_UPLOAD_UNKNOWN, 0, 0, 0 },
		{ "/v2/a/blobs/uploads/../../x", RE_NOT_FOUND, 0, 0, 0 },
	};
	RUN_CASES(c);
	{
		char t[300], tag[200];
		struct route rt;
		memset(tag, 'x', 128);
		tag[128] = '\0';
		snprintf(t, sizeof t, "/v2/a/manifests/%s", tag);
		CHECK_EQ_INT(match(t, &rt), RE_OK);
		CHECK_EQ_STR(rt.ref, tag);
		CHECK(!rt.ref_is_digest);
		snprintf(t, sizeof t, "/v2/a/manifests/%sx", tag);
		CHECK_EQ_INT(match(t, &rt), RE_TAG_INVALID);
		CHECK_EQ_INT(match("/v2/a/manifests/" D256, &rt), RE_OK);
		CHECK(rt.ref_is_digest);
		CHECK_EQ_INT(match("/v2/a/blobs/uploads/" UPID, &rt), RE_OK);
		CHECK(!rt.ref_is_digest);
	}
}

TEST(percent_decoding)
{
	static const struct rcase c[] = {
		{ "/v2/a%2Fb/tags/list", RE_OK, ROUTE_TAGS, "a/b", "" },
		{ "/v2/a%2fb/tags/list", RE_OK, ROUTE_TAGS, "a/b", "" },
		{ "/v2/%61/tags/list", RE_OK, ROUTE_TAGS, "a", "" },
		{ "%2Fv2%2F", RE_OK, ROUTE_BASE, "", "" },
		{ "/v2/a/manifests/sha256%3A" HEX64, RE_OK, ROUTE_MANIFEST, "a", D256 },
		{ "/v2/a/manifests/sha256%3a" HEX64, RE_OK, ROUTE_MANIFEST, "a", D256 },
		{ "/v2/a/manifests/%6c%61test", RE_OK, ROUTE_MANIFEST, "a", "latest" },
		{ "/v2/a%2Fmanifests%2Flatest", RE_OK, ROUTE_MANIFEST, "a", "latest" },
		{ "/v2/a/blobs%2Fuploads%2F", RE_OK, ROUTE_UPLOADS, "a", "" },
		/* the query is split off before decoding */
		{ "/v2/a%3Fb/tags/list", RE_NAME_INVALID, 0, 0, 0 },
		{ "/v2/%41/tags/list", RE_NAME_INVALID, 0, 0, 0 },
		{ "/v2/%2e%2e/tags/list", RE_NAME_INVALID, 0, 0, 0 },
		{ "/v2/a/manifests/a%2Bb", RE_TAG_INVALID, 0, 0, 0 },
		/* bad escapes and control bytes */
		{ "/v2/a%zz/tags/list", RE_NOT_FOUND, 0, 0, 0 },
		{ "/v2/a%g0/tags/list", RE_NOT_FOUND, 0, 0, 0 },
		{ "/v2/a%/tags/list", RE_NOT_FOUND, 0, 0, 0 },
		{ "/v2/a%2/tags/list", RE_NOT_FOUND, 0, 0, 0 },
		{ "/v2/a/tags/list%", RE_NOT_FOUND, 0, 0, 0 },
		{ "/v2/a/tags/list%2", RE_NOT_FOUND, 0, 0, 0 },
		{ "/v2/a%00/tags/list", RE_NOT_FOUND, 0, 0, 0 },
		{ "/v2/a%0a/tags/list", RE_NOT_FOUND, 0, 0, 0 },
		{ "/v2/a%1F/tags/list", RE_NOT_FOUND, 0, 0, 0 },
		{ "/v2/a%7f/tags/list", RE_NOT_FOUND, 0, 0, 0 },
		{ "/v2/a%%32%46b/tags/list", RE_NOT_FOUND, 0, 0, 0 },  /* no double decoding */
		{ "/v2/a%252Fb/tags/list", RE_NAME_INVALID, 0, 0, 0 }, /* "a%2Fb" after one pass */
	};
	RUN_CASES(c);
}

TEST(query_copy)
{
	struct route rt;
	char t[ROUTE_QUERY_MAX + 16];
	CHECK_EQ_INT(match("/v2/a/tags/list?n=1&last=b", &rt), RE_OK);
	CHECK_EQ_INT(rt.query_len, 10);
	CHECK(memcmp(rt.query, "n=1&last=b", 10) == 0);
	CHECK_EQ_INT(match("/v2/a/tags/list?", &rt), RE_OK);
	CHECK_EQ_INT(rt.query_len, 0);
	CHECK_EQ_INT(match("/v2/a/tags/list?a?b", &rt), RE_OK); /* first '?' splits */
	CHECK_EQ_INT(rt.query_len, 3);
	CHECK_EQ_INT(match("/v2/a/tags/list", &rt), RE_OK);
	CHECK_EQ_INT(rt.query_len, 0);
	/* the query may be ROUTE_QUERY_MAX - 1 bytes */
	memcpy(t, "/v2/?", 5);
	memset(t + 5, 'q', ROUTE_QUERY_MAX - 1);
	t[5 + ROUTE_QUERY_MAX - 1] = '\0';
	CHECK_EQ_INT(match(t, &rt), RE_OK);
	CHECK_EQ_INT(rt.query_len, ROUTE_QUERY_MAX - 1);
	t[5 + ROUTE_QUERY_MAX - 1] = 'q';
	t[5 + ROUTE_QUERY_MAX] = '\0';
	CHECK_EQ_INT(match(t, &rt), RE_BAD_REQUEST);
}

TEST(tag_and_name_valid)
{
	CHECK(ref_tag_valid("latest"));
	CHECK(ref_tag_valid("v1.2.3-rc.1_x"));
	CHECK(ref_tag_valid("_"));
	CHECK(ref_tag_valid("A"));
	CHECK(!ref_tag_valid(""));
	CHECK(!ref_tag_valid(".a"));
	CHECK(!ref_tag_valid("-a"));
	CHECK(!ref_tag_valid("a/b"));
	CHECK(!ref_tag_valid("a:b"));
	CHECK(!ref_tag_valid("a b"));
	CHECK(!ref_tag_valid("caf\xc3\xa9"));
	CHECK(ref_name_valid("a"));
	CHECK(ref_name_valid("library/ubuntu"));
	CHECK(ref_name_valid("a0.b_c__d-e--f/g"));
	CHECK(!ref_name_valid(""));
	CHECK(!ref_name_valid("/"));
	CHECK(!ref_name_valid("a/"));
	CHECK(!ref_name_valid("/a"));
	CHECK(!ref_name_valid("a//b"));
	CHECK(!ref_name_valid("_layout"));
	CHECK(!ref_name_valid("a/_layout"));
	CHECK(!ref_name_valid("a/_layout/b"));
	CHECK(!ref_name_valid("a.."));
	CHECK(!ref_name_valid("a_"));
	CHECK(!ref_name_valid("a__"));
	CHECK(!ref_name_valid("a."));
	CHECK(!ref_name_valid("A"));
}

static long q(const char *query, const char *key, unsigned idx, char *out, size_t cap)
{
	struct unit_guard g;
	char *p = unit_guard_str(&g, query);
	long r = router_query(p, strlen(query), key, idx, out, cap);
	unit_guard_free(&g);
	return r;
}

TEST(query_values)
{
	char out[64];
	CHECK_EQ_INT(q("n=10&last=foo", "n", 0, out, sizeof out), 2);
	CHECK_EQ_STR(out, "10");
	CHECK_EQ_INT(q("n=10&last=foo", "last", 0, out, sizeof out), 3);
	CHECK_EQ_STR(out, "foo");
	CHECK_EQ_INT(q("n=10&last=foo", "n", 1, out, sizeof out), -1);
	CHECK_EQ_INT(q("n=10&last=foo", "l", 0, out, sizeof out), -1);
	CHECK_EQ_INT(q("n=10&last=foo", "lastx", 0, out, sizeof out), -1);
	CHECK_EQ_INT(q("nn=1&n=2", "n", 0, out, sizeof out), 1);
	CHECK_EQ_STR(out, "2");
	CHECK_EQ_INT(q("", "n", 0, out, sizeof out), -1);
	CHECK_EQ_INT(q("&&&", "n", 0, out, sizeof out), -1);
	CHECK_EQ_INT(q("a=1&&n=2&", "n", 0, out, sizeof out), 1);
	CHECK_EQ_STR(out, "2");
	/* a key without a value, or with an empty one */
	CHECK_EQ_INT(q("n&x=1", "n", 0, out, sizeof out), 0);
	CHECK_EQ_STR(out, "");
	CHECK_EQ_INT(q("x=1&n", "n", 0, out, sizeof out), 0);
	CHECK_EQ_INT(q("n=", "n", 0, out, sizeof out), 0);
	CHECK_EQ_STR(out, "");
	/* only the first '=' separates */
	CHECK_EQ_INT(q("n=a=b", "n", 0, out, sizeof out), 3);
	CHECK_EQ_STR(out, "a=b");
	/* keys compare raw and case-sensitively */
	CHECK_EQ_INT(q("N=1", "n", 0, out, sizeof out), -1);
	CHECK_EQ_INT(q("%6E=1", "n", 0, out, sizeof out), -1);
}

TEST(query_repeated_keys)
{
	char out[64];
	const char *s = "tag=a&digest=x&tag=b&tag=&tag=c";
	CHECK_EQ_INT(q(s, "tag", 0, out, sizeof out), 1);
	CHECK_EQ_STR(out, "a");
	CHECK_EQ_INT(q(s, "tag", 1, out, sizeof out), 1);
	CHECK_EQ_STR(out, "b");
	CHECK_EQ_INT(q(s, "tag", 2, out, sizeof out), 0);
	CHECK_EQ_INT(q(s, "tag", 3, out, sizeof out), 1);
	CHECK_EQ_STR(out, "c");
	CHECK_EQ_INT(q(s, "tag", 4, out, sizeof out), -1);
	CHECK_EQ_INT(q(s, "digest", 0, out, sizeof out), 1);
	CHECK_EQ_INT(q(s, "digest", 1, out, sizeof out), -1);
}

TEST(query_decoding)
{
	char out[64];
	CHECK_EQ_INT(q("artifactType=application%2Fvnd.example%2Bjson", "artifactType", 0, out,
		       sizeof out),
		     28);
	CHECK_EQ_STR(out, "application/vnd.example+json");
	CHECK_EQ_INT(q("digest=sha256%3A" HEX64, "digest", 0, out, sizeof out), -2); /* 71 > 63 */
	{
		char big[DIGEST_STR_MAX];
		CHECK_EQ_INT(q("digest=sha256%3A" HEX64, "digest", 0, big, sizeof big), 71);
		CHECK_EQ_STR(big, D256);
	}
	CHECK_EQ_INT(q("x=a+b", "x", 0, out, sizeof out), 3); /* '+' stays '+' */
	CHECK_EQ_STR(out, "a+b");
	CHECK_EQ_INT(q("x=a%20b", "x", 0, out, sizeof out), 3);
	CHECK_EQ_STR(out, "a b");
	CHECK_EQ_INT(q("x=%e2%82%ac", "x", 0, out, sizeof out), 3);
	CHECK_EQ_STR(out, "\xe2\x82\xac");
	CHECK_EQ_INT(q("x=%26&y=1", "x", 0, out, sizeof out), 1);
	CHECK_EQ_STR(out, "&");
	/* malformed values */
	CHECK_EQ_INT(q("x=%zz", "x", 0, out, sizeof out), -2);
	CHECK_EQ_INT(q("x=%2", "x", 0, out, sizeof out), -2);
	CHECK_EQ_INT(q("x=%", "x", 0, out, sizeof out), -2);
	CHECK_EQ_INT(q("x=%2&y=1", "x", 0, out, sizeof out), -2);
	CHECK_EQ_INT(q("x=%00", "x", 0, out, sizeof out), -2);
	CHECK_EQ_INT(q("x=a%0Db", "x", 0, out, sizeof out), -2);
	CHECK_EQ_INT(q("x=\x01", "x", 0, out, sizeof out), -2);
	/* a malformed value of another key does not matter */
	CHECK_EQ_INT(q("y=%zz&x=1", "x", 0, out, sizeof out), 1);
	/* capacity: cap - 1 bytes fit */
	CHECK_EQ_INT(q("x=abc", "x", 0, out, 4), 3);
	CHECK_EQ_INT(q("x=abc", "x", 0, out, 3), -2);
	CHECK_EQ_INT(q("x=%41bc", "x", 0, out, 4), 3);
	CHECK_EQ_INT(q("x=", "x", 0, out, 1), 0);
	CHECK_EQ_INT(q("x=a", "x", 0, out, 1), -2);
}

TEST(guard_page_prefixes)
{
	/* every prefix of some targets, each ending at a guard page */
	static const char *const targets[] = {
		"/v2/a/b/manifests/" D256 "?x=%41",
		"/v2/a%2Fb/blobs/uploads/" UPID "?digest=" D256,
		"/v2/a/referrers/" D256 "?artifactType=a%2fb",
		"/v2/_catalog?n=1&last=a%",
	};
	for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
		size_t n = strlen(targets[t]);
		for (size_t k = 0; k <= n; k++) {
			struct unit_guard g;
			struct route rt;
			char out[DIGEST_STR_MAX];
			char *p = unit_guard_put(&g, targets[t], k);
			enum regerr e = router_match(p, k, &rt);
			if (e == RE_OK) {
				router_query(rt.query, rt.query_len, "digest", 0, out, sizeof out);
				router_query(rt.query, rt.query_len, "x", 1, out, sizeof out);
			}
			CHECK(e < RE__COUNT);
			/* the query string itself, unterminated */
			{
				const char *qm = memchr(p, '?', k);
				if (qm) {
					size_t qn = k - (size_t)(qm + 1 - p);
					router_query(qm + 1, qn, "digest", 0, out, sizeof out);
					router_query(qm + 1, qn, "last", 0, out, sizeof out);
					router_query(qm + 1, qn, "n", 0, out, sizeof out);
				}
			}
			unit_guard_free(&g);
		}
	}
}

int main(void)
{
	RUN(fixed_routes);
	RUN(repository_routes);
	RUN(names_with_route_words);
	RUN(name_grammar);
	RUN(name_length);
	RUN(references);
	RUN(percent_decoding);
	RUN(query_copy);
	RUN(tag_and_name_valid);
	RUN(query_values);
	RUN(query_repeated_keys);
	RUN(query_decoding);
	RUN(guard_page_prefixes);
	return unit_report("unit router");
}
