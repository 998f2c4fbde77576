/* source_daemon.c - docker://IMAGE: `docker save` straight from the Engine API
 * (GET /images/{name}/get over the daemon's unix socket, libcurl), streamed
 * through a pipe into the tar reader, so nothing is staged on the host. */
#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "buf.h"
#include "json.h"
#include "file.h"
#include "log.h"

#define DAEMON_ERR_MAX 4096
#define DAEMON_BUFFER (512L << 10)

struct fetch {
	CURL *curl;
	int wfd;                 /* pipe write end, closed when the body ends */
	long status;
	struct buf errbody;      /* the daemon's JSON error, when status != 200 */
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
	if (file_write_all(f->wfd, p, len) < 0)
		return 0; /* the reader gave up: abort the transfer */
	return len;
}

static void *fetch_thread(void *arg)
{
	struct fetch *f = arg;
	f->rc = curl_easy_perform(f->curl);
	if (!f->status)
		curl_easy_getinfo(f->curl, CURLINFO_RESPONSE_CODE, &f->status);
	close(f->wfd);
	f->wfd = -1;
	return NULL;
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
	struct fetch f = { .wfd = -1 };
	char url[2048], what[600], msg[512];
	const char *sock = docker_socket();
	pthread_t tid;
	int fds[2], r;
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
	if (pipe2(fds, O_CLOEXEC) < 0) {
		curl_easy_cleanup(f.curl);
		return log_fail(err, cap, "pipe: %s", strerror(errno));
	}
	f.wfd = fds[1];
	buf_init(&f.errbody, DAEMON_ERR_MAX);
	curl_easy_setopt(f.curl, CURLOPT_URL, url);
	curl_easy_setopt(f.curl, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(f.curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(f.curl, CURLOPT_WRITEDATA, &f);
	curl_easy_setopt(f.curl, CURLOPT_ERRORBUFFER, f.curl_err);
	curl_easy_setopt(f.curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(f.curl, CURLOPT_CONNECTTIMEOUT, 10L);
	/* the stream is hundreds of MiB: 512 KiB reads (libcurl's maximum in
	 * older releases; the default is 16 KiB) into a 1 MiB pipe (open_tar)
	 * make 32 times fewer reads and writes */
	curl_easy_setopt(f.curl, CURLOPT_BUFFERSIZE, DAEMON_BUFFER);
	if (pthread_create(&tid, NULL, fetch_thread, &f) != 0) {
		close(fds[0]);
		close(fds[1]);
		curl_easy_cleanup(f.curl);
		buf_free(&f.errbody);
		return log_fail(err, cap, "cannot start a thread");
	}
	r = source_open_fd(src, tmp, fds[0], what, 0, err, cap);
	close(fds[0]); /* a writer still blocked gets EPIPE and stops */
	pthread_join(tid, NULL);
	if (f.rc != CURLE_OK && f.status != 200)
		r = log_fail(err, cap, "%s: docker daemon at %s: %s", what, sock,
			 f.curl_err[0] ? f.curl_err : curl_easy_strerror(f.rc));
	else if (f.status != 200) {
		daemon_message(&f, msg, sizeof msg);
		r = log_fail(err, cap, "%s: docker daemon: %s", what, msg);
	} else if (f.rc != CURLE_OK && r == 0) {
		r = log_fail(err, cap, "%s: transfer from the docker daemon failed: %s", what,
			 f.curl_err[0] ? f.curl_err : curl_easy_strerror(f.rc));
	}
	curl_easy_cleanup(f.curl);
	buf_free(&f.errbody);
	return r;
}
