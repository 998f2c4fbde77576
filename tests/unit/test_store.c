/* test_store.c - the store on a temporary root: blobs through the upload API,
 * mounts and shared deletes, manifests and tags, listings, upload bounds,
 * claims, expiry and compaction on a passed-in clock, close and reopen
 * (through the journal too), and start-up recovery from what a crash or a
 * damaged disk leaves. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "digest.h"
#include "file.h"
#include "log.h"
#include "manifest.h"
#include "store.h"
#include "unit.h"

#define CONFIG "{\"architecture\":\"amd64\",\"os\":\"linux\"}"

static char root[64];

static struct store *fresh_store(void)
{
	struct store *st;
	unit_rmtree(root);
	if (store_open(&st, root, 0) < 0) {
		fprintf(stderr, "store_open %s failed\n", root);
		exit(2);
	}
	return st;
}

static struct store *reopen(const char *dir, int flags)
{
	struct store *st = NULL;
	if (store_open(&st, dir, flags) < 0)
		return NULL;
	return st;
}

/* A path below dir. */
static const char *at(const char *dir, const char *rel)
{
	static char p[2][512];
	static int i;
	i ^= 1;
	snprintf(p[i], sizeof p[i], "%s/%s", dir, rel);
	return p[i];
}

static int exists(const char *dir, const char *rel)
{
	return access(at(dir, rel), F_OK) == 0;
}

static size_t count_dir(const char *dir, const char *rel)
{
	DIR *d = opendir(at(dir, rel));
	struct dirent *de;
	size_t n = 0;
	if (!d)
		return 0;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* "blobs/sha256/<hex>" of digest, below prefix ("" or "repos/R/_layout/"). */
static const char *blob_path(const char *prefix, const char *digest)
{
	static char p[2][400];
	static int i;
	const char *colon = strchr(digest, ':');
	i ^= 1;
	snprintf(p[i], sizeof p[i], "%sblobs/%.*s/%s", prefix, (int)(colon - digest), digest,
		 colon + 1);
	return p[i];
}

static const char *link_path(const char *repo, const char *digest)
{
	char prefix[300];
	snprintf(prefix, sizeof prefix, "repos/%s/_layout/", repo);
	return blob_path(prefix, digest);
}

/* Upload data into repo in two writes; the commit's result. */
static int put_blob_as(struct store *st, const char *repo, const char *data, enum digest_alg alg,
		       char digest[DIGEST_STR_MAX])
{
	struct store_upload *up = store_upload_start(st, repo, "10.0.0.1", 1000);
	size_t n = strlen(data), half = n / 2;
	if (!up)
		return -1;
	digest_of(alg, data, n, digest);
	if (store_upload_write(st, up, data, half, 1001) < 0 ||
	    store_upload_write(st, up, data + half, n - half, 1002) < 0)
		return -1;
	store_upload_release(st, up);
	return store_upload_commit(st, up, digest);
}

static int put_blob(struct store *st, const char *repo, const char *data, char digest[DIGEST_STR_MAX])
{
	return put_blob_as(st, repo, data, DIGEST_SHA256, digest);
}

/* An OCI image manifest (config CONFIG, one layer) with extra top-level JSON
 * members; its bytes into out. */
static void image_json(char *out, size_t cap, const char *layer_digest, size_t layer_len,
		       const char *extra)
{
	char cfg[DIGEST_STR_MAX];
	digest_of(DIGEST_SHA256, CONFIG, strlen(CONFIG), cfg);
	snprintf(out, cap,
		 "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\","
		 "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
		 "\"digest\":\"%s\",\"size\":%zu},"
		 "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
		 "\"digest\":\"%s\",\"size\":%zu}]%s}",
		 cfg, strlen(CONFIG), layer_digest, layer_len, extra ? extra : "");
}

/* Validate and store body in repo under tags; its digest into digest. */
static int put_manifest(struct store *st, const char *repo, const char *body,
			const char *const *tags, size_t ntags, char digest[DIGEST_STR_MAX])
{
	struct manifest m;
	char why[256];
	int rc;
	if (manifest_parse(&m, body, strlen(body), NULL, why, sizeof why) < 0) {
		fprintf(stderr, "manifest: %s\n", why);
		return -1;
	}
	digest_of(DIGEST_SHA256, body, strlen(body), digest);
	rc = store_manifest_put(st, repo, digest, &m, body, strlen(body), tags, ntags);
	manifest_free(&m);
	return rc;
}

/* Point tag at the manifest repo already holds as digest. */
static int retag(struct store *st, const char *repo, const char *digest, const char *tag)
{
	const struct store_manifest *e = store_manifest_get(st, repo, digest);
	const char *tags[] = { tag };
	struct manifest m;
	char why[128];
	int rc;
	if (!e || manifest_parse(&m, e->bytes, e->len, NULL, why, sizeof why) < 0)
		return -1;
	rc = store_manifest_put(st, repo, digest, &m, e->bytes, e->len, tags, 1);
	manifest_free(&m);
	return rc;
}

/* A repository "r" with a config, a layer and one manifest tagged tag. */
static void small_image(struct store *st, const char *repo, const char *layer, const char *tag,
			char mdigest[DIGEST_STR_MAX])
{
	char d[DIGEST_STR_MAX], body[1024];
	const char *tags[] = { tag };
	CHECK_EQ_INT(put_blob(st, repo, CONFIG, d), 0);
	CHECK_EQ_INT(put_blob(st, repo, layer, d), 0);
	image_json(body, sizeof body, d, strlen(layer), NULL);
	CHECK_EQ_INT(put_manifest(st, repo, body, tags, tag ? 1 : 0, mdigest), 0);
}

static int blob_reads(struct store *st, const char *digest, const char *want)
{
	char got[256];
	uint64_t base;
	int fd = store_blob_open(st, digest, &base);
	ssize_t n;
	if (fd < 0)
		return 0;
	n = read(fd, got, sizeof got);
	close(fd);
	return n == (ssize_t)strlen(want) && memcmp(got, want, (size_t)n) == 0;
}

/* The file under dir holds text. */
static int file_has(const char *dir, const char *rel, const char *text)
{
	struct buf b;
	int found;
	if (file_read_at(AT_FDCWD, at(dir, rel), (size_t)1 << 20, &b) < 0)
		return 0;
	found = buf_cstr(&b) == 0 && strstr(b.p, text) != NULL;
	buf_free(&b);
	return found;
}

/* What a crash leaves: the root copied as it is now (hard links kept). */
static void crash_image(const char *to)
{
	char cmd[256];
	unit_rmtree(to);
	snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", root, to);
	if (system(cmd) != 0) {
		fprintf(stderr, "%s failed\n", cmd);
		exit(2);
	}
}

/* The one journal file under dir, for damaging. */
static int journal_file(const char *dir, char out[512])
{
	DIR *d = opendir(at(dir, "journal"));
	struct dirent *de;
	int found = 0;
	if (!d)
		return 0;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.') {
			snprintf(out, 512, "%s/journal/%s", dir, de->d_name);
			found++;
		}
	closedir(d);
	return found == 1;
}

