/* store_layout.c - the store on disk (drawn in store.h): paths, each
 * repository's OCI layout and index.json, the journal of tag and manifest
 * changes and its compaction into index.json, and start-up: loading blobs and
 * repositories, replaying the journal, and recovering from what a crash or a
 * full disk left (orphans, a repository without index.json, a damaged
 * manifest). */
#include "store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "json.h"
#include "log.h"

#define REF_NAME_ANNOTATION "org.opencontainers.image.ref.name"

#define JOURNAL_COMPACT_BYTES ((size_t)1 << 20) /* compact past this much journal */
#define JOURNAL_IDLE_MS 2000                    /* or when writes pause this long */

/* ---- paths ---- */

void store_blob_rel(char out[STORE_BLOB_REL_MAX], const char *digest)
{
	const char *colon = strchr(digest, ':');
	snprintf(out, STORE_BLOB_REL_MAX, "blobs/%.*s/%s", (int)(colon - digest), digest, colon + 1);
}

void store_layout_rel(char out[STORE_REL_MAX], const char *repo, const char *tail)
{
	snprintf(out, STORE_REL_MAX, "repos/%s/_layout/%s", repo, tail);
}

void store_link_rel(char out[STORE_REL_MAX], const char *repo, const char *digest)
{
	char b[STORE_BLOB_REL_MAX];
	store_blob_rel(b, digest);
	store_layout_rel(out, repo, b);
}

void store_record_rel(char out[STORE_BLOB_REL_MAX], const char *digest)
{
	const char *colon = strchr(digest, ':');
	snprintf(out, STORE_BLOB_REL_MAX, "inplace/%.*s/%.128s", (int)(colon - digest), digest,
		 colon + 1);
}

void store_record_link_rel(char out[STORE_REL_MAX], const char *repo, const char *digest)
{
	char b[STORE_BLOB_REL_MAX];
	store_record_rel(b, digest);
	store_layout_rel(out, repo, b);
}

void store_file_rel(char out[STORE_REL_MAX], const struct store_blob *b, const char *digest)
{
	if (b->src)
		store_record_rel(out, digest);
	else
		store_blob_rel(out, digest);
}

void store_hold_rel(char out[STORE_REL_MAX], const char *repo, const struct store_blob *b,
		    const char *digest)
{
	if (b->src)
		store_record_link_rel(out, repo, digest);
	else
		store_link_rel(out, repo, digest);
}

/* ---- index.json: what a repository holds, for other tools and for start-up ---- */

static int index_entry(struct buf *b, const struct store_manifest *e, const char *tag, int *first)
{
	int r = 0;
	r |= buf_puts(b, *first ? "\n    {" : ",\n    {");
	*first = 0;
	r |= buf_puts(b, "\"mediaType\":");
	r |= json_write_str(b, e->media_type, strlen(e->media_type));
	r |= buf_printf(b, ",\"digest\":\"%s\",\"size\":%zu", e->digest, e->len);
	if (e->artifact_type[0] && e->subject[0]) {
		r |= buf_puts(b, ",\"artifactType\":");
		r |= json_write_str(b, e->artifact_type, strlen(e->artifact_type));
	}
	if (tag) {
		r |= buf_puts(b, ",\"annotations\":{\"" REF_NAME_ANNOTATION "\":");
		r |= json_write_str(b, tag, strlen(tag));
		r |= buf_puts(b, "}");
	}
	r |= buf_puts(b, "}");
	return r ? -1 : 0;
}

/* r's index.json from memory into b (initialised here): one entry per tag,
 * and one for each manifest without a tag, sorted so the file is stable. */
