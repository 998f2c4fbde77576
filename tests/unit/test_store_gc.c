/* test_store_gc.c - garbage collection of the store on a passed-in clock:
 * what goes and what stays (grace period, shared blobs, touches), a
 * manifest put in the middle of a collection (the write barrier, and a walk
 * whose map is rehashed under it), dry runs, untagged manifests, upload
 * leftovers, links found at open, and the lock on ROOT. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "digest.h"
#include "log.h"
#include "manifest.h"
#include "store.h"
#include "unit.h"

#define CONFIG "{\"architecture\":\"amd64\",\"os\":\"linux\"}"
#define GRACE 10000

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

static const char *at(const char *rel)
{
	static char p[2][512];
	static int i;
	i ^= 1;
	snprintf(p[i], sizeof p[i], "%s/%s", root, rel);
	return p[i];
}

static int exists(const char *rel)
{
	return access(at(rel), F_OK) == 0;
}

static const char *blob_path(const char *repo, const char *digest)
{
	static char p[2][400];
	static int i;
	i ^= 1;
	if (repo)
		snprintf(p[i], sizeof p[i], "repos/%s/_layout/blobs/sha256/%s", repo, digest + 7);
	else
		snprintf(p[i], sizeof p[i], "blobs/sha256/%s", digest + 7);
	return p[i];
}

/* Upload data into repo; its digest into digest. */
static int put_blob(struct store *st, const char *repo, const char *data, char digest[DIGEST_STR_MAX])
{
	struct store_upload *up = store_upload_start(st, repo, "10.0.0.1", 1000);
	if (!up)
		return -1;
	digest_of(DIGEST_SHA256, data, strlen(data), digest);
	if (store_upload_write(st, up, data, strlen(data), 1001) < 0)
		return -1;
	store_upload_release(st, up);
	return store_upload_commit(st, up, digest);
}

static int put_manifest(struct store *st, const char *repo, const char *body, const char *tag,
			char digest[DIGEST_STR_MAX])
{
	const char *tags[] = { tag };
	struct manifest m;
	char why[256];
	int rc;
	if (manifest_parse(&m, body, strlen(body), NULL, why, sizeof why) < 0) {
		fprintf(stderr, "manifest: %s\n", why);
		return -1;
	}
	digest_of(DIGEST_SHA256, body, strlen(body), digest);
	rc = store_manifest_put(st, repo, digest, &m, body, strlen(body), tags, tag ? 1 : 0);
	manifest_free(&m);
	return rc;
}

/* An image of CONFIG and one layer (uploaded into repo here) with extra
 * top-level members; tagged tag (or not); its digest into mdigest, its
 * layer's into ldigest. */
static void image(struct store *st, const char *repo, const char *layer, const char *extra,
		  const char *tag, char mdigest[DIGEST_STR_MAX], char ldigest[DIGEST_STR_MAX])
{
	char cfg[DIGEST_STR_MAX], body[2048];
	CHECK_EQ_INT(put_blob(st, repo, CONFIG, cfg), 0);
	CHECK_EQ_INT(put_blob(st, repo, layer, ldigest), 0);
	snprintf(body, sizeof body,
		 "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\","
		 "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
		 "\"digest\":\"%s\",\"size\":%zu},"
		 "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
		 "\"digest\":\"%s\",\"size\":%zu}]%s}",
		 cfg, strlen(CONFIG), ldigest, strlen(layer), extra ? extra : "");
	CHECK_EQ_INT(put_manifest(st, repo, body, tag, mdigest), 0);
}

/* Run a whole collection at now; its stats. */
static struct store_gc_stats collect(struct store *st, int64_t now, const struct store_gc_options *o)
{
	struct store_gc_options def = { .grace_ms = GRACE };
	CHECK_EQ_INT(store_gc_start(st, o ? o : &def, now), 0);
	while (store_gc_step(st, now))
		;
	return *store_gc_stats(st);
}

static int held(const struct store *st, const char *repo, const char *digest)
{
	return store_blob_get(st, repo, digest) != NULL;
}

/* ---- the tests ---- */

