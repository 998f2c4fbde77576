/* source_daemon.c - docker://IMAGE: `docker save` straight from the Engine API
 * (GET /images/{name}/get over the daemon's unix socket, libcurl), read by
 * the tar reader as it arrives, so nothing is staged on the host.
 *
 * A fetch thread runs the transfer (curl_multi) and copies the body into a
 * ring of DAEMON_RING bytes; the tar reader takes blocks of up to
 * DAEMON_BLOCK in place from the ring and hands them on to be hashed and
 * written.  The socket is drained while this thread writes and hashes: the
 * daemon can hold only its socket's send buffer (~200 KiB) in flight, so a
 * reader that stops to write stops the daemon too (that cost a third of the
 * import's time when libcurl ran on this thread).  Each byte is copied from
 * the socket into the ring and from the ring into the store's uploads/; no
 * pipe, and a wake-up only when a side waits for the other.
 *
 * The import is done when the tar is (its end-of-archive blocks read, every
 * member hashed): the Engine ends its chunked body only after it has
 * removed its temporary copy of the image (tens of ms for hundreds of MiB),
 * which is not waited for: the fetch thread is woken (curl_multi_wakeup) and
 * the connection closed.  A body that breaks off before the tar's end, or a
 * bad chunk, is the transfer's error, in one line; nothing read so far is
 * kept (source_close). */
#include "source.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "buf.h"
#include "json.h"
#include "log.h"

#define DAEMON_ERR_MAX 4096
#define DAEMON_BUFFER (512L << 10)
/* what the tar reader gets at a time: larger than HASHSIDE_MIN, so each
 * block is hashed on the second core while it is written */
#define DAEMON_BLOCK ((size_t)1 << 20)
/* the ring between the fetch thread and the reader: 8 blocks (memory: 8 MiB
 * for the import's length) */
#define DAEMON_RING (DAEMON_BLOCK * 8)
/* how long the reader waits for the rest of a block it has a part of */
#define DAEMON_PART_WAIT_NS (5L * 1000 * 1000)

struct fetch {
	CURL *curl;
	CURLM *multi;
	pthread_t tid;
	pthread_mutex_t mu;
	pthread_cond_t to_fetch, to_reader;
	char *ring;              /* DAEMON_RING bytes */
	/* under mu: byte counts since the start, never wrapped */
	uint64_t head;           /* written by the fetch thread */
	uint64_t tail;           /* released by the reader */
	size_t given;            /* the block the reader holds, from tail */
	size_t want;             /* the reader waits for head - tail >= want */
	int fetch_waits, reader_waits;
	int stop;                /* the reader is done: end the transfer */
	int done;                /* the transfer ended (rc says how) */
	long status;
	CURLcode rc;
	/* the fetch thread's alone until done */
	struct buf errbody;      /* the daemon's JSON error, when status != 200 */
	char curl_err[CURL_ERROR_SIZE];
};

/* Copy the body into the ring, waiting for room; 0 (abort) once the
 * reader has stopped. */
static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct fetch *f = ctx;
	size_t len = size * n, left = len;

	if (!f->status) {
		/* once: the status is fixed when the body starts (this thread
		 * is the only writer, so it reads its own value unlocked) */
		long status = 0;
		curl_easy_getinfo(f->curl, CURLINFO_RESPONSE_CODE, &status);
		pthread_mutex_lock(&f->mu);
		f->status = status;
		pthread_mutex_unlock(&f->mu);
	}
	if (f->status != 200) {
		buf_append(&f->errbody, p, len); /* bounded: extra is dropped */
		return len;
	}
	while (left) {
		size_t off, room;
		pthread_mutex_lock(&f->mu);
		while (f->head - f->tail == DAEMON_RING && !f->stop) {
			f->fetch_waits = 1;
			pthread_cond_wait(&f->to_fetch, &f->mu);
		}
		if (f->stop) {
			pthread_mutex_unlock(&f->mu);
			return 0;
		}
		off = (size_t)(f->head % DAEMON_RING);
		room = DAEMON_RING - (size_t)(f->head - f->tail);
		pthread_mutex_unlock(&f->mu);
		if (room > DAEMON_RING - off)
			room = DAEMON_RING - off;
		if (room > left)
			room = left;
		/* [head, tail + RING) is this thread's: copied outside the lock */
		memcpy(f->ring + off, p, room);
		p += room;
		left -= room;
		pthread_mutex_lock(&f->mu);
		f->head += room;
		if (f->reader_waits && f->head - f->tail >= f->want) {
			f->reader_waits = 0;
			pthread_cond_signal(&f->to_reader);
		}
		pthread_mutex_unlock(&f->mu);
	}
	return len;
}