static int index_build(struct store_repo *r, struct buf *b_out)
{
	struct buf b;
	const char **keys = NULL;
	size_t n = 0, pos = 0;
	const char *k;
	void *v;
	int first = 1, rc = -1;

	buf_init(&b, STORE_INDEX_MAX);
	keys = malloc((map_len(&r->tags) + map_len(&r->manifests) + 1) * sizeof *keys);
	if (!keys)
		goto out;
	if (buf_puts(&b, "{\n  \"schemaVersion\": 2,\n  \"mediaType\": \"" MT_OCI_INDEX
			  "\",\n  \"manifests\": [") < 0)
		goto out;
	while (map_next(&r->tags, &pos, &k, &v))
		keys[n++] = k;
	qsort(keys, n, sizeof *keys, store_cmp_str);
	for (size_t i = 0; i < n; i++)
		if (index_entry(&b, map_get(&r->tags, keys[i]), keys[i], &first) < 0)
			goto out;
	n = 0;
	pos = 0;
	while (map_next(&r->manifests, &pos, &k, &v))
		if (((struct store_manifest *)v)->ntags == 0)
			keys[n++] = k;
	qsort(keys, n, sizeof *keys, store_cmp_str);
	for (size_t i = 0; i < n; i++)
		if (index_entry(&b, map_get(&r->manifests, keys[i]), NULL, &first) < 0)
			goto out;
	if (buf_puts(&b, "\n  ]\n}\n") < 0)
		goto out;
	rc = 0;
out:
	free(keys);
	if (rc < 0) {
		buf_free(&b);
		errno = ENOMEM;
		return -1;
	}
	*b_out = b;
	return 0;
}

/* Rewrite r's index.json now, on this thread (a new repository, start-up). */
static int index_write(struct store *st, struct store_repo *r)
{
	struct buf b;
	char rel[STORE_REL_MAX];
	int rc;
	if (index_build(r, &b) < 0)
		return -1;
	store_layout_rel(rel, r->name, "index.json");
	rc = file_write_atomic(st->rootfd, rel, b.p, b.len);
	buf_free(&b);
	return rc;
}

struct store_repo *store_repo_open(struct store *st, const char *name)
{
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	struct store_repo *r = map_get(&st->repos, name);
	char rel[STORE_REL_MAX];

	if (r)
		return r;
	store_layout_rel(rel, name, "blobs/sha256");
	if (file_mkdirs(st->rootfd, rel) < 0)
		return NULL;
	store_layout_rel(rel, name, "blobs/sha512");
	if (file_mkdirs(st->rootfd, rel) < 0)
		return NULL;
	store_layout_rel(rel, name, "oci-layout");
	if (file_write_atomic(st->rootfd, rel, layout, sizeof layout - 1) < 0)
		return NULL;
	r = store_repo_new(st, name);
	if (!r) {
		errno = ENOMEM;
		return NULL;
	}
	if (index_write(st, r) < 0) {
		map_del(&st->repos, name);
		store_repo_free(r);
		return NULL;
	}
	return r;
}

/* ---- the journal: tag and manifest changes, O(1) each ----
 *
 * A change is journaled before memory changes (so a refused write changes
 * nothing), and index.json catches up at compaction: when the journal passes
 * JOURNAL_COMPACT_BYTES, when writes pause, at close and at start-up.
 * Records, one JSON object each:
 *   {"op":"put","repo":R,"digest":D,"mt":MT,"tags":[T...]}
 *   {"op":"del","repo":R,"digest":D}
 *   {"op":"untag","repo":R,"tag":T}
 * Each is idempotent over any later state, so replaying a journal over an
 * index.json a compaction already rewrote gives the same result. */

static int rec_str(struct buf *b, const char *key, const char *val)
{
	int r = buf_printf(b, ",\"%s\":", key);
	return r | json_write_str(b, val, strlen(val));
}

