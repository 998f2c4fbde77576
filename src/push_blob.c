/* push_blob.c - blobs into a registry: verify, compress, HEAD, mount, PUT
 * or PATCH with resume, on a worker pool (drawn in push_blob.h). */
#include "push_blob.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gzip.h"
#include "file.h"
#include "log.h"

#define BLOB_ATTEMPTS 5

#define CLAIMED_SCRATCH ((size_t)256 << 10)

static const char *const state_names[] = { "waiting", "compressing", "checking", "uploading",
					    "exists", "mounted", "pushed", "failed" };

const char *push_blob_state_name(int state)
{
	if (state < 0 || (size_t)state >= sizeof state_names / sizeof *state_names)
		return "?";
	return state_names[state];
}

static void set_state(struct push_blob_job *j, enum push_blob_state s)
{
	__atomic_store_n(&j->state, (int)s, __ATOMIC_RELAXED);
}

/* Open a blob's bytes: a scratch file, or the source tar in place. */
static int blob_open(const struct push_blobs *pb, const struct image_blob *b, uint64_t *off)
{
	if (b->off >= 0) {
		*off = (uint64_t)b->off;
		return fcntl(pb->src->tarfd, F_DUPFD_CLOEXEC, 0);
	}
	*off = 0;
	return tmpdir_open(pb->scratch, b->tmp);
}

static void on_progress(void *ctx, uint64_t sent)
{
	struct push_blob_job *j = ctx;
	__atomic_store_n(&j->done, j->base + sent, __ATOMIC_RELAXED);
}

/* ---- the hash a push_blob_reader keeps (this file's and regsrc.c's) ---- */

void push_blob_hash_start(struct push_blob_hash *h, const char *d)
{
	enum digest_alg alg = DIGEST_SHA256;
	memset(h, 0, sizeof *h);
	digest_parse(d, strlen(d), &alg);
	hasher_init(&h->hs, alg);
}

int push_blob_hash_at(struct push_blob_hash *h, const struct image_blob *b, const void *buf,
		      size_t n, uint64_t pos, char got[DIGEST_STR_MAX])
{
	if (pos > h->hashed || pos + n <= h->hashed)
		return 0;
	hasher_update(&h->hs, (const char *)buf + (h->hashed - pos),
		      (size_t)(pos + n - h->hashed));
	h->hashed = pos + n;
	if (h->hashed < b->size || h->verified)
		return 0;
	hasher_final(&h->hs, got);
	if (strcmp(got, b->digest) != 0)
		return -1;
	h->verified = 1;
	return 0;
}

/* ---- a file blob whose digest is only claimed: hashed while it is sent ----
 *
 * An archive's member read in place has the digest its name, descriptor or
 * diff_id claims.  Its bytes are hashed as the request body takes them, each
 * byte once however often it is sent again (a retry, a resumed PATCH), and
 * compared when the last one is read: bytes that are not the digest never
 * give up their last byte (the PUT never completes; a chunked upload never
 * gets its closing PUT, and its session is cancelled), so the registry
 * commits nothing, and the layer is read once, not hashed first and sent
 * after.  The same contract as a push_blob_reader (copy's streams). */
struct claimed {
	const struct push_blobs *pb;
	const struct image_blob *b;
	int fd;
	uint64_t base;            /* the blob is fd's [base, base + size) */
	struct push_blob_hash h;
	int bad;
	char err[512];
};

static void claimed_init(struct claimed *c, const struct push_blobs *pb, const struct image_blob *b,
			 int fd, uint64_t base)
{
	memset(c, 0, sizeof *c);
	c->pb = pb;
	c->b = b;
	c->fd = fd;
	c->base = base;
	push_blob_hash_start(&c->h, b->digest);
}

/* push_blob_hash_at; -1 (c->bad) when the bytes are not the digest. */
static int claimed_hash(struct claimed *c, const char *buf, size_t n, uint64_t pos)
{
	char got[DIGEST_STR_MAX];
	if (push_blob_hash_at(&c->h, c->b, buf, n, pos, got) < 0) {
		log_fail(c->err, sizeof c->err, "%s: a layer the archive calls %s is %s; nothing of it "
			 "was committed", c->pb->src->what, c->b->digest, got);
		c->bad = 1;
		return -1;
	}
	return 0;
}

