/* store_source.c - blobs served in place (store.h): their records under
 * ROOT/inplace/, the source files they are served from (one descriptor
 * each, and its identity, checked before every response), detaching a
 * source that changed, re-attaching one an import verified again, turning a
 * record into a blob file when a client uploads the bytes, and the hidden
 * flag of manifests that use a detached blob.
 *
 * A source is one version of one file: its path and identity (inplace.h).
 * An import of the same path after the file changed is another source; the
 * blobs it verifies again are moved to it (their records rewritten). */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"

/* ---- sources ---- */

/* path, newline, identity: the identity has no newline, so the last one
 * separates them whatever the path holds */
static void source_key(char *out, size_t cap, const char *path, const struct inplace_id *id)
{
	char k[128];
	inplace_id_key(id, k);
	snprintf(out, cap, "%s\n%s", path, k);
}

static void source_free(struct store_source *src)
{
	if (src->fd >= 0)
		close(src->fd);
	free(src->key);
	free(src->path);
	free(src);
}

/* Forget src if no blob names it. */
static void source_put(struct store *st, struct store_source *src)
{
	if (src->nblobs)
		return;
	map_del(&st->sources, src->key);
	source_free(src);
}

/* The source (path, id), found or made: made from fd when one is given (its
 * identity must be id), else by opening path.  A file that is gone or not
 * id makes a detached source (logged once).  NULL with errno. */
static struct store_source *source_get(struct store *st, const char *path,
				       const struct inplace_id *id, int fd)
{
	char key[INPLACE_PATH_MAX + 160];
	struct store_source *src;

	source_key(key, sizeof key, path, id);
	if ((src = map_get(&st->sources, key)))
		return src;
	src = calloc(1, sizeof *src);
	if (!src || !(src->key = strdup(key)) || !(src->path = strdup(path))) {
		if (src)
			free(src->key);
		free(src);
		errno = ENOMEM;
		return NULL;
	}
	src->id = *id;
	src->fd = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : open(path, O_RDONLY | O_CLOEXEC);
	if (src->fd >= 0 && inplace_id_same(src->fd, id)) {
		src->attached = 1;
	} else {
		if (fd >= 0) {
			/* the importer's file changed since it verified it */
			int e = src->fd < 0 ? errno : ESTALE;
			source_free(src);
			errno = e;
			return NULL;
		}
		log_warnx("store: %s %s: the blobs served from it are not served", path,
			  src->fd < 0 ? "is gone" : "changed since its blobs were verified");
		if (src->fd >= 0)
			close(src->fd);
		src->fd = -1;
	}
	if (map_put(&st->sources, src->key, src) < 0) {
		source_free(src);
		errno = ENOMEM;
		return NULL;
	}
	return src;
}

static void source_detach(struct store *st, struct store_source *src)
{
	if (!src->attached)
		return;
	log_error("source %s changed since its blobs were verified (size, mtime or ctime): its %u "
		  "blob%s and the manifests using them are no longer served; import it again",
		  src->path, src->nblobs, src->nblobs == 1 ? "" : "s");
	src->attached = 0;
	close(src->fd);
	src->fd = -1;
	st->detached += src->nblobs;
	store_refresh_hidden(st);
}

int store_source_check(struct store *st, struct store_source *src)
{
	if (src->attached && inplace_id_same(src->fd, &src->id))
		return 0;
	source_detach(st, src);
	errno = ESTALE;
	return -1;
}

void store_source_release(struct store *st, struct store_blob *b)
{
	struct store_source *src = b->src;
	if (!src)
		return;
	if (!src->attached && st->detached)
		st->detached--;
	b->src = NULL;
	src->nblobs--;
	source_put(st, src);
}

void store_sources_tick(struct store *st)
{
	size_t pos = 0;
	const char *k;
	void *v;
	/* a detach rehashes nothing (sources stay until their blobs go) */
	while (map_next(&st->sources, &pos, &k, &v)) {
		struct store_source *src = v;
		if (src->attached)
			(void)store_source_check(st, src);
	}
}

void store_sources_free(struct store *st)
{
	size_t pos = 0;
	const char *k;
	void *v;
	while (map_next(&st->sources, &pos, &k, &v))
		source_free(v);
	map_free(&st->sources);
}