/* ---- the tests ---- */

TEST(empty_store_opens_with_its_layout)
{
	struct store *st = fresh_store();
	const char **list;
	size_t n = 9;
	CHECK(exists(root, "blobs/sha256") && exists(root, "blobs/sha512"));
	CHECK(exists(root, "uploads") && exists(root, "repos"));
	CHECK_EQ_INT(store_catalog(st, &list, &n), 0);
	CHECK_EQ_INT(n, 0);
	free(list);
	CHECK(store_blob_get(st, NULL, "sha256:0000000000000000000000000000000000000000000000000000000000000000") == NULL);
	CHECK(store_manifest_get(st, "none", "latest") == NULL);
	CHECK_EQ_INT(store_tags(st, "none", &list, &n), -1);
	CHECK_EQ_INT(errno, ENOENT);
	store_close(st);
}

TEST(upload_commit_with_the_right_digest_publishes_the_blob)
{
	struct store *st = fresh_store();
	char d[DIGEST_STR_MAX];
	const struct store_blob *b;
	CHECK_EQ_INT(put_blob(st, "lib/app", "layer bytes", d), 0);
	b = store_blob_get(st, "lib/app", d);
	CHECK(b && b->size == 11 && b->nrepos == 1);
	CHECK(store_blob_get(st, NULL, d) == b);
	CHECK(store_blob_get(st, "other", d) == NULL);
	CHECK(blob_reads(st, d, "layer bytes"));
	CHECK(exists(root, blob_path("", d)));
	CHECK(exists(root, link_path("lib/app", d)));
	CHECK(file_has(root, "repos/lib/app/_layout/oci-layout", "imageLayoutVersion"));
	CHECK(exists(root, "repos/lib/app/_layout/index.json"));
	CHECK_EQ_INT(count_dir(root, "uploads"), 0);
	/* the same bytes again: one copy */
	CHECK_EQ_INT(put_blob(st, "lib/app", "layer bytes", d), 0);
	CHECK_EQ_INT(count_dir(root, "blobs/sha256"), 1);
	/* sha512: hashed again at commit */
	CHECK_EQ_INT(put_blob_as(st, "lib/app", "five-twelve", DIGEST_SHA512, d), 0);
	CHECK(strncmp(d, "sha512:", 7) == 0 && store_blob_get(st, "lib/app", d) != NULL);
	CHECK(exists(root, blob_path("", d)));
	store_close(st);
}

TEST(upload_commit_with_the_wrong_digest_leaves_nothing)
{
	struct store *st = fresh_store();
	char wrong[DIGEST_STR_MAX], id[33];
	struct store_upload *up = store_upload_start(st, "r", "o", 0);
	CHECK(up != NULL);
	snprintf(id, sizeof id, "%s", up->id);
	CHECK_EQ_INT(store_upload_write(st, up, "actual", 6, 0), 0);
	CHECK_EQ_INT(up->size, 6);
	digest_of(DIGEST_SHA256, "claimed", 7, wrong);
	CHECK_EQ_INT(store_upload_commit(st, up, wrong), STORE_DIGEST_MISMATCH);
	CHECK(store_upload_get(st, id) == NULL);
	CHECK(store_blob_get(st, NULL, wrong) == NULL);
	CHECK_EQ_INT(count_dir(root, "uploads"), 0);
	CHECK_EQ_INT(count_dir(root, "blobs/sha256"), 0);
	/* a sha512 claim that the bytes do not have */
	up = store_upload_start(st, "r", "o", 0);
	CHECK(up != NULL);
	CHECK_EQ_INT(store_upload_write(st, up, "actual", 6, 0), 0);
	digest_of(DIGEST_SHA512, "claimed", 7, wrong);
	CHECK_EQ_INT(store_upload_commit(st, up, wrong), STORE_DIGEST_MISMATCH);
	CHECK_EQ_INT(count_dir(root, "uploads"), 0);
	store_close(st);
}

