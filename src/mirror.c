/* mirror.c - the pull-through mirror: jobs, workers, waiters (mirror.h). */
#include "mirror.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "client.h"
#include "clock.h"
#include "digest.h"
#include "file.h"
#include "http.h"
#include "log.h"
#include "manifest.h"
#include "map.h"
#include "router.h"
#include "store.h"
#include "tmpdir.h"

#define READ_CHUNK ((size_t)256 << 10)  /* a worker's read buffer; and how
					 * often it tells the loop of progress */
#define REF_STR_MAX (DIGEST_STR_MAX > REF_TAG_MAX + 1 ? DIGEST_STR_MAX : REF_TAG_MAX + 1)
#define KEY_MAX (2 + REF_NAME_MAX + 1 + REF_STR_MAX)
#define RANGE_MAX 128
#define ACCEPT_MAX 4096
#define STOP_WAIT_MS 2000

/* JOB_BLOB_HEAD: a HEAD of a blob, answered from an upstream HEAD */
enum job_kind { JOB_MANIFEST, JOB_BLOB, JOB_BLOB_HEAD };
/* FETCH_GET: a blob HEAD the upstream answered without a length (a redirect
 * to a CDN, whose signed URLs are for GET): the GET answers it */
enum fetch {
	FETCH_OK, FETCH_SAME, FETCH_NOT_FOUND, FETCH_FAIL, FETCH_TIMEOUT, FETCH_TOO_BIG, FETCH_BAD,
	FETCH_GET
};

struct mirror_wait {
	struct mirror_job *j;
	struct conn *c;               /* NULL once let go */
	struct mirror_wait **slot;    /* the caller's pointer to us */
	struct mirror_wait *next;
	int held;                     /* c is held (conn_hold) */
	int answered;                 /* blob: the head went out; c follows the file */
	char *accept;                 /* manifest: the request's Accept */
	size_t alen;
	char range[RANGE_MAX];        /* blob: the request's Range, "" for none */
};

struct mirror_job {
	enum job_kind kind;
	char key[KEY_MAX];
	int up;
	char name[REF_NAME_MAX + 1];       /* upstream */
	char store_name[REF_NAME_MAX + 1];
	char ref[REF_STR_MAX];             /* a tag or a digest */
	int by_digest;
	char held[DIGEST_STR_MAX];         /* manifest: what the store has under the tag */
	int64_t deadline_ms;               /* CLOCK_MONOTONIC */
	/* worker -> loop: head, written and done are atomics; the rest is
	 * published by them (head: size; done: everything) */
	int head;
	uint64_t size;
	uint64_t written;
	int done;
	enum fetch res;
	char err[768];
	char *body;                        /* manifest bytes (malloc'd) */
	size_t len;
	char digest[DIGEST_STR_MAX];
	char ctype[256];
	char tmpname[TMPDIR_NAME_MAX];     /* blob: its file in uploads/, "" if none */
	/* the loop's */
	int announced;                     /* blob: waiters got the head */
	struct mirror_wait *waiters;
	struct mirror_job *next;           /* the loop's list of jobs */
	struct mirror_job *qnext;          /* the queue (under the lock) */
};

struct worker_client {
	struct client cl;
	CURL *h;                           /* NULL: not open */
	struct client_stream *s;
};

struct worker {
	struct mirror *m;
	pthread_t tid;
	int started;
	int busy;                          /* atomic: inside a job */
	char *buf;
	struct worker_client wc[MIRROR_MAX_UPSTREAMS];
};

struct mirror {
	struct mirror_options o;
	struct store *st;
	const struct tmpdir *td;
	struct ev *ev;
	mirror_manifest_fn *manifest_done;
	int efd;
	struct ev_io eio;
	struct map jobs;                   /* key -> job */
	struct mirror_job *active;         /* every job, queued or not */
	struct mirror_job *incoming;       /* jobs started since the last walk */
	unsigned njobs, nwaiting;
	struct map fresh;                  /* "name:tag" -> int64_t * (when checked) */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct mirror_job *qhead, *qtail;  /* under lock */
	int stop;                          /* under lock; atomic for the workers' reads */
	struct worker *workers;
	unsigned nworkers;
};

static void notify(struct mirror *m)
{
	uint64_t one = 1;
	if (write(m->efd, &one, sizeof one) < 0) {
		/* EAGAIN: the counter is full, the loop wakes anyway */
	}
}

/* ---- the workers ---- */

/* The worker's client for j's upstream, opened (client_open) on its first
 * job and again after a failed open. */
static struct worker_client *client_for(struct worker *w, struct mirror_job *j, char *err,
					size_t cap)
{
	struct mirror *m = w->m;
	struct worker_client *wc = &w->wc[j->up];
	if (!wc->h) {
		struct client_opts o = { .insecure = m->o.insecure,
					 .deadline_ms = j->deadline_ms,
					 .timeout_ms = m->o.timeout_ms,
					 .stall_s = m->o.stall_s,
					 .config_creds_only = 1,
					 .verb = "mirror",
					 .attempts = 2 };
		if (client_open(&wc->cl, m->o.ups[j->up].host, &o, &wc->h, err, cap) < 0)
			return NULL;
		wc->s = client_stream_new(&wc->cl);
		if (!wc->s) {
			client_close(&wc->cl, &wc->h);
			snprintf(err, cap, "out of memory");
			return NULL;
		}
	}
	wc->cl.opt.deadline_ms = j->deadline_ms;
	return wc;
}

