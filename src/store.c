/* store.c - the store's index: repositories, the blobs each holds, manifests
 * and tags, all in memory and each change made on disk too; listings; open
 * and close.  The layout on disk is store_layout.c's (drawn in store.h),
 * upload sessions are store_upload.c's. */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* ---- repositories ---- */

void store_entry_free(struct store_manifest *e)
{
	if (!e)
		return;
	bytes_unref(e->body);
	free(e->annotations);
	free(e);
}

void store_repo_free(struct store_repo *r)
{
	size_t pos = 0;
	const char *k;
	void *v;
	while (map_next(&r->manifests, &pos, &k, &v))
		store_entry_free(v);
	map_free(&r->manifests);
	map_free(&r->tags);
	map_free(&r->blobs);
	free(r->name);
	free(r);
}

struct store_repo *store_repo_new(struct store *st, const char *name)
{
	struct store_repo *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->name = strdup(name);
	map_init(&r->tags);
	map_init(&r->manifests);
	map_init(&r->blobs);
	if (!r->name || map_put(&st->repos, name, r) < 0) {
		free(r->name);
		free(r);
		return NULL;
	}
	return r;
}

/* ---- blobs ---- */

const struct store_blob *store_blob_get(const struct store *st, const char *repo,
					const char *digest)
{
	const struct store_repo *r;
	if (!repo)
		return map_get(&st->blobs, digest);
	r = map_get(&st->repos, repo);
	return r ? map_get(&r->blobs, digest) : NULL;
}

int store_blob_open(const struct store *st, const char *digest)
{
	char rel[STORE_REL_MAX];
	store_blob_rel(rel, digest);
	return openat(st->rootfd, rel, O_RDONLY | O_CLOEXEC);
}

struct store_blob *store_blob_add(struct store *st, const char *digest, uint64_t size)
{
	struct store_blob *b = calloc(1, sizeof *b);
	if (!b || map_put(&st->blobs, digest, b) < 0) {
		free(b);
		errno = ENOMEM;
		return NULL;
	}
	b->size = size;
	return b;
}

/* Link a committed blob into repository r. */
static int repo_link_blob(struct store *st, struct store_repo *r, const char *digest)
{
	struct store_blob *b = map_get(&st->blobs, digest);
	char from[STORE_REL_MAX], to[STORE_REL_MAX];

	if (!b) {
		errno = ENOENT;
		return -1;
	}
	if (map_get(&r->blobs, digest))
		return 0;
	store_blob_rel(from, digest);
	store_link_rel(to, r->name, digest);
	if (linkat(st->rootfd, from, st->rootfd, to, 0) < 0 && errno != EEXIST)
		return -1;
	if (file_fsync_parent(st->rootfd, to) < 0)
		return -1;
	if (map_put(&r->blobs, digest, b) < 0) {
		errno = ENOMEM;
		return -1;
	}
	b->nrepos++;
	return 0;
}

int store_blob_mount(struct store *st, const char *repo, const char *digest)
{
	struct store_repo *r;
	if (!map_get(&st->blobs, digest)) {
		errno = ENOENT;
		return -1;
	}
	r = store_repo_open(st, repo);
	if (!r)
		return -1;
	return repo_link_blob(st, r, digest);
}

/* Drop r's link to digest; remove the bytes when no repository holds them. */
static int repo_unlink_blob(struct store *st, struct store_repo *r, const char *digest)
{
	struct store_blob *b = map_get(&r->blobs, digest);
	char rel[STORE_REL_MAX];

	if (!b) {
		errno = ENOENT;
		return -1;
	}
	store_link_rel(rel, r->name, digest);
	if (unlinkat(st->rootfd, rel, 0) < 0 && errno != ENOENT)
		return -1;
	map_del(&r->blobs, digest);
	if (--b->nrepos == 0) {
		store_blob_rel(rel, digest);
		if (unlinkat(st->rootfd, rel, 0) < 0 && errno != ENOENT)
			log_warn_limited("remove %s", rel);
		free(map_del(&st->blobs, digest));
	}
	return 0;
}

int store_blob_delete(struct store *st, const char *repo, const char *digest)
{
	struct store_repo *r = map_get(&st->repos, repo);
	if (!r) {
		errno = ENOENT;
		return -1;
	}
	return repo_unlink_blob(st, r, digest);
}