TEST(mount_and_delete_with_a_blob_shared_between_repositories)
{
	struct store *st = fresh_store();
	char d[DIGEST_STR_MAX], unknown[DIGEST_STR_MAX];
	const struct store_blob *b;
	CHECK_EQ_INT(put_blob(st, "a", "shared", d), 0);
	CHECK_EQ_INT(store_blob_mount(st, "b", d), 0);
	CHECK_EQ_INT(store_blob_mount(st, "b", d), 0); /* again: no change */
	b = store_blob_get(st, "b", d);
	CHECK(b && b->nrepos == 2 && store_blob_get(st, "a", d) == b);
	CHECK(exists(root, link_path("b", d)));
	digest_of(DIGEST_SHA256, "nowhere", 7, unknown);
	CHECK_EQ_INT(store_blob_mount(st, "b", unknown), -1);
	CHECK_EQ_INT(errno, ENOENT);
	/* a keeps nothing, b still has the bytes */
	CHECK_EQ_INT(store_blob_delete(st, "a", d), 0);
	CHECK(store_blob_get(st, "a", d) == NULL);
	CHECK(!exists(root, link_path("a", d)));
	CHECK(store_blob_get(st, "b", d) != NULL && store_blob_get(st, "b", d)->nrepos == 1);
	CHECK(blob_reads(st, d, "shared"));
	CHECK_EQ_INT(store_blob_delete(st, "a", d), -1);
	CHECK_EQ_INT(errno, ENOENT);
	/* the last holder goes: so do the bytes */
	CHECK_EQ_INT(store_blob_delete(st, "b", d), 0);
	CHECK(store_blob_get(st, NULL, d) == NULL);
	CHECK(!exists(root, blob_path("", d)));
	CHECK_EQ_INT(store_blob_delete(st, "nope", d), -1);
	CHECK_EQ_INT(errno, ENOENT);
	store_close(st);
}

TEST(manifests_and_tags_put_get_delete)
{
	struct store *st = fresh_store();
	char m1[DIGEST_STR_MAX], m2[DIGEST_STR_MAX], l[DIGEST_STR_MAX], body[1024];
	const char *both[] = { "v1", "latest" };
	const struct store_manifest *e;

	small_image(st, "r", "layer-1", NULL, m1);
	CHECK_EQ_INT(put_blob(st, "r", "layer-2", l), 0);
	image_json(body, sizeof body, l, 7, ",\"annotations\":{\"k\":\"v\"}");
	CHECK_EQ_INT(put_manifest(st, "r", body, both, 2, m2), 0);
	e = store_manifest_get(st, "r", "latest");
	CHECK(e && strcmp(e->digest, m2) == 0 && e->ntags == 2);
	CHECK(e && e->len == strlen(body) && memcmp(e->bytes, body, e->len) == 0);
	CHECK(e && e->annotations && strstr(e->annotations, "\"k\""));
	CHECK_EQ_STR(e ? e->media_type : NULL, MT_OCI_MANIFEST);
	CHECK(store_manifest_get(st, "r", m2) == e);
	CHECK(store_manifest_get(st, "r", "v1") == e);
	/* the manifest's bytes are a blob of the repository too */
	CHECK(store_blob_get(st, "r", m2) != NULL);
	/* latest moves to m1 */
	e = store_manifest_get(st, "r", m1);
	CHECK(e && e->ntags == 0);
	CHECK_EQ_INT(retag(st, "r", m1, "latest"), 0);
	e = store_manifest_get(st, "r", "latest");
	CHECK_EQ_STR(e ? e->digest : NULL, m1);
	e = store_manifest_get(st, "r", m2);
	CHECK(e && e->ntags == 1);
	/* untag */
	CHECK_EQ_INT(store_tag_delete(st, "r", "latest"), 0);
	CHECK(store_manifest_get(st, "r", "latest") == NULL);
	CHECK(store_manifest_get(st, "r", m1) != NULL);
	CHECK_EQ_INT(store_tag_delete(st, "r", "latest"), -1);
	CHECK_EQ_INT(errno, ENOENT);
	/* deleting a manifest takes its tags and its blob link */
	CHECK_EQ_INT(store_manifest_delete(st, "r", m2), 0);
	CHECK(store_manifest_get(st, "r", "v1") == NULL);
	CHECK(store_manifest_get(st, "r", m2) == NULL);
	CHECK(store_blob_get(st, "r", m2) == NULL);
	CHECK(!exists(root, link_path("r", m2)));
	CHECK_EQ_INT(store_manifest_delete(st, "r", m2), -1);
	CHECK_EQ_INT(errno, ENOENT);
	CHECK_EQ_INT(store_manifest_delete(st, "nope", m1), -1);
	store_close(st);
}