static enum fetch failed(const struct worker_client *wc, const char *err)
{
	if ((wc && client_expired(&wc->cl)) || strstr(err, "stalled"))
		return FETCH_TIMEOUT;
	return FETCH_FAIL;
}

static void fetch_manifest(struct worker *w, struct mirror_job *j)
{
	struct worker_client *wc = client_for(w, j, j->err, sizeof j->err);
	char path[16 + REF_NAME_MAX + REF_STR_MAX], scope[32 + REF_NAME_MAX], d[600];
	struct client_resp r;
	enum digest_alg alg = DIGEST_SHA256;

	if (!wc) {
		j->res = failed(NULL, j->err);
		return;
	}
	snprintf(path, sizeof path, "/v2/%s/manifests/%s", j->name, j->ref);
	snprintf(scope, sizeof scope, "repository:%s:pull", j->name);
	if (j->held[0]) {
		/* a stale tag: HEAD says whether it moved (a HEAD is free on Docker Hub) */
		client_resp_init(&r);
		if (client_request(&wc->cl, wc->h, "HEAD", path, scope, CLIENT_ACCEPT_MANIFESTS, NULL,
				   1, &r, j->err, sizeof j->err) < 0) {
			client_resp_free(&r);
			j->res = failed(wc, j->err);
			return;
		}
		client_resp_free(&r);
		if (r.status == 200 && r.digest[0] && strcmp(r.digest, j->held) == 0) {
			j->res = FETCH_SAME;
			return;
		}
		if (r.status == 404) {
			j->res = FETCH_NOT_FOUND;
			return;
		}
	}
	client_resp_init_max(&r, MANIFEST_MAX);
	if (client_request(&wc->cl, wc->h, "GET", path, scope, CLIENT_ACCEPT_MANIFESTS, NULL, 1, &r,
			   j->err, sizeof j->err) < 0) {
		j->res = r.too_big ? FETCH_TOO_BIG : failed(wc, j->err);
		if (r.too_big)
			snprintf(j->err, sizeof j->err, "%s: the upstream's manifest is over %u MiB",
				 j->ref, MANIFEST_MAX >> 20);
		client_resp_free(&r);
		return;
	}
	if (r.status != 200) {
		client_describe(&r, d, sizeof d);
		snprintf(j->err, sizeof j->err, "GET %.300s from %.100s: %.300s", path, wc->cl.host, d);
		j->res = r.status == 404 ? FETCH_NOT_FOUND : FETCH_FAIL;
		client_resp_free(&r);
		return;
	}
	if (j->by_digest)
		digest_parse(j->ref, strlen(j->ref), &alg);
	digest_of(alg, r.body.p ? r.body.p : "", r.body.len, j->digest);
	if ((j->by_digest && strcmp(j->digest, j->ref) != 0) ||
	    (!j->by_digest && strncmp(r.digest, "sha256:", 7) == 0 && strcmp(r.digest, j->digest) != 0)) {
		snprintf(j->err, sizeof j->err, "%s: the upstream's manifest hashes to %s, not %s",
			 j->ref, j->digest, j->by_digest ? j->ref : r.digest);
		j->res = FETCH_BAD;
		client_resp_free(&r);
		return;
	}
	snprintf(j->ctype, sizeof j->ctype, "%s", r.content_type);
	j->len = r.body.len;
	j->body = r.body.p ? r.body.p : malloc(1);
	r.body.p = NULL;
	r.body.len = r.body.cap = 0;
	client_resp_free(&r);
	if (!j->body) {
		snprintf(j->err, sizeof j->err, "out of memory");
		j->res = FETCH_FAIL;
		return;
	}
	j->res = FETCH_OK;
}