int store_journal_put(struct store *st, const char *op, const char *repo, const char *digest,
		      const char *mt, const char *tag, const char *const *tags, size_t ntags)
{
	struct buf b;
	int r = 0, rc;
	buf_init(&b, JOURNAL_RECORD_MAX);
	r |= buf_printf(&b, "{\"op\":\"%s\"", op);
	r |= rec_str(&b, "repo", repo);
	if (digest)
		r |= rec_str(&b, "digest", digest);
	if (mt)
		r |= rec_str(&b, "mt", mt);
	if (tag)
		r |= rec_str(&b, "tag", tag);
	if (tags) {
		r |= buf_puts(&b, ",\"tags\":[");
		for (size_t i = 0; i < ntags; i++) {
			r |= buf_puts(&b, i ? "," : "");
			r |= json_write_str(&b, tags[i], strlen(tags[i]));
		}
		r |= buf_puts(&b, "]");
	}
	r |= buf_puts(&b, "}");
	if (r) {
		buf_free(&b);
		errno = ENOMEM;
		return -1;
	}
	rc = journal_append(st->j, b.p, b.len);
	buf_free(&b);
	if (rc == 0)
		st->appended = 1;
	return rc;
}

/* Hand index.json snapshots of every dirty repository to the journal:
 * now (sync) or in the background. */
static int compact(struct store *st, int sync)
{
	struct journal_file *files;
	size_t n = 0, pos = 0, cap = 0;
	const char *k;
	void *v;
	int err;

	if (journal_compact_failed(st->j, &err)) {
		/* the old generations were kept: write every repository again */
		log_warnx("store: index.json could not be rewritten (%s); the journal keeps every change",
			  strerror(err));
		while (map_next(&st->repos, &pos, &k, &v))
			((struct store_repo *)v)->dirty = 1;
		pos = 0;
	}
	while (map_next(&st->repos, &pos, &k, &v))
		cap += ((struct store_repo *)v)->dirty != 0;
	files = calloc(cap + 1, sizeof *files);
	if (!files)
		return -1;
	pos = 0;
	while (map_next(&st->repos, &pos, &k, &v)) {
		struct store_repo *r = v;
		if (!r->dirty)
			continue;
		store_layout_rel(files[n].rel, r->name, "index.json");
		if (index_build(r, &files[n].data) < 0) {
			for (size_t i = 0; i < n; i++)
				buf_free(&files[i].data);
			free(files);
			return -1;
		}
		n++;
	}
	if ((sync ? journal_compact_now(st->j, files, n) : journal_compact(st->j, files, n)) < 0)
		return -1;
	/* a background failure sets every repository dirty again (above) */
	pos = 0;
	while (map_next(&st->repos, &pos, &k, &v))
		((struct store_repo *)v)->dirty = 0;
	return 0;
}

void store_compact_if_due(struct store *st, int idle)
{
	size_t pending = journal_pending(st->j);
	if (st->read_only || pending == 0 || journal_busy(st->j))
		return;
	if (pending < JOURNAL_COMPACT_BYTES && !idle)
		return;
	if (compact(st, 0) < 0)
		log_warn("store: compacting the journal");
}

/* The store reads no clock: a write only notes that it appended, and the
 * tick dates it, so "paused" means no record for JOURNAL_IDLE_MS since the
 * first tick that saw the last one (never sooner than that pause). */
void store_tick(struct store *st, int64_t now_ms)
{
	if (st->appended) {
		st->appended = 0;
		st->last_append = now_ms;
	}
	store_sources_tick(st);
	if (st->hidden_stale)
		store_refresh_hidden(st);
	store_compact_if_due(st, now_ms - st->last_append >= JOURNAL_IDLE_MS);
}

/* ---- loading ---- */

/* Is name a valid "<alg>/<hex>" blob file name for alg? */
static int blob_name_ok(const char *alg, const char *name, char digest[DIGEST_STR_MAX])
{
	enum digest_alg a;
	size_t n = strlen(name);
	if (n >= 129)
		return 0;
	snprintf(digest, DIGEST_STR_MAX, "%s:%s", alg, name);
	return digest_parse(digest, strlen(digest), &a) == DIGEST_OK;
}

static const char *const algs[] = { "sha256", "sha512" };