TEST(tags_and_catalog_are_listed_in_byte_order)
{
	struct store *st = fresh_store();
	const char *tags[] = { "v2", "v10", "latest", "V1", "1.0", "a_b", "a-b" };
	const char *want[] = { "1.0", "V1", "a-b", "a_b", "latest", "v10", "v2" };
	const char **list;
	size_t n;
	char d[DIGEST_STR_MAX];

	small_image(st, "z/last", "l", NULL, d);
	small_image(st, "a", "l", NULL, d);
	small_image(st, "a/b", "l", NULL, d);
	for (size_t i = 0; i < sizeof tags / sizeof *tags; i++)
		small_image(st, "m", tags[i], tags[i], d);
	CHECK_EQ_INT(store_tags(st, "m", &list, &n), 0);
	CHECK_EQ_INT(n, sizeof want / sizeof *want);
	for (size_t i = 0; i < n && i < sizeof want / sizeof *want; i++)
		CHECK_EQ_STR(list[i], want[i]);
	free(list);
	CHECK_EQ_INT(store_catalog(st, &list, &n), 0);
	CHECK_EQ_INT(n, 4);
	if (n == 4) {
		CHECK_EQ_STR(list[0], "a");
		CHECK_EQ_STR(list[1], "a/b");
		CHECK_EQ_STR(list[2], "m");
		CHECK_EQ_STR(list[3], "z/last");
	}
	free(list);
	CHECK_EQ_INT(store_tags(st, "a", &list, &n), 0);
	CHECK_EQ_INT(n, 0);
	free(list);
	store_close(st);
}

TEST(referrers_name_the_manifests_whose_subject_is_the_digest)
{
	struct store *st = fresh_store();
	char subj[DIGEST_STR_MAX], other[DIGEST_STR_MAX], l[DIGEST_STR_MAX], body[2048],
		extra[512], r1[DIGEST_STR_MAX], r2[DIGEST_STR_MAX], r3[DIGEST_STR_MAX];
	const struct store_manifest **list;
	size_t n;

	small_image(st, "r", "subject layer", "v1", subj);
	small_image(st, "r", "other layer", "v2", other);
	CHECK_EQ_INT(put_blob(st, "r", "sig", l), 0);
	snprintf(extra, sizeof extra,
		 ",\"artifactType\":\"application/x.sig\",\"subject\":{\"mediaType\":\"" MT_OCI_MANIFEST
		 "\",\"digest\":\"%s\",\"size\":1}", subj);
	image_json(body, sizeof body, l, 3, extra);
	CHECK_EQ_INT(put_manifest(st, "r", body, NULL, 0, r1), 0);
	snprintf(extra, sizeof extra,
		 ",\"artifactType\":\"application/x.sbom\",\"subject\":{\"mediaType\":\"" MT_OCI_MANIFEST
		 "\",\"digest\":\"%s\",\"size\":1}", subj);
	image_json(body, sizeof body, l, 3, extra);
	CHECK_EQ_INT(put_manifest(st, "r", body, NULL, 0, r2), 0);
	snprintf(extra, sizeof extra,
		 ",\"subject\":{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"%s\",\"size\":1}", other);
	image_json(body, sizeof body, l, 3, extra);
	CHECK_EQ_INT(put_manifest(st, "r", body, NULL, 0, r3), 0);

	CHECK_EQ_INT(store_referrers(st, "r", subj, &list, &n), 0);
	CHECK_EQ_INT(n, 2);
	if (n == 2) {
		int first_is_r1 = strcmp(r1, r2) < 0;
		CHECK_EQ_STR(list[0]->digest, first_is_r1 ? r1 : r2);
		CHECK_EQ_STR(list[1]->digest, first_is_r1 ? r2 : r1);
		CHECK_EQ_STR(list[first_is_r1 ? 0 : 1]->artifact_type, "application/x.sig");
		CHECK_EQ_STR(list[0]->subject, subj);
	}
	free(list);
	CHECK_EQ_INT(store_referrers(st, "r", other, &list, &n), 0);
	CHECK_EQ_INT(n, 1);
	free(list);
	CHECK_EQ_INT(store_referrers(st, "r", r3, &list, &n), 0);
	CHECK_EQ_INT(n, 0);
	free(list);
	CHECK_EQ_INT(store_referrers(st, "unknown", subj, &list, &n), 0);
	CHECK_EQ_INT(n, 0);
	CHECK(list == NULL);
	store_close(st);
}