int store_blob_commit(struct store *st, struct store_repo *r, int tmp_dfd, const char *tmp_rel,
		      int fd, const char *digest, uint64_t size)
{
	char rel[STORE_REL_MAX];
	struct store_blob *b = map_get(&st->blobs, digest);
	int saved;

	if (b) {
		/* already stored: the upload was a duplicate */
		unlinkat(tmp_dfd, tmp_rel, 0);
		return repo_link_blob(st, r, digest);
	}
	if (fd >= 0 && fdatasync(fd) < 0)
		goto fail;
	store_blob_rel(rel, digest);
	if (renameat(tmp_dfd, tmp_rel, st->rootfd, rel) < 0)
		goto fail;
	if (file_fsync_parent(st->rootfd, rel) < 0)
		return -1;
	b = store_blob_add(st, digest, size);
	if (!b)
		return -1;
	if (repo_link_blob(st, r, digest) < 0) {
		saved = errno;
		if (b->nrepos == 0) {
			unlinkat(st->rootfd, rel, 0);
			free(map_del(&st->blobs, digest));
		}
		errno = saved;
		return -1;
	}
	return 0;
fail:
	saved = errno;
	unlinkat(tmp_dfd, tmp_rel, 0);
	errno = saved;
	return -1;
}

/* ---- manifests and tags ---- */

struct store_manifest *store_entry_new(const char *digest, const struct manifest *m,
				       const char *bytes, size_t len)
{
	struct store_manifest *e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	snprintf(e->digest, sizeof e->digest, "%s", digest);
	snprintf(e->media_type, sizeof e->media_type, "%s", m->media_type);
	snprintf(e->artifact_type, sizeof e->artifact_type, "%s", m->artifact_type);
	if (m->has_subject)
		snprintf(e->subject, sizeof e->subject, "%s", m->subject.digest);
	e->body = bytes_new(bytes, len);
	if (!e->body)
		goto fail;
	e->bytes = e->body->p;
	e->len = len;
	if (m->annotations) {
		e->annotations = malloc(m->annotations_len);
		if (!e->annotations)
			goto fail;
		memcpy(e->annotations, m->annotations, m->annotations_len);
		e->annotations_len = m->annotations_len;
	}
	return e;
fail:
	store_entry_free(e);
	return NULL;
}

const struct store_manifest *store_manifest_get(const struct store *st, const char *repo,
						const char *ref)
{
	const struct store_repo *r = map_get(&st->repos, repo);
	if (!r)
		return NULL;
	if (strchr(ref, ':'))
		return map_get(&r->manifests, ref);
	return map_get(&r->tags, ref);
}

int store_tag_set(struct store_repo *r, const char *tag, struct store_manifest *e)
{
	struct store_manifest *old = map_get(&r->tags, tag);
	if (old == e)
		return 0;
	if (map_put(&r->tags, tag, e) < 0)
		return -1;
	if (old)
		old->ntags--;
	e->ntags++;
	return 0;
}

int store_manifest_put(struct store *st, const char *repo, const char *digest,
		       const struct manifest *m, const char *bytes, size_t len,
		       const char *const *tags, size_t ntags)
{
	struct store_repo *r = store_repo_open(st, repo);
	struct store_manifest *e;

	if (!r)
		return -1;
	if (!map_get(&r->blobs, digest)) {
		/* the manifest's bytes are a blob of the layout too */
		char name[TMPDIR_NAME_MAX];
		int fd = tmpdir_create(&st->imports, name);
		if (fd < 0)
			return -1;
		if (file_write_all(fd, bytes, len) < 0) {
			int e2 = errno;
			close(fd);
			tmpdir_remove(&st->imports, name);
			errno = e2;
			return -1;
		}
		if (store_blob_commit(st, r, st->imports.fd, name, fd, digest, len) < 0) {
			int e2 = errno;
			close(fd);
			errno = e2;
			return -1;
		}
		close(fd);
	}
	if (store_journal_put(st, "put", repo, digest, m->media_type, NULL, tags, ntags) < 0) {
		log_warn_limited("journal a manifest of %s", repo);
		return -1;
	}
	r->dirty = 1;
	e = map_get(&r->manifests, digest);
	if (!e) {
		e = store_entry_new(digest, m, bytes, len);
		if (!e || map_put(&r->manifests, digest, e) < 0) {
			store_entry_free(e);
			errno = ENOMEM;
			return -1;
		}
	}
	for (size_t i = 0; i < ntags; i++)
		if (store_tag_set(r, tags[i], e) < 0) {
			errno = ENOMEM;
			return -1;
		}
	store_compact_if_due(st, 0);
	return 0;
}

void store_manifest_forget(struct store_repo *r, struct store_manifest *e)
{
	size_t pos = 0;
	const char *k;
	void *v;
	while (e->ntags && map_next(&r->tags, &pos, &k, &v)) {
		if (v == e) {
			map_del(&r->tags, k);
			e->ntags--;
		}
	}
	map_del(&r->manifests, e->digest);
	store_entry_free(e);
}