static long claimed_pread(struct claimed *c, void *buf, size_t n, uint64_t pos)
{
	if (file_pread_all(c->fd, buf, n, c->base + pos) < 0) {
		log_fail(c->err, sizeof c->err, "read %s: %s", c->b->digest,
			 errno == ENODATA ? "short read" : strerror(errno));
		c->bad = 1;
		return -1;
	}
	return (long)n;
}

/* Hash the bytes before pos that were never read (a server that says it
 * holds more than was hashed), with buf[n] as scratch. */
static int claimed_catch_up(struct claimed *c, void *buf, size_t n, uint64_t pos)
{
	while (c->h.hashed < pos) {
		uint64_t want = pos - c->h.hashed;
		long r = claimed_pread(c, buf, want < n ? (size_t)want : n, c->h.hashed);
		if (r < 0 || claimed_hash(c, buf, (size_t)r, c->h.hashed) < 0)
			return -1;
	}
	return 0;
}

static long claimed_read_at(void *ctx, void *buf, size_t n, uint64_t pos)
{
	struct claimed *c = ctx;
	long r;
	if (c->bad || pos >= c->b->size || !n)
		return -1;
	if ((uint64_t)n > c->b->size - pos)
		n = (size_t)(c->b->size - pos);
	if (claimed_catch_up(c, buf, n, pos) < 0)
		return -1;
	r = claimed_pread(c, buf, n, pos);
	if (r < 0 || claimed_hash(c, buf, (size_t)r, pos) < 0)
		return -1; /* the last byte stays here */
	return r;
}

static int claimed_failed(void *ctx, char *err, size_t cap)
{
	struct claimed *c = ctx;
	if (c->bad)
		snprintf(err, cap, "%s", c->err);
	return c->bad ? -1 : 0;
}

static int claimed_verify(void *ctx, char *err, size_t cap)
{
	struct claimed *c = ctx;
	char *scratch;
	if (!c->h.verified && !c->bad) {
		if (!(scratch = malloc(CLAIMED_SCRATCH)))
			return log_fail(err, cap, "out of memory");
		claimed_catch_up(c, scratch, CLAIMED_SCRATCH, c->b->size);
		free(scratch);
	}
	if (c->h.verified)
		return 0;
	snprintf(err, cap, "%s", c->bad ? c->err : "the blob was not read to its end");
	return -1;
}

static const struct push_blob_reader claimed_ops = {
	.read_at = claimed_read_at, .failed = claimed_failed, .verify = claimed_verify,
};

/* Compress layer b into a new scratch file; b then describes the gzip. */
static int compress_layer(struct push_blobs *pb, struct image_blob *b, char *err, size_t cap)
{
	char rel[TMPDIR_NAME_MAX], why[256], got[DIGEST_STR_MAX], digest[DIGEST_STR_MAX];
	uint64_t off, size;
	int ifd = blob_open(pb, b, &off);
	int ofd = tmpdir_create(pb->scratch, rel);
	int rc = -1;
	struct hasher in; /* the input, when its digest is only claimed */

	if (ifd < 0 || ofd < 0) {
		log_fail(err, cap, "compress %s: %s", b->digest, strerror(errno));
		goto out;
	}
	hasher_init(&in, DIGEST_SHA256);
	if (gzip_copy(ifd, off, b->size, ofd, pb->gzip_level, b->unverified ? &in : NULL, digest, &size,
		      why, sizeof why) < 0) {
		log_fail(err, cap, "compress %s: %s", b->digest, why);
		goto out;
	}
	if (b->unverified) {
		hasher_final(&in, got);
		if (strcmp(got, b->digest) != 0) {
			log_fail(err, cap, "%s: a layer the archive calls %s is %s", pb->src->what,
				 b->digest, got);
			goto out;
		}
		b->unverified = 0;
	}
	if (b->tmp[0])
		tmpdir_remove(pb->scratch, b->tmp);
	snprintf(b->tmp, sizeof b->tmp, "%s", rel);
	b->off = -1;
	snprintf(b->digest, sizeof b->digest, "%s", digest);
	b->size = size;
	b->gzipped = 1;
	snprintf(b->media_type, sizeof b->media_type, "%s",
		 pb->format == IMAGE_FORMAT_DOCKER ? "application/vnd.docker.image.rootfs.diff.tar.gzip"
						   : "application/vnd.oci.image.layer.v1.tar+gzip");
	rc = 0;
out:
	if (rc < 0 && ofd >= 0)
		tmpdir_remove(pb->scratch, rel);
	if (ifd >= 0)
		close(ifd);
	if (ofd >= 0)
		close(ofd);
	return rc;
}
/* ---- one blob ---- */

