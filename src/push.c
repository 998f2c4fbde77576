/* push.c - the remote sink: load and verify an image (image.c), then upload
 * its blobs in parallel (HEAD first, mount when asked, monolithic PUT for
 * small blobs, chunked PATCH with resume for large ones), config after the
 * layers, manifests last. */
#include "push.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "cli.h"
#include "client.h"
#include "clock.h"
#include "image.h"
#include "import.h"
#include "log.h"
#include "ref.h"

#define MONOLITHIC_MAX ((uint64_t)16 << 20)
#define MAX_REFS 32
#define MAX_TAGS 32
#define BLOB_ATTEMPTS 5
#define MAX_JOBS 64
/* An hour: well above a multi-GiB push on an ordinary link (1 GiB at
 * 1 MB/s is 18 minutes), and a bound on a registry that trickles without
 * ever stalling.  Longer pushes say --timeout 0 or a bigger value. */
#define DEFAULT_TIMEOUT_MS ((int64_t)3600 * 1000)

static const char usage[] =
	"usage: packhelper push [options] SRC[#NAME] REF [REF...]\n"
	"  SRC  docker-save tarball, OCI layout (dir or tar), - (stdin), docker://IMAGE\n"
	"  REF  host[:port]/repo[:tag|@digest]\n"
	"options:\n"
	"  -t, --tag TAG           push this tag too (repeatable)\n"
	"  --insecure              allow plain HTTP and any certificate\n"
	"  --ca-file FILE          trust this CA bundle for HTTPS\n"
	"  -u, --username USER     with --password-stdin\n"
	"  --password-stdin        read the password from stdin\n"
	"  --mount-from REPO       try a cross-repository mount from REPO first\n"
	"  -j, --jobs N            parallel blob uploads (default 4)\n"
	"  --compression none|gzip layers as they are (default) or gzip-compressed\n"
	"  --gzip-level N          1 (fast, default) to 9\n"
	"  --format oci|docker     manifest format for docker-save sources (default oci)\n"
	"  --chunk-size SIZE       PATCH chunk size (default 128M); blobs up to\n"
	"                          min(16M, SIZE) go in one PUT\n"
	"  -q, --quiet             only the digest on stdout\n"
	"  --timeout DURATION      give up when the whole push takes longer\n"
	"                          (default 1h; 0: no limit)\n"
	"  --stall-timeout DURATION  a request that moves under 1 KiB/s this long\n"
	"                          fails (default 60s; retried once if it may be)\n"
	"  -v, --verbose           show the HTTP exchange (secrets masked)\n"
	"environment: PACKHELPER_USERNAME, PACKHELPER_PASSWORD, DOCKER_CONFIG, TMPDIR\n";

enum blob_state { B_WAIT, B_COMPRESS, B_CHECK, B_UPLOAD, B_EXISTS, B_MOUNTED, B_DONE, B_FAILED };

struct blob_job {
	struct image_blob *blob;
	enum blob_state state;
	uint64_t done;            /* bytes uploaded */
	uint64_t base;            /* bytes confirmed before the current request */
};

struct push {
	/* options */
	struct client_opts copt;
	const char *mount_from;
	int jobs;
	int gzip;
	int gzip_level;
	enum image_format format;
	uint64_t chunk;
	int quiet;
	int progress;             /* redraw on a TTY */
	/* state for one target */
	struct client *cl;
	const struct ref *ref;
	struct store *scratch;
	struct source *src;       /* the image's files (tar members read in place) */
	int gzip_layers;          /* this image's layers are ours to compress */
	struct blob_job *bj;
	size_t nbj;
	size_t next;              /* next job for a worker, */
	size_t end;               /* up to this one (layers first, then configs) */
	int failed;
	char err[1024];
	pthread_mutex_t lock;
	int stop_progress;
	int progress_lines;
	int64_t t0_us;            /* clock_us() when this target's blobs began */
};

static double elapsed(int64_t t0_us)
{
	return (double)(clock_us() - t0_us) / 1e6;
}

/* ---- progress on a TTY ---- */

static const char *state_name(enum blob_state s)
{
	static const char *const names[] = { "waiting", "compressing", "checking", "uploading",
					     "exists", "mounted", "pushed", "failed" };
	return names[s];
}

static void draw_progress(struct push *p, int final)
{
	double t = elapsed(p->t0_us);
	pthread_mutex_lock(&p->lock);
	if (p->progress_lines)
		fprintf(stderr, "\033[%dA", p->progress_lines);
	for (size_t i = 0; i < p->nbj; i++) {
		const struct blob_job *j = &p->bj[i];
		double mib = (double)j->done / 1048576.0, tot = (double)j->blob->size / 1048576.0;
		fprintf(stderr, "\033[2K%.19s %-11s %8.1f / %.1f MiB", j->blob->digest,
			state_name(j->state), mib, tot);
		if (j->state == B_UPLOAD && t > 0)
			fprintf(stderr, "  %.0f MiB/s", mib / t);
		fputc('\n', stderr);
	}
	p->progress_lines = (int)p->nbj;
	pthread_mutex_unlock(&p->lock);
	(void)final;
	fflush(stderr);
}