TEST(an_unreferenced_blob_goes_once_older_than_the_grace_period)
{
	struct store *st = fresh_store();
	char m[DIGEST_STR_MAX], l[DIGEST_STR_MAX], x[DIGEST_STR_MAX], cfg[DIGEST_STR_MAX];
	struct store_gc_stats s;

	store_clock(st, 1000);
	image(st, "r", "layer one", NULL, "v1", m, l);
	CHECK_EQ_INT(put_blob(st, "r", "nobody's", x), 0);
	CHECK_EQ_INT(store_blob_mount(st, "r2", x), 0); /* shared by two repositories */
	digest_of(DIGEST_SHA256, CONFIG, strlen(CONFIG), cfg);

	s = collect(st, 1000 + GRACE, NULL); /* not older than the grace period yet */
	CHECK_EQ_INT(s.links, 0);
	CHECK(held(st, "r", x) && held(st, "r2", x));

	s = collect(st, 1001 + GRACE, NULL);
	CHECK_EQ_INT(s.links, 2);
	CHECK_EQ_INT(s.blobs, 1);
	CHECK_EQ_INT(s.bytes, strlen("nobody's"));
	CHECK_EQ_INT(s.repos, 2);
	CHECK(!held(st, "r", x) && !held(st, "r2", x) && !held(st, NULL, x));
	CHECK(!exists(blob_path("r", x)) && !exists(blob_path("r2", x)));
	/* the file is renamed away at once and a thread removes it */
	CHECK(!exists(blob_path(NULL, x)));
	/* what the manifest references, and its own bytes, stay */
	CHECK(held(st, "r", l) && held(st, "r", cfg) && held(st, "r", m));
	CHECK(exists(blob_path(NULL, l)) && exists(blob_path("r", m)));
	s = collect(st, 100000, NULL);
	CHECK_EQ_INT(s.links, 0);
	store_close(st);
}

TEST(a_blob_shared_with_a_referencing_repository_keeps_its_bytes)
{
	struct store *st = fresh_store();
	char m[DIGEST_STR_MAX], l[DIGEST_STR_MAX];
	struct store_gc_stats s;

	store_clock(st, 0);
	image(st, "keeps", "shared layer", NULL, "v1", m, l);
	CHECK_EQ_INT(store_blob_mount(st, "drops", l), 0);
	s = collect(st, 100000, NULL);
	CHECK_EQ_INT(s.links, 1);
	CHECK_EQ_INT(s.blobs, 0);
	CHECK_EQ_INT(s.bytes, 0);
	CHECK(!held(st, "drops", l) && held(st, "keeps", l));
	CHECK(exists(blob_path(NULL, l)) && !exists(blob_path("drops", l)));
	store_close(st);
}

TEST(a_touch_or_a_second_upload_starts_the_grace_period_again)
{
	struct store *st = fresh_store();
	char x[DIGEST_STR_MAX], y[DIGEST_STR_MAX];

	store_clock(st, 1000);
	CHECK_EQ_INT(put_blob(st, "r", "asked for", x), 0);
	CHECK_EQ_INT(put_blob(st, "r", "uploaded again", y), 0);
	store_clock(st, 5000);
	store_touch(st, "r", x);                  /* a HEAD from a pusher */
	CHECK_EQ_INT(put_blob(st, "r", "uploaded again", y), 0);
	collect(st, 5000 + GRACE, NULL);
	CHECK(held(st, "r", x) && held(st, "r", y));
	collect(st, 5001 + GRACE, NULL);
	CHECK(!held(st, "r", x) && !held(st, "r", y));
	store_close(st);
}

/* An index's pusher pushes its children again (or HEADs them): an old
 * untagged child counts as new again, so the index that follows finds it. */
TEST(an_untagged_manifest_pushed_again_starts_the_grace_period_again)
{
	struct store *st = fresh_store();
	char m[DIGEST_STR_MAX], l[DIGEST_STR_MAX], n[DIGEST_STR_MAX], ln[DIGEST_STR_MAX];
	struct store_gc_options o = { .grace_ms = GRACE, .untagged = 1 };
	struct store_gc_stats s;

	store_clock(st, 0);
	image(st, "r", "child", NULL, NULL, m, l);
	image(st, "r", "headed", NULL, NULL, n, ln);
	store_clock(st, 95000);
	image(st, "r", "child", NULL, NULL, m, l); /* the same bytes again */
	store_touch(st, "r", n);                   /* HEAD /v2/r/manifests/<n> */
	s = collect(st, 100000, &o);
	CHECK_EQ_INT(s.manifests, 0);
	CHECK(store_manifest_get(st, "r", m) && store_manifest_get(st, "r", n));
	s = collect(st, 105001, &o);
	CHECK_EQ_INT(s.manifests, 2);
	store_close(st);
}