static void backoff_ms(long ms)
{
	usleep((useconds_t)(ms > 5000 ? 5000 : ms) * 1000);
}

void push_blob_scope(const struct ref *ref, const char *mount_from, char *out, size_t cap)
{
	if (mount_from)
		snprintf(out, cap, "repository:%s:pull,push repository:%s:pull", ref->repo, mount_from);
	else
		snprintf(out, cap, "repository:%s:pull,push", ref->repo);
}

/* Location + "digest=" with the right separator.  0, or -1 with err. */
static int with_digest(const struct client *cl, const char *loc, const char *digest, char *out,
		       size_t cap, char *err, size_t ecap)
{
	char abs[URL_MAX];
	int n;
	if (client_abs_url(cl, loc, abs, sizeof abs, err, ecap) < 0)
		return -1;
	n = snprintf(out, cap, "%s%sdigest=%s", abs, strchr(abs, '?') ? "&" : "?", digest);
	if (n < 0 || (size_t)n >= cap)
		return log_fail(err, ecap, "%s gave an upload URL that is too long", cl->host);
	return 0;
}

static int blob_error(const struct push_blobs *pb, const struct image_blob *b, const char *what,
		      const struct client_resp *r, char *err, size_t cap)
{
	char d[600];
	client_describe(r, d, sizeof d);
	return log_fail(err, cap, "blob %s to %s/%s: %s: %s", b->digest, pb->ref->host, pb->ref->repo,
		    what, d);
}

/* err (a failed request) prefixed with the blob and the target. */
static void blob_context(const struct push_blobs *pb, const struct image_blob *b, char *err, size_t cap)
{
	char last[800]; /* err is both the format's argument and its output */
	snprintf(last, sizeof last, "%s", err);
	log_fail(err, cap, "blob %s to %s/%s: %s", b->digest, pb->ref->host, pb->ref->repo, last);
}

/* Where one blob's bytes come from: a reader that hashes them on the way
 * (copy's stream, or a claimed file), else fd (a blob already verified). */
struct feed {
	const struct push_blob_reader *ops; /* NULL: fd */
	void *rd;
	int fd;
	uint64_t base;            /* where the blob starts in fd */
};

/* The bytes [off, off + n) of the blob as a request body. */
static void body_of(struct client_body *body, const struct feed *f, uint64_t off, uint64_t n,
		    struct push_blob_job *j)
{
	memset(body, 0, sizeof *body);
	body->fd = f->ops ? -1 : f->fd;
	body->off = f->ops ? off : f->base + off;
	body->len = n;
	if (f->ops) {
		body->read_at = f->ops->read_at;
		body->read_ctx = f->rd;
	}
	body->progress = on_progress;
	body->progress_ctx = j;
}

/* A request that failed while the reader fed it: may it be tried again?
 * 0 yes; -1 no, with the reader's reason in err. */
static int reader_says(const struct feed *f, char *err, size_t cap)
{
	return f->ops ? f->ops->failed(f->rd, err, cap) : 0;
}