int store_manifest_delete(struct store *st, const char *repo, const char *digest)
{
	struct store_repo *r = map_get(&st->repos, repo);
	struct store_manifest *e;

	if (!r || !(e = map_get(&r->manifests, digest))) {
		errno = ENOENT;
		return -1;
	}
	/* journal first: a crash in between leaves an unnamed link, never a
	 * manifest named in the journal or index.json whose bytes are gone */
	if (store_journal_put(st, "del", repo, digest, NULL, NULL, NULL, 0) < 0)
		return -1;
	r->dirty = 1;
	store_manifest_forget(r, e);
	if (map_get(&r->blobs, digest))
		repo_unlink_blob(st, r, digest);
	store_compact_if_due(st, 0);
	return 0;
}

int store_tag_delete(struct store *st, const char *repo, const char *tag)
{
	struct store_repo *r = map_get(&st->repos, repo);
	struct store_manifest *e;
	if (!r || !(e = map_get(&r->tags, tag))) {
		errno = ENOENT;
		return -1;
	}
	if (store_journal_put(st, "untag", repo, NULL, NULL, tag, NULL, 0) < 0)
		return -1;
	r->dirty = 1;
	map_del(&r->tags, tag);
	e->ntags--;
	store_compact_if_due(st, 0);
	return 0;
}

/* ---- listings ---- */

int store_cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int sorted_keys(const struct map *m, const char ***out, size_t *n)
{
	size_t pos = 0, i = 0;
	const char *k;
	const char **keys = malloc((map_len(m) + 1) * sizeof *keys);
	if (!keys)
		return -1;
	while (map_next(m, &pos, &k, NULL))
		keys[i++] = k;
	qsort(keys, i, sizeof *keys, store_cmp_str);
	*out = keys;
	*n = i;
	return 0;
}

int store_tags(const struct store *st, const char *repo, const char ***out, size_t *n)
{
	const struct store_repo *r = map_get(&st->repos, repo);
	if (!r) {
		errno = ENOENT;
		return -1;
	}
	return sorted_keys(&r->tags, out, n);
}

int store_catalog(const struct store *st, const char ***out, size_t *n)
{
	return sorted_keys(&st->repos, out, n);
}

static int cmp_manifest(const void *a, const void *b)
{
	return strcmp((*(const struct store_manifest *const *)a)->digest,
		      (*(const struct store_manifest *const *)b)->digest);
}

int store_referrers(const struct store *st, const char *repo, const char *digest,
		    const struct store_manifest ***out, size_t *n)
{
	const struct store_repo *r = map_get(&st->repos, repo);
	const struct store_manifest **list;
	size_t pos = 0, i = 0;
	const char *k;
	void *v;

	*n = 0;
	*out = NULL;
	if (!r)
		return 0;
	list = malloc((map_len(&r->manifests) + 1) * sizeof *list);
	if (!list)
		return -1;
	while (map_next(&r->manifests, &pos, &k, &v))
		if (strcmp(((struct store_manifest *)v)->subject, digest) == 0)
			list[i++] = v;
	qsort(list, i, sizeof *list, cmp_manifest);
	*out = list;
	*n = i;
	return 0;
}

/* ---- open and close ---- */

int store_open(struct store **out, const char *root, int flags)
{
	struct store *st = calloc(1, sizeof *st);

	*out = NULL;
	if (!st)
		return -1;
	map_init(&st->repos);
	map_init(&st->blobs);
	map_init(&st->uploads);
	map_init(&st->owners);
	st->imports.fd = -1;
	store_set_limits(st, NULL);
	st->root = strdup(root);
	st->read_only = (flags & STORE_READ_ONLY) != 0;
	if (mkdir(root, 0755) < 0 && errno != EEXIST) {
		log_warn("create store %s", root);
		goto fail;
	}
	st->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->rootfd < 0) {
		log_warn("open store %s", root);
		goto fail;
	}
	if (store_layout_load(st) < 0)
		goto fail;
	st->loaded = 1;
	*out = st;
	return 0;
fail:
	st->rootfd = st->rootfd > 0 ? st->rootfd : -1;
	store_close(st);
	return -1;
}

void store_close(struct store *st)
{
	size_t pos = 0;
	const char *k;
	void *v;

	if (!st)
		return;
	store_layout_close(st);
	store_uploads_free(st);
	while (map_next(&st->repos, &pos, &k, &v))
		store_repo_free(v);
	map_free(&st->repos);
	pos = 0;
	while (map_next(&st->blobs, &pos, &k, &v))
		free(v);
	map_free(&st->blobs);
	tmpdir_fini(&st->imports);
	if (st->rootfd > 0)
		close(st->rootfd);
	free(st->root);
	free(st);
}