/* A manifest put while its repository is swept marks what it references: an
 * old unreferenced blob that the sweep has not reached yet stays. */
TEST(a_manifest_put_during_the_sweep_keeps_its_blobs)
{
	struct store *st = fresh_store();
	char m[DIGEST_STR_MAX], l[DIGEST_STR_MAX], g[200][DIGEST_STR_MAX], cfg[DIGEST_STR_MAX];
	struct store_gc_options o = { .grace_ms = GRACE };
	char late[DIGEST_STR_MAX] = "";
	char body[1024], data[64], tag[16];
	int steps = 0;

	store_clock(st, 0);
	for (int i = 0; i < 40; i++) {
		snprintf(data, sizeof data, "layer %d", i);
		snprintf(tag, sizeof tag, "t%d", i);
		image(st, "r", data, NULL, tag, m, l);
	}
	for (int i = 0; i < 200; i++) {
		snprintf(data, sizeof data, "garbage %d", i);
		CHECK_EQ_INT(put_blob(st, "r", data, g[i]), 0);
	}
	CHECK_EQ_INT(store_gc_start(st, &o, 100000), 0);
	/* past the mark (40 manifests), into the sweep (5 removals a step) */
	for (; steps < 12; steps++)
		CHECK_EQ_INT(store_gc_step(st, 100000), 1);
	for (int i = 0; i < 200 && !late[0]; i++)
		if (held(st, "r", g[i]))
			memcpy(late, g[i], sizeof late);
	CHECK(late[0] != '\0');
	digest_of(DIGEST_SHA256, CONFIG, strlen(CONFIG), cfg);
	snprintf(body, sizeof body,
		 "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_MANIFEST "\","
		 "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
		 "\"digest\":\"%s\",\"size\":%zu},"
		 "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
		 "\"digest\":\"%s\",\"size\":10}]}",
		 cfg, strlen(CONFIG), late);
	CHECK_EQ_INT(put_manifest(st, "r", body, "late", m), 0);
	while (store_gc_step(st, 100000))
		steps++;
	CHECK(steps > 20); /* it did run in steps */
	CHECK(held(st, "r", late));
	CHECK(exists(blob_path(NULL, late)));
	CHECK_EQ_INT(store_gc_stats(st)->links, 199);
	store_close(st);
}

/* The mark walks the manifest map across steps; a put that rehashes the map
 * under it must make it walk again, or a manifest it had not reached could
 * be skipped and its layer swept.  A kept position skips one only when the
 * rehash moves a manifest it had not reached below it: one that linear
 * probing had pushed past the position (its home slot before it) and that
 * the larger map puts back near its home.  So each round fills the map to
 * just below its growth point (96 manifests in 128 slots: long probe runs),
 * takes one step of the mark (about a quarter of it), and puts a few more,
 * which doubles the map; the stats show the walk started again.  Eight
 * rounds with different manifests: with the restart taken out of gc_mark,
 * five of the eight lose a layer. */
#define REHASH_ROUNDS 8
#define REHASH_OLD 96 /* map.c grows 128 slots at the 97th entry */
TEST(a_rehash_of_the_manifests_during_the_mark_loses_nothing)
{
	char m[DIGEST_STR_MAX], l[REHASH_OLD][DIGEST_STR_MAX], n[DIGEST_STR_MAX], data[64];
	struct store_gc_options o = { .grace_ms = GRACE };

	for (int round = 0; round < REHASH_ROUNDS; round++) {
		struct store *st = fresh_store();
		uint64_t lost = 0;

		store_clock(st, 0);
		for (int i = 0; i < REHASH_OLD; i++) {
			snprintf(data, sizeof data, "old layer %d of round %d", i, round);
			image(st, "r", data, NULL, NULL, m, l[i]);
		}
		CHECK_EQ_INT(store_gc_start(st, &o, 100000), 0);
		CHECK_EQ_INT(store_gc_step(st, 100000), 1); /* part of the mark */
		CHECK_EQ_INT(store_gc_stats(st)->links, 0); /* still marking */
		for (int i = 0; i < 8; i++) {
			char extra[64];
			snprintf(extra, sizeof extra, ",\"annotations\":{\"n\":\"%d\"}", i);
			image(st, "r", "new layer", extra, NULL, m, n);
		}
		while (store_gc_step(st, 100000))
			;
		/* the puts did rehash the map between two steps of the mark */
		CHECK(store_gc_stats(st)->mark_restarts >= 1);
		for (int i = 0; i < REHASH_OLD; i++)
			if (!held(st, "r", l[i]))
				lost++;
		CHECK_EQ_INT(lost, 0);
		CHECK_EQ_INT(store_gc_stats(st)->links, 0);
		store_close(st);
	}
}