TEST(upload_sessions_are_bounded_in_total_and_per_owner)
{
	struct store *st = fresh_store();
	struct store_limits lim = { .max_uploads = 3, .max_uploads_per_owner = 2 };
	struct store_upload *a1, *a2, *b1;

	store_set_limits(st, &lim);
	a1 = store_upload_start(st, "r", "10.0.0.1", 0);
	a2 = store_upload_start(st, "r", "10.0.0.1", 0);
	CHECK(a1 && a2);
	errno = 0;
	CHECK(store_upload_start(st, "r", "10.0.0.1", 0) == NULL);
	CHECK_EQ_INT(errno, EAGAIN);
	b1 = store_upload_start(st, "r", "10.0.0.2", 0);
	CHECK(b1 != NULL);
	/* the total is reached: another owner is refused too */
	errno = 0;
	CHECK(store_upload_start(st, "r", "10.0.0.3", 0) == NULL);
	CHECK_EQ_INT(errno, EAGAIN);
	CHECK_EQ_INT(count_dir(root, "uploads"), 3);
	/* ending a session makes room for its owner again */
	store_upload_cancel(st, a1);
	CHECK_EQ_INT(count_dir(root, "uploads"), 2);
	a1 = store_upload_start(st, "r", "10.0.0.1", 0);
	CHECK(a1 != NULL);
	store_upload_cancel(st, a1);
	store_upload_cancel(st, a2);
	store_upload_cancel(st, b1);
	/* defaults: NULL or 0 */
	store_set_limits(st, NULL);
	for (unsigned i = 0; i < STORE_MAX_UPLOADS_PER_OWNER_DEFAULT; i++)
		CHECK(store_upload_start(st, "r", "one", 0) != NULL);
	errno = 0;
	CHECK(store_upload_start(st, "r", "one", 0) == NULL);
	CHECK_EQ_INT(errno, EAGAIN);
	CHECK(store_upload_start(st, "r", NULL, 0) != NULL); /* no owner: "" */
	store_close(st);
	/* close frees open sessions; a restart clears their files */
	st = reopen(root, 0);
	CHECK(st != NULL);
	CHECK_EQ_INT(count_dir(root, "uploads"), 0);
	store_close(st);
}

TEST(a_claimed_upload_is_busy_until_released)
{
	struct store *st = fresh_store();
	struct store_upload *up = store_upload_start(st, "r", "o", 0);
	char d[DIGEST_STR_MAX];

	CHECK(up && up->fd < 0);
	CHECK(store_upload_get(st, up->id) == up);
	CHECK(store_upload_get(st, "0123") == NULL);
	CHECK_EQ_INT(store_upload_claim(st, up, 10), 0);
	CHECK(up->fd >= 0);
	errno = 0;
	CHECK_EQ_INT(store_upload_claim(st, up, 11), -1);
	CHECK_EQ_INT(errno, EBUSY);
	CHECK_EQ_INT(store_upload_write(st, up, "abc", 3, 12), 0);
	store_upload_release(st, up);
	store_upload_release(st, up); /* idempotent */
	CHECK(up->fd < 0);
	/* a write claims it by itself; the file holds exactly the bytes */
	CHECK_EQ_INT(store_upload_write(st, up, "def", 3, 13), 0);
	CHECK_EQ_INT(up->size, 6);
	CHECK_EQ_INT(store_upload_claim(st, up, 14), -1);
	CHECK_EQ_INT(errno, EBUSY);
	store_upload_release(st, up);
	digest_of(DIGEST_SHA256, "abcdef", 6, d);
	CHECK_EQ_INT(store_upload_commit(st, up, d), 0);
	CHECK(blob_reads(st, d, "abcdef"));
	store_close(st);
}

TEST(idle_uploads_expire_on_the_callers_clock)
{
	struct store *st = fresh_store();
	struct store_upload *idle = store_upload_start(st, "r", "o", 1000);
	struct store_upload *busy = store_upload_start(st, "r", "o", 1000);
	struct store_upload *written = store_upload_start(st, "r", "o", 1000);
	char idle_id[33], busy_id[33], written_id[33];

	snprintf(idle_id, sizeof idle_id, "%s", idle->id);
	snprintf(busy_id, sizeof busy_id, "%s", busy->id);
	snprintf(written_id, sizeof written_id, "%s", written->id);
	CHECK_EQ_INT(store_upload_claim(st, busy, 1000), 0);
	CHECK_EQ_INT(store_upload_write(st, written, "x", 1, 4000), 0); /* touched at 4000 */
	store_upload_release(st, written);
	/* exactly the limit is not past it */
	store_upload_expire(st, 6000, 5000);
	CHECK(store_upload_get(st, idle_id) != NULL);
	store_upload_expire(st, 6001, 5000);
	CHECK(store_upload_get(st, idle_id) == NULL);
	CHECK(store_upload_get(st, busy_id) != NULL);    /* claimed: never expires */
	CHECK(store_upload_get(st, written_id) != NULL); /* touched later */
	CHECK_EQ_INT(count_dir(root, "uploads"), 2);
	store_upload_release(st, busy);
	store_upload_expire(st, 8000, 5000);
	CHECK(store_upload_get(st, busy_id) == NULL);
	store_upload_expire(st, 9000, 5000);
	CHECK(store_upload_get(st, written_id) != NULL);
	store_upload_expire(st, 9001, 5000);
	CHECK(store_upload_get(st, written_id) == NULL);
	CHECK_EQ_INT(count_dir(root, "uploads"), 0);
	store_close(st);
}