/* Drop an upload session that must not be committed (best effort). */
static void cancel_upload(struct push_blobs *pb, CURL *h, const char *loc, const char *scope)
{
	char url[URL_MAX], e[256];
	struct client_resp r;
	if (client_abs_url(pb->cl, loc, url, sizeof url, e, sizeof e) < 0)
		return;
	client_resp_init(&r);
	client_request(pb->cl, h, "DELETE", url, scope, NULL, NULL, 0, &r, e, sizeof e);
	client_resp_free(&r);
}

/* After a PUT or PATCH of b that failed: 1 when its upload gives up for good
 * (the deadline passed; the source failed, and the session is cancelled; a
 * second stall, which is the registry, not a glitch), err saying why; else 0,
 * to retry. */
static int gives_up(struct push_blobs *pb, CURL *h, const struct image_blob *b,
		    const struct feed *f, const char *loc, const char *scope,
		    const struct client_resp *r, int *stalls, char *err, size_t cap)
{
	if (client_expired(pb->cl))
		return 1;
	if (reader_says(f, err, cap) < 0) {
		cancel_upload(pb, h, loc, scope);
		return 1;
	}
	if (r->stalled && ++*stalls >= 2) {
		blob_context(pb, b, err, cap);
		return 1;
	}
	return 0;
}

/* Upload (or find) one blob.  0, or -1 with err.  rd: the worker's reader
 * (for blobs in no file), or NULL. */