/* b now in place in src at off. */
static void blob_place(struct store *st, struct store_blob *b, struct store_source *src,
		       uint64_t off)
{
	b->src = src;
	b->off = off;
	src->nblobs++;
	if (!src->attached)
		st->detached++;
}

/* ---- records ---- */

struct store_blob *store_record_load(struct store *st, const char *rel, const char *digest)
{
	struct inplace_rec rec;
	struct store_source *src;
	struct store_blob *b;
	struct buf text;
	char why[128];

	if (file_read_at(st->rootfd, rel, INPLACE_REC_MAX, &text) < 0) {
		log_warn("store: read %s/%s", st->root, rel);
		return NULL;
	}
	if (inplace_parse(&rec, text.p, text.len, why, sizeof why) < 0 ||
	    strcmp(rec.digest, digest) != 0) {
		log_warnx("store: %s/%s is no record of %s (%s): ignored", st->root, rel, digest,
			  strcmp(rec.digest, digest) ? "another digest" : why);
		buf_free(&text);
		errno = EINVAL;
		return NULL;
	}
	buf_free(&text);
	if (!(src = source_get(st, rec.path, &rec.id, -1)))
		return NULL;
	if (!(b = store_blob_add(st, digest, rec.len))) {
		source_put(st, src);
		return NULL;
	}
	blob_place(st, b, src, rec.off);
	return b;
}

/* Write rec's text to rel through a temporary file and a rename, or (a
 * record that repositories link to) over the file itself: its links then
 * see it.  A torn rewrite fails its checksum: the blob is then not served,
 * never served wrong. */