TEST(import_temporary_files_commit_as_blobs)
{
	struct store *st = fresh_store();
	const struct tmpdir *td = store_tmpdir(st);
	char name[TMPDIR_NAME_MAX], d[DIGEST_STR_MAX], got[8] = { 0 };
	int fd = tmpdir_create(td, name), rfd;
	CHECK(fd >= 0);
	CHECK(strncmp(name, "import-", 7) == 0);
	CHECK_EQ_INT(count_dir(root, "uploads"), 1); /* in uploads/: start-up clears it */
	CHECK_EQ_INT(file_write_all(fd, "tmpdata", 7), 0);
	CHECK_EQ_INT(fdatasync(fd), 0);
	close(fd);
	rfd = tmpdir_open(td, name);
	CHECK(rfd >= 0 && read(rfd, got, 7) == 7 && strcmp(got, "tmpdata") == 0);
	close(rfd);
	digest_of(DIGEST_SHA256, "tmpdata", 7, d);
	CHECK_EQ_INT(store_blob_commit_tmp(st, "imp", td, name, d, 7), 0);
	CHECK(store_blob_get(st, "imp", d) != NULL && blob_reads(st, d, "tmpdata"));
	CHECK_EQ_INT(count_dir(root, "uploads"), 0);
	fd = tmpdir_create(td, name);
	close(fd);
	tmpdir_remove(td, name);
	CHECK_EQ_INT(count_dir(root, "uploads"), 0);
	/* a leftover (a crash mid-import) goes at the next start-up */
	fd = tmpdir_create(td, name);
	close(fd);
	store_close(st);
	CHECK_EQ_INT(store_open(&st, root, 0), 0);
	CHECK_EQ_INT(count_dir(root, "uploads"), 0);
	store_close(st);
}

/* Everything test_reopen checks, built in a fresh store. */
struct world {
	char cfg[DIGEST_STR_MAX], l1[DIGEST_STR_MAX], big[DIGEST_STR_MAX];
	char m1[DIGEST_STR_MAX], sig[DIGEST_STR_MAX], gone[DIGEST_STR_MAX];
};

static void build_world(struct store *st, struct world *w)
{
	const char *tags[] = { "v1", "latest" };
	char body[2048], extra[512];
	CHECK_EQ_INT(put_blob(st, "p/app", CONFIG, w->cfg), 0);
	CHECK_EQ_INT(put_blob(st, "p/app", "layer one", w->l1), 0);
	image_json(body, sizeof body, w->l1, 9, NULL);
	CHECK_EQ_INT(put_manifest(st, "p/app", body, tags, 2, w->m1), 0);
	snprintf(extra, sizeof extra,
		 ",\"artifactType\":\"application/x.sig\",\"subject\":{\"mediaType\":\"" MT_OCI_MANIFEST
		 "\",\"digest\":\"%s\",\"size\":1}", w->m1);
	image_json(body, sizeof body, w->l1, 9, extra);
	CHECK_EQ_INT(put_manifest(st, "p/app", body, NULL, 0, w->sig), 0);
	image_json(body, sizeof body, w->l1, 9, ",\"annotations\":{\"gone\":\"soon\"}");
	CHECK_EQ_INT(put_manifest(st, "p/app", body, NULL, 0, w->gone), 0);
	CHECK_EQ_INT(store_manifest_delete(st, "p/app", w->gone), 0);
	CHECK_EQ_INT(store_tag_delete(st, "p/app", "latest"), 0);
	CHECK_EQ_INT(put_blob_as(st, "p/other", "sha512 content", DIGEST_SHA512, w->big), 0);
	CHECK_EQ_INT(store_blob_mount(st, "p/mounted", w->l1), 0);
}

static void check_world(struct store *st, const struct world *w)
{
	const char **list;
	const struct store_manifest **refs;
	size_t n;
	const struct store_manifest *e = store_manifest_get(st, "p/app", "v1");

	CHECK(e && strcmp(e->digest, w->m1) == 0);
	CHECK(store_manifest_get(st, "p/app", "latest") == NULL);
	CHECK(store_manifest_get(st, "p/app", w->gone) == NULL);
	CHECK(store_manifest_get(st, "p/app", w->sig) != NULL);
	CHECK_EQ_INT(store_tags(st, "p/app", &list, &n), 0);
	CHECK(n == 1 && strcmp(list[0], "v1") == 0);
	free(list);
	CHECK_EQ_INT(store_catalog(st, &list, &n), 0);
	CHECK_EQ_INT(n, 3);
	free(list);
	CHECK_EQ_INT(store_referrers(st, "p/app", w->m1, &refs, &n), 0);
	CHECK(n == 1 && strcmp(refs[0]->digest, w->sig) == 0 &&
	      strcmp(refs[0]->artifact_type, "application/x.sig") == 0);
	free(refs);
	CHECK(store_blob_get(st, "p/app", w->cfg) != NULL);
	CHECK(store_blob_get(st, "p/other", w->big) != NULL);
	CHECK(store_blob_get(st, "p/other", w->l1) == NULL);
	CHECK(store_blob_get(st, "p/mounted", w->l1) != NULL);
	CHECK(store_blob_get(st, NULL, w->l1) && store_blob_get(st, NULL, w->l1)->nrepos == 2);
	CHECK(store_blob_get(st, "p/app", w->gone) == NULL);
	CHECK(blob_reads(st, w->big, "sha512 content"));
}

