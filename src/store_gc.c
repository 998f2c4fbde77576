/* store_gc.c - garbage collection (store.h, "garbage collection"), in
 * bounded steps on the store's thread.  Each repository in turn:
 *
 *   UNTAGGED  (option) the untagged manifests older than the grace period
 *             that no kept index names and that are no referrer of a kept
 *             manifest go, journaled like a DELETE; in one step, so the kept
 *             set cannot change under it
 *   MARK      every manifest's own digest, config, layers and children go
 *             into the repository's marked set, a few manifests a step; a
 *             manifest put meanwhile marks what it references
 *             (store_gc_note), and the walk starts again if the manifest map
 *             was rehashed (map.h: a kept position could skip a manifest)
 *   SWEEP     each link neither marked nor younger than the grace period is
 *             unlinked, a few a step, each decided in the step that removes
 *             it (a rehash of the link map can only make this skip a link,
 *             which then waits for the next collection)
 *
 * then UPLOADS (files under uploads/ that no session owns) and, for a store
 * opened STORE_FOR_GC, ORPHANS (blob files that no repository holds, which
 * such a store keeps in memory with nrepos 0 instead of removing at open).
 *
 * Online, a blob file whose last link goes is handed to the trash
 * (store_trash.c), as a DELETE's is.  A store opened STORE_FOR_GC
 * (`packhelper gc`, no loop to keep) removes at once.
 *
 * A blob served in place (store_source.c) is collected like any other: its
 * record goes (at once: it is small), never the source file.
 *
 * Memory: the marked set of one repository at a time. */
#include "store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* A step's budget, in work units of about half a microsecond or less: a map
 * entry is 1, an unlink or rename 48 (tens of us on ext4), parsing a
 * manifest 16 plus its size / 128; about five blobs released a step.  Half
 * a millisecond of loop time or less a step, measured with 20,000 blobs
 * (tests/bench/gc.py, README); a smaller step costs more loop turns, not
 * more work. */
#define GC_STEP_WORK 512
#define GC_FILE_OP 48

enum gc_phase { GC_NEXT_REPO, GC_UNTAGGED, GC_MARK, GC_SWEEP, GC_UPLOADS, GC_ORPHANS, GC_DONE };

struct store_gc {
	struct store_gc_options o;
	enum gc_phase phase;
	int64_t now;
	size_t repo_pos;         /* in st->repos */
	struct store_repo *r;    /* the repository being collected (never freed) */
	int r_released;          /* it released something */
	int r_keep_all;          /* a manifest could not be read: r releases nothing */
	struct map marked;       /* digests r's manifests reference */
	struct map doomed;       /* dry run: r's manifests that would go */
	struct map dry_links;    /* dry run: digest -> links that would go */
	size_t pos;              /* in r->manifests, r->blobs or st->blobs */
	unsigned long moves;     /* r->manifests.moves when the walk (re)started */
	DIR *uploads;
	struct store_gc_stats s;
};

static char yes; /* the value of a set's members */

static void mark(struct store_gc *g, const char *digest)
{
	if (digest[0] && !map_get(&g->marked, digest) && map_put(&g->marked, digest, &yes) < 0)
		g->r_keep_all = 1; /* out of memory: unsure, so nothing goes */
}

static int marked(const struct store_gc *g, const char *digest)
{
	return map_get(&g->marked, digest) != NULL;
}

/* Mark what m references; the work it cost. */
static size_t mark_parsed(struct store_gc *g, const struct manifest *m)
{
	if (m->kind == MANIFEST_IMAGE)
		mark(g, m->config.digest);
	for (size_t i = 0; i < m->nrefs; i++)
		mark(g, m->refs[i].digest);
	return m->nrefs;
}

/* Parse e (validated when it was stored) and mark what it references. */
static size_t mark_manifest(struct store_gc *g, const struct store_manifest *e)
{
	struct manifest m;
	char why[256];
	size_t work = 16 + e->len / 128;

	mark(g, e->digest);
	if (manifest_parse(&m, e->bytes, e->len, e->media_type, why, sizeof why) < 0) {
		log_warnx("gc: %s: manifest %s does not parse (%s): the repository is left as it is",
			  g->r->name, e->digest, why);
		g->r_keep_all = 1;
		return work;
	}
	work += mark_parsed(g, &m);
	manifest_free(&m);
	return work;
}

void store_gc_note(struct store *st, struct store_repo *r, const char *digest,
		   const struct manifest *m)
{
	struct store_gc *g = st->gc;
	if (!g || g->r != r)
		return;
	mark(g, digest);
	mark_parsed(g, m);
}