static int record_write(struct store *st, const char *rel, const struct inplace_rec *rec,
			int in_place)
{
	struct buf text;
	int fd, rc = -1, e;
	char name[TMPDIR_NAME_MAX];

	buf_init(&text, INPLACE_REC_MAX);
	if (inplace_format(rec, &text) < 0) {
		buf_free(&text);
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = in_place ? openat(st->rootfd, rel, O_WRONLY | O_TRUNC | O_CLOEXEC)
		      : tmpdir_create(&st->imports, name);
	if (fd < 0)
		goto out;
	if (file_write_all(fd, text.p, text.len) < 0 || fdatasync(fd) < 0)
		goto out;
	if (in_place) {
		rc = 0;
		goto out;
	}
	if (renameat(st->imports.fd, name, st->rootfd, rel) < 0)
		goto out;
	rc = file_fsync_parent(st->rootfd, rel);
out:
	e = errno;
	if (fd >= 0)
		close(fd);
	if (rc < 0 && fd >= 0 && !in_place)
		tmpdir_remove(&st->imports, name);
	buf_free(&text);
	errno = e;
	return rc;
}

int store_blob_commit_inplace(struct store *st, const char *repo, const struct inplace_rec *rec,
			      int fd)
{
	struct store_repo *r = store_repo_open(st, repo);
	struct store_blob *b = map_get(&st->blobs, rec->digest);
	struct store_source *src;
	char rel[STORE_REL_MAX];

	if (!r)
		return -1;
	if (b && (!b->src || b->src->attached))
		return store_blob_mount(st, repo, rec->digest); /* stored, and served */
	if (!(src = source_get(st, rec->path, &rec->id, fd)))
		return -1;
	store_record_rel(rel, rec->digest);
	if (b) {
		/* detached from a source that changed: this one has its bytes */
		if (record_write(st, rel, rec, 1) < 0) {
			source_put(st, src);
			return -1;
		}
		store_source_release(st, b);
		blob_place(st, b, src, rec->off);
		st->hidden_stale = 1;
		return store_blob_mount(st, repo, rec->digest);
	}
	if (record_write(st, rel, rec, 0) < 0) {
		source_put(st, src);
		return -1;
	}
	if (!(b = store_blob_add(st, rec->digest, rec->len))) {
		unlinkat(st->rootfd, rel, 0);
		source_put(st, src);
		return -1;
	}
	blob_place(st, b, src, rec->off);
	if (store_blob_mount(st, repo, rec->digest) < 0) {
		int e = errno;
		if (b->nrepos == 0) {
			unlinkat(st->rootfd, rel, 0);
			store_source_release(st, b);
			free(map_del(&st->blobs, rec->digest));
		}
		errno = e;
		return -1;
	}
	return 0;
}

int store_record_to_file(struct store *st, struct store_blob *b, const char *digest)
{
	char brel[STORE_REL_MAX], rel[STORE_REL_MAX];
	size_t pos = 0;
	const char *k;
	void *v;

	store_blob_rel(brel, digest);
	/* every holder links the file first, then lets go of the record: a
	 * crash in between leaves both, and start-up keeps the file */
	while (map_next(&st->repos, &pos, &k, &v)) {
		struct store_repo *r = v;
		if (!map_get(&r->blobs, digest))
			continue;
		store_link_rel(rel, r->name, digest);
		if ((linkat(st->rootfd, brel, st->rootfd, rel, 0) < 0 && errno != EEXIST) ||
		    file_fsync_parent(st->rootfd, rel) < 0)
			return -1;
		store_record_link_rel(rel, r->name, digest);
		unlinkat(st->rootfd, rel, 0);
	}
	store_record_rel(rel, digest);
	unlinkat(st->rootfd, rel, 0);
	{
		int was_detached = b->src && !b->src->attached;
		store_source_release(st, b);
		b->off = 0;
		/* a client's upload made the blob whole again: its manifests
		 * show at once */
		if (was_detached)
			store_refresh_hidden(st);
	}
	return 0;
}

/* ---- hidden manifests ---- */

/* Does image manifest e of r use a detached blob?  Indexes: 0. */
static int uses_detached(const struct store_repo *r, const struct store_manifest *e, int *is_index)
{
	struct manifest m;
	char why[128];
	int bad = 0;

	*is_index = 0;
	if (manifest_parse(&m, e->bytes, e->len, e->media_type, why, sizeof why) < 0)
		return 0;
	if (m.kind == MANIFEST_IMAGE) {
		const struct store_link *l = store_link_get(r, m.config.digest);
		bad = l && l->b->src && !l->b->src->attached;
		for (size_t i = 0; i < m.nrefs && !bad; i++) {
			l = store_link_get(r, m.refs[i].digest);
			bad = l && l->b->src && !l->b->src->attached;
		}
	} else {
		*is_index = 1;
	}
	manifest_free(&m);
	return bad;
}

/* Does index e of r name a hidden manifest? */
static int names_hidden(const struct store_repo *r, const struct store_manifest *e)
{
	struct manifest m;
	char why[128];
	int bad = 0;
	if (manifest_parse(&m, e->bytes, e->len, e->media_type, why, sizeof why) < 0)
		return 0;
	for (size_t i = 0; i < m.nrefs && !bad; i++) {
		const struct store_manifest *c = map_get(&r->manifests, m.refs[i].digest);
		bad = c && c->hidden;
	}
	manifest_free(&m);
	return bad;
}

void store_repo_refresh_hidden(const struct store *st, struct store_repo *r)
{
	size_t mpos = 0, nindex = 0;
	const char *mk;
	void *mv;

	while (map_next(&r->manifests, &mpos, &mk, &mv)) {
		struct store_manifest *e = mv;
		int is_index = 0;
		e->hidden = st->detached ? uses_detached(r, e, &is_index) : 0;
		nindex += (size_t)is_index;
	}
	/* an index naming a hidden manifest is hidden too, down nested
	 * indexes (at most IMAGE_MAX_DEPTH deep; a few more passes are
	 * harmless) */
	for (int pass = 0; pass < 6 && nindex && st->detached; pass++) {
		int changed = 0;
		mpos = 0;
		while (map_next(&r->manifests, &mpos, &mk, &mv)) {
			struct store_manifest *e = mv;
			if (!e->hidden && (strcmp(e->media_type, MT_OCI_INDEX) == 0 ||
					   strcmp(e->media_type, MT_DOCKER_LIST) == 0) &&
			    names_hidden(r, e)) {
				e->hidden = 1;
				changed = 1;
			}
		}
		if (!changed)
			break;
	}
}

void store_refresh_hidden(struct store *st)
{
	size_t pos = 0;
	const char *k;
	void *v;

	st->hidden_stale = 0;
	while (map_next(&st->repos, &pos, &k, &v))
		store_repo_refresh_hidden(st, v);
}