/* The fetch thread: the transfer from start to end, or until stopped. */
static void *fetch_thread(void *arg)
{
	struct fetch *f = arg;
	CURLcode rc = CURLE_RECV_ERROR;
	long status = 0;
	int running = 1;

	while (running) {
		CURLMsg *m;
		int left;
		if (curl_multi_perform(f->multi, &running) != CURLM_OK)
			break;
		while ((m = curl_multi_info_read(f->multi, &left)))
			if (m->msg == CURLMSG_DONE)
				rc = m->data.result;
		if (!running)
			break;
		pthread_mutex_lock(&f->mu);
		left = f->stop;
		pthread_mutex_unlock(&f->mu);
		if (left || curl_multi_poll(f->multi, NULL, 0, 1000, NULL) != CURLM_OK)
			break;
	}
	curl_easy_getinfo(f->curl, CURLINFO_RESPONSE_CODE, &status);
	pthread_mutex_lock(&f->mu);
	f->done = 1;
	f->rc = rc;
	f->status = status;
	if (f->reader_waits) {
		f->reader_waits = 0;
		pthread_cond_signal(&f->to_reader);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

/* source_read_fn: the next block of the body, in place in the ring: up to
 * DAEMON_BLOCK, fewer only at the ring's end or the transfer's.  The block
 * handed out before is released.  An error body (status != 200) reads as
 * an empty stream; source_open_daemon says what the daemon said. */
static long fetch_read(void *ctx, const void **out)
{
	struct fetch *f = ctx;
	size_t off, n;
	long r;

	pthread_mutex_lock(&f->mu);
	f->tail += f->given;
	f->given = 0;
	if (f->fetch_waits) {
		f->fetch_waits = 0;
		pthread_cond_signal(&f->to_fetch);
	}
	off = (size_t)(f->tail % DAEMON_RING);
	f->want = DAEMON_RING - off < DAEMON_BLOCK ? DAEMON_RING - off : DAEMON_BLOCK;
	while (!f->done && f->head - f->tail < f->want) {
		f->reader_waits = 1;
		if (f->head == f->tail) {
			pthread_cond_wait(&f->to_reader, &f->mu);
		} else {
			/* a part of a block: more is on its way while the daemon
			 * streams (a block takes it about 1 ms), unless this is
			 * the tar's end and the daemon holds the body open */
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += DAEMON_PART_WAIT_NS;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			if (pthread_cond_timedwait(&f->to_reader, &f->mu, &ts) == ETIMEDOUT) {
				f->reader_waits = 0;
				break;
			}
		}
	}
	n = (size_t)(f->head - f->tail);
	if (n > f->want)
		n = f->want;
	if (f->status && f->status != 200)
		r = 0;
	else if (!n && f->done && f->rc != CURLE_OK)
		r = -1; /* what came before the break was read first */
	else {
		f->given = n;
		*out = f->ring + off;
		r = (long)n;
	}
	pthread_mutex_unlock(&f->mu);
	return r;
}

/* Stop the fetch thread (ending the transfer if it still runs) and wait for it. */
static void fetch_stop(struct fetch *f)
{
	pthread_mutex_lock(&f->mu);
	f->stop = 1;
	pthread_cond_signal(&f->to_fetch);
	pthread_mutex_unlock(&f->mu);
	curl_multi_wakeup(f->multi);
	pthread_join(f->tid, NULL);
}

/* The socket path from DOCKER_HOST=unix:///path, or the default. */
static const char *docker_socket(void)
{
	const char *h = getenv("DOCKER_HOST");
	if (h && strncmp(h, "unix://", 7) == 0)
		return h + 7;
	return "/var/run/docker.sock";
}

/* The daemon's {"message": "..."} error, or the raw text. */
static void daemon_message(struct fetch *f, char *out, size_t cap)
{
	struct json j;
	snprintf(out, cap, "HTTP %ld", f->status);
	if (!f->errbody.len)
		return;
	if (json_parse(&j, f->errbody.p, f->errbody.len) == 0) {
		json_str_copy(&j, json_get(&j, 0, "message"), out, cap);
		json_free(&j);
	}
}

int source_open_daemon(struct source *src, const struct tmpdir *tmp, const char *image, char *err,
		       size_t cap)
{
	struct fetch f = { 0 };
	char url[2048], what[600], msg[512];
	const char *sock = docker_socket();
	int r;
	char *esc;

	snprintf(what, sizeof what, "docker://%s", image);
	if (access(sock, W_OK) < 0) {
		if (errno == EACCES)
			return log_fail(err, cap, "%s: no permission on the docker socket %s; run the "
					      "container with --group-add <the socket's gid> or --user 0",
				    what, sock);
		return log_fail(err, cap, "%s: cannot use the docker socket %s (%s); mount it with "
				      "-v /var/run/docker.sock:/var/run/docker.sock",
			    what, sock, strerror(errno));
	}
	f.curl = curl_easy_init();
	if (!f.curl)
		return log_fail(err, cap, "%s: cannot start libcurl", what);
	/* names keep their '/' and ':'; anything else odd is escaped */
	esc = curl_easy_escape(f.curl, image, 0);
	if (!esc) {
		curl_easy_cleanup(f.curl);
		return log_fail(err, cap, "out of memory");
	}
	{
		/* undo the escaping of '/' and ':' which the API expects raw */
		char *o = esc;
		for (char *p = esc; *p; p++) {
			if (p[0] == '%' && p[1] == '2' && (p[2] == 'F' || p[2] == 'f')) {
				*o++ = '/';
				p += 2;
			} else if (p[0] == '%' && p[1] == '3' && (p[2] == 'A' || p[2] == 'a')) {
				*o++ = ':';
				p += 2;
			} else {
				*o++ = *p;
			}
		}
		*o = '\0';
	}
	snprintf(url, sizeof url, "http://docker/images/%s/get", esc);
	curl_free(esc);
	f.ring = malloc(DAEMON_RING);
	f.multi = curl_multi_init();
	if (!f.ring || !f.multi) {
		free(f.ring);
		if (f.multi)
			curl_multi_cleanup(f.multi);
		curl_easy_cleanup(f.curl);
		return log_fail(err, cap, "out of memory");
	}
	buf_init(&f.errbody, DAEMON_ERR_MAX);
	curl_easy_setopt(f.curl, CURLOPT_URL, url);
	curl_easy_setopt(f.curl, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(f.curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(f.curl, CURLOPT_WRITEDATA, &f);
	curl_easy_setopt(f.curl, CURLOPT_ERRORBUFFER, f.curl_err);
	curl_easy_setopt(f.curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(f.curl, CURLOPT_CONNECTTIMEOUT, 10L);
	/* the stream is hundreds of MiB: 512 KiB reads (libcurl's maximum in
	 * older releases; the default is 16 KiB) make 32 times fewer reads */
	curl_easy_setopt(f.curl, CURLOPT_BUFFERSIZE, DAEMON_BUFFER);
	curl_multi_add_handle(f.multi, f.curl);
	pthread_mutex_init(&f.mu, NULL);
	pthread_cond_init(&f.to_fetch, NULL);
	pthread_cond_init(&f.to_reader, NULL);
	if ((r = pthread_create(&f.tid, NULL, fetch_thread, &f)) != 0) {
		r = log_fail(err, cap, "%s: cannot start a thread: %s", what, strerror(r));
	} else {
		int ended;
		r = source_open_stream(src, tmp, fetch_read, &f, what, err, cap);
		pthread_mutex_lock(&f.mu);
		ended = f.done; /* on its own, before the tar reader stopped */
		pthread_mutex_unlock(&f.mu);
		fetch_stop(&f);
		if (!ended) {
			/* the tar ended before the body (see above), or the tar
			 * reader failed: its word stands */
		} else if (f.status != 200 && f.rc != CURLE_OK) {
			r = log_fail(err, cap, "%s: docker daemon at %s: %s", what, sock,
				     f.curl_err[0] ? f.curl_err : curl_easy_strerror(f.rc));
		} else if (f.status != 200) {
			daemon_message(&f, msg, sizeof msg);
			r = log_fail(err, cap, "%s: docker daemon: %s", what, msg);
		} else if (f.rc != CURLE_OK) {
			/* the stream broke off: say why, not what the tar reader made of it */
			r = log_fail(err, cap, "%s: transfer from the docker daemon failed: %s", what,
				     f.curl_err[0] ? f.curl_err : curl_easy_strerror(f.rc));
		}
	}
	pthread_cond_destroy(&f.to_reader);
	pthread_cond_destroy(&f.to_fetch);
	pthread_mutex_destroy(&f.mu);
	curl_multi_remove_handle(f.multi, f.curl);
	curl_multi_cleanup(f.multi);
	free(f.ring);
	curl_easy_cleanup(f.curl);
	buf_free(&f.errbody);
	return r;
}