TEST(close_and_reopen_brings_everything_back)
{
	struct store *st = fresh_store();
	struct world w;
	build_world(st, &w);
	check_world(st, &w);
	store_close(st);
	/* close compacted the journal into index.json */
	CHECK_EQ_INT(count_dir(root, "journal"), 0);
	CHECK(file_has(root, "repos/p/app/_layout/index.json", "\"v1\""));
	st = reopen(root, 0);
	CHECK(st != NULL);
	if (st)
		check_world(st, &w);
	store_close(st);
	/* read-only: the same view */
	st = reopen(root, STORE_READ_ONLY);
	CHECK(st != NULL);
	if (st)
		check_world(st, &w);
	store_close(st);
}

TEST(a_crash_replays_the_journal)
{
	struct store *st = fresh_store();
	char copy[80];
	struct world w;
	build_world(st, &w);
	/* index.json does not show the tag yet: only the journal does */
	snprintf(copy, sizeof copy, "%s-crash", root);
	crash_image(copy);
	store_close(st);
	CHECK_EQ_INT(count_dir(copy, "journal"), 1);
	CHECK(!file_has(copy, "repos/p/app/_layout/index.json", "\"v1\""));
	st = reopen(copy, 0);
	CHECK(st != NULL);
	if (st)
		check_world(st, &w);
	store_close(st);
	/* start-up compacted it */
	CHECK_EQ_INT(count_dir(copy, "journal"), 0);
	CHECK(file_has(copy, "repos/p/app/_layout/index.json", "\"v1\""));
	unit_rmtree(copy);
}

TEST(a_torn_journal_tail_keeps_every_whole_record)
{
	struct store *st = fresh_store();
	char copy[80], jf[512], m[DIGEST_STR_MAX];
	int fd;

	small_image(st, "r", "l", "kept", m);
	snprintf(copy, sizeof copy, "%s-torn", root);
	crash_image(copy);
	store_close(st);
	CHECK(journal_file(copy, jf));
	/* half a record (no newline), as a crash mid-append leaves it */
	fd = open(jf, O_WRONLY | O_APPEND);
	CHECK(fd >= 0);
	CHECK_EQ_INT(file_write_all(fd, "0badc0de {\"op\":\"put\",\"repo\":\"r\",\"dig", 36), 0);
	close(fd);
	st = reopen(copy, 0);
	CHECK(st != NULL);
	if (st) {
		CHECK(store_manifest_get(st, "r", "kept") != NULL);
		CHECK(store_blob_get(st, "r", m) != NULL);
		/* and it takes new records after the damage */
		CHECK_EQ_INT(retag(st, "r", m, "torn"), 0);
	}
	store_close(st);
	st = reopen(copy, 0);
	CHECK(st && store_manifest_get(st, "r", "torn") && store_manifest_get(st, "r", "kept"));
	store_close(st);
	unit_rmtree(copy);
}

TEST(start_up_removes_orphans_and_keeps_what_is_named)
{
	struct store *st = fresh_store();
	char d[DIGEST_STR_MAX], orphan[DIGEST_STR_MAX], m[DIGEST_STR_MAX];
	int fd;

	small_image(st, "r", "l", "v1", m);
	CHECK_EQ_INT(put_blob(st, "r", "kept", d), 0);
	store_close(st);
	/* an upload left by a crash, and a blob no repository holds (a crash
	 * between commit and link) */
	fd = open(at(root, "uploads/leftover"), O_WRONLY | O_CREAT, 0644);
	CHECK(fd >= 0 && write(fd, "x", 1) == 1);
	close(fd);
	digest_of(DIGEST_SHA256, "orphan", 6, orphan);
	fd = open(at(root, blob_path("", orphan)), O_WRONLY | O_CREAT, 0644);
	CHECK(fd >= 0 && write(fd, "orphan", 6) == 6);
	close(fd);
	/* a stray name that is no digest is left alone */
	fd = open(at(root, "blobs/sha256/not-a-digest"), O_WRONLY | O_CREAT, 0644);
	close(fd);

	/* read-only: nothing on disk changes */
	st = reopen(root, STORE_READ_ONLY);
	CHECK(st != NULL);
	store_close(st);
	CHECK(exists(root, "uploads/leftover"));
	CHECK(exists(root, blob_path("", orphan)));

	st = reopen(root, 0);
	CHECK(st != NULL);
	CHECK(!exists(root, "uploads/leftover"));
	CHECK(!exists(root, blob_path("", orphan)));
	CHECK(exists(root, "blobs/sha256/not-a-digest"));
	CHECK(st && store_blob_get(st, NULL, orphan) == NULL);
	CHECK(st && store_blob_get(st, "r", d) != NULL);
	CHECK(st && store_manifest_get(st, "r", "v1") != NULL);
	store_close(st);
}