static void *progress_thread(void *arg)
{
	struct push *p = arg;
	while (!__atomic_load_n(&p->stop_progress, __ATOMIC_ACQUIRE)) {
		draw_progress(p, 0);
		usleep(200 * 1000);
	}
	return NULL;
}

static void on_progress(void *ctx, uint64_t sent)
{
	struct blob_job *j = ctx;
	__atomic_store_n(&j->done, j->base + sent, __ATOMIC_RELAXED);
}

/* ---- gzip ---- */

/* Open a blob's bytes: a scratch file, or the source tar in place. */
static int blob_open(const struct push *p, const struct image_blob *b, uint64_t *off)
{
	if (b->off >= 0) {
		*off = (uint64_t)b->off;
		return fcntl(p->src->tarfd, F_DUPFD_CLOEXEC, 0);
	}
	*off = 0;
	return store_tmp_open(p->scratch, b->tmp);
}

/* Write n bytes of compressed output to fd, hashing them. */
static int emit(int fd, struct hasher *h, const unsigned char *q, size_t n, uint64_t *total)
{
	hasher_update(h, q, n);
	*total += n;
	while (n) {
		ssize_t w = write(fd, q, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		q += w;
		n -= (size_t)w;
	}
	return 0;
}

/* A blob whose digest is the archive's claim: hash it before it goes out,
 * so a lying tarball fails here, with the layer named. */
static int verify_blob(struct push *p, struct image_blob *b, char *err, size_t cap)
{
	static const size_t CH = 1 << 20;
	unsigned char *buf = malloc(CH);
	uint64_t off, done = 0;
	int fd = blob_open(p, b, &off), rc = -1;
	struct hasher h;
	char got[DIGEST_STR_MAX];

	if (!buf || fd < 0) {
		log_fail(err, cap, "read %s: %s", b->digest, strerror(errno));
		goto out;
	}
	hasher_init(&h, DIGEST_SHA256);
	while (done < b->size) {
		size_t want = b->size - done < CH ? (size_t)(b->size - done) : CH;
		ssize_t n = pread(fd, buf, want, (off_t)(off + done));
		if (n <= 0) {
			log_fail(err, cap, "read %s: %s", b->digest, n < 0 ? strerror(errno) : "short read");
			goto out;
		}
		hasher_update(&h, buf, (size_t)n);
		done += (uint64_t)n;
	}
	hasher_final(&h, got);
	if (strcmp(got, b->digest) != 0) {
		log_fail(err, cap, "%s: a layer the archive calls %s is %s", p->src->what, b->digest, got);
		goto out;
	}
	b->unverified = 0;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

#define GZ_CHUNK ((size_t)1 << 20)
#define GZ_WINDOW ((uint64_t)1 << 20)   /* judge compressibility over this much input */
#define GZ_PROBE ((uint64_t)64 << 20)   /* stored this long, then try compressing again */

/* Compress blob b into a new scratch file; b then describes the gzip.  Data
 * that does not shrink (over 97% in a 1 MiB window) is stored instead,
 * and compression is tried again every 64 MiB: the output is still one
 * valid gzip stream, and the same input always gives the same bytes. */
static int gzip_blob(struct push *p, struct image_blob *b, char *err, size_t cap)
{
	char rel[STORE_TMP_REL_MAX];
	unsigned char *in = malloc(GZ_CHUNK), *out = malloc(GZ_CHUNK);
	uint64_t off, done = 0, win_in = 0, win_out = 0, stored_since = 0;
	int ifd = blob_open(p, b, &off);
	int ofd = store_tmp_create(p->scratch, rel);
	int level = p->gzip_level;
	struct hasher h, hin;
	z_stream z;
	uint64_t total = 0;
	int rc = -1, zr = Z_OK;

	memset(&z, 0, sizeof z);
	if (!in || !out || ifd < 0 || ofd < 0) {
		log_fail(err, cap, "compress %s: %s", b->digest, strerror(errno));
		goto out;
	}
	if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		log_fail(err, cap, "compress %s: zlib init failed", b->digest);
		goto out;
	}
	hasher_init(&h, DIGEST_SHA256);
	hasher_init(&hin, DIGEST_SHA256); /* the input, when its digest is only claimed */
	for (int eof = 0; zr != Z_STREAM_END;) {
		if (z.avail_in == 0 && !eof) {
			size_t want = b->size - done < GZ_CHUNK ? (size_t)(b->size - done) : GZ_CHUNK;
			ssize_t n;
			int next = level;
			/* adapt, between chunks: compressing what does not shrink only
			 * costs time */
			if (level > 0 && z.total_in - win_in >= GZ_WINDOW) {
				if ((z.total_out - win_out) * 100 > (z.total_in - win_in) * 97)
					next = 0;
				win_in = z.total_in;
				win_out = z.total_out;
			} else if (level == 0 && z.total_in - stored_since >= GZ_PROBE) {
				next = p->gzip_level;
			}
			if (next != level) {
				/* deflateParams flushes what it holds: give it room */
				z.next_out = out;
				z.avail_out = (uInt)GZ_CHUNK;
				zr = deflateParams(&z, next, Z_DEFAULT_STRATEGY);
				if (emit(ofd, &h, out, GZ_CHUNK - z.avail_out, &total) < 0) {
					log_fail(err, cap, "compress %s: %s", b->digest, strerror(errno));
					goto outz;
				}
				if (zr == Z_OK) {
					level = next;
					stored_since = win_in = z.total_in;
					win_out = z.total_out;
				}
				zr = Z_OK;
			}
			n = want ? pread(ifd, in, want, (off_t)(off + done)) : 0;
			if (n < 0 || (n == 0 && want)) {
				log_fail(err, cap, "compress %s: %s", b->digest,
					 n < 0 ? strerror(errno) : "short read");
				goto outz;
			}
			done += (uint64_t)n;
			eof = done == b->size;
			if (b->unverified)
				hasher_update(&hin, in, (size_t)n);
			z.next_in = in;
			z.avail_in = (uInt)n;
		}
		z.next_out = out;
		z.avail_out = (uInt)GZ_CHUNK;
		zr = deflate(&z, eof ? Z_FINISH : Z_NO_FLUSH);
		if (zr == Z_STREAM_ERROR) {
			log_fail(err, cap, "compress %s: zlib error", b->digest);
			goto outz;
		}
		if (emit(ofd, &h, out, GZ_CHUNK - z.avail_out, &total) < 0) {
			log_fail(err, cap, "compress %s: %s", b->digest, strerror(errno));
			goto outz;
		}
	}
	if (b->unverified) {
		char got[DIGEST_STR_MAX];
		hasher_final(&hin, got);
		if (strcmp(got, b->digest) != 0) {
			log_fail(err, cap, "%s: a layer the archive calls %s is %s", p->src->what,
				 b->digest, got);
			goto outz;
		}
		b->unverified = 0;
	}
	if (b->tmp[0])
		store_tmp_remove(p->scratch, b->tmp);
	snprintf(b->tmp, sizeof b->tmp, "%s", rel);
	b->off = -1;
	hasher_final(&h, b->digest);
	b->size = total;
	b->gzipped = 1;
	snprintf(b->media_type, sizeof b->media_type, "%s",
		 p->format == IMAGE_FORMAT_DOCKER ? "application/vnd.docker.image.rootfs.diff.tar.gzip"
						  : "application/vnd.oci.image.layer.v1.tar+gzip");
	rc = 0;
outz:
	deflateEnd(&z);
out:
	if (rc < 0 && ofd >= 0)
		store_tmp_remove(p->scratch, rel);
	if (ifd >= 0)
		close(ifd);
	if (ofd >= 0)
		close(ofd);
	free(in);
	free(out);
	return rc;
}

/* ---- one blob ---- */

static void backoff_ms(long ms)
{
	usleep((useconds_t)(ms > 5000 ? 5000 : ms) * 1000);
}

static void scope_for(const struct push *p, char *out, size_t cap)
{
	if (p->mount_from)
		snprintf(out, cap, "repository:%s:pull,push repository:%s:pull", p->ref->repo,
			 p->mount_from);
	else
		snprintf(out, cap, "repository:%s:pull,push", p->ref->repo);
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

static int blob_error(struct push *p, const struct image_blob *b, const char *what,
		      const struct client_resp *r, char *err, size_t cap)
{
	char d[600];
	client_describe(r, d, sizeof d);
	return log_fail(err, cap, "blob %s to %s/%s: %s: %s", b->digest, p->ref->host, p->ref->repo,
		    what, d);
}

/* err (a failed request) prefixed with the blob and the target. */
static void blob_context(const struct push *p, const struct image_blob *b, char *err, size_t cap)
{
	char last[800]; /* err is both the format's argument and its output */
	snprintf(last, sizeof last, "%s", err);
	log_fail(err, cap, "blob %s to %s/%s: %s", b->digest, p->ref->host, p->ref->repo, last);
}

/* Upload (or find) one blob.  0, or -1 with err. */
static int push_blob(struct push *p, CURL *h, struct blob_job *j, char *err, size_t cap)
{
	struct image_blob *b = j->blob;
	char scope[800], path[1024], loc[2048], url[URL_MAX + 100];
	struct client_resp r;
	uint64_t base = 0; /* where the blob starts in fd */
	int fd = -1, rc = -1, stalls = 0;

	scope_for(p, scope, sizeof scope);
	client_resp_init(&r);
	if (p->gzip_layers && !b->is_config && !b->gzipped) {
		/* compressed once, here in the worker, so layers compress in parallel */
		j->state = B_COMPRESS;
		if (gzip_blob(p, b, err, cap) < 0)
			goto out;
	}
	if (b->unverified) {
		j->state = B_CHECK;
		if (verify_blob(p, b, err, cap) < 0)
			goto out;
	}
	j->state = B_CHECK;
	snprintf(path, sizeof path, "/v2/%s/blobs/%s", p->ref->repo, b->digest);
	if (client_request(p->cl, h, "HEAD", path, scope, NULL, NULL, 1, &r, err, cap) < 0)
		goto out;
	if (r.status != 200 && r.status != 404) {
		blob_error(p, b, "check (HEAD)", &r, err, cap);
		goto out;
	}
	if (r.status == 200) {
		j->state = B_EXISTS;
		j->done = b->size;
		rc = 0;
		goto out;
	}
	fd = blob_open(p, b, &base);
	if (fd < 0) {
		log_fail(err, cap, "blob %s: %s", b->digest, strerror(errno));
		goto out;
	}
	for (int attempt = 0; attempt < BLOB_ATTEMPTS; attempt++) {
		uint64_t off = 0;
		/* start: a mount, or an upload session */
		if (p->mount_from)
			snprintf(path, sizeof path, "/v2/%s/blobs/uploads/?mount=%s&from=%s", p->ref->repo,
				 b->digest, p->mount_from);
		else
			snprintf(path, sizeof path, "/v2/%s/blobs/uploads/", p->ref->repo);
		if (client_request(p->cl, h, "POST", path, scope, NULL, NULL, 1, &r, err, cap) < 0)
			goto out;
		if (r.status == 201 && p->mount_from) {
			j->state = B_MOUNTED;
			j->done = b->size;
			rc = 0;
			goto out;
		}
		if (r.status != 202 || !r.location[0]) {
			blob_error(p, b, "start upload", &r, err, cap);
			goto out;
		}
		snprintf(loc, sizeof loc, "%s", r.location);
		j->state = B_UPLOAD;
		j->base = 0;
		if (b->size <= MONOLITHIC_MAX && b->size <= p->chunk) {
			struct client_body body = { .fd = fd, .off = base, .len = b->size,
						    .progress = on_progress, .progress_ctx = j };
			if (with_digest(p->cl, loc, b->digest, url, sizeof url, err, cap) < 0)
				goto out;
			if (client_request(p->cl, h, "PUT", url, scope, "application/octet-stream", &body, 0,
					   &r, err, cap) < 0) {
				/* a second stall: the registry, not a glitch */
				if (client_expired(p->cl))
					goto out;
				if (r.stalled && ++stalls >= 2) {
					blob_context(p, b, err, cap);
					goto out;
				}
				log_debug("%s", err);
				continue; /* a new session */
			}
			if (r.status == 201) {
				j->state = B_DONE;
				rc = 0;
				goto out;
			}
			if (r.status >= 500 || r.status == 429) {
				blob_error(p, b, "upload", &r, err, cap);
				backoff_ms(r.retry_after > 0 ? r.retry_after * 1000 : 200L << attempt);
				continue;
			}
			blob_error(p, b, "upload", &r, err, cap);
			goto out;
		}
		/* chunked: PATCH with Content-Range; on trouble ask where we are */
		for (int misses = 0; off < b->size && misses < BLOB_ATTEMPTS;) {
			uint64_t n = b->size - off < p->chunk ? b->size - off : p->chunk;
			char cr[80];
			struct client_body body = { .fd = fd, .off = base + off, .len = n,
						    .progress = on_progress, .progress_ctx = j };
			struct client_resp s;
			const char *dash;

			j->base = off;
			snprintf(cr, sizeof cr, "%llu-%llu", (unsigned long long)off,
				 (unsigned long long)(off + n - 1));
			body.content_range = cr;
			if (client_abs_url(p->cl, loc, url, sizeof url, err, cap) < 0)
				goto out;
			if (client_request(p->cl, h, "PATCH", url, scope, "application/octet-stream", &body,
					   0, &r, err, cap) == 0 &&
			    r.status == 202) {
				if (r.location[0])
					snprintf(loc, sizeof loc, "%s", r.location);
				off += n;
				continue;
			}
			if (client_expired(p->cl))
				goto out;
			if (r.stalled && ++stalls >= 2) {
				blob_context(p, b, err, cap);
				goto out;
			}
			misses++;
			/* resume from what the server holds ("0-E": E+1 bytes) */
			client_resp_init(&s);
			if (client_request(p->cl, h, "GET", url, scope, NULL, NULL, 1, &s, err, cap) < 0 ||
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
		if (client_expired(p->cl))
			goto out;
		if (off < b->size)
			continue;
		if (with_digest(p->cl, loc, b->digest, url, sizeof url, err, cap) < 0)
			goto out;
		if (client_request(p->cl, h, "PUT", url, scope, NULL, NULL, 1, &r, err, cap) < 0)
			goto out;
		if (r.status == 201) {
			j->state = B_DONE;
			rc = 0;
			goto out;
		}
		blob_error(p, b, "finish upload", &r, err, cap);
		goto out;
	}
	if (!err[0]) {
		log_fail(err, cap, "blob %s to %s/%s: gave up after %d attempts", b->digest, p->ref->host,
			 p->ref->repo, BLOB_ATTEMPTS);
	} else {
		char last[800]; /* err is both the format's argument and its output */
		snprintf(last, sizeof last, "%s", err);
		log_fail(err, cap, "%s (gave up after %d attempts)", last, BLOB_ATTEMPTS);
	}
out:
	if (rc < 0)
		j->state = B_FAILED;
	if (fd >= 0)
		close(fd);
	client_resp_free(&r);
	return rc;
}

/* ---- workers ---- */

static void *worker(void *arg)
{
	struct push *p = arg;
	CURL *h = client_handle(p->cl);
	char err[1024];

	for (;;) {
		struct blob_job *j;
		pthread_mutex_lock(&p->lock);
		j = !p->failed && p->next < p->end ? &p->bj[p->next++] : NULL;
		pthread_mutex_unlock(&p->lock);
		if (!j)
			break;
		err[0] = '\0';
		if (!h || push_blob(p, h, j, err, sizeof err) < 0) {
			pthread_mutex_lock(&p->lock);
			if (!p->failed) {
				p->failed = 1;
				snprintf(p->err, sizeof p->err, "%s", h ? err : "cannot start libcurl");
			}
			pthread_mutex_unlock(&p->lock);
			break;
		}
	}
	if (h)
		curl_easy_cleanup(h);
	return NULL;
}

/* Run the blob jobs [from, to) on the worker pool. */
static int run_jobs(struct push *p, size_t from, size_t to)
{
	pthread_t tids[MAX_JOBS];
	int n = p->jobs;
	p->next = from;
	p->end = to;
	if ((size_t)n > to - from)
		n = (int)(to - from);
	for (int i = 0; i < n; i++)
		if (pthread_create(&tids[i], NULL, worker, p) != 0) {
			n = i;
			p->failed = 1;
			snprintf(p->err, sizeof p->err, "cannot start a thread");
			break;
		}
	for (int i = 0; i < n; i++)
		pthread_join(tids[i], NULL);
	return p->failed ? -1 : 0;
}

/* Before the blobs: media types for --format docker, and whether the layers
 * are ours to compress (docker-save layers are; an OCI layout keeps its
 * manifests byte for byte, so its layers go as they are). */
static void prepare_image(struct push *p, struct image *img)
{
	p->gzip_layers = p->gzip && img->generated;
	if (!img->generated || p->format != IMAGE_FORMAT_DOCKER)
		return;
	snprintf(img->blobs[img->config].media_type, MEDIA_TYPE_MAX,
		 "application/vnd.docker.container.image.v1+json");
	for (size_t i = 0; i < img->nblobs; i++)
		if (strcmp(img->blobs[i].media_type, "application/vnd.oci.image.layer.v1.tar") == 0)
			snprintf(img->blobs[i].media_type, MEDIA_TYPE_MAX,
				 "application/vnd.docker.image.rootfs.diff.tar");
}

/* After the blobs: rebuild a docker-save image's manifest from what the
 * layers now are (compressed, or in the docker format). */
static int finish_manifest(struct push *p, struct image *img, char *err, size_t cap)
{
	struct buf m;
	const struct image_blob **lp;
	struct image_manifest *top = &img->manifests[img->nmanifests - 1];

	if (!img->generated || (!p->gzip && p->format == IMAGE_FORMAT_OCI))
		return 0;
	lp = calloc(img->nlayers ? img->nlayers : 1, sizeof *lp);
	if (!lp)
		return log_fail(err, cap, "out of memory");
	for (size_t i = 0; i < img->nlayers; i++)
		lp[i] = &img->blobs[img->layers[i]];
	buf_init(&m, (size_t)4 << 20);
	if (image_write_manifest(&m, p->format, &img->blobs[img->config], lp, img->nlayers) < 0) {
		free(lp);
		buf_free(&m);
		return log_fail(err, cap, "manifest too large");
	}
	free(lp);
	free(top->bytes);
	top->bytes = m.p;
	top->len = m.len;
	digest_of(DIGEST_SHA256, m.p, m.len, top->digest);
	snprintf(top->media_type, MEDIA_TYPE_MAX, "%s",
		 p->format == IMAGE_FORMAT_DOCKER ? MT_DOCKER_MANIFEST : MT_OCI_MANIFEST);
	return 0;
}

static int put_manifest(struct push *p, CURL *h, const struct image_manifest *m, const char *ref,
			char *err, size_t cap)
{
	char path[1024], scope[800], d[600];
	struct client_body body = { .mem = m->bytes, .mem_len = m->len, .fd = -1 };
	struct client_resp r;
	int rc = 0;

	scope_for(p, scope, sizeof scope);
	snprintf(path, sizeof path, "/v2/%s/manifests/%s", p->ref->repo, ref);
	client_resp_init(&r);
	if (client_request(p->cl, h, "PUT", path, scope, m->media_type, &body, 1, &r, err, cap) < 0) {
		rc = -1;
	} else if (r.status != 201) {
		client_describe(&r, d, sizeof d);
		rc = log_fail(err, cap, "manifest %s to %s/%s:%s: %s", m->digest, p->ref->host, p->ref->repo,
			  ref, d);
	} else if (r.digest[0] && strcmp(r.digest, m->digest) != 0) {
		rc = log_fail(err, cap, "manifest to %s/%s:%s: the registry says %s, we sent %s",
			  p->ref->host, p->ref->repo, ref, r.digest, m->digest);
	}
	client_resp_free(&r);
	return rc;
}

/* Push img to one target. */
static int push_image(struct push *p, struct image *img, const struct ref *ref,
		      const char *const *tags, size_t ntags, char *err, size_t cap)
{
	struct client cl;
	CURL *h = NULL;
	pthread_t prog;
	int have_prog = 0, rc = -1;
	size_t nlayers = 0;

	if (client_init(&cl, ref->host, &p->copt, err, cap) < 0)
		return -1;
	p->cl = &cl;
	p->ref = ref;
	h = client_handle(&cl);
	if (!h) {
		log_fail(err, cap, "cannot start libcurl");
		goto out;
	}
	if (client_connect(&cl, h, err, cap) < 0)
		goto out;
	/* jobs: layers first, then configs */
	p->bj = calloc(img->nblobs ? img->nblobs : 1, sizeof *p->bj);
	if (!p->bj) {
		log_fail(err, cap, "out of memory");
		goto out;
	}
	p->nbj = 0;
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < img->nblobs; i++)
			if (img->blobs[i].is_config == pass) {
				p->bj[p->nbj].blob = &img->blobs[i];
				p->bj[p->nbj++].state = B_WAIT;
				if (!pass)
					nlayers++;
			}
	p->failed = 0;
	p->t0_us = clock_us();
	p->progress_lines = 0;
	__atomic_store_n(&p->stop_progress, 0, __ATOMIC_RELEASE);
	if (p->progress && pthread_create(&prog, NULL, progress_thread, p) == 0)
		have_prog = 1;
	if (run_jobs(p, 0, nlayers) == 0)
		run_jobs(p, nlayers, p->nbj);
	if (have_prog) {
		__atomic_store_n(&p->stop_progress, 1, __ATOMIC_RELEASE);
		pthread_join(prog, NULL);
		draw_progress(p, 1);
	}
	if (p->failed) {
		log_fail(err, cap, "%s", p->err);
		goto out;
	}
	if (finish_manifest(p, img, err, cap) < 0)
		goto out;
	/* manifests: children by digest, the top by tag (or digest), then extra tags */
	for (size_t i = 0; i < img->nmanifests; i++) {
		const struct image_manifest *m = &img->manifests[i];
		int top = i + 1 == img->nmanifests;
		if (!top || ref->digest[0]) {
			if (top && strcmp(ref->digest, m->digest) != 0) {
				log_fail(err, cap, "%s@%s: the image's manifest is %s", ref->repo, ref->digest,
				     m->digest);
				goto out;
			}
			if (put_manifest(p, h, m, m->digest, err, cap) < 0)
				goto out;
		}
		if (top) {
			if (ref->tag[0] && put_manifest(p, h, m, ref->tag, err, cap) < 0)
				goto out;
			for (size_t t = 0; t < ntags; t++)
				if (put_manifest(p, h, m, tags[t], err, cap) < 0)
					goto out;
		}
	}
	if (!p->quiet)
		fprintf(stderr, "pushed %s/%s%s%s %s in %.2f s\n", ref->host, ref->repo,
			ref->tag[0] ? ":" : "", ref->tag, image_digest(img), elapsed(p->t0_us));
	rc = 0;
out:
	free(p->bj);
	p->bj = NULL;
	p->nbj = 0;
	if (h)
		curl_easy_cleanup(h);
	client_fini(&cl);
	return rc;
}

/* Remove the scratch store's directory tree (only what store_open made). */
static void remove_tree(const char *path)
{
	static const char *const sub[] = { "uploads", "blobs/sha256", "blobs/sha512", "blobs", "repos" };
	char p2[4200];
	for (size_t i = 0; i < sizeof sub / sizeof *sub; i++) {
		snprintf(p2, sizeof p2, "%s/%s", path, sub[i]);
		rmdir(p2);
	}
	rmdir(path);
}

static uint64_t parse_size(const char *s)
{
	char *end;
	double v;
	uint64_t mul = 1;
	errno = 0;
	v = strtod(s, &end);
	/* !(v >= 0) is also NaN; 2^52 keeps the conversion below exact */
	if (errno || end == s || !(v >= 0) || v >= 4503599627370496.0)
		return UINT64_MAX;
	if (*end == 'k' || *end == 'K')
		mul = 1024;
	else if (*end == 'm' || *end == 'M')
		mul = 1 << 20;
	else if (*end == 'g' || *end == 'G')
		mul = 1 << 30;
	else if (*end)
		return UINT64_MAX;
	return (uint64_t)(v * (double)mul);
}

int push_main(int argc, char **argv)
{
	struct push p;
	const char *srcarg = NULL, *refs[MAX_REFS], *tags[MAX_TAGS];
	size_t nrefs = 0, ntags = 0;
	int password_stdin = 0, verbose = 0;
	char tmpl[4096], err[2048], pass[1024];
	struct import_spec spec;
	struct source src;
	struct image_set set;
	struct ref parsed[MAX_REFS];
	int rc = 0;

	memset(&p, 0, sizeof p);
	p.jobs = 4;
	p.gzip_level = 1;
	p.chunk = (uint64_t)128 << 20;
	p.copt.timeout_ms = DEFAULT_TIMEOUT_MS;
	pthread_mutex_init(&p.lock, NULL);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-t") == 0 || strcmp(a, "--tag") == 0) {
			if (ntags == MAX_TAGS)
				fatal(2, "push: at most %d --tag", MAX_TAGS);
			tags[ntags] = cli_arg(argc, argv, &i, usage);
			if (!ref_tag_valid(tags[ntags]))
				fatal(2, "push: --tag %s is not a valid tag", tags[ntags]);
			ntags++;
		} else if (strcmp(a, "--insecure") == 0) {
			p.copt.insecure = 1;
		} else if (strcmp(a, "--ca-file") == 0) {
			p.copt.ca_file = cli_arg(argc, argv, &i, usage);
			if (access(p.copt.ca_file, R_OK) < 0)
				fatal(2, "push: --ca-file %s: %s", p.copt.ca_file, strerror(errno));
		} else if (strcmp(a, "-u") == 0 || strcmp(a, "--username") == 0) {
			p.copt.username = cli_arg(argc, argv, &i, usage);
		} else if (strcmp(a, "--password-stdin") == 0) {
			password_stdin = 1;
		} else if (strcmp(a, "--mount-from") == 0) {
			p.mount_from = cli_arg(argc, argv, &i, usage);
			if (!ref_name_valid(p.mount_from))
				fatal(2, "push: --mount-from %s is not a repository name", p.mount_from);
		} else if (strcmp(a, "-j") == 0 || strcmp(a, "--jobs") == 0) {
			const char *v = cli_arg(argc, argv, &i, usage);
			long n;
			if (cli_int(v, 1, MAX_JOBS, &n) < 0)
				fatal(2, "push: --jobs takes a whole number from 1 to %d, not \"%s\"", MAX_JOBS, v);
			p.jobs = (int)n;
		} else if (strcmp(a, "--compression") == 0) {
			const char *v = cli_arg(argc, argv, &i, usage);
			if (strcmp(v, "gzip") == 0)
				p.gzip = 1;
			else if (strcmp(v, "none") != 0)
				fatal(2, "push: --compression takes none or gzip");
		} else if (strcmp(a, "--gzip-level") == 0) {
			const char *v = cli_arg(argc, argv, &i, usage);
			long n;
			if (cli_int(v, 1, 9, &n) < 0)
				fatal(2, "push: --gzip-level takes a whole number from 1 to 9, not \"%s\"", v);
			p.gzip_level = (int)n;
		} else if (strcmp(a, "--format") == 0) {
			const char *v = cli_arg(argc, argv, &i, usage);
			if (strcmp(v, "docker") == 0)
				p.format = IMAGE_FORMAT_DOCKER;
			else if (strcmp(v, "oci") != 0)
				fatal(2, "push: --format takes oci or docker");
		} else if (strcmp(a, "--chunk-size") == 0) {
			p.chunk = parse_size(cli_arg(argc, argv, &i, usage));
			if (p.chunk == UINT64_MAX || p.chunk < 4096)
				fatal(2, "push: --chunk-size takes a size such as 64M (at least 4K)");
		} else if (strcmp(a, "--timeout") == 0) {
			p.copt.timeout_ms = cli_duration_ms(cli_arg(argc, argv, &i, usage));
			if (p.copt.timeout_ms < 0)
				fatal(2, "push: --timeout takes a duration such as 30m (0: no limit; at most 24h)");
		} else if (strcmp(a, "--stall-timeout") == 0) {
			int64_t ms = cli_duration_ms(cli_arg(argc, argv, &i, usage));
			if (ms < 1000 || ms % 1000)
				fatal(2, "push: --stall-timeout takes whole seconds, at least 1s");
			p.copt.stall_s = (long)(ms / 1000);
		} else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
			p.quiet = 1;
		} else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
			verbose = 1;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage, stdout);
			return 0;
		} else if (a[0] == '-' && a[1]) {
			fatal(2, "push: unknown option %s\n%s", a, usage);
		} else if (!srcarg) {
			srcarg = a;
		} else if (nrefs < MAX_REFS) {
			refs[nrefs++] = a;
		} else {
			fatal(2, "push: at most %d references", MAX_REFS);
		}
	}
	if (!srcarg || nrefs == 0)
		fatal(2, "push: need SRC and at least one REF\n%s", usage);
	for (size_t i = 0; i < nrefs; i++)
		if (ref_parse(refs[i], strlen(refs[i]), &parsed[i], err, sizeof err) < 0)
			fatal(2, "push: %s (%s) is not host[:port]/repo[:tag|@digest]", refs[i], err);
	if (password_stdin) {
		size_t n;
		if (!p.copt.username)
			fatal(2, "push: --password-stdin needs --username");
		if (strcmp(srcarg, "-") == 0)
			fatal(2, "push: stdin cannot carry both the password and the image");
		n = fread(pass, 1, sizeof pass - 1, stdin);
		pass[n] = '\0';
		pass[strcspn(pass, "\r\n")] = '\0';
		p.copt.password = pass;
	}
	p.copt.verbose = verbose;
	/* the whole command: loading the image counts too */
	if (p.copt.timeout_ms)
		p.copt.deadline_ms = clock_ms() + p.copt.timeout_ms;
	log_immediate = 1; /* -v lines as they happen, between curl's */
	if (verbose && log_level < LOG_DEBUG)
		log_level = LOG_DEBUG;
	else if (log_level > LOG_WARN)
		log_level = LOG_WARN;
	p.progress = !p.quiet && !verbose && isatty(2);

	if (import_parse_spec(srcarg, &spec, err, sizeof err) < 0)
		fatal(2, "push: %s", err);
	/* the source's files go to a scratch store in TMPDIR */
	snprintf(tmpl, sizeof tmpl, "%s/packhelper-push-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmpl))
		fatal(1, "push: cannot create a scratch directory in %s: %s",
		      getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", strerror(errno));
	if (store_open(&p.scratch, tmpl, 0) < 0) {
		remove_tree(tmpl);
		fatal(1, "push: cannot use the scratch directory %s", tmpl);
	}
	/* select the image for the first REF's name unless SRC#NAME says */
	snprintf(spec.repo, sizeof spec.repo, "%s", parsed[0].repo);
	snprintf(spec.tag, sizeof spec.tag, "%s", parsed[0].tag[0] ? parsed[0].tag : "latest");
	p.src = &src;
	if (import_load(p.scratch, &spec, SOURCE_IN_PLACE, &src, &set, err, sizeof err) < 0) {
		fprintf(stderr, "packhelper: push: %s\n", err);
		rc = 1;
		goto done;
	}
	if (set.n != 1) {
		fprintf(stderr, "packhelper: push: %s holds %zu images; name one with SRC#NAME\n",
			spec.src, set.n);
		rc = 1;
		goto loaded;
	}
	prepare_image(&p, &set.v[0]);
	if (p.gzip && !set.v[0].generated && !p.quiet)
		fprintf(stderr, "packhelper: push: note: --compression applies to docker-save layers; "
				"an OCI layout's manifests and layers go as they are\n");
	for (size_t i = 0; i < nrefs; i++) {
		/* later references on the same registry mount from the first */
		const char *mount = p.mount_from;
		if (i > 0 && !mount && strcmp(parsed[i].host, parsed[0].host) == 0 &&
		    strcmp(parsed[i].repo, parsed[0].repo) != 0)
			p.mount_from = parsed[0].repo;
		rc = push_image(&p, &set.v[0], &parsed[i], tags, ntags, err, sizeof err) < 0;
		p.mount_from = mount;
		if (rc) {
			fprintf(stderr, "packhelper: push: %s\n", err);
			rc = 1;
			goto loaded;
		}
	}
	printf("%s\n", image_digest(&set.v[0]));
loaded:
	/* gzip outputs are not source entries: remove them here */
	for (size_t i = 0; i < set.n; i++)
		for (size_t k = 0; k < set.v[i].nblobs; k++)
			store_tmp_remove(p.scratch, set.v[i].blobs[k].tmp);
	image_set_free(&set);
	source_close(&src);
done:
	store_close(p.scratch);
	remove_tree(tmpl);
	memset(pass, 0, sizeof pass);
	return rc;
}