/* Is the link older than the grace period?  Unsure (a failed stat) is no. */
static int old_enough(struct store *st, struct store_gc *g, const char *digest,
		      const struct store_link *l, size_t *work)
{
	int64_t since = l->since;
	if (since == STORE_SINCE_OPEN) {
		if (g->o.wall_ms) {
			char rel[STORE_REL_MAX];
			struct stat sb;
			int64_t ctime_ms;
			*work += 4;
			store_hold_rel(rel, g->r->name, l->b, digest);
			if (fstatat(st->rootfd, rel, &sb, AT_SYMLINK_NOFOLLOW) < 0)
				return 0;
			ctime_ms = (int64_t)sb.st_ctim.tv_sec * 1000 + sb.st_ctim.tv_nsec / 1000000;
			return g->o.wall_ms - ctime_ms > g->o.grace_ms;
		}
		since = st->has_clock ? st->t0 : g->now;
	}
	return g->now - since > g->o.grace_ms;
}

static void report(struct store_gc *g, const char *what, const char *repo, const char *name,
		   uint64_t size)
{
	if (g->o.report)
		g->o.report(g->o.arg, what, repo, name, size);
}

/* ---- one repository ---- */

static int is_index(const struct store_manifest *e)
{
	return strcmp(e->media_type, MT_OCI_INDEX) == 0 || strcmp(e->media_type, MT_DOCKER_LIST) == 0;
}

/* Untagged manifests, in one step: the kept set is every tagged or young
 * manifest, then whatever a kept index names and every referrer of a kept
 * manifest, until nothing changes; the rest goes.  Work: the manifests
 * times the depth of the chains of referrers, and a parse per kept index. */
static size_t gc_untagged(struct store *st, struct store_gc *g)
{
	struct store_repo *r = g->r;
	size_t n = map_len(&r->manifests), k = 0, pos = 0, work = n;
	struct store_manifest **list = malloc((n + 1) * sizeof *list);
	char *expanded = calloc(n + 1, 1);
	const char *key;
	void *v;
	int changed = 1;

	if (!list || !expanded) {
		g->r_keep_all = 1;
		goto out;
	}
	while (map_next(&r->manifests, &pos, &key, &v)) {
		struct store_manifest *e = v;
		struct store_link *l = store_link_get(r, e->digest);
		list[k++] = e;
		if (e->ntags || !l || !old_enough(st, g, e->digest, l, &work))
			mark(g, e->digest);
	}
	while (changed && !g->r_keep_all) {
		changed = 0;
		for (size_t i = 0; i < k; i++) {
			struct store_manifest *e = list[i];
			work++;
			if (!marked(g, e->digest)) {
				if (e->subject[0] && marked(g, e->subject)) {
					mark(g, e->digest);
					changed = 1;
				}
				continue;
			}
			if (is_index(e) && !expanded[i]) {
				size_t before = map_len(&g->marked);
				expanded[i] = 1;
				work += mark_manifest(g, e);
				changed |= map_len(&g->marked) != before;
			}
		}
	}
	if (g->r_keep_all)
		goto out;
	for (size_t i = 0; i < k; i++) {
		struct store_manifest *e = list[i];
		if (marked(g, e->digest))
			continue;
		work += GC_FILE_OP;
		if (g->o.dry_run) {
			if (map_put(&g->doomed, e->digest, &yes) < 0) {
				g->r_keep_all = 1;
				break;
			}
		} else {
			/* as a DELETE does: journal first, then memory; the
			 * manifest's own link is left for the sweep */
			if (store_journal_put(st, "del", r->name, e->digest, NULL, NULL, NULL, 0) < 0) {
				log_warn("gc: %s: journal the removal of %s", r->name, e->digest);
				break;
			}
			r->dirty = 1;
		}
		g->s.manifests++;
		g->r_released = 1;
		report(g, "manifest", r->name, e->digest, e->len);
		if (!g->o.dry_run)
			store_manifest_forget(r, e);
	}
	if (!g->o.dry_run)
		store_compact_if_due(st, 0);
out:
	free(list);
	free(expanded);
	return work;
}

static size_t gc_mark(struct store_gc *g, size_t budget)
{
	struct store_repo *r = g->r;
	size_t work = 0;
	const char *k;
	void *v;

	if (r->manifests.moves != g->moves) {
		/* rehashed since the last step: a kept position could skip
		 * a manifest, so walk again (marking twice is harmless) */
		g->pos = 0;
		g->moves = r->manifests.moves;
		g->s.mark_restarts++;
	}
	while (work < budget && !g->r_keep_all) {
		if (!map_next(&r->manifests, &g->pos, &k, &v)) {
			g->phase = GC_SWEEP;
			g->pos = 0;
			break;
		}
		work++;
		if (g->o.dry_run && map_get(&g->doomed, k))
			continue;
		work += mark_manifest(g, v);
	}
	if (g->r_keep_all)
		g->phase = GC_NEXT_REPO;
	return work;
}