static int load_blobs(struct store *st)
{
	for (size_t a = 0; a < 2; a++) {
		char rel[STORE_REL_MAX], digest[DIGEST_STR_MAX];
		int dfd;
		DIR *d;
		struct dirent *de;

		snprintf(rel, sizeof rel, "blobs/%s", algs[a]);
		if (!(d = file_opendir(st->rootfd, rel))) {
			log_warn("open %s/%s", st->root, rel);
			return -1;
		}
		dfd = dirfd(d);
		while ((de = readdir(d))) {
			struct stat sb;
			if (de->d_name[0] == '.')
				continue;
			if (!blob_name_ok(algs[a], de->d_name, digest) ||
			    fstatat(dfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
			    !S_ISREG(sb.st_mode)) {
				log_warnx("store: ignoring %s/%s/%s", st->root, rel, de->d_name);
				continue;
			}
			if (sb.st_nlink < 2 && !st->for_gc) {
				/* held by no repository: left by a crash between commit
				 * and link, or by a deleted repository (gc finds these
				 * itself: nrepos stays 0) */
				if (!st->read_only)
					unlinkat(dfd, de->d_name, 0);
				continue;
			}
			if (!store_blob_add(st, digest, (uint64_t)sb.st_size)) {
				closedir(d);
				return -1;
			}
		}
		closedir(d);
	}
	return 0;
}

/* Records of blobs served in place, after load_blobs: a digest that has a
 * blob file too keeps the file (a crash while a client's upload replaced the
 * record), and load_repo moves the links. */
static int load_records(struct store *st)
{
	for (size_t a = 0; a < 2; a++) {
		char rel[STORE_REL_MAX], digest[DIGEST_STR_MAX];
		DIR *d;
		struct dirent *de;

		snprintf(rel, sizeof rel, "inplace/%s", algs[a]);
		if (!(d = file_opendir(st->rootfd, rel))) {
			log_warn("open %s/%s", st->root, rel);
			return -1;
		}
		while ((de = readdir(d))) {
			char frel[STORE_REL_MAX];
			struct stat sb;
			if (de->d_name[0] == '.')
				continue;
			if (!blob_name_ok(algs[a], de->d_name, digest) ||
			    (size_t)snprintf(frel, sizeof frel, "%s/%s", rel, de->d_name) >= sizeof frel ||
			    fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
			    !S_ISREG(sb.st_mode)) {
				log_warnx("store: ignoring %s/%s", st->root, frel);
				continue;
			}
			if ((sb.st_nlink < 2 && !st->for_gc) || map_get(&st->blobs, digest)) {
				/* held by no repository, or superseded by a blob file */
				if (!st->read_only)
					unlinkat(dirfd(d), de->d_name, 0);
				continue;
			}
			if (!store_record_load(st, frel, digest) && errno == ENOMEM) {
				closedir(d);
				return -1;
			}
		}
		closedir(d);
	}
	return 0;
}

/* Repository r's links to records (its in-place blobs), in
 * _layout/inplace/<alg>/: a record whose shared name is gone is restored
 * from the link; a link to a digest that is a blob file now becomes a link
 * to the file. */
static int load_repo_records(struct store *st, struct store_repo *r, const char *alg)
{
	char rel[STORE_REL_MAX], tail[32], digest[DIGEST_STR_MAX];
	DIR *d;
	struct dirent *de;

	snprintf(tail, sizeof tail, "inplace/%s", alg);
	store_layout_rel(rel, r->name, tail);
	if (!(d = file_opendir(st->rootfd, rel)))
		return 0;
	while ((de = readdir(d))) {
		char lrel[STORE_REL_MAX], frel[STORE_REL_MAX];
		struct store_blob *b;
		if (de->d_name[0] == '.' || !blob_name_ok(alg, de->d_name, digest))
			continue;
		store_record_link_rel(lrel, r->name, digest);
		b = map_get(&st->blobs, digest);
		if (b && !b->src) {
			char brel[STORE_REL_MAX];
			store_blob_rel(brel, digest);
			store_link_rel(frel, r->name, digest);
			if (st->read_only)
				continue; /* not held, as far as this reader knows */
			if ((linkat(st->rootfd, brel, st->rootfd, frel, 0) < 0 &&
			     errno != EEXIST) ||
			    unlinkat(st->rootfd, lrel, 0) < 0)
				continue;
		} else if (!b) {
			store_record_rel(frel, digest);
			if (!st->read_only && linkat(st->rootfd, lrel, st->rootfd, frel, 0) < 0)
				continue;
			if (!(b = store_record_load(st, st->read_only ? lrel : frel, digest)))
				continue;
		}
		if (store_link_add(r, b, digest, STORE_SINCE_OPEN) < 0) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

/* The manifest digest of r, read from its link and verified if not in memory
 * yet.  NULL with ENOMEM, or with ENOENT (logged) when it is missing or
 * damaged: one lost manifest must not keep the rest offline. */
static struct store_manifest *repo_load_manifest(struct store *st, struct store_repo *r,
						 const char *digest, enum digest_alg alg,
						 const char *mt)
{
	struct store_manifest *e = map_get(&r->manifests, digest);
	char got[DIGEST_STR_MAX], brel[STORE_REL_MAX], why[256];
	struct manifest m;
	struct buf body;

	if (e)
		return e;
	store_link_rel(brel, r->name, digest);
	if (file_read_at(st->rootfd, brel, MANIFEST_MAX, &body) < 0) {
		log_warn("store: %s: manifest %s is missing, skipped", r->name, digest);
		errno = ENOENT;
		return NULL;
	}
	digest_of(alg, body.p, body.len, got);
	if (strcmp(got, digest) != 0 || manifest_parse(&m, body.p, body.len, mt, why, sizeof why) < 0) {
		log_warnx("store: %s: manifest %s is damaged, skipped", r->name, digest);
		buf_free(&body);
		errno = ENOENT;
		return NULL;
	}
	e = store_entry_new(digest, &m, body.p, body.len);
	manifest_free(&m);
	buf_free(&body);
	if (!e || map_put(&r->manifests, digest, e) < 0) {
		store_entry_free(e);
		errno = ENOMEM;
		return NULL;
	}
	return e;
}

/* One journal record onto memory (start-up). */
static int replay_record(void *arg, const char *text, size_t n)
{
	struct store *st = arg;
	char op[16], repo[STORE_NAME_MAX + 1], digest[DIGEST_STR_MAX], mt[MEDIA_TYPE_MAX],
		tag[STORE_TAG_MAX + 1];
	struct json j;
	struct store_repo *r;
	enum digest_alg alg;
	int rc = 0;

	if (json_parse(&j, text, n) < 0 || j.t[0].type != JSON_OBJECT ||
	    json_str_copy(&j, json_get(&j, 0, "op"), op, sizeof op) < 0 ||
	    json_str_copy(&j, json_get(&j, 0, "repo"), repo, sizeof repo) < 0) {
		log_warnx("store: journal: a record that is not one, skipped");
		goto out;
	}
	r = map_get(&st->repos, repo);
	if (!r) {
		log_warnx("store: journal: repository %s is gone, record skipped", repo);
		goto out;
	}
	r->dirty = 1;
	if (strcmp(op, "put") == 0) {
		struct store_manifest *e;
		int arr = json_get(&j, 0, "tags");
		if (json_str_copy(&j, json_get(&j, 0, "digest"), digest, sizeof digest) < 0 ||
		    digest_parse(digest, strlen(digest), &alg) != DIGEST_OK ||
		    json_str_copy(&j, json_get(&j, 0, "mt"), mt, sizeof mt) < 0)
			goto bad;
		e = repo_load_manifest(st, r, digest, alg, mt);
		if (!e) {
			rc = errno == ENOMEM ? -1 : 0;
			goto out;
		}
		if (arr >= 0 && j.t[arr].type == JSON_ARRAY) {
			uint32_t i = (uint32_t)arr + 1;
			for (uint32_t k = 0; k < j.t[arr].size; k++, i = j.t[i].next)
				if (json_str_copy(&j, (int)i, tag, sizeof tag) > 0 && store_tag_set(r, tag, e) < 0)
					rc = -1;
		}
	} else if (strcmp(op, "del") == 0) {
		struct store_manifest *e;
		if (json_str_copy(&j, json_get(&j, 0, "digest"), digest, sizeof digest) < 0)
			goto bad;
		if ((e = map_get(&r->manifests, digest)))
			store_manifest_forget(r, e);
	} else if (strcmp(op, "untag") == 0) {
		struct store_manifest *e;
		if (json_str_copy(&j, json_get(&j, 0, "tag"), tag, sizeof tag) < 0)
			goto bad;
		if ((e = map_del(&r->tags, tag)))
			e->ntags--;
	} else {
		goto bad;
	}
	goto out;
bad:
	log_warnx("store: journal: a bad %s record for %s, skipped", op, repo);
out:
	json_free(&j);
	return rc;
}

static int load_repo_index(struct store *st, struct store_repo *r)
{
	char rel[STORE_REL_MAX];
	struct buf idx;
	struct json j;
	int arr, rc = 0;
	uint32_t i;

	store_layout_rel(rel, r->name, "index.json");
	if (file_read_at(st->rootfd, rel, STORE_INDEX_MAX, &idx) < 0) {
		if (errno == ENOENT)
			return 0;
		log_warn("read %s/%s", st->root, rel);
		return -1;
	}
	if (json_parse(&j, idx.p, idx.len) < 0 || j.t[0].type != JSON_OBJECT ||
	    (arr = json_get(&j, 0, "manifests")) < 0 || j.t[arr].type != JSON_ARRAY) {
		log_warnx("store: %s/%s is not an OCI index", st->root, rel);
		json_free(&j);
		buf_free(&idx);
		return -1;
	}
	i = (uint32_t)arr + 1;
	for (uint32_t k = 0; k < j.t[arr].size; k++, i = j.t[i].next) {
		char digest[DIGEST_STR_MAX], mt[MEDIA_TYPE_MAX], tag[STORE_TAG_MAX + 1];
		struct store_manifest *e;
		enum digest_alg alg;
		int ann, t;

		if (json_str_copy(&j, json_get(&j, (int)i, "digest"), digest, sizeof digest) < 0 ||
		    digest_parse(digest, strlen(digest), &alg) != DIGEST_OK ||
		    json_str_copy(&j, json_get(&j, (int)i, "mediaType"), mt, sizeof mt) < 0) {
			log_warnx("store: %s: bad entry %u", rel, k);
			continue;
		}
		e = repo_load_manifest(st, r, digest, alg, mt);
		if (!e) {
			if (errno == ENOMEM) {
				rc = -1;
				break;
			}
			continue;
		}
		ann = json_get(&j, (int)i, "annotations");
		t = json_get(&j, ann, REF_NAME_ANNOTATION);
		if (t >= 0 && json_str_copy(&j, t, tag, sizeof tag) > 0)
			store_tag_set(r, tag, e);
	}
	json_free(&j);
	buf_free(&idx);
	return rc;
}

static int load_repo(struct store *st, const char *name)
{
	struct store_repo *r;
	char irel[STORE_REL_MAX];

	/* index.json is written before a repository is first used: without it,
	 * its creation failed part-way (a full disk) and it is no repository */
	store_layout_rel(irel, name, "index.json");
	if (faccessat(st->rootfd, irel, F_OK, 0) < 0 && errno == ENOENT)
		return 0;
	r = store_repo_new(st, name);
	if (!r)
		return -1;
	for (size_t a = 0; a < 2; a++) {
		char rel[STORE_REL_MAX], tail[32], digest[DIGEST_STR_MAX];
		DIR *d;
		struct dirent *de;

		snprintf(tail, sizeof tail, "blobs/%s", algs[a]);
		store_layout_rel(rel, name, tail);
		if (!(d = file_opendir(st->rootfd, rel)))
			continue;
		while ((de = readdir(d))) {
			struct store_blob *b;
			if (de->d_name[0] == '.' || !blob_name_ok(algs[a], de->d_name, digest))
				continue;
			b = map_get(&st->blobs, digest);
			if (!b) {
				/* the shared copy is gone: restore it from this link */
				char brel[STORE_REL_MAX], lrel[STORE_REL_MAX];
				struct stat sb;
				store_blob_rel(brel, digest);
				store_link_rel(lrel, name, digest);
				if (fstatat(st->rootfd, lrel, &sb, 0) < 0 ||
				    linkat(st->rootfd, lrel, st->rootfd, brel, 0) < 0)
					continue;
				if (!(b = store_blob_add(st, digest, (uint64_t)sb.st_size)))
					continue;
			}
			if (store_link_add(r, b, digest, STORE_SINCE_OPEN) < 0) {
				closedir(d);
				return -1;
			}
		}
		closedir(d);
	}
	for (size_t a = 0; a < 2; a++)
		if (load_repo_records(st, r, algs[a]) < 0)
			return -1;
	return load_repo_index(st, r);
}

/* Walk repos/ for "_layout" directories; rel is "repos[/a/b...]". */
static int walk_repos(struct store *st, const char *rel, const char *name)
{
	DIR *d = file_opendir(st->rootfd, rel);
	struct dirent *de;
	int rc = 0;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		char sub[STORE_REL_MAX], subname[STORE_NAME_MAX + 1];
		if (strcmp(de->d_name, "_layout") == 0 && name[0]) {
			if (load_repo(st, name) < 0)
				rc = -1;
			continue;
		}
		/* the name grammar and its limits are ref.c's: every name the
		 * router accepts is found again here, and nothing else */
		if ((size_t)snprintf(subname, sizeof subname, "%s%s%s", name, name[0] ? "/" : "",
				     de->d_name) >= sizeof subname ||
		    !ref_name_valid(subname))
			continue;
		snprintf(sub, sizeof sub, "%s/%s", rel, de->d_name);
		if (walk_repos(st, sub, subname) < 0)
			rc = -1;
	}
	closedir(d);
	return rc;
}

static int clear_uploads(struct store *st)
{
	DIR *d = file_opendir(st->rootfd, "uploads");
	struct dirent *de;
	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	return 0;
}

/* ---- start-up and close ---- */

int store_layout_load(struct store *st)
{
	static const char *const dirs[] = { "blobs/sha256", "blobs/sha512", "inplace/sha256",
					    "inplace/sha512", "uploads", "repos" };

	for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++)
		if (file_mkdirs(st->rootfd, dirs[i]) < 0) {
			log_warn("create %s/%s", st->root, dirs[i]);
			return -1;
		}
	if (tmpdir_init(&st->imports, st->rootfd, "uploads", "import-") < 0) {
		log_warn("open %s/uploads", st->root);
		return -1;
	}
	snprintf(st->imports.path, sizeof st->imports.path, "%s/uploads", st->root);
	if ((!st->read_only && !st->for_gc && clear_uploads(st) < 0) || load_blobs(st) < 0 ||
	    load_records(st) < 0 || walk_repos(st, "repos", "") < 0 || journal_open(&st->j, st->rootfd, st->read_only) < 0 ||
	    journal_replay(st->j, replay_record, st) < 0) {
		log_warnx("store %s could not be loaded", st->root);
		return -1;
	}
	/* manifests that use a blob whose source is gone are hidden */
	if (st->detached) {
		store_refresh_hidden(st);
		log_warnx("store %s: %lu blob%s served in place %s a source that changed or is gone: "
			  "they and the manifests using them are not served until it is imported again",
			  st->root, st->detached, st->detached == 1 ? "" : "s",
			  st->detached == 1 ? "has" : "have");
	}
	/* index.json shows everything from the start, for other tools; a full
	 * disk keeps the journal instead, and compaction tries again later */
	if (!st->read_only && journal_pending(st->j) && compact(st, 1) < 0)
		log_warn("store %s: compacting the journal at start-up", st->root);
	return 0;
}

void store_layout_close(struct store *st)
{
	if (!st->j)
		return;
	if (st->loaded && !st->read_only && journal_pending(st->j) && compact(st, 1) < 0)
		log_warn("store %s: compacting the journal", st->root);
	journal_close(st->j);
	st->j = NULL;
}