TEST(a_dry_run_counts_what_a_real_run_removes_and_removes_nothing)
{
	struct store *st = fresh_store();
	char m[DIGEST_STR_MAX], l[DIGEST_STR_MAX], x[DIGEST_STR_MAX], y[DIGEST_STR_MAX];
	struct store_gc_options o = { .grace_ms = GRACE, .dry_run = 1 };
	struct store_gc_stats dry, real;

	store_clock(st, 0);
	image(st, "a", "kept", NULL, "v1", m, l);
	CHECK_EQ_INT(put_blob(st, "a", "x", x), 0);
	CHECK_EQ_INT(store_blob_mount(st, "b", x), 0);
	CHECK_EQ_INT(store_blob_mount(st, "b", l), 0);
	CHECK_EQ_INT(put_blob(st, "c", "yy", y), 0);
	dry = collect(st, 100000, &o);
	CHECK(held(st, "a", x) && held(st, "b", x) && held(st, "b", l) && held(st, "c", y));
	CHECK(exists(blob_path(NULL, x)) && exists(blob_path("b", l)));
	real = collect(st, 100000, NULL);
	CHECK_EQ_INT(dry.links, 4);
	CHECK_EQ_INT(dry.blobs, 2);
	CHECK_EQ_INT(dry.bytes, 3);
	CHECK_EQ_INT(dry.repos, 3);
	CHECK_EQ_INT(real.links, dry.links);
	CHECK_EQ_INT(real.blobs, dry.blobs);
	CHECK_EQ_INT(real.bytes, dry.bytes);
	CHECK_EQ_INT(real.repos, dry.repos);
	CHECK(!held(st, NULL, x) && !held(st, NULL, y) && held(st, "a", l));
	store_close(st);
}

/* Untagged manifests: an old untagged image goes with its layer; a child of
 * a tagged index, a referrer of a tagged image and a young untagged image
 * stay; a referrer of what goes, goes too.  After a reopen, the same. */