static void fetch_blob(struct worker *w, struct mirror_job *j)
{
	struct mirror *m = w->m;
	struct worker_client *wc = client_for(w, j, j->err, sizeof j->err);
	char path[16 + REF_NAME_MAX + REF_STR_MAX], scope[32 + REF_NAME_MAX], got[DIGEST_STR_MAX];
	const struct client_resp *resp;
	enum digest_alg alg = DIGEST_SHA256;
	struct hasher h;
	uint64_t written = 0, told = 0;
	int fd, transient;

	if (!wc) {
		j->res = failed(NULL, j->err);
		return;
	}
	snprintf(path, sizeof path, "/v2/%s/blobs/%s", j->name, j->ref);
	snprintf(scope, sizeof scope, "repository:%s:pull", j->name);
	if (client_stream_open(wc->s, path, scope, 0, j->err, sizeof j->err) < 0) {
		j->res = client_stream_resp(wc->s)->status == 404 ? FETCH_NOT_FOUND : failed(wc, j->err);
		return;
	}
	resp = client_stream_resp(wc->s);
	if (resp->content_length < 0) {
		snprintf(j->err, sizeof j->err, "GET %s from %s: no Content-Length", path, wc->cl.host);
		j->res = FETCH_FAIL;
		goto out;
	}
	fd = tmpdir_create(m->td, j->tmpname);
	if (fd < 0) {
		snprintf(j->err, sizeof j->err, "create a file in uploads/: %s", strerror(errno));
		j->tmpname[0] = '\0';
		j->res = FETCH_FAIL;
		goto out;
	}
	j->size = (uint64_t)resp->content_length;
	__atomic_store_n(&j->head, 1, __ATOMIC_RELEASE);
	notify(m);
	digest_parse(j->ref, strlen(j->ref), &alg);
	hasher_init(&h, alg);
	for (;;) {
		long n = client_stream_read(wc->s, w->buf, READ_CHUNK, &transient, j->err, sizeof j->err);
		if (n < 0) {
			j->res = failed(wc, j->err);
			goto close_out;
		}
		if (n == 0)
			break;
		if (written + (uint64_t)n > j->size) {
			snprintf(j->err, sizeof j->err, "%s: the upstream sent more than its %llu bytes",
				 j->ref, (unsigned long long)j->size);
			j->res = FETCH_BAD;
			goto close_out;
		}
		if (file_write_all(fd, w->buf, (size_t)n) < 0) {
			snprintf(j->err, sizeof j->err, "write uploads/%s: %s", j->tmpname,
				 strerror(errno));
			j->res = FETCH_FAIL;
			goto close_out;
		}
		hasher_update(&h, w->buf, (size_t)n);
		written += (uint64_t)n;
		__atomic_store_n(&j->written, written, __ATOMIC_RELEASE);
		if (written - told >= READ_CHUNK) {
			told = written;
			notify(m);
		}
		if (__atomic_load_n(&m->stop, __ATOMIC_ACQUIRE) || client_expired(&wc->cl)) {
			snprintf(j->err, sizeof j->err, "%s: %s", j->ref,
				 client_expired(&wc->cl) ? "the fetch's deadline passed (--mirror-timeout)"
							 : "the server is stopping");
			j->res = FETCH_TIMEOUT;
			goto close_out;
		}
	}
	if (written != j->size) {
		snprintf(j->err, sizeof j->err, "%s: the upstream sent %llu of %llu bytes", j->ref,
			 (unsigned long long)written, (unsigned long long)j->size);
		j->res = FETCH_BAD;
		goto close_out;
	}
	hasher_final(&h, got);
	if (strcmp(got, j->ref) != 0) {
		snprintf(j->err, sizeof j->err, "%s: the upstream's bytes hash to %s", j->ref, got);
		j->res = FETCH_BAD;
		goto close_out;
	}
	if (fdatasync(fd) < 0) {
		snprintf(j->err, sizeof j->err, "sync uploads/%s: %s", j->tmpname, strerror(errno));
		j->res = FETCH_FAIL;
		goto close_out;
	}
	j->res = FETCH_OK;
close_out:
	close(fd);
out:
	client_stream_close(wc->s);
}

/* A blob's HEAD: its size (and digest, when the upstream says it) without
 * its bytes.  Nothing is written. */