/* Release r's link to digest (or count it, dry); the work it cost. */
static size_t release(struct store *st, struct store_gc *g, const char *key,
		      struct store_link *l)
{
	struct store_repo *r = g->r;
	char digest[DIGEST_STR_MAX];
	uint64_t size = l->b->size;
	int freed = 0;

	snprintf(digest, sizeof digest, "%s", key); /* key goes with the link */
	if (g->o.dry_run) {
		uintptr_t n = (uintptr_t)map_get(&g->dry_links, digest) + 1;
		if (map_put(&g->dry_links, digest, (void *)n) < 0)
			return 1; /* out of memory: not counted, nothing changes anyway */
		freed = n == l->b->nrepos;
	} else if (store_repo_unlink(st, r, digest, &freed, !st->for_gc) < 0) {
		log_warn_limited("gc: %s: unlink %s", r->name, digest);
		return GC_FILE_OP;
	}
	g->s.links++;
	g->r_released = 1;
	report(g, "link", r->name, digest, size);
	if (freed) {
		g->s.blobs++;
		g->s.bytes += size;
		report(g, "blob", NULL, digest, size);
	}
	return freed ? 2 * GC_FILE_OP : GC_FILE_OP;
}

static size_t gc_sweep(struct store *st, struct store_gc *g, size_t budget)
{
	struct store_repo *r = g->r;
	size_t work = 0;
	const char *k;
	void *v;

	while (work < budget) {
		/* a mark the barrier could not record (no memory): unsure */
		if (g->r_keep_all || !map_next(&r->blobs, &g->pos, &k, &v)) {
			g->phase = GC_NEXT_REPO;
			break;
		}
		work++;
		if (!marked(g, k) && old_enough(st, g, k, v, &work))
			work += release(st, g, k, v);
	}
	return work;
}

static void next_repo(struct store *st, struct store_gc *g)
{
	const char *k;
	void *v;

	if (g->r && g->r_released)
		g->s.repos++;
	map_free(&g->marked);
	map_free(&g->doomed);
	map_init(&g->marked);
	map_init(&g->doomed);
	g->r = NULL;
	g->r_released = g->r_keep_all = 0;
	g->pos = 0;
	/* a rehash of the repository map may repeat one (harmless) or skip one
	 * (collected next time) */
	if (!map_next(&st->repos, &g->repo_pos, &k, &v)) {
		g->phase = GC_UPLOADS;
		return;
	}
	g->r = v;
	g->moves = g->r->manifests.moves;
	g->phase = g->o.untagged ? GC_UNTAGGED : GC_MARK;
}

/* ---- leftovers ---- */

/* Is name an upload session's file name (32 hex digits)? */
static int session_name(const char *name)
{
	size_t n = strspn(name, "0123456789abcdef");
	return n == 32 && name[n] == '\0';
}