static int one_blob(struct push_blobs *pb, CURL *h, void *rd, struct push_blob_job *j, char *err,
		    size_t cap)
{
	struct image_blob *b = j->blob;
	char scope[800], path[1024], loc[2048], url[URL_MAX + 100];
	struct client_resp r;
	struct claimed claim;
	struct feed f = { NULL, NULL, -1, 0 };
	int rc = -1, stalls = 0;

	push_blob_scope(pb->ref, pb->mount_from, scope, sizeof scope);
	client_resp_init(&r);
	if (pb->gzip_level && !b->is_config && !b->gzipped) {
		/* compressed once, here in the worker, so layers compress in parallel */
		set_state(j, PUSH_BLOB_COMPRESS);
		if (compress_layer(pb, b, err, cap) < 0)
			goto out;
	}
	set_state(j, PUSH_BLOB_CHECK);
	snprintf(path, sizeof path, "/v2/%s/blobs/%s", pb->ref->repo, b->digest);
	if (client_request(pb->cl, h, "HEAD", path, scope, NULL, NULL, 1, &r, err, cap) < 0)
		goto out;
	if (r.status != 200 && r.status != 404) {
		blob_error(pb, b, "check (HEAD)", &r, err, cap);
		goto out;
	}
	if (r.status == 200) {
		set_state(j, PUSH_BLOB_EXISTS);
		__atomic_store_n(&j->done, b->size, __ATOMIC_RELAXED);
		rc = 0;
		goto out;
	}
	if (b->off < 0 && !b->tmp[0] && pb->reader) {
		f.ops = pb->reader;
		f.rd = rd;
		f.ops->start(rd, b);
	} else {
		f.fd = blob_open(pb, b, &f.base);
		if (f.fd < 0) {
			log_fail(err, cap, "blob %s: %s", b->digest, strerror(errno));
			goto out;
		}
		if (b->unverified) {
			/* hashed on the way (one read of the layer, not two) */
			claimed_init(&claim, pb, b, f.fd, f.base);
			f.ops = &claimed_ops;
			f.rd = &claim;
		}
	}
	if (f.ops && b->size == 0) {
		/* no byte to hash on the way, none to withhold: compare now */
		enum digest_alg alg = DIGEST_SHA256;
		char got[DIGEST_STR_MAX];
		digest_parse(b->digest, strlen(b->digest), &alg);
		digest_of(alg, "", 0, got);
		if (strcmp(got, b->digest) != 0) {
			log_fail(err, cap, "blob %s: it is empty, and the empty blob is %s", b->digest, got);
			goto out;
		}
	}
	for (int attempt = 0; attempt < BLOB_ATTEMPTS; attempt++) {
		uint64_t off = 0;
		/* start: a mount, or an upload session */
		if (pb->mount_from)
			snprintf(path, sizeof path, "/v2/%s/blobs/uploads/?mount=%s&from=%s", pb->ref->repo,
				 b->digest, pb->mount_from);
		else
			snprintf(path, sizeof path, "/v2/%s/blobs/uploads/", pb->ref->repo);
		if (client_request(pb->cl, h, "POST", path, scope, NULL, NULL, 1, &r, err, cap) < 0)
			goto out;
		if (r.status == 201 && pb->mount_from) {
			set_state(j, PUSH_BLOB_MOUNTED);
			__atomic_store_n(&j->done, b->size, __ATOMIC_RELAXED);
			rc = 0;
			goto out;
		}
		if (r.status != 202 || !r.location[0]) {
			blob_error(pb, b, "start upload", &r, err, cap);
			goto out;
		}
		snprintf(loc, sizeof loc, "%s", r.location);
		set_state(j, PUSH_BLOB_UPLOAD);
		j->base = 0;
		if (b->size <= pb->chunk) {
			struct client_body body;
			body_of(&body, &f, 0, b->size, j);
			if (with_digest(pb->cl, loc, b->digest, url, sizeof url, err, cap) < 0)
				goto out;
			if (client_request(pb->cl, h, "PUT", url, scope, "application/octet-stream", &body, 0,
					   &r, err, cap) < 0) {
				if (gives_up(pb, h, b, &f, loc, scope, &r, &stalls, err, cap))
					goto out;
				log_debug("%s", err);
				continue; /* a new session */
			}
			if (r.status == 201) {
				set_state(j, PUSH_BLOB_DONE);
				rc = 0;
				goto out;
			}
			if (r.status >= 500 || r.status == 429) {
				blob_error(pb, b, "upload", &r, err, cap);
				backoff_ms(r.retry_after > 0 ? r.retry_after * 1000 : 200L << attempt);
				continue;
			}
			blob_error(pb, b, "upload", &r, err, cap);
			goto out;
		}
		/* chunked: PATCH with Content-Range; on trouble ask where we are */
		for (int misses = 0; off < b->size && misses < BLOB_ATTEMPTS;) {
			uint64_t n = b->size - off < pb->chunk ? b->size - off : pb->chunk;
			char cr[80];
			struct client_body body;
			struct client_resp s;
			const char *dash;
			int sent;

			body_of(&body, &f, off, n, j);
			j->base = off;
			snprintf(cr, sizeof cr, "%llu-%llu", (unsigned long long)off,
				 (unsigned long long)(off + n - 1));
			body.content_range = cr;
			if (client_abs_url(pb->cl, loc, url, sizeof url, err, cap) < 0)
				goto out;
			sent = client_request(pb->cl, h, "PATCH", url, scope, "application/octet-stream",
					      &body, 0, &r, err, cap);
			if (sent == 0 && r.status == 202) {
				if (r.location[0])
					snprintf(loc, sizeof loc, "%s", r.location);
				off += n;
				continue;
			}
			if (sent == 0) /* the last answer, for the line if it is the last */
				blob_error(pb, b, "upload", &r, err, cap);
			if (gives_up(pb, h, b, &f, loc, scope, &r, &stalls, err, cap))
				goto out;
			misses++;
			/* resume from what the server holds ("0-E": E+1 bytes) */
			client_resp_init(&s);
			if (client_request(pb->cl, h, "GET", url, scope, NULL, NULL, 1, &s, err, cap) < 0 ||
			    s.status != 204) {
				client_resp_free(&s);
				break; /* the session is gone: start a new one */
			}
			if (s.location[0])
				snprintf(loc, sizeof loc, "%s", s.location);
			dash = strchr(s.range, '-');
			off = dash && strtoull(dash + 1, NULL, 10) > 0 ? strtoull(dash + 1, NULL, 10) + 1 : 0;
			client_resp_free(&s);
			log_debug("blob %s: resuming at byte %llu", b->digest, (unsigned long long)off);
			backoff_ms(200 << misses);
		}
		if (client_expired(pb->cl))
			goto out;
		if (off < b->size)
			continue;
		/* the closing PUT commits: only bytes that hash to the digest */
		if (f.ops && f.ops->verify(f.rd, err, cap) < 0) {
			cancel_upload(pb, h, loc, scope);
			goto out;
		}
		if (with_digest(pb->cl, loc, b->digest, url, sizeof url, err, cap) < 0)
			goto out;
		if (client_request(pb->cl, h, "PUT", url, scope, NULL, NULL, 1, &r, err, cap) < 0)
			goto out;
		if (r.status == 201) {
			set_state(j, PUSH_BLOB_DONE);
			rc = 0;
			goto out;
		}
		blob_error(pb, b, "finish upload", &r, err, cap);
		goto out;
	}
	if (!err[0]) {
		log_fail(err, cap, "blob %s to %s/%s: gave up after %d attempts", b->digest, pb->ref->host,
			 pb->ref->repo, BLOB_ATTEMPTS);
	} else {
		char last[800]; /* err is both the format's argument and its output */
		snprintf(last, sizeof last, "%s", err);
		log_fail(err, cap, "%s (gave up after %d attempts)", last, BLOB_ATTEMPTS);
	}
out:
	if (rc < 0)
		set_state(j, PUSH_BLOB_FAILED);
	else if (f.ops == &claimed_ops && claim.h.verified)
		b->unverified = 0;
	if (f.fd >= 0)
		close(f.fd);
	client_resp_free(&r);
	return rc;
}

