/* store.c - the store's index: repositories, the blobs each holds, manifests
 * and tags, all in memory and each change made on disk too; listings; open
 * (and the lock) and close.  The layout on disk is store_layout.c's (drawn in
 * store.h), upload sessions are store_upload.c's, collection store_gc.c's,
 * removing freed blob files off the loop store_trash.c's. */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
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
	pos = 0;
	while (map_next(&r->blobs, &pos, &k, &v))
		free(v);
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

struct store_link *store_link_get(const struct store_repo *r, const char *digest)
{
	return map_get(&r->blobs, digest);
}

int store_link_add(struct store_repo *r, struct store_blob *b, const char *digest, int64_t since)
{
	struct store_link *l;
	if (map_get(&r->blobs, digest))
		return 0;
	l = malloc(sizeof *l);
	if (!l || map_put(&r->blobs, digest, l) < 0) {
		free(l);
		errno = ENOMEM;
		return -1;
	}
	l->b = b;
	l->since = since;
	b->nrepos++;
	return 0;
}

const struct store_blob *store_blob_get(const struct store *st, const char *repo,
					const char *digest)
{
	const struct store_repo *r;
	const struct store_link *l;
	const struct store_blob *b;
	if (!repo) {
		b = map_get(&st->blobs, digest);
	} else {
		r = map_get(&st->repos, repo);
		l = r ? map_get(&r->blobs, digest) : NULL;
		b = l ? l->b : NULL;
	}
	/* in place, from a source that changed: not there for any reader */
	return b && b->src && !b->src->attached ? NULL : b;
}

void store_touch(struct store *st, const char *repo, const char *digest)
{
	struct store_repo *r = map_get(&st->repos, repo);
	struct store_link *l = r ? map_get(&r->blobs, digest) : NULL;
	if (l)
		l->since = st->now;
}

void store_clock(struct store *st, int64_t now_ms)
{
	st->now = now_ms;
	if (!st->has_clock) {
		st->t0 = now_ms;
		st->has_clock = 1;
	}
}

/* The blob's source still what was verified?  0, or -1 with ESTALE (then
 * detached) or ENOENT. */
static int check_source(struct store *st, const struct store_blob *b)
{
	if (!b) {
		errno = ENOENT;
		return -1;
	}
	if (!b->src)
		return 0;
	return store_source_check(st, b->src);
}

int store_blob_check(struct store *st, const char *digest)
{
	return check_source(st, map_get(&st->blobs, digest));
}

