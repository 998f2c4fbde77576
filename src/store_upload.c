/* store_upload.c - upload sessions: start, claim and release, append and
 * hash, commit (verify, then publish through the index), cancel and expire,
 * bounded in total and per owner; and the publishing of the temporary files
 * imports fill (in uploads/, lent to their sources as a tmpdir).
 * Both live under ROOT/uploads/, which start-up clears. */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hex.h"
#include "log.h"

/* ---- imports' temporary files ---- */

const struct tmpdir *store_tmpdir(const struct store *st)
{
	return &st->imports;
}

int store_blob_commit_tmp(struct store *st, const char *repo, const struct tmpdir *td,
			  const char *name, const char *digest, uint64_t size)
{
	struct store_repo *r = store_repo_open(st, repo);
	if (!r) {
		int e = errno;
		tmpdir_remove(td, name);
		errno = e;
		return -1;
	}
	return store_blob_commit(st, r, td->fd, name, -1, digest, size);
}

/* ---- uploads ---- */

void store_set_limits(struct store *st, const struct store_limits *lim)
{
	st->lim.max_uploads = lim && lim->max_uploads ? lim->max_uploads : STORE_MAX_UPLOADS_DEFAULT;
	st->lim.max_uploads_per_owner = lim && lim->max_uploads_per_owner
						? lim->max_uploads_per_owner
						: STORE_MAX_UPLOADS_PER_OWNER_DEFAULT;
}

static void upload_rel(char out[STORE_REL_MAX], const struct store_upload *up)
{
	snprintf(out, STORE_REL_MAX, "uploads/%s", up->id);
}

/* The owner's session count, created at 0 when absent (NULL: no memory). */
static unsigned *owner_count(struct store *st, const char *owner)
{
	unsigned *n = map_get(&st->owners, owner);
	if (n)
		return n;
	n = calloc(1, sizeof *n);
	if (!n || map_put(&st->owners, owner, n) < 0) {
		free(n);
		return NULL;
	}
	return n;
}

struct store_upload *store_upload_start(struct store *st, const char *repo, const char *owner,
					int64_t now_ms)
{
	struct store_upload *up;
	unsigned *count;
	char rel[STORE_REL_MAX];
	int fd;

	if (!owner)
		owner = "";
	count = map_get(&st->owners, owner);
	if (map_len(&st->uploads) >= st->lim.max_uploads ||
	    (count && *count >= st->lim.max_uploads_per_owner)) {
		errno = EAGAIN;
		return NULL;
	}
	up = calloc(1, sizeof *up);
	if (!up)
		return NULL;
	hex_random128(up->id); /* a session id no other client can guess */
	snprintf(up->repo, sizeof up->repo, "%s", repo);
	snprintf(up->owner, sizeof up->owner, "%s", owner);
	up->fd = -1;
	upload_rel(rel, up);
	fd = openat(st->rootfd, rel, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		free(up);
		return NULL;
	}
	close(fd);
	hasher_init(&up->h, DIGEST_SHA256);
	up->touched = now_ms;
	if (!(count = owner_count(st, up->owner)) || map_put(&st->uploads, up->id, up) < 0) {
		unlinkat(st->rootfd, rel, 0);
		if (count && *count == 0)
			free(map_del(&st->owners, up->owner));
		free(up);
		errno = ENOMEM;
		return NULL;
	}
	(*count)++;
	return up;
}

struct store_upload *store_upload_get(const struct store *st, const char *id)
{
	return map_get(&st->uploads, id);
}

/* Open the file and remember where the session stands (claim, untimed). */
static int upload_open(struct store *st, struct store_upload *up)
{
	char rel[STORE_REL_MAX];
	if (up->fd >= 0) {
		errno = EBUSY;
		return -1;
	}
	upload_rel(rel, up);
	up->fd = openat(st->rootfd, rel, O_RDWR | O_CLOEXEC);
	if (up->fd < 0)
		return -1;
	up->claim_size = up->size;
	up->claim_h = up->h;
	return 0;
}

int store_upload_claim(struct store *st, struct store_upload *up, int64_t now_ms)
{
	if (upload_open(st, up) < 0)
		return -1;
	up->touched = now_ms;
	return 0;
}

void store_upload_release(struct store *st, struct store_upload *up)
{
	(void)st;
	if (up->fd >= 0)
		close(up->fd);
	up->fd = -1;
}