static size_t gc_uploads(struct store *st, struct store_gc *g, size_t budget)
{
	size_t work = 0;
	struct dirent *de;

	if (!g->uploads && !(g->uploads = file_opendir(st->rootfd, "uploads"))) {
		log_warn("gc: open %s/uploads", st->root);
		g->phase = st->for_gc ? GC_ORPHANS : GC_DONE;
		return 1;
	}
	while (work < budget) {
		struct stat sb;
		char name[STORE_REL_MAX];
		errno = 0;
		if (!(de = readdir(g->uploads))) {
			closedir(g->uploads);
			g->uploads = NULL;
			g->phase = st->for_gc ? GC_ORPHANS : GC_DONE;
			break;
		}
		work += 2;
		/* a live session's file, or (online) an import's, which the
		 * import thread may be filling: not ours */
		if (de->d_name[0] == '.' || map_get(&st->uploads, de->d_name) ||
		    (!st->for_gc && !session_name(de->d_name)))
			continue;
		work += 2 * GC_FILE_OP;
		if (fstatat(dirfd(g->uploads), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
		    S_ISDIR(sb.st_mode))
			continue;
		if (!g->o.dry_run && unlinkat(dirfd(g->uploads), de->d_name, 0) < 0) {
			log_warn_limited("gc: remove %s/uploads/%s", st->root, de->d_name);
			continue;
		}
		g->s.uploads++;
		g->s.upload_bytes += (uint64_t)sb.st_size;
		snprintf(name, sizeof name, "uploads/%s", de->d_name);
		report(g, "upload", NULL, name, (uint64_t)sb.st_size);
	}
	return work;
}

/* Blob files no repository holds (STORE_FOR_GC keeps them at open). */
static size_t gc_orphans(struct store *st, struct store_gc *g, size_t budget)
{
	size_t work = 0;
	const char *k;
	void *v;

	while (work < budget) {
		struct store_blob *b;
		char digest[DIGEST_STR_MAX], rel[STORE_REL_MAX];
		uint64_t size;
		if (!map_next(&st->blobs, &g->pos, &k, &v)) {
			g->phase = GC_DONE;
			break;
		}
		work++;
		b = v;
		if (b->nrepos)
			continue;
		work += GC_FILE_OP;
		size = b->size;
		snprintf(digest, sizeof digest, "%s", k);
		/* a record of a blob in place: the record goes, never its source */
		store_file_rel(rel, b, digest);
		if (!g->o.dry_run) {
			if (unlinkat(st->rootfd, rel, 0) < 0 && errno != ENOENT) {
				log_warn_limited("gc: remove %s/%s", st->root, rel);
				continue;
			}
			store_source_release(st, b);
			free(map_del(&st->blobs, digest));
		}
		g->s.blobs++;
		g->s.bytes += size;
		report(g, "orphan", NULL, digest, size);
	}
	return work;
}

/* ---- the collection ---- */

static void gc_free(struct store *st)
{
	struct store_gc *g = st->gc;
	if (!g)
		return;
	if (g->uploads)
		closedir(g->uploads);
	map_free(&g->marked);
	map_free(&g->doomed);
	map_free(&g->dry_links);
	free(g);
	st->gc = NULL;
}

int store_gc_start(struct store *st, const struct store_gc_options *o, int64_t now_ms)
{
	struct store_gc *g;

	if (st->gc) {
		errno = EBUSY;
		return -1;
	}
	if (st->read_only && !o->dry_run) {
		errno = EROFS;
		return -1;
	}
	g = calloc(1, sizeof *g);
	if (!g)
		return -1;
	g->o = *o;
	g->phase = GC_NEXT_REPO;
	g->now = now_ms;
	map_init(&g->marked);
	map_init(&g->doomed);
	map_init(&g->dry_links);
	st->gc = g;
	st->gc_last = g->s;
	return 0;
}

int store_gc_step(struct store *st, int64_t now_ms)
{
	struct store_gc *g = st->gc;
	size_t work = 0;

	if (!g)
		return 0;
	store_clock(st, now_ms);
	g->now = now_ms;
	while (work < GC_STEP_WORK && g->phase != GC_DONE) {
		size_t left = GC_STEP_WORK - work;
		switch (g->phase) {
		case GC_NEXT_REPO:
			next_repo(st, g);
			work++;
			break;
		case GC_UNTAGGED:
			work += gc_untagged(st, g);
			g->phase = g->r_keep_all ? GC_NEXT_REPO : GC_MARK;
			g->pos = 0;
			g->moves = g->r->manifests.moves;
			break;
		case GC_MARK:
			work += gc_mark(g, left);
			break;
		case GC_SWEEP:
			work += gc_sweep(st, g, left);
			break;
		case GC_UPLOADS:
			work += gc_uploads(st, g, left);
			g->pos = 0;
			break;
		case GC_ORPHANS:
			work += gc_orphans(st, g, left);
			break;
		case GC_DONE:
			break;
		}
	}
	g->s.steps++;
	if (work > g->s.max_step_work)
		g->s.max_step_work = work;
	st->gc_last = g->s;
	if (g->phase != GC_DONE)
		return 1;
	gc_free(st);
	return 0;
}

int store_gc_running(const struct store *st)
{
	return st->gc != NULL;
}

const struct store_gc_stats *store_gc_stats(const struct store *st)
{
	return &st->gc_last;
}

void store_gc_describe(const struct store_gc_stats *s, int dry_run, char *out, size_t cap)
{
	snprintf(out, cap,
		 "%s %llu blob%s (%llu bytes) from %llu repositor%s (%llu link%s), %llu untagged "
		 "manifest%s, %llu upload leftover%s (%llu bytes)",
		 dry_run ? "would remove" : "removed", (unsigned long long)s->blobs,
		 s->blobs == 1 ? "" : "s", (unsigned long long)s->bytes, (unsigned long long)s->repos,
		 s->repos == 1 ? "y" : "ies", (unsigned long long)s->links, s->links == 1 ? "" : "s",
		 (unsigned long long)s->manifests, s->manifests == 1 ? "" : "s",
		 (unsigned long long)s->uploads, s->uploads == 1 ? "" : "s",
		 (unsigned long long)s->upload_bytes);
}

void store_gc_free(struct store *st)
{
	gc_free(st);
}