int store_blob_open(struct store *st, const char *digest, uint64_t *base)
{
	const struct store_blob *b = map_get(&st->blobs, digest);
	char rel[STORE_REL_MAX];
	*base = 0;
	if (check_source(st, b) < 0)
		return -1;
	if (b->src) {
		*base = b->off;
		return fcntl(b->src->fd, F_DUPFD_CLOEXEC, 0);
	}
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

/* Link a committed blob into repository r, dated now (again, if r holds it:
 * an upload or mount of what r has counts as new for gc's grace period). */
static int repo_link_blob(struct store *st, struct store_repo *r, const char *digest)
{
	struct store_blob *b = map_get(&st->blobs, digest);
	struct store_link *l = map_get(&r->blobs, digest);
	char from[STORE_REL_MAX], to[STORE_REL_MAX];
	int rc;

	if (!b) {
		errno = ENOENT;
		return -1;
	}
	if (l) {
		l->since = st->now;
		return 0;
	}
	store_file_rel(from, b, digest);
	store_hold_rel(to, r->name, b, digest);
	rc = linkat(st->rootfd, from, st->rootfd, to, 0);
	if (rc < 0 && errno == ENOENT && b->src) {
		/* _layout/inplace/<alg>/ is made when first needed (a repository
		 * from before in-place blobs has none) */
		char dir[STORE_REL_MAX];
		snprintf(dir, sizeof dir, "%s", to);
		*strrchr(dir, '/') = '\0';
		if (file_mkdirs(st->rootfd, dir) < 0)
			return -1;
		rc = linkat(st->rootfd, from, st->rootfd, to, 0);
	}
	if (rc < 0 && errno != EEXIST)
		return -1;
	if (file_fsync_parent(st->rootfd, to) < 0)
		return -1;
	return store_link_add(r, b, digest, st->now);
}

size_t store_repo_manifests(const struct store *st, const char *repo)
{
	const struct store_repo *r = map_get(&st->repos, repo);
	return r ? map_len(&r->manifests) : 0;
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

int store_repo_unlink(struct store *st, struct store_repo *r, const char *digest, int *freed,
		      int defer)
{
	struct store_link *l = map_get(&r->blobs, digest);
	struct store_blob *b;
	char rel[STORE_REL_MAX];

	if (freed)
		*freed = 0;
	if (!l) {
		errno = ENOENT;
		return -1;
	}
	b = l->b;
	store_hold_rel(rel, r->name, b, digest);
	if (unlinkat(st->rootfd, rel, 0) < 0 && errno != ENOENT)
		return -1;
	free(map_del(&r->blobs, digest));
	if (--b->nrepos == 0) {
		/* a record is a few hundred bytes: removed here, never the source */
		store_file_rel(rel, b, digest);
		if ((!defer || b->src || store_trash(st, rel) < 0) && unlinkat(st->rootfd, rel, 0) < 0 &&
		    errno != ENOENT)
			log_warn_limited("remove %s", rel);
		if (b->src)
			store_source_release(st, b);
		free(map_del(&st->blobs, digest));
		if (freed)
			*freed = 1;
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
	/* the file's blocks are freed off the loop (store_trash.c) */
	return store_repo_unlink(st, r, digest, NULL, !st->for_gc);
}

int store_blob_commit(struct store *st, struct store_repo *r, int tmp_dfd, const char *tmp_rel,
		      int fd, const char *digest, uint64_t size)
{
	char rel[STORE_REL_MAX];
	struct store_blob *b = map_get(&st->blobs, digest);
	int saved;

	if (b && !b->src) {
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
	if (b) {
		/* held in place until now: the file takes over, and the blob no
		 * longer depends on its source */
		if (store_record_to_file(st, b, digest) < 0)
			return -1;
		return repo_link_blob(st, r, digest);
	}
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
	const struct store_manifest *e;
	if (!r)
		return NULL;
	e = strchr(ref, ':') ? map_get(&r->manifests, ref) : map_get(&r->tags, ref);
	return e && !e->hidden ? e : NULL;
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
	struct store_link *l;

	if (!r)
		return -1;
	if ((l = map_get(&r->blobs, digest))) {
		/* pushed again (a child of an index on its way): new again for
		 * gc's grace period, as a blob upload would be */
		l->since = st->now;
	} else {
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
	if (st->gc)
		store_gc_note(st, r, digest, m);
	for (size_t i = 0; i < ntags; i++)
		if (store_tag_set(r, tags[i], e) < 0) {
			errno = ENOMEM;
			return -1;
		}
	/* the new manifest may use a detached blob (or name a manifest that
	 * does): only r's flags can change */
	if (st->hidden_stale)
		store_refresh_hidden(st);
	else if (st->detached)
		store_repo_refresh_hidden(st, r);
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
		store_repo_unlink(st, r, digest, NULL, !st->for_gc);
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
	size_t k = 0;
	if (!r) {
		errno = ENOENT;
		return -1;
	}
	if (sorted_keys(&r->tags, out, n) < 0)
		return -1;
	if (!st->detached)
		return 0;
	for (size_t i = 0; i < *n; i++) {
		const struct store_manifest *e = map_get(&r->tags, (*out)[i]);
		if (!e->hidden)
			(*out)[k++] = (*out)[i];
	}
	*n = k;
	return 0;
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
		if (strcmp(((struct store_manifest *)v)->subject, digest) == 0 &&
		    !((struct store_manifest *)v)->hidden)
			list[i++] = v;
	qsort(list, i, sizeof *list, cmp_manifest);
	*out = list;
	*n = i;
	return 0;
}

/* ---- open and close ---- */

/* ROOT/lock: exclusive for a writable store, shared for a read-only one, so
 * two writers (or a writer and gc, or a writer and a reader that would serve
 * a stale view) never share a store.  Never waits.  The descriptor held is
 * read-only (flock needs no more, and a filesystem with a file open for
 * writing cannot be remounted read-only).  A read-only store does not create
 * the file; where it cannot be made (a read-only filesystem) or flock is not
 * supported, the store opens unlocked, with a warning. */
static int store_lock(struct store *st, int flags)
{
	int rw = !(flags & STORE_READ_ONLY);
	int fd = openat(st->rootfd, "lock", O_RDONLY | O_CLOEXEC | (rw ? O_CREAT : 0), 0644);
	char pid[32];

	if (fd < 0 && rw && (errno == EROFS || errno == EACCES))
		fd = openat(st->rootfd, "lock", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (!rw && errno == ENOENT)
			return 0;
		log_warn("store %s: lock file, continuing unlocked", st->root);
		return 0;
	}
	if (flock(fd, (rw ? LOCK_EX : LOCK_SH) | LOCK_NB) < 0) {
		ssize_t n;
		if (errno != EWOULDBLOCK) {
			log_warn("store %s: flock, continuing unlocked", st->root);
			close(fd);
			return 0;
		}
		n = pread(fd, pid, sizeof pid - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		log_warnx("store %s is in use by another process%s%s%s: stop it first", st->root,
			  pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "");
		close(fd);
		errno = EBUSY;
		return -1;
	}
	if (rw) {
		/* for the message above; best effort (a full disk may refuse it) */
		int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
		int wfd = openat(st->rootfd, "lock", O_WRONLY | O_TRUNC | O_CLOEXEC);
		if (wfd >= 0) {
			if (write(wfd, pid, (size_t)n) < 0)
				log_debug("store %s: write the pid into lock", st->root);
			close(wfd);
		}
	}
	st->lockfd = fd;
	return 0;
}

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
	map_init(&st->sources);
	st->imports.fd = -1;
	st->lockfd = -1;
	store_set_limits(st, NULL);
	st->root = strdup(root);
	st->read_only = (flags & STORE_READ_ONLY) != 0;
	st->for_gc = (flags & STORE_FOR_GC) != 0;
	if (mkdir(root, 0755) < 0 && errno != EEXIST) {
		log_warn("create store %s", root);
		goto fail;
	}
	st->rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->rootfd < 0) {
		log_warn("open store %s", root);
		goto fail;
	}
	if (store_lock(st, flags) < 0 || store_layout_load(st) < 0)
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
	store_gc_free(st);
	store_trash_stop(st);
	store_layout_close(st);
	store_uploads_free(st);
	while (map_next(&st->repos, &pos, &k, &v))
		store_repo_free(v);
	map_free(&st->repos);
	pos = 0;
	while (map_next(&st->blobs, &pos, &k, &v))
		free(v);
	map_free(&st->blobs);
	store_sources_free(st);
	tmpdir_fini(&st->imports);
	if (st->lockfd >= 0)
		close(st->lockfd); /* the last thing: the store is left as it should be */
	if (st->rootfd > 0)
		close(st->rootfd);
	free(st->root);
	free(st);
}