static void fetch_blob_head(struct worker *w, struct mirror_job *j)
{
	struct worker_client *wc = client_for(w, j, j->err, sizeof j->err);
	char path[16 + REF_NAME_MAX + REF_STR_MAX], scope[32 + REF_NAME_MAX], d[600];
	struct client_resp r;

	if (!wc) {
		j->res = failed(NULL, j->err);
		return;
	}
	snprintf(path, sizeof path, "/v2/%s/blobs/%s", j->name, j->ref);
	snprintf(scope, sizeof scope, "repository:%s:pull", j->name);
	client_resp_init(&r);
	if (client_request(&wc->cl, wc->h, "HEAD", path, scope, NULL, NULL, 1, &r, j->err,
			   sizeof j->err) < 0) {
		client_resp_free(&r);
		j->res = failed(wc, j->err);
		return;
	}
	client_resp_free(&r);
	if (r.status == 200 && r.content_length >= 0 && (!r.digest[0] || strcmp(r.digest, j->ref) == 0)) {
		j->size = (uint64_t)r.content_length;
		j->res = FETCH_OK;
	} else if (r.status == 200 || (r.status >= 300 && r.status < 400)) {
		/* a redirect, no length, or another digest: the GET verifies */
		j->res = FETCH_GET;
	} else {
		client_describe(&r, d, sizeof d);
		snprintf(j->err, sizeof j->err, "HEAD %.300s from %.100s: %.300s", path, wc->cl.host, d);
		j->res = r.status == 404 ? FETCH_NOT_FOUND : FETCH_FAIL;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct mirror *m = w->m;
	for (;;) {
		struct mirror_job *j;
		pthread_mutex_lock(&m->lock);
		while (!m->stop && !m->qhead)
			pthread_cond_wait(&m->cond, &m->lock);
		if (m->stop) {
			pthread_mutex_unlock(&m->lock);
			break;
		}
		j = m->qhead;
		m->qhead = j->qnext;
		if (!m->qhead)
			m->qtail = NULL;
		__atomic_store_n(&w->busy, 1, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&m->lock);
		j->deadline_ms = clock_ms() + m->o.timeout_ms;
		if (j->kind == JOB_MANIFEST)
			fetch_manifest(w, j);
		else if (j->kind == JOB_BLOB_HEAD)
			fetch_blob_head(w, j);
		else
			fetch_blob(w, j);
		/* j is the loop's from here on */
		__atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
		__atomic_store_n(&w->busy, 0, __ATOMIC_RELEASE);
		notify(m);
	}
	return NULL;
}

/* ---- waiters ---- */

/* Let go of w's connection: its slot no longer points here. */
static void release(struct mirror *m, struct mirror_wait *w)
{
	if (!w->c)
		return;
	if (w->slot && *w->slot == w)
		*w->slot = NULL;
	w->c = NULL;
	m->nwaiting--;
}

void mirror_forget(struct mirror *m, struct mirror_wait *w)
{
	release(m, w); /* freed with its job */
}

static struct mirror_wait *wait_new(struct mirror *m, struct mirror_job *j, struct conn *c,
				    struct mirror_wait **slot)
{
	struct mirror_wait *w = calloc(1, sizeof *w), **p = &j->waiters;
	if (!w)
		return NULL;
	w->j = j;
	w->c = c;
	w->slot = slot;
	*slot = w;
	while (*p)
		p = &(*p)->next;
	*p = w; /* in arrival order */
	m->nwaiting++;
	return w;
}

/* w's connection c is answered: run it again if the mirror held it. */
static void unhold(struct mirror_wait *w, struct conn *c)
{
	if (w->held) {
		w->held = 0;
		conn_resume(c);
	}
}

/* The bytes a follower may send: all once verified, else all but the last. */
static off_t limit_of(const struct mirror_job *j, int verified)
{
	uint64_t wr = __atomic_load_n(&j->written, __ATOMIC_ACQUIRE);
	if (verified)
		return (off_t)j->size;
	if (j->size == 0)
		return 0;
	return (off_t)(wr < j->size ? wr : j->size - 1);
}

/* Answer a blob request from the job's file (the head is known). */
static void blob_answer(struct mirror *m, struct mirror_job *j, struct mirror_wait *w, int resume)
{
	struct conn *c = w->c;
	uint64_t first = 0, last = j->size ? j->size - 1 : 0;
	int r = HTTP_RANGE_NONE, fd;

	/* one range at most while the blob is in flight: several get it whole
	 * (RFC 9110 lets a server ignore Range); once stored, reg_blob serves
	 * multipart answers */
	if (w->range[0]) {
		struct http_range one;
		size_t n = 0;
		r = http_parse_ranges((struct http_slice){ w->range, strlen(w->range) }, j->size, &one,
				      1, &n);
		if (r == HTTP_RANGE_OK) {
			first = one.first;
			last = one.last;
		}
	}
	if (r == HTTP_RANGE_UNSATISFIABLE) {
		conn_stage(c, "Content-Range: bytes */%llu", (unsigned long long)j->size);
		regerr_send(c, RE_RANGE_UNSATISFIABLE, NULL);
		goto done;
	}
	conn_stage(c, "Docker-Content-Digest: %s", j->ref);
	conn_stage(c, "ETag: \"%s\"", j->ref);
	conn_stage(c, "Accept-Ranges: bytes");
	if (r == HTTP_RANGE_OK)
		conn_stage(c, "Content-Range: bytes %llu-%llu/%llu", (unsigned long long)first,
			   (unsigned long long)last, (unsigned long long)j->size);
	if (c->method == HTTP_HEAD || j->size == 0) {
		conn_begin(c, r == HTTP_RANGE_OK ? 206 : 200);
		conn_end(c, "application/octet-stream", NULL, j->size ? (size_t)(last - first + 1) : 0);
		goto done;
	}
	fd = tmpdir_open(m->td, j->tmpname);
	if (fd < 0) {
		c->staged.len = 0;
		regerr_send(c, regerr_from_errno(errno), "open the blob being fetched");
		goto done;
	}
	conn_begin(c, r == HTTP_RANGE_OK ? 206 : 200);
	conn_end_file(c, "application/octet-stream", fd, (off_t)first, last - first + 1);
	conn_file_limit(c, limit_of(j, 0));
	w->answered = 1;
	goto out;
done:
	release(m, w);
out:
	if (resume)
		unhold(w, c);
}

/* ---- the loop's side of a job ---- */

#define FRESH_KEY_MAX (REF_NAME_MAX + REF_STR_MAX + 3)

/* "name:tag", the key of m->fresh */
static void fresh_key(char key[FRESH_KEY_MAX], const char *name, const char *tag)
{
	snprintf(key, FRESH_KEY_MAX, "%s:%s", name, tag);
}

static void fresh_set(struct mirror *m, const char *name, const char *tag, int64_t now)
{
	char key[FRESH_KEY_MAX];
	int64_t *t;
	fresh_key(key, name, tag);
	t = map_get(&m->fresh, key);
	if (!t) {
		t = malloc(sizeof *t);
		if (!t || map_put(&m->fresh, key, t) < 0) {
			free(t);
			return;
		}
	}
	*t = now;
}

static void fresh_del(struct mirror *m, const char *name, const char *tag)
{
	char key[FRESH_KEY_MAX];
	fresh_key(key, name, tag);
	free(map_del(&m->fresh, key));
}

int mirror_tag_fresh(const struct mirror *m, const char *store_name, const char *tag, int64_t now)
{
	char key[FRESH_KEY_MAX];
	const int64_t *t;
	fresh_key(key, store_name, tag);
	t = map_get(&m->fresh, key);
	return t && now - *t < m->o.tag_ttl_ms;
}

static enum regerr fetch_error(const struct mirror_job *j)
{
	switch (j->res) {
	case FETCH_NOT_FOUND:
		return j->kind == JOB_BLOB ? RE_BLOB_UNKNOWN : RE_MANIFEST_UNKNOWN;
	case FETCH_TIMEOUT:
		return RE_UPSTREAM_TIMEOUT;
	default:
		return RE_UPSTREAM;
	}
}

/* Store what a manifest fetch got.  RE_OK: the store answers now. */
static enum regerr manifest_result(struct mirror *m, struct mirror_job *j, const char **detail)
{
	static struct log_limit stale_log, fail_log;
	int64_t now = ev_now(m->ev);
	struct manifest mf;
	const char *tags[1] = { j->ref };
	const char *host = m->o.ups[j->up].host;

	*detail = j->err[0] ? j->err : j->ref;
	switch (j->res) {
	case FETCH_OK:
		if (manifest_parse(&mf, j->body, j->len, j->ctype[0] ? j->ctype : NULL, j->err,
				   sizeof j->err) < 0) {
			log_limited(LOG_WARN, &fail_log, "mirror: %s/%s:%s: the upstream's manifest is "
				    "invalid: %s", host, j->name, j->ref, j->err);
			return RE_UPSTREAM;
		}
		if (store_manifest_put(m->st, j->store_name, j->digest, &mf, j->body, j->len, tags,
				       j->by_digest ? 0 : 1) < 0) {
			int e = errno;
			manifest_free(&mf);
			log_limited(LOG_WARN, &fail_log, "mirror: store %s@%s: %s", j->store_name,
				    j->digest, strerror(e));
			*detail = "store the upstream's manifest";
			return regerr_from_errno(e);
		}
		manifest_free(&mf);
		if (!j->by_digest)
			fresh_set(m, j->store_name, j->ref, now);
		log_info("mirror: %s/%s:%s: stored %s", host, j->name, j->ref, j->digest);
		return RE_OK;
	case FETCH_SAME:
		fresh_set(m, j->store_name, j->ref, now);
		return RE_OK;
	case FETCH_NOT_FOUND:
		if (!j->by_digest && store_manifest_get(m->st, j->store_name, j->ref)) {
			log_info("mirror: %s/%s:%s: gone upstream, untagged here", host, j->name, j->ref);
			store_tag_delete(m->st, j->store_name, j->ref);
			fresh_del(m, j->store_name, j->ref);
		}
		*detail = "unknown to the upstream";
		return RE_MANIFEST_UNKNOWN;
	default:
		break;
	}
	if (j->held[0] && store_manifest_get(m->st, j->store_name, j->ref)) {
		log_limited(LOG_WARN, &stale_log, "mirror: %s/%s:%s: cannot check the upstream (%s); "
			    "serving the stored %s", host, j->name, j->ref, j->err, j->held);
		return RE_OK;
	}
	log_limited(LOG_WARN, &fail_log, "mirror: %s/%s:%s: %s", host, j->name, j->ref, j->err);
	return fetch_error(j);
}

static void job_free(struct mirror *m, struct mirror_job *j)
{
	struct mirror_wait *w = j->waiters;
	while (w) {
		struct mirror_wait *next = w->next;
		release(m, w);
		free(w->accept);
		free(w);
		w = next;
	}
	free(j->body);
	free(j);
}

/* Drop waiters let go of (their connection closed or moved on). */
static void sweep(struct mirror_job *j)
{
	struct mirror_wait **p = &j->waiters;
	while (*p) {
		struct mirror_wait *w = *p;
		if (!w->c) {
			*p = w->next;
			free(w->accept);
			free(w);
		} else {
			p = &w->next;
		}
	}
}

static void manifest_finish(struct mirror *m, struct mirror_job *j)
{
	const char *detail;
	enum regerr e = manifest_result(m, j, &detail);
	char det[sizeof j->err];

	snprintf(det, sizeof det, "%s", detail);
	for (struct mirror_wait *w = j->waiters; w; w = w->next) {
		struct conn *c = w->c;
		if (!c)
			continue;
		release(m, w);
		m->manifest_done(c, e, det, w->accept, w->alen);
		unhold(w, c);
	}
}

static void blob_finish(struct mirror *m, struct mirror_job *j)
{
	static struct log_limit fail_log;
	const char *host = m->o.ups[j->up].host;

	if (j->res == FETCH_OK) {
		/* the bytes are right: the followers get the last one whatever
		 * happens to the commit */
		if (store_blob_commit_tmp(m->st, j->store_name, m->td, j->tmpname, j->ref, j->size) < 0)
			log_limited_errno(LOG_WARN, &fail_log, "mirror: commit %s into %s", j->ref,
					  j->store_name);
		else
			log_info("mirror: %s/%s@%s: stored %llu bytes", host, j->name, j->ref,
				 (unsigned long long)j->size);
		j->tmpname[0] = '\0';
		for (struct mirror_wait *w = j->waiters; w; w = w->next) {
			struct conn *c = w->c;
			if (!c)
				continue;
			release(m, w);
			if (w->answered)
				conn_file_limit(c, limit_of(j, 1));
		}
		return;
	}
	log_limited(LOG_WARN, &fail_log, "mirror: %s/%s@%s: %s", host, j->name, j->ref, j->err);
	for (struct mirror_wait *w = j->waiters; w; w = w->next) {
		struct conn *c = w->c;
		if (!c)
			continue;
		release(m, w);
		if (w->answered) {
			conn_close(c); /* its last byte never goes: the client sees a short body */
		} else {
			regerr_send(c, fetch_error(j), j->res == FETCH_NOT_FOUND ? j->ref : j->err);
			unhold(w, c);
		}
	}
	if (j->tmpname[0])
		tmpdir_remove(m->td, j->tmpname);
	j->tmpname[0] = '\0';
}

static enum regerr blob_join(struct mirror *m, struct conn *c, struct mirror_wait **slot, int up,
			     const char *name, const char *store_name, const char *digest,
			     struct http_slice range, enum job_kind kind, int held,
			     const char **detail);

/* A blob HEAD's upstream HEAD is done: answer the HEADs; when it had no
 * length, they join (or start) the blob's GET. */
static void head_finish(struct mirror *m, struct mirror_job *j)
{
	if (j->res == FETCH_OK) {
		for (struct mirror_wait *w = j->waiters; w; w = w->next)
			if (w->c)
				blob_answer(m, j, w, 1); /* a HEAD: answered and let go */
		return;
	}
	if (j->res != FETCH_GET) {
		blob_finish(m, j);
		return;
	}
	for (struct mirror_wait *w = j->waiters; w; w = w->next) {
		struct conn *c = w->c;
		struct mirror_wait **slot = w->slot;
		const char *detail = NULL;
		enum regerr e;
		if (!c)
			continue;
		release(m, w);
		w->held = 0; /* the hold moves to the GET's waiter */
		e = blob_join(m, c, slot, j->up, j->name, j->store_name, j->ref,
			      (struct http_slice){ w->range, strlen(w->range) }, JOB_BLOB, 1, &detail);
		if (e != RE_OK) {
			regerr_send(c, e, detail);
			conn_resume(c);
		}
	}
}

/* A job moved on (head, bytes, done): act on it.  1 when it is finished. */
static int job_step(struct mirror *m, struct mirror_job *j)
{
	int done = __atomic_load_n(&j->done, __ATOMIC_ACQUIRE);
	if (j->kind == JOB_MANIFEST) {
		if (done)
			manifest_finish(m, j);
		return done;
	}
	if (j->kind == JOB_BLOB_HEAD) {
		if (done)
			head_finish(m, j);
		return done;
	}
	if (!j->announced && __atomic_load_n(&j->head, __ATOMIC_ACQUIRE) &&
	    (!done || j->res == FETCH_OK)) {
		j->announced = 1;
		for (struct mirror_wait *w = j->waiters; w; w = w->next)
			if (w->c && !w->answered)
				blob_answer(m, j, w, 1);
	}
	if (done) {
		blob_finish(m, j);
		return 1;
	}
	for (struct mirror_wait *w = j->waiters; w; w = w->next)
		if (w->c && w->answered)
			conn_file_limit(w->c, limit_of(j, 0));
	return 0;
}

static void on_event(struct ev *ev, struct ev_io *io, unsigned events)
{
	struct mirror *m = io->data;
	struct mirror_job **p = &m->active;
	uint64_t v;
	(void)ev;
	(void)events;
	if (read(m->efd, &v, sizeof v) < 0 && errno != EAGAIN)
		log_warn("mirror: read eventfd");
	/* jobs started during the walk (a resumed connection's next request)
	 * wait in incoming for the next one: their worker wakes us again */
	while (m->incoming) {
		struct mirror_job *j = m->incoming;
		m->incoming = j->next;
		j->next = m->active;
		m->active = j;
	}
	while (*p) {
		struct mirror_job *j = *p;
		if (job_step(m, j)) {
			*p = j->next;
			map_del(&m->jobs, j->key);
			m->njobs--;
			job_free(m, j);
			continue;
		}
		sweep(j);
		p = &j->next;
	}
}

/* ---- requests ---- */

enum regerr mirror_route(const struct mirror *m, const char *query, size_t qlen, const char *name,
			 int *up, char *out, const char **detail)
{
	char ns[UPSTREAM_HOST_MAX];
	long n = router_query(query, qlen, "ns", 0, ns, sizeof ns);
	int i = 0;

	if (n == -2) {
		*detail = "ns: malformed or too long";
		return RE_BAD_REQUEST;
	}
	if (n >= 0) {
		i = upstream_find(m->o.ups, m->o.nups, ns, (size_t)n);
		if (i < 0) {
			*detail = "ns names no upstream of this mirror (serve --mirror)";
			return RE_NAME_UNKNOWN;
		}
	}
	if (upstream_store_name(&m->o.ups[i], name, out, REF_NAME_MAX + 1) < 0) {
		*detail = "the name with the upstream's prefix is over 255 characters";
		return RE_NAME_INVALID;
	}
	*up = i;
	return RE_OK;
}

static void job_key(char *key, enum job_kind kind, const char *store_name, const char *ref)
{
	snprintf(key, KEY_MAX, "%c:%s@%s", "mbh"[kind], store_name, ref);
}

/* The job for key, or a new one (NULL with *e set when a budget is spent). */
static struct mirror_job *job_get(struct mirror *m, enum job_kind kind, int up, const char *name,
				  const char *store_name, const char *ref, enum regerr *e,
				  const char **detail, int *fresh)
{
	char key[KEY_MAX];
	struct mirror_job *j;

	job_key(key, kind, store_name, ref);
	*fresh = 0;
	j = map_get(&m->jobs, key);
	if (j)
		return j;
	if (m->njobs >= m->o.max_waiting) {
		*e = RE_UNAVAILABLE;
		*detail = "the mirror's upstream fetches are all taken (--mirror-max-waiting)";
		return NULL;
	}
	j = calloc(1, sizeof *j);
	if (!j || map_put(&m->jobs, key, j) < 0) {
		free(j);
		*e = RE_UNAVAILABLE;
		*detail = "out of memory";
		return NULL;
	}
	j->kind = kind;
	snprintf(j->key, sizeof j->key, "%s", key);
	j->up = up;
	snprintf(j->name, sizeof j->name, "%s", name);
	snprintf(j->store_name, sizeof j->store_name, "%s", store_name);
	snprintf(j->ref, sizeof j->ref, "%s", ref);
	j->by_digest = strchr(ref, ':') != NULL;
	j->next = m->incoming;
	m->incoming = j;
	m->njobs++;
	*fresh = 1;
	return j;
}

static void job_start(struct mirror *m, struct mirror_job *j)
{
	pthread_mutex_lock(&m->lock);
	if (m->qtail)
		m->qtail->qnext = j;
	else
		m->qhead = j;
	m->qtail = j;
	pthread_cond_signal(&m->cond);
	pthread_mutex_unlock(&m->lock);
}

static enum regerr waiting_full(const char **detail)
{
	*detail = "too many requests are waiting on the mirror's upstreams (--mirror-max-waiting)";
	return RE_UNAVAILABLE;
}

enum regerr mirror_manifest(struct mirror *m, struct conn *c, struct mirror_wait **slot, int up,
			    const char *name, const char *store_name, const char *ref,
			    const char *held, const char *accept, size_t alen, const char **detail)
{
	enum regerr e = RE_OK;
	struct mirror_job *j;
	struct mirror_wait *w;
	int fresh;

	if (m->nwaiting >= m->o.max_waiting)
		return waiting_full(detail);
	j = job_get(m, JOB_MANIFEST, up, name, store_name, ref, &e, detail, &fresh);
	if (!j)
		return e;
	if (fresh && held)
		snprintf(j->held, sizeof j->held, "%s", held);
	w = wait_new(m, j, c, slot);
	if (!w || (alen && !(w->accept = malloc(alen)))) {
		if (w)
			release(m, w);
		if (fresh)
			job_start(m, j); /* it is in the list: let it run and end */
		*detail = "out of memory";
		return RE_UNAVAILABLE;
	}
	if (alen)
		memcpy(w->accept, accept, alen);
	w->alen = alen;
	w->held = 1;
	conn_hold(c);
	if (fresh)
		job_start(m, j);
	return RE_OK;
}

/* c waits on the job of kind for the blob (started if there is none): held
 * is 1 when c is held already (a HEAD moving to the GET), else c is held
 * here unless the blob's head is known (then it is answered now). */
static enum regerr blob_join(struct mirror *m, struct conn *c, struct mirror_wait **slot, int up,
			     const char *name, const char *store_name, const char *digest,
			     struct http_slice range, enum job_kind kind, int held,
			     const char **detail)
{
	enum regerr e = RE_OK;
	struct mirror_job *j;
	struct mirror_wait *w;
	int fresh;

	j = job_get(m, kind, up, name, store_name, digest, &e, detail, &fresh);
	if (!j)
		return e;
	w = wait_new(m, j, c, slot);
	if (!w) {
		if (fresh)
			job_start(m, j);
		*detail = "out of memory";
		return RE_UNAVAILABLE;
	}
	if (range.n < sizeof w->range) {
		memcpy(w->range, range.p ? range.p : "", range.n);
		w->range[range.n] = '\0';
	}
	if (fresh)
		job_start(m, j);
	w->held = held;
	if (kind == JOB_BLOB && j->announced) {
		/* the head is known: follow the file from here (in this
		 * dispatch, or resumed) */
		blob_answer(m, j, w, held);
		return RE_OK;
	}
	if (!held) {
		w->held = 1;
		conn_hold(c);
	}
	return RE_OK;
}

enum regerr mirror_blob(struct mirror *m, struct conn *c, struct mirror_wait **slot, int up,
			const char *name, const char *store_name, const char *digest,
			struct http_slice range, const char **detail)
{
	char key[KEY_MAX];
	enum job_kind kind = JOB_BLOB;

	if (m->nwaiting >= m->o.max_waiting)
		return waiting_full(detail);
	/* a HEAD asks the upstream with a HEAD, unless the GET is under way */
	job_key(key, JOB_BLOB, store_name, digest);
	if (c->method == HTTP_HEAD && !map_get(&m->jobs, key))
		kind = JOB_BLOB_HEAD;
	return blob_join(m, c, slot, up, name, store_name, digest, range, kind, 0, detail);
}

/* ---- start and stop ---- */

struct mirror *mirror_new(const struct mirror_options *o, struct store *st, struct ev *ev,
			  mirror_manifest_fn *manifest_done, char *err, size_t cap)
{
	struct mirror *m = calloc(1, sizeof *m);
	if (!m) {
		snprintf(err, cap, "out of memory");
		return NULL;
	}
	m->o = *o;
	if (!m->o.jobs)
		m->o.jobs = MIRROR_JOBS_DEFAULT;
	if (!m->o.max_waiting)
		m->o.max_waiting = MIRROR_MAX_WAITING_DEFAULT;
	if (m->o.timeout_ms <= 0)
		m->o.timeout_ms = MIRROR_TIMEOUT_MS_DEFAULT;
	if (m->o.stall_s <= 0)
		m->o.stall_s = MIRROR_STALL_S_DEFAULT;
	m->st = st;
	m->td = store_tmpdir(st);
	m->ev = ev;
	m->manifest_done = manifest_done;
	map_init(&m->jobs);
	map_init(&m->fresh);
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	m->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (m->efd < 0) {
		snprintf(err, cap, "eventfd: %s", strerror(errno));
		goto fail;
	}
	ev_io_init(&m->eio, m->efd, on_event, m);
	if (ev_io_set(ev, &m->eio, EV_READ) < 0) {
		snprintf(err, cap, "epoll_ctl: %s", strerror(errno));
		goto fail;
	}
	m->workers = calloc(m->o.jobs, sizeof *m->workers);
	if (!m->workers) {
		snprintf(err, cap, "out of memory");
		goto fail;
	}
	for (unsigned i = 0; i < m->o.jobs; i++) {
		struct worker *w = &m->workers[i];
		w->m = m;
		w->buf = malloc(READ_CHUNK);
		if (!w->buf || pthread_create(&w->tid, NULL, worker_main, w) != 0) {
			snprintf(err, cap, "start the mirror's worker threads: %s", strerror(errno));
			goto fail;
		}
		w->started = 1;
		m->nworkers++;
	}
	return m;
fail:
	mirror_free(m);
	return NULL;
}

static void worker_fini(struct worker *w)
{
	for (unsigned u = 0; u < MIRROR_MAX_UPSTREAMS; u++) {
		struct worker_client *wc = &w->wc[u];
		if (!wc->h)
			continue;
		client_stream_free(wc->s);
		client_close(&wc->cl, &wc->h);
	}
	free(w->buf);
}

int mirror_free(struct mirror *m)
{
	int64_t until = clock_ms() + STOP_WAIT_MS;
	int busy = 0;

	if (!m)
		return 0;
	pthread_mutex_lock(&m->lock);
	__atomic_store_n(&m->stop, 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	/* a fetch notices the stop between reads; one blocked in a connect or
	 * a stalled read is given STOP_WAIT_MS, then left to the process's end */
	for (;;) {
		busy = 0;
		for (unsigned i = 0; i < m->o.jobs && m->workers; i++)
			busy |= m->workers[i].started && __atomic_load_n(&m->workers[i].busy, __ATOMIC_ACQUIRE);
		if (!busy || clock_ms() >= until)
			break;
		usleep(10000);
	}
	if (busy) {
		log_warnx("mirror: an upstream fetch is still under way at exit");
		return 1; /* the workers keep m */
	}
	for (unsigned i = 0; i < m->o.jobs && m->workers; i++) {
		if (m->workers[i].started)
			pthread_join(m->workers[i].tid, NULL);
		worker_fini(&m->workers[i]);
	}
	free(m->workers);
	while (m->incoming || m->active) {
		struct mirror_job *j = m->incoming ? m->incoming : m->active;
		if (j == m->incoming)
			m->incoming = j->next;
		else
			m->active = j->next;
		if (j->tmpname[0])
			tmpdir_remove(m->td, j->tmpname);
		job_free(m, j);
	}
	{
		size_t pos = 0;
		const char *k;
		void *v;
		while (map_next(&m->fresh, &pos, &k, &v))
			free(v);
	}
	map_free(&m->fresh);
	map_free(&m->jobs);
	if (m->efd >= 0) {
		ev_io_set(m->ev, &m->eio, 0);
		close(m->efd);
	}
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->lock);
	free(m);
	return 0;
}