TEST(untagged_manifests_go_unless_something_kept_names_them)
{
	struct store *st = fresh_store();
	char a[DIGEST_STR_MAX], la[DIGEST_STR_MAX], b[DIGEST_STR_MAX], lb[DIGEST_STR_MAX];
	char c[DIGEST_STR_MAX], lc[DIGEST_STR_MAX], idx[DIGEST_STR_MAX], sa[DIGEST_STR_MAX];
	char sb[DIGEST_STR_MAX], ls[DIGEST_STR_MAX], e[DIGEST_STR_MAX], le[DIGEST_STR_MAX];
	char body[1024], extra[512];
	struct store_gc_options o = { .grace_ms = GRACE, .untagged = 1 };
	struct store_gc_stats s;

	store_clock(st, 0);
	image(st, "u", "a", NULL, "v1", a, la);
	image(st, "u", "b", NULL, NULL, b, lb);
	image(st, "u", "c", NULL, NULL, c, lc);
	snprintf(body, sizeof body,
		 "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\",\"manifests\":["
		 "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"%s\",\"size\":1}]}", c);
	CHECK_EQ_INT(put_manifest(st, "u", body, "multi", idx), 0);
	snprintf(extra, sizeof extra, ",\"subject\":{\"mediaType\":\"" MT_OCI_MANIFEST
		 "\",\"digest\":\"%s\",\"size\":1}", a);
	image(st, "u", "sig", extra, NULL, sa, ls);
	snprintf(extra, sizeof extra, ",\"subject\":{\"mediaType\":\"" MT_OCI_MANIFEST
		 "\",\"digest\":\"%s\",\"size\":1}", b);
	image(st, "u", "sig", extra, NULL, sb, ls);
	store_clock(st, 95000);
	image(st, "u", "e", NULL, NULL, e, le); /* young */

	s = collect(st, 100000, &o);
	CHECK_EQ_INT(s.manifests, 2);
	CHECK(!store_manifest_get(st, "u", b) && !store_manifest_get(st, "u", sb));
	CHECK(!held(st, "u", b) && !held(st, "u", lb) && !held(st, "u", sb));
	CHECK(store_manifest_get(st, "u", a) && store_manifest_get(st, "u", c) &&
	      store_manifest_get(st, "u", idx) && store_manifest_get(st, "u", sa) &&
	      store_manifest_get(st, "u", e));
	CHECK(held(st, "u", la) && held(st, "u", lc) && held(st, "u", ls) && held(st, "u", le));
	/* the links: b, its layer, sb (whose layer "sig" sa still uses) */
	CHECK_EQ_INT(s.links, 3);
	store_close(st);
	CHECK_EQ_INT(store_open(&st, root, 0), 0);
	CHECK(!store_manifest_get(st, "u", b) && !store_manifest_get(st, "u", sb));
	CHECK(store_manifest_get(st, "u", a) && store_manifest_get(st, "u", c) &&
	      store_manifest_get(st, "u", sa) && store_manifest_get(st, "u", e));
	store_close(st);
}

/* Links found on disk at open count from the first clock (a server: its
 * start), or, given a wall clock, from their inode's ctime (a stopped store). */
TEST(links_found_at_open_are_dated_by_the_first_clock_or_their_ctime)
{
	struct store *st = fresh_store();
	char x[DIGEST_STR_MAX];
	struct store_gc_options o = { .grace_ms = 3600 * 1000 };
	struct timespec wall;
	struct store_gc_stats s;

	CHECK_EQ_INT(put_blob(st, "r", "found at open", x), 0);
	store_close(st);
	CHECK_EQ_INT(store_open(&st, root, 0), 0);
	store_clock(st, 500000);
	o.grace_ms = GRACE;
	s = collect(st, 500000 + GRACE, &o);
	CHECK_EQ_INT(s.links, 0);
	store_close(st);

	CHECK_EQ_INT(store_open(&st, root, STORE_FOR_GC), 0);
	clock_gettime(CLOCK_REALTIME, &wall);
	o.grace_ms = 3600 * 1000;
	o.wall_ms = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
	s = collect(st, 1, &o); /* linked a moment ago */
	CHECK_EQ_INT(s.links, 0);
	o.wall_ms += 3600 * 1000 + 1000; /* as if an hour had passed */
	s = collect(st, 2, &o);
	CHECK_EQ_INT(s.links, 1);
	CHECK_EQ_INT(s.blobs, 1);
	CHECK(!exists(blob_path(NULL, x)));
	store_close(st);
}

TEST(upload_leftovers_go_live_sessions_and_imports_stay)
{
	struct store *st = fresh_store();
	struct store_upload *up = store_upload_start(st, "r", "10.0.0.1", 1000);
	char orphan[] = "uploads/0123456789abcdef0123456789abcdef";
	char imp[] = "uploads/import-0123456789abcdef0123456789abcdef";
	char live[128];
	int fd;
	struct store_gc_stats s;

	CHECK(up != NULL);
	CHECK_EQ_INT(store_upload_write(st, up, "abc", 3, 1000), 0);
	store_upload_release(st, up);
	snprintf(live, sizeof live, "uploads/%s", up->id);
	fd = open(at(orphan), O_WRONLY | O_CREAT, 0644);
	CHECK(fd >= 0 && write(fd, "12345", 5) == 5);
	close(fd);
	fd = open(at(imp), O_WRONLY | O_CREAT, 0644);
	CHECK(fd >= 0);
	close(fd);
	s = collect(st, 100000, NULL);
	CHECK_EQ_INT(s.uploads, 1);
	CHECK_EQ_INT(s.upload_bytes, 5);
	CHECK(!exists(orphan) && exists(live) && exists(imp));
	CHECK(store_upload_get(st, up->id) == up);
	store_close(st);

	/* a stopped store (what `packhelper gc` opens): every file there is one */
	CHECK_EQ_INT(store_open(&st, root, STORE_FOR_GC), 0);
	s = collect(st, 100000, NULL);
	CHECK_EQ_INT(s.uploads, 2);
	CHECK_EQ_INT(s.upload_bytes, 3);
	CHECK(!exists(live) && !exists(imp));
	store_close(st);
}