/* ---- the pool ---- */

static void *worker(void *arg)
{
	struct push_blobs *pb = arg;
	CURL *h = client_handle(pb->cl);
	void *rd = pb->reader ? pb->reader->open(pb->reader->ctx) : NULL;
	char err[1024];

	for (;;) {
		struct push_blob_job *j;
		pthread_mutex_lock(&pb->lock);
		j = !pb->failed && pb->next < pb->end ? &pb->jobs[pb->next++] : NULL;
		pthread_mutex_unlock(&pb->lock);
		if (!j)
			break;
		err[0] = '\0';
		if (!h || (pb->reader && !rd) || one_blob(pb, h, rd, j, err, sizeof err) < 0) {
			pthread_mutex_lock(&pb->lock);
			if (!pb->failed) {
				pb->failed = 1;
				snprintf(pb->err, sizeof pb->err, "%s",
					 !h || (pb->reader && !rd) ? "cannot start libcurl" : err);
			}
			pthread_mutex_unlock(&pb->lock);
			break;
		}
	}
	if (rd)
		pb->reader->close(rd);
	if (h)
		curl_easy_cleanup(h);
	return NULL;
}

int push_blob_run(struct push_blobs *pb, size_t from, size_t to, char *err, size_t cap)
{
	pthread_t tids[PUSH_BLOB_THREADS_MAX];
	int n = pb->threads;

	if (n < 1 || n > PUSH_BLOB_THREADS_MAX)
		return log_fail(err, cap, "%d upload threads: 1 to %d", n, PUSH_BLOB_THREADS_MAX);
	pthread_mutex_init(&pb->lock, NULL);
	pb->next = from;
	pb->end = to;
	pb->failed = 0;
	pb->err[0] = '\0';
	if ((size_t)n > to - from)
		n = (int)(to - from);
	for (int i = 0; i < n; i++)
		if (pthread_create(&tids[i], NULL, worker, pb) != 0) {
			n = i;
			pthread_mutex_lock(&pb->lock);
			if (!pb->failed) {
				pb->failed = 1;
				snprintf(pb->err, sizeof pb->err, "cannot start a thread");
			}
			pthread_mutex_unlock(&pb->lock);
			break;
		}
	for (int i = 0; i < n; i++)
		pthread_join(tids[i], NULL);
	pthread_mutex_destroy(&pb->lock);
	if (pb->failed)
		return log_fail(err, cap, "%s", pb->err);
	return 0;
}