TEST(a_lost_shared_copy_is_restored_from_a_repository_link)
{
	struct store *st = fresh_store();
	char d[DIGEST_STR_MAX];
	CHECK_EQ_INT(put_blob(st, "r", "linked", d), 0);
	store_close(st);
	CHECK_EQ_INT(unlink(at(root, blob_path("", d))), 0);
	st = reopen(root, 0);
	CHECK(st && store_blob_get(st, "r", d) && store_blob_get(st, "r", d)->size == 6);
	CHECK(exists(root, blob_path("", d)));
	CHECK(st && blob_reads(st, d, "linked"));
	store_close(st);
}

TEST(a_repository_directory_without_index_json_is_no_repository)
{
	struct store *st = fresh_store();
	const char **list;
	size_t n;
	char m[DIGEST_STR_MAX];
	small_image(st, "real", "l", "v1", m);
	store_close(st);
	/* a repository whose creation a full disk cut short */
	CHECK_EQ_INT(file_mkdirs(AT_FDCWD, at(root, "repos/ghost/_layout/blobs/sha256")), 0);
	CHECK_EQ_INT(file_mkdirs(AT_FDCWD, at(root, "repos/real/nested/_layout/blobs/sha256")), 0);
	st = reopen(root, 0);
	CHECK(st != NULL);
	CHECK_EQ_INT(store_catalog(st, &list, &n), 0);
	CHECK(n == 1 && strcmp(list[0], "real") == 0);
	free(list);
	CHECK(store_manifest_get(st, "real", "v1") != NULL);
	store_close(st);
}

TEST(a_damaged_or_missing_manifest_is_skipped_and_the_rest_loads)
{
	struct store *st = fresh_store();
	char good[DIGEST_STR_MAX], bad[DIGEST_STR_MAX], lost[DIGEST_STR_MAX];
	int fd;

	small_image(st, "r", "good", "good", good);
	small_image(st, "r", "bad", "bad", bad);
	small_image(st, "r", "lost", "lost", lost);
	store_close(st);
	/* the same inode as the shared copy: both are damaged */
	fd = open(at(root, link_path("r", bad)), O_WRONLY);
	CHECK(fd >= 0 && pwrite(fd, "XX", 2, 0) == 2);
	close(fd);
	CHECK_EQ_INT(unlink(at(root, link_path("r", lost))), 0);
	st = reopen(root, 0);
	CHECK(st != NULL);
	CHECK(st && store_manifest_get(st, "r", "good") != NULL);
	CHECK(st && store_manifest_get(st, "r", "bad") == NULL);
	CHECK(st && store_manifest_get(st, "r", bad) == NULL);
	CHECK(st && store_manifest_get(st, "r", "lost") == NULL);
	store_close(st);
}

TEST(writes_compact_into_index_json_once_the_callers_clock_shows_a_pause)
{
	struct store *st = fresh_store();
	char m[DIGEST_STR_MAX];
	struct timespec ms = { 0, 10 * 1000 * 1000 };

	small_image(st, "r", "l", "v1", m);
	CHECK_EQ_INT(count_dir(root, "journal"), 1);
	store_tick(st, 100000);   /* sees the writes: the pause starts now */
	store_tick(st, 101999);
	for (int i = 0; i < 10; i++) /* a compaction, had one started, is done by now */
		nanosleep(&ms, NULL);
	CHECK_EQ_INT(count_dir(root, "journal"), 1);
	CHECK(!file_has(root, "repos/r/_layout/index.json", "\"v1\""));
	store_tick(st, 102000);   /* 2 s without a record: compaction starts */
	for (int i = 0; i < 500 && count_dir(root, "journal") > 0; i++)
		nanosleep(&ms, NULL);
	CHECK_EQ_INT(count_dir(root, "journal"), 0);
	CHECK(file_has(root, "repos/r/_layout/index.json", "\"v1\""));
	store_close(st);
}

int main(void)
{
	log_level = LOG_ERROR; /* recovery warns, as it should: not here */
	unit_tmpdir(root, "store");
	RUN(empty_store_opens_with_its_layout);
	RUN(upload_commit_with_the_right_digest_publishes_the_blob);
	RUN(upload_commit_with_the_wrong_digest_leaves_nothing);
	RUN(mount_and_delete_with_a_blob_shared_between_repositories);
	RUN(manifests_and_tags_put_get_delete);
	RUN(tags_and_catalog_are_listed_in_byte_order);
	RUN(referrers_name_the_manifests_whose_subject_is_the_digest);
	RUN(upload_sessions_are_bounded_in_total_and_per_owner);
	RUN(a_claimed_upload_is_busy_until_released);
	RUN(idle_uploads_expire_on_the_callers_clock);
	RUN(import_temporary_files_commit_as_blobs);
	RUN(close_and_reopen_brings_everything_back);
	RUN(a_crash_replays_the_journal);
	RUN(a_torn_journal_tail_keeps_every_whole_record);
	RUN(start_up_removes_orphans_and_keeps_what_is_named);
	RUN(a_lost_shared_copy_is_restored_from_a_repository_link);
	RUN(a_repository_directory_without_index_json_is_no_repository);
	RUN(a_damaged_or_missing_manifest_is_skipped_and_the_rest_loads);
	RUN(writes_compact_into_index_json_once_the_callers_clock_shows_a_pause);
	unit_rmtree(root);
	return unit_report("unit store");
}