TEST(a_blob_no_repository_holds_is_an_orphan_for_a_stopped_store)
{
	struct store *st = fresh_store();
	char x[DIGEST_STR_MAX];
	struct store_gc_options o = { .grace_ms = GRACE, .dry_run = 1 };
	struct store_gc_stats s;

	CHECK_EQ_INT(put_blob(st, "r", "orphaned", x), 0);
	store_close(st);
	CHECK_EQ_INT(unlink(at(blob_path("r", x))), 0);
	CHECK_EQ_INT(store_open(&st, root, STORE_FOR_GC | STORE_READ_ONLY), 0);
	s = collect(st, 1, &o);
	CHECK_EQ_INT(s.blobs, 1);
	CHECK_EQ_INT(s.bytes, strlen("orphaned"));
	CHECK(exists(blob_path(NULL, x)));
	store_close(st);
	CHECK_EQ_INT(store_open(&st, root, STORE_FOR_GC), 0);
	s = collect(st, 1, NULL);
	CHECK_EQ_INT(s.blobs, 1);
	CHECK(!exists(blob_path(NULL, x)));
	store_close(st);
}

TEST(a_read_only_store_never_collects)
{
	struct store *st = fresh_store();
	struct store_gc_options o = { .grace_ms = GRACE };
	store_close(st);
	CHECK_EQ_INT(store_open(&st, root, STORE_READ_ONLY), 0);
	CHECK_EQ_INT(store_gc_start(st, &o, 0), -1);
	CHECK_EQ_INT(errno, EROFS);
	store_close(st);
}

TEST(a_store_another_open_holds_is_refused)
{
	struct store *st = fresh_store(), *st2 = NULL, *ro1 = NULL, *ro2 = NULL;
	CHECK_EQ_INT(store_open(&st2, root, 0), -1);
	CHECK_EQ_INT(errno, EBUSY);
	CHECK_EQ_INT(store_open(&st2, root, STORE_READ_ONLY), -1);
	CHECK_EQ_INT(store_open(&st2, root, STORE_FOR_GC), -1);
	store_close(st);
	/* readers share it, and keep a writer out */
	CHECK_EQ_INT(store_open(&ro1, root, STORE_READ_ONLY), 0);
	CHECK_EQ_INT(store_open(&ro2, root, STORE_READ_ONLY | STORE_FOR_GC), 0);
	CHECK_EQ_INT(store_open(&st2, root, 0), -1);
	store_close(ro1);
	store_close(ro2);
	CHECK_EQ_INT(store_open(&st2, root, 0), 0);
	store_close(st2);
}

int main(void)
{
	snprintf(root, sizeof root, "%s/ph-unit-gc-%d", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
		 (int)getpid());
	log_level = LOG_ERROR;
	RUN(an_unreferenced_blob_goes_once_older_than_the_grace_period);
	RUN(a_blob_shared_with_a_referencing_repository_keeps_its_bytes);
	RUN(a_touch_or_a_second_upload_starts_the_grace_period_again);
	RUN(an_untagged_manifest_pushed_again_starts_the_grace_period_again);
	RUN(a_manifest_put_during_the_sweep_keeps_its_blobs);
	RUN(a_rehash_of_the_manifests_during_the_mark_loses_nothing);
	RUN(a_dry_run_counts_what_a_real_run_removes_and_removes_nothing);
	RUN(untagged_manifests_go_unless_something_kept_names_them);
	RUN(links_found_at_open_are_dated_by_the_first_clock_or_their_ctime);
	RUN(upload_leftovers_go_live_sessions_and_imports_stay);
	RUN(a_blob_no_repository_holds_is_an_orphan_for_a_stopped_store);
	RUN(a_read_only_store_never_collects);
	RUN(a_store_another_open_holds_is_refused);
	unit_rmtree(root);
	return unit_report("store_gc");
}
