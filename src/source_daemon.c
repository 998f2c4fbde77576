/* source_daemon.c - docker://IMAGE: `docker save` straight from the Engine API
 * (GET /images/{name}/get over the daemon's unix socket, libcurl), read by
 * the tar reader as it arrives, so nothing is staged on the host.
 *
 * libcurl is driven from the tar reader's read callback (curl_multi on this
 * thread): the response is gathered into one block of up to DAEMON_BLOCK
 * bytes, which the tar reader hands on in place to be hashed and written.
 * No thread, no pipe: each byte is copied from the socket, into the block,
 * and into the store's uploads/ (the Engine sends 16 KiB chunks; a pipe
 * between a fetching thread and the reader cost two more copies and a write
 * and a wake-up per chunk).
 *
 * The import is done when the tar is (its end-of-archive blocks read, every
 * member hashed): the Engine ends its chunked body only after it has
 * removed its temporary copy of the image (tens of ms for hundreds of MiB),
 * which is not waited for; the connection is closed.  A body that breaks
 * off before the tar's end, or a bad chunk, is the transfer's error, in one
 * line; nothing read so far is kept (source_close). */
#include "source.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
/* the block's room: a block is handed on once it holds DAEMON_BLOCK, and
 * libcurl hands over at most DAEMON_BUFFER at once, so what one
 * curl_multi_perform brings mostly fits; the rest waits in libcurl (a pause,
 * which costs it a copy).  Past DAEMON_BLOCK_MAX at once is refused. */
#define DAEMON_ROOM (DAEMON_BLOCK * 2)
#define DAEMON_BLOCK_MAX ((size_t)16 << 20)

struct fetch {
	CURL *curl;
	CURLM *multi;
	long status;
	struct buf errbody;      /* the daemon's JSON error, when status != 200 */
	char *blk;               /* the block handed to the tar reader */
	size_t len, cap;
	int paused;              /* on_body refused bytes: the block is full */
	int done;                /* the transfer ended (rc says how) */
	CURLcode rc;
	char curl_err[CURL_ERROR_SIZE];
};

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct fetch *f = ctx;
	size_t len = size * n;

	if (!f->status)
		curl_easy_getinfo(f->curl, CURLINFO_RESPONSE_CODE, &f->status);
	if (f->status != 200) {
		buf_append(&f->errbody, p, len); /* bounded: extra is dropped */
		return len;
	}
	if (f->len + len > f->cap) {
		if (f->len) {
			f->paused = 1; /* kept by libcurl until the next read */
			return CURL_WRITEFUNC_PAUSE;
		}
		if (len > DAEMON_BLOCK_MAX) {
			snprintf(f->curl_err, sizeof f->curl_err, "a write of %zu bytes at once", len);
			return 0;
		}
		char *b = realloc(f->blk, len);
		if (!b) {
			snprintf(f->curl_err, sizeof f->curl_err, "out of memory");
			return 0;
		}
		f->blk = b;
		f->cap = len;
	}
	memcpy(f->blk + f->len, p, len);
	f->len += len;
	return len;
}

/* The transfer ended: how. */
static void fetch_end(struct fetch *f)
{
	CURLMsg *m;
	int left;
	f->done = 1;
	f->rc = CURLE_RECV_ERROR;
	while ((m = curl_multi_info_read(f->multi, &left)))
		if (m->msg == CURLMSG_DONE)
			f->rc = m->data.result;
	if (!f->status)
		curl_easy_getinfo(f->curl, CURLINFO_RESPONSE_CODE, &f->status);
}

/* source_read_fn: the next block of the body, gathered until it is full or
 * the transfer ends.  An error body (status != 200) is read to its end and
 * reads as an empty stream; source_open_daemon says what the daemon said. */
static long fetch_read(void *ctx, const void **out)
{
	struct fetch *f = ctx;

	f->len = 0; /* the reader is done with the last block */
	if (f->paused) {
		f->paused = 0;
		/* may deliver what libcurl kept, through on_body, right here */
		if (curl_easy_pause(f->curl, CURLPAUSE_CONT) != CURLE_OK) {
			f->done = 1;
			f->rc = CURLE_RECV_ERROR;
		}
	}
	while (!f->done && !f->paused && f->len < DAEMON_BLOCK) {
		int running = 0;
		if (curl_multi_perform(f->multi, &running) != CURLM_OK) {
			f->done = 1;
			f->rc = CURLE_RECV_ERROR;
			break;
		}
		if (!running) {
			fetch_end(f);
			break;
		}
		if (f->paused || f->len >= DAEMON_BLOCK)
			break;
		if (curl_multi_poll(f->multi, NULL, 0, 1000, NULL) != CURLM_OK) {
			f->done = 1;
			f->rc = CURLE_RECV_ERROR;
		}
	}
	if (f->status && f->status != 200)
		return 0;
	if (f->done && f->rc != CURLE_OK)
		return -1;
	*out = f->blk;
	return (long)f->len;
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
	f.cap = DAEMON_ROOM;
	f.blk = malloc(f.cap);
	f.multi = curl_multi_init();
	if (!f.blk || !f.multi) {
		free(f.blk);
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
	r = source_open_stream(src, tmp, fetch_read, &f, what, err, cap);
	/* status 200 and not done: the tar ended before the body (see above) */
	if (f.status != 200 && !f.done) {
		/* the tar reader stopped early on an error body: read it out */
		while (!f.done) {
			const void *ignored;
			fetch_read(&f, &ignored);
		}
	}
	if (f.status != 200 && f.rc != CURLE_OK && f.done)
		r = log_fail(err, cap, "%s: docker daemon at %s: %s", what, sock,
			 f.curl_err[0] ? f.curl_err : curl_easy_strerror(f.rc));
	else if (f.status != 200) {
		daemon_message(&f, msg, sizeof msg);
		r = log_fail(err, cap, "%s: docker daemon: %s", what, msg);
	} else if (f.done && f.rc != CURLE_OK) {
		/* the stream broke off: say why, not what the tar reader made of it */
		r = log_fail(err, cap, "%s: transfer from the docker daemon failed: %s", what,
			 f.curl_err[0] ? f.curl_err : curl_easy_strerror(f.rc));
	}
	curl_multi_remove_handle(f.multi, f.curl);
	curl_multi_cleanup(f.multi);
	free(f.blk);
	curl_easy_cleanup(f.curl);
	buf_free(&f.errbody);
	return r;
}