/* Append at the session's size: the file offset is no state of ours, so a
 * reopened file, or one a failed write left longer, never shifts the bytes. */
int store_upload_write(struct store *st, struct store_upload *up, const void *data, size_t n,
		       int64_t now_ms)
{
	if (up->fd < 0 && store_upload_claim(st, up, now_ms) < 0)
		return -1;
	if (file_pwrite_all(up->fd, data, n, up->size) < 0) {
		int e = errno;
		/* back to the claim: a client resuming from the Range we
		 * report then appends where the hashed bytes end */
		up->size = up->claim_size;
		up->h = up->claim_h;
		if (ftruncate(up->fd, (off_t)up->size) < 0)
			log_warn_limited("upload %s: truncate after a failed write", up->id);
		errno = e;
		return -1;
	}
	hasher_update(&up->h, data, n);
	up->size += n;
	up->touched = now_ms;
	return 0;
}

static void upload_free(struct store *st, struct store_upload *up, int remove_file)
{
	char rel[STORE_REL_MAX];
	unsigned *count = map_get(&st->owners, up->owner);
	upload_rel(rel, up);
	if (remove_file)
		unlinkat(st->rootfd, rel, 0);
	store_upload_release(st, up);
	if (count && --*count == 0)
		free(map_del(&st->owners, up->owner));
	map_del(&st->uploads, up->id);
	free(up);
}

void store_upload_cancel(struct store *st, struct store_upload *up)
{
	upload_free(st, up, 1);
}

/* The file must hold exactly the bytes hashed: longer (a failed write whose
 * truncate failed too) is cut back, anything else refuses the commit. */
static int upload_check_size(struct store_upload *up)
{
	struct stat sb;
	if (fstat(up->fd, &sb) < 0)
		return -1;
	if ((uint64_t)sb.st_size > up->size &&
	    (ftruncate(up->fd, (off_t)up->size) < 0 || fstat(up->fd, &sb) < 0))
		return -1;
	if ((uint64_t)sb.st_size != up->size) {
		log_warnx_limited("upload %s: file holds %lld bytes, %llu were hashed", up->id,
				  (long long)sb.st_size, (unsigned long long)up->size);
		errno = EIO;
		return -1;
	}
	return 0;
}

int store_upload_commit(struct store *st, struct store_upload *up, const char *digest)
{
	char got[DIGEST_STR_MAX], rel[STORE_REL_MAX];
	enum digest_alg alg;
	struct store_repo *r;
	int rc;

	/* claimed without a time: the session ends here either way */
	if (up->fd < 0 && upload_open(st, up) < 0)
		goto fail;
	if (upload_check_size(up) < 0)
		goto fail;
	digest_parse(digest, strlen(digest), &alg);
	if (alg == DIGEST_SHA256)
		hasher_final(&up->h, got);
	else if (file_hash_range(up->fd, 0, up->size, alg, got) < 0) /* sha512 pushes */
		goto fail;
	if (strcmp(got, digest) != 0) {
		store_upload_cancel(st, up);
		return STORE_DIGEST_MISMATCH;
	}
	r = store_repo_open(st, up->repo);
	if (!r)
		goto fail;
	upload_rel(rel, up);
	rc = store_blob_commit(st, r, st->rootfd, rel, up->fd, digest, up->size);
	upload_free(st, up, rc < 0);
	return rc;
fail:
	rc = errno;
	store_upload_cancel(st, up);
	errno = rc;
	return -1;
}

void store_upload_expire(struct store *st, int64_t now_ms, int64_t max_idle_ms)
{
	size_t pos = 0;
	const char *k;
	void *v;
	while (map_next(&st->uploads, &pos, &k, &v)) {
		struct store_upload *up = v;
		if (up->fd < 0 && now_ms - up->touched > max_idle_ms) {
			log_info("upload %s to %s expired after %lld s idle", up->id, up->repo,
				 (long long)(max_idle_ms / 1000));
			store_upload_cancel(st, up);
		}
	}
}

void store_uploads_free(struct store *st)
{
	size_t pos = 0;
	const char *k;
	void *v;
	while (map_next(&st->uploads, &pos, &k, &v)) {
		struct store_upload *up = v;
		store_upload_release(st, up);
		free(up);
	}
	map_free(&st->uploads);
	pos = 0;
	while (map_next(&st->owners, &pos, &k, &v))
		free(v);
	map_free(&st->owners);
}
