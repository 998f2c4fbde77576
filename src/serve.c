/* serve.c - `packhelper serve`: options, bind, open the store, run the loop
 * (and periodic garbage collection, in steps between requests), end cleanly
 * on SIGTERM/SIGINT (it runs as PID 1 in its container). */
#include "serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "clock.h"
#include "conn.h"
#include "file.h"
#include "http.h"
#include "import.h"
#include "json.h"
#include "log.h"
#include "map.h"
#include "reg.h"
#include "store.h"

#define ACCEPTS_PER_EVENT 64

struct server {
	struct ev *ev;
	struct store *store;
	const struct serve_options *opt;
	struct reg reg;          /* the registry over store */
	struct conn_set conns;   /* every connection */
	int listen_fd;
	struct ev_io listen_io;
	int accept_paused;
	struct map peers;        /* peer address -> open connections (as uintptr_t) */
	int reserve_fd;          /* a descriptor held back so accept can refuse politely */
	char listen_addr[64];    /* the bound address, port resolved */
	int exit_status;
	/* imports run on a thread and come back through this pipe to commit */
	int import_pipe[2];
	struct ev_io import_io;
	unsigned imports_done;
	int import_running;       /* the import thread has not returned */
	struct buf *ready_images; /* JSON array items for the ready line */
	int64_t t_start_ms;
	/* garbage collection (--gc-interval) */
	int64_t gc_next_ms;       /* the loop's clock when the next one starts */
	int64_t gc_t0_us;         /* when the one under way started */
	int64_t gc_max_step_us;   /* its longest step */
	int64_t gc_steps_us;      /* all its steps */
};


static const char usage[] =
	"usage: packhelper serve [--listen ADDR:PORT] [--root DIR] [--read-only]\n"
	"                        [--import SRC[#NAME][=REPO[:TAG]]]... [--ready-file PATH]\n"
	"                        [--import-mode auto|in-place|copy]\n"
	"                        [--log-level error|warn|info|debug]\n"
	"                        [--header-timeout S] [--idle-timeout S] [--body-timeout S]\n"
	"                        [--upload-expiry S] [--min-rate BYTES]\n"
	"                        [--max-conns N] [--max-conns-per-peer N] [--max-buffered SIZE]\n"
	"                        [--max-sndbuf SIZE|0] [--max-uploads N] [--max-uploads-per-peer N]\n"
	"                        [--allow-sparse]\n"
	"                        [--gc-interval DURATION] [--gc-grace DURATION] [--gc-delete-untagged]\n"
	"                        [--mirror URL]... [--mirror-insecure] [--mirror-tag-ttl DURATION]\n"
	"                        [--mirror-jobs N] [--mirror-max-waiting N] [--mirror-timeout DURATION]\n"
	"                        [--mirror-stall-timeout DURATION]\n";

/* Parse "HOST:PORT", "[V6]:PORT" or ":PORT" into ss.  -1 if malformed. */
static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[64];
	const char *colon;
	char *end;
	long port;
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof *ss);
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || rb[1] != ':' || (size_t)(rb - s - 1) >= sizeof host)
			return -1;
		memcpy(host, s + 1, (size_t)(rb - s - 1));
		host[rb - s - 1] = '\0';
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || (size_t)(colon - s) >= sizeof host)
			return -1;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port < 0 || port > 65535)
		return -1;
	if (host[0] == '\0' || strcmp(host, "*") == 0)
		snprintf(host, sizeof host, "0.0.0.0");
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		*len = sizeof *in4;
		return 0;
	}
	if (strcmp(host, "localhost") == 0) {
		in4->sin_family = AF_INET;
		in4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		in4->sin_port = htons((uint16_t)port);
		*len = sizeof *in4;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof *in6;
		return 0;
	}
	return -1;
}

/* "ADDR:PORT" (or "[V6]:PORT") into out, and ADDR alone into host. */
static void format_addr(const struct sockaddr_storage *ss, char *out, size_t cap, char *host,
			size_t hcap)
{
	snprintf(host, hcap, "?");
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, (socklen_t)hcap);
		snprintf(out, cap, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		const struct sockaddr_in *in4 = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &in4->sin_addr, host, (socklen_t)hcap);
		snprintf(out, cap, "%s:%u", host, ntohs(in4->sin_port));
	}
}

static int listen_on(struct server *srv, const char *spec)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	if (parse_listen(spec, &ss, &len) < 0)
		fatal(2, "--listen %s: expected ADDR:PORT, e.g. 0.0.0.0:5000 or [::1]:5000", spec);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fatal(1, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		fatal(1, "listen on %s: %s", spec, strerror(errno));
	if (listen(fd, 1024) < 0)
		fatal(1, "listen on %s: %s", spec, strerror(errno));
	len = sizeof ss;
	getsockname(fd, (struct sockaddr *)&ss, &len);
	{
		char host[INET6_ADDRSTRLEN];
		format_addr(&ss, srv->listen_addr, sizeof srv->listen_addr, host, sizeof host);
	}
	return fd;
}

/* Answer a connection we will not serve with the spec's error envelope and
 * close it.  Best effort and never blocking: the socket is new, so its send
 * buffer has room for these few hundred bytes. */
static void refuse(int fd, int status, const char *code, const char *msg)
{
	char body[256], resp[512], junk[4096];
	int bn = snprintf(body, sizeof body, "{\"errors\":[{\"code\":\"%s\",\"message\":\"%s\"}]}\n",
			  code, msg);
	int n = snprintf(resp, sizeof resp,
			 "HTTP/1.1 %d %s\r\nContent-Type: application/json; charset=utf-8\r\n"
			 "Retry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s",
			 status, http_status_text(status), bn, body);
	/* take what the client already sent, so the close is not a reset that
	 * throws away this answer before the client reads it */
	for (int i = 0; i < 4 && recv(fd, junk, sizeof junk, MSG_DONTWAIT) > 0; i++)
		;
	/* a client that is already gone needs nothing more */
	if (n > 0 && (size_t)n < sizeof resp)
		(void)send(fd, resp, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	shutdown(fd, SHUT_WR);
	close(fd);
}

static uintptr_t peer_count(const struct server *srv, const char *addr)
{
	return (uintptr_t)map_get(&srv->peers, addr);
}

static int peer_add(struct server *srv, const char *addr, int delta)
{
	uintptr_t n = peer_count(srv, addr) + (uintptr_t)(intptr_t)delta;
	if (n == 0) {
		map_del(&srv->peers, addr);
		return 0;
	}
	return map_put(&srv->peers, addr, (void *)n);
}

static void pause_accept(struct server *srv)
{
	if (!srv->accept_paused) {
		ev_io_set(srv->ev, &srv->listen_io, 0);
		srv->accept_paused = 1;
	}
}

static void resume_accept(struct server *srv)
{
	if (srv->accept_paused) {
		srv->accept_paused = 0;
		ev_io_set(srv->ev, &srv->listen_io, EV_READ);
	}
}

/* Out of descriptors: spend the reserve on one accept to refuse the waiting
 * client politely, then stop listening until a descriptor comes back (a
 * connection closes, or the next tick).  Level-triggered epoll would
 * otherwise report the same pending connection at once, for ever. */
static void out_of_descriptors(struct server *srv)
{
	int fd;
	if (srv->reserve_fd >= 0) {
		close(srv->reserve_fd);
		srv->reserve_fd = -1;
		fd = accept4(srv->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0)
			refuse(fd, 503, "UNAVAILABLE", "server out of file descriptors, retry");
		srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	log_warnx_limited("accept: out of file descriptors; pausing the listener");
	pause_accept(srv);
}

static void on_accept(struct ev *ev, struct ev_io *io, unsigned events)
{
	struct server *srv = io->data;
	static struct log_limit full_log, peer_log, err_log;
	(void)ev;
	(void)events;
	for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof ss;
		char peer[64], addr[48];
		int fd;

		fd = accept4(srv->listen_fd, (struct sockaddr *)&ss, &len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				out_of_descriptors(srv);
			else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_limited_errno(LOG_WARN, &err_log, "accept");
			return;
		}
		format_addr(&ss, peer, sizeof peer, addr, sizeof addr);
		if (srv->conns.n >= srv->opt->max_conns) {
			log_limited(LOG_WARN, &full_log, "%s: refused: connection limit %u reached", peer,
				    srv->opt->max_conns);
			refuse(fd, 503, "UNAVAILABLE", "connection limit reached, retry");
			continue;
		}
		if (peer_count(srv, addr) >= srv->opt->max_conns_per_peer) {
			log_limited(LOG_WARN, &peer_log, "%s: refused: %u connections from %s already",
				    peer, srv->opt->max_conns_per_peer, addr);
			refuse(fd, 429, "TOOMANYREQUESTS", "too many connections from this address");
			continue;
		}
		if (peer_add(srv, addr, 1) < 0 || !conn_new(&srv->conns, fd, peer, addr)) {
			if (peer_count(srv, addr))
				peer_add(srv, addr, -1);
			log_limited(LOG_WARN, &err_log, "dropping connection from %s: out of memory", peer);
			close(fd);
		}
	}
}

/* A connection from peer_addr closed: its per-peer count drops, and a
 * listener paused for want of descriptors resumes. */
static void conn_closed(void *owner, const char *peer_addr)
{
	struct server *srv = owner;
	peer_add(srv, peer_addr, -1);
	resume_accept(srv);
}

static void on_signal(struct ev *ev, struct ev_io *io, unsigned events)
{
	struct signalfd_siginfo si;
	(void)events;
	if (read(io->fd, &si, sizeof si) == (ssize_t)sizeof si)
		log_info("signal %u: shutting down", si.ssi_signo);
	ev_stop(ev);
}

static void on_tick(struct ev *ev, void *data)
{
	struct server *srv = data;
	int64_t now = ev_now(ev);
	conn_tick(&srv->conns, now);
	if (srv->reserve_fd < 0)
		srv->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	/* paused for want of descriptors: try again once a second */
	resume_accept(srv);
	store_upload_expire(srv->store, now, srv->opt->upload_expiry_ms);
	store_tick(srv->store, now);
	if (srv->opt->gc_interval_ms && !store_gc_running(srv->store) && now >= srv->gc_next_ms) {
		struct store_gc_options o = { .grace_ms = srv->opt->gc_grace_ms,
					      .untagged = srv->opt->gc_untagged };
		if (store_gc_start(srv->store, &o, now) < 0) {
			log_warn("gc: cannot start");
			srv->gc_next_ms = now + srv->opt->gc_interval_ms;
		} else {
			srv->gc_t0_us = clock_us();
			srv->gc_max_step_us = srv->gc_steps_us = 0;
		}
	}
}

/* One bounded step of the collection under way, between two turns of
 * requests; the loop only polls while there is more. */
static void gc_step(struct server *srv)
{
	int64_t t = clock_us(), now = ev_now(srv->ev);
	int more = store_gc_step(srv->store, now);
	t = clock_us() - t;
	if (t > srv->gc_max_step_us)
		srv->gc_max_step_us = t;
	srv->gc_steps_us += t;
	if (more) {
		ev_busy(srv->ev);
		return;
	}
	{
		const struct store_gc_stats *s = store_gc_stats(srv->store);
		char line[512];
		store_gc_describe(s, 0, line, sizeof line);
		log_info("gc: %s in %.1f ms (%llu step%s: %.1f ms, the longest %.2f ms)", line,
			 (double)(clock_us() - srv->gc_t0_us) / 1000.0, (unsigned long long)s->steps,
			 s->steps == 1 ? "" : "s", (double)srv->gc_steps_us / 1000.0,
			 (double)srv->gc_max_step_us / 1000.0);
	}
	srv->gc_next_ms = now + srv->opt->gc_interval_ms;
}

static void before_sleep(struct ev *ev, void *data)
{
	struct server *srv = data;
	conn_reap(&srv->conns);
	store_clock(srv->store, ev_now(ev));
	if (store_gc_running(srv->store))
		gc_step(srv);
	log_flush();
}

/* ---- imports and readiness ---- */

struct import_job {
	struct import_spec spec;
	struct source src;
	struct image_set set;
	int rc;
	char err[1024];
	double seconds;
};

/* Read and verify every import, in order, off the event loop; hand each to
 * the loop through the pipe.  Stops at the first failure. */
static void *import_thread(void *arg)
{
	struct server *srv = arg;
	for (unsigned i = 0; i < srv->opt->nimports; i++) {
		struct import_job *job = calloc(1, sizeof *job);
		int64_t t0 = clock_us();
		int rc;
		if (!job)
			abort();
		job->rc = import_parse_spec(srv->opt->imports[i], &job->spec, job->err, sizeof job->err);
		if (job->rc == 0)
			job->rc = import_load(store_tmpdir(srv->store), &job->spec,
					      import_mode_flags((enum import_mode)srv->opt->import_mode),
					      &job->src, &job->set, job->err, sizeof job->err);
		job->seconds = (double)(clock_us() - t0) / 1e6;
		rc = job->rc; /* once written, job belongs to the loop, which frees it */
		if (write(srv->import_pipe[1], &job, sizeof job) != (ssize_t)sizeof job)
			abort(); /* a pipe write of one pointer cannot be short */
		if (rc < 0)
			break;
	}
	__atomic_store_n(&srv->import_running, 0, __ATOMIC_RELEASE);
	return NULL;
}

/* Every import is committed: say so on stdout (and in --ready-file). */
static void announce_ready(struct server *srv)
{
	struct buf b;
	buf_init(&b, 1 << 20);
	srv->reg.ready = 1;
	buf_puts(&b, "{\"ready\":true,\"listen\":\"");
	buf_puts(&b, srv->listen_addr);
	buf_puts(&b, "\",\"images\":[");
	if (srv->ready_images && srv->ready_images->len)
		buf_append(&b, srv->ready_images->p, srv->ready_images->len);
	buf_printf(&b, "],\"startup_ms\":%lld}\n", (long long)(clock_ms() - srv->t_start_ms));
	fwrite(b.p, 1, b.len, stdout);
	fflush(stdout);
	if (srv->opt->ready_file && file_write_atomic(AT_FDCWD, srv->opt->ready_file, b.p, b.len) < 0)
		log_warn("write --ready-file %s", srv->opt->ready_file);
	log_info("ready");
	buf_free(&b);
}

static void import_failed(struct server *srv, const char *src, const char *err)
{
	(void)src; /* every message names its source already */
	log_error("import failed: %s", err);
	srv->exit_status = 1;
	ev_stop(srv->ev);
}

static void on_import(struct ev *ev, struct ev_io *io, unsigned events)
{
	struct server *srv = io->data;
	struct import_job *job;
	(void)ev;
	(void)events;
	while (read(io->fd, &job, sizeof job) == (ssize_t)sizeof job) {
		char err[1024];
		if (job->rc < 0) {
			import_failed(srv, job->spec.src[0] ? job->spec.src : "?", job->err);
			free(job);
			return;
		}
		for (size_t i = 0; i < job->set.n; i++) {
			const struct image *img = &job->set.v[i];
			if (image_commit(srv->store, &job->src, img, err, sizeof err) < 0) {
				import_failed(srv, job->spec.src, err);
				source_close(&job->src);
				image_set_free(&job->set);
				free(job);
				return;
			}
			log_info("imported %s%s%s %s from %s (%.1f MiB %s in %.3f s)", img->repo,
				 img->tag[0] ? ":" : "", img->tag, image_digest(img), job->spec.src,
				 (double)(job->src.serve ? job->src.verified : job->src.bytes) / 1048576.0,
				 job->src.serve ? "verified in place" : "copied", job->seconds);
			if (srv->ready_images->len)
				buf_puts(srv->ready_images, ",");
			buf_puts(srv->ready_images, "{\"ref\":");
			{
				char ref[STORE_NAME_MAX + DIGEST_STR_MAX + 2];
				snprintf(ref, sizeof ref, "%s%s%s", img->repo, img->tag[0] ? ":" : "@",
					 img->tag[0] ? img->tag : image_digest(img));
				json_write_str(srv->ready_images, ref, strlen(ref));
			}
			buf_printf(srv->ready_images, ",\"digest\":\"%s\"}", image_digest(img));
		}
		source_close(&job->src);
		image_set_free(&job->set);
		free(job);
		if (++srv->imports_done == srv->opt->nimports)
			announce_ready(srv);
	}
}

/* Check the specs now, so a typo fails before anything starts. */
static void check_import_specs(const struct serve_options *opt)
{
	for (unsigned i = 0; i < opt->nimports; i++) {
		struct import_spec spec;
		char err[1024];
		if (import_parse_spec(opt->imports[i], &spec, err, sizeof err) < 0)
			fatal(2, "%s", err);
	}
}

static void start_imports(struct server *srv)
{
	static struct buf images;
	pthread_t tid;
	pthread_attr_t attr;

	buf_init(&images, 1 << 20);
	srv->ready_images = &images;
	if (srv->opt->nimports == 0) {
		announce_ready(srv);
		return;
	}
	if (pipe2(srv->import_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		fatal(1, "pipe: %s", strerror(errno));
	/* the thread blocks on its writes; only the loop's end is non-blocking */
	fcntl(srv->import_pipe[1], F_SETFL, 0);
	ev_io_init(&srv->import_io, srv->import_pipe[0], on_import, srv);
	if (ev_io_set(srv->ev, &srv->import_io, EV_READ) < 0)
		fatal(1, "epoll_ctl: %s", strerror(errno));
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	srv->import_running = 1;
	if (pthread_create(&tid, &attr, import_thread, srv) != 0)
		fatal(1, "cannot start the import thread");
	pthread_attr_destroy(&attr);
}

static unsigned conn_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max > 65536 ? 65536 : rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
			getrlimit(RLIMIT_NOFILE, &rl);
		}
		/* each connection may hold a socket and a blob or upload file */
		if (rl.rlim_cur < 64)
			return 8;
		return rl.rlim_cur / 2 - 16 > 16384 ? 16384 : (unsigned)(rl.rlim_cur / 2 - 16);
	}
	return 512;
}

/* "1.5" -> 1500 ms; fatal unless a positive number of seconds up to a day */
static int64_t parse_seconds(const char *opt, const char *v)
{
	char *end;
	double d;
	errno = 0;
	d = strtod(v, &end);
	if (errno || end == v || *end || !(d > 0) || d > 86400)
		fatal(2, "%s: expected seconds (0 < N <= 86400), got %s", opt, v);
	return (int64_t)(d * 1000 + 0.5);
}

/* "256M", "1G", "65536" -> bytes; fatal unless 1 <= N <= max */
static uint64_t parse_size(const char *opt, const char *v, uint64_t max)
{
	char *end;
	unsigned long long n;
	unsigned shift = 0;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (end != v && end[0] && !end[1]) {
		switch (end[0]) {
		case 'k': case 'K': shift = 10; end++; break;
		case 'm': case 'M': shift = 20; end++; break;
		case 'g': case 'G': shift = 30; end++; break;
		}
	}
	if (errno || end == v || *end || v[0] == '-' || n == 0 || n > (max >> shift))
		fatal(2, "%s: expected a number from 1 to %llu (K, M, G allowed), got %s", opt,
		      (unsigned long long)max, v);
	return (uint64_t)n << shift;
}

static const char *need_arg(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc)
		fatal(2, "%s needs a value\n%s", argv[*i], usage);
	return argv[++*i];
}

int serve_main(int argc, char **argv)
{
	static struct serve_options opt = {
		.listen = "0.0.0.0:5000",
		.root = "/var/lib/packhelper",
		.idle_timeout_ms = 60000,
		.header_timeout_ms = 20000,
		.body_timeout_ms = 60000,
		.upload_expiry_ms = 3600 * 1000,
		.max_conns_per_peer = SERVE_MAX_CONNS_PER_PEER,
		.max_buffered = SERVE_MAX_BUFFERED,
		.max_sndbuf = SERVE_MAX_SNDBUF,
		.min_rate = SERVE_MIN_RATE,
		.max_uploads = STORE_MAX_UPLOADS_DEFAULT,
		.max_uploads_per_peer = STORE_MAX_UPLOADS_PER_OWNER_DEFAULT,
		.gc_grace_ms = SERVE_GC_GRACE_MS,
		.mirror = { .tag_ttl_ms = -1 },
	};
	int gc_opts = 0; /* a --gc-* option other than --gc-interval was given */
	int mirror_opts = 0; /* a --mirror-* option was given */
	const char *mirror_urls[MIRROR_MAX_UPSTREAMS];
	unsigned nmirror = 0;
	struct mirror *mirror = NULL;
	unsigned max_conns = 0;
	static struct server srv;

	srv.t_start_ms = clock_ms();
	struct ev_io sig_io;
	sigset_t mask;
	int sfd;

	if (getenv("PACKHELPER_ROOT"))
		opt.root = getenv("PACKHELPER_ROOT");
	if (getenv("PACKHELPER_LISTEN"))
		opt.listen = getenv("PACKHELPER_LISTEN");
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--listen") == 0 || strcmp(a, "-l") == 0) {
			opt.listen = need_arg(argc, argv, &i);
		} else if (strcmp(a, "--root") == 0) {
			opt.root = need_arg(argc, argv, &i);
		} else if (strcmp(a, "--header-timeout") == 0) {
			opt.header_timeout_ms = parse_seconds(a, need_arg(argc, argv, &i));
		} else if (strcmp(a, "--idle-timeout") == 0) {
			opt.idle_timeout_ms = parse_seconds(a, need_arg(argc, argv, &i));
		} else if (strcmp(a, "--body-timeout") == 0) {
			opt.body_timeout_ms = parse_seconds(a, need_arg(argc, argv, &i));
		} else if (strcmp(a, "--upload-expiry") == 0) {
			opt.upload_expiry_ms = parse_seconds(a, need_arg(argc, argv, &i));
		} else if (strcmp(a, "--min-rate") == 0) {
			opt.min_rate = parse_size(a, need_arg(argc, argv, &i), (uint64_t)1 << 40);
		} else if (strcmp(a, "--max-conns") == 0) {
			max_conns = (unsigned)parse_size(a, need_arg(argc, argv, &i), 1 << 20);
		} else if (strcmp(a, "--max-conns-per-peer") == 0) {
			opt.max_conns_per_peer = (unsigned)parse_size(a, need_arg(argc, argv, &i), 1 << 20);
		} else if (strcmp(a, "--max-buffered") == 0) {
			opt.max_buffered = (size_t)parse_size(a, need_arg(argc, argv, &i), (uint64_t)1 << 40);
		} else if (strcmp(a, "--max-sndbuf") == 0) {
			const char *v = need_arg(argc, argv, &i);
			opt.max_sndbuf = strcmp(v, "0") == 0 ? 0 : (size_t)parse_size(a, v, (uint64_t)1 << 30);
			if (opt.max_sndbuf && opt.max_sndbuf < 8192)
				fatal(2, "%s: at least 8K (the kernel's floor is 4.5K), or 0 for the "
					 "kernel's autotuning", a);
		} else if (strcmp(a, "--max-uploads") == 0) {
			opt.max_uploads = (unsigned)parse_size(a, need_arg(argc, argv, &i), 1 << 20);
		} else if (strcmp(a, "--max-uploads-per-peer") == 0) {
			opt.max_uploads_per_peer = (unsigned)parse_size(a, need_arg(argc, argv, &i), 1 << 20);
		} else if (strcmp(a, "--allow-sparse") == 0) {
			opt.allow_sparse = 1;
		} else if (strcmp(a, "--gc-interval") == 0 || strcmp(a, "--gc-grace") == 0) {
			const char *v = need_arg(argc, argv, &i);
			int64_t ms = cli_duration_ms(v);
			if (ms < 0)
				fatal(2, "%s: expected a duration up to a day (250ms, 30s, 10m, "
					 "1h, 0), got %s", a, v);
			if (strcmp(a, "--gc-interval") == 0) {
				opt.gc_interval_ms = ms;
			} else {
				opt.gc_grace_ms = ms;
				gc_opts = 1;
			}
		} else if (strcmp(a, "--gc-delete-untagged") == 0) {
			opt.gc_untagged = 1;
			gc_opts = 1;
		} else if (strcmp(a, "--mirror") == 0) {
			if (nmirror == MIRROR_MAX_UPSTREAMS)
				fatal(2, "at most %d --mirror", MIRROR_MAX_UPSTREAMS);
			mirror_urls[nmirror++] = need_arg(argc, argv, &i);
		} else if (strcmp(a, "--mirror-insecure") == 0) {
			opt.mirror.insecure = 1;
			mirror_opts = 1;
		} else if (strcmp(a, "--mirror-tag-ttl") == 0 || strcmp(a, "--mirror-timeout") == 0 ||
			   strcmp(a, "--mirror-stall-timeout") == 0) {
			const char *v = need_arg(argc, argv, &i);
			int64_t ms = cli_duration_ms(v);
			int ttl = strcmp(a, "--mirror-tag-ttl") == 0;
			if (ms < 0 || (!ttl && ms < 1000))
				fatal(2, "%s: expected a duration up to a day (%s30s, 10m, 1h), got %s", a,
				      ttl ? "0, " : "at least 1s: ", v);
			if (ttl)
				opt.mirror.tag_ttl_ms = ms;
			else if (strcmp(a, "--mirror-timeout") == 0)
				opt.mirror.timeout_ms = ms;
			else
				opt.mirror.stall_s = (long)(ms / 1000);
			mirror_opts = 1;
		} else if (strcmp(a, "--mirror-jobs") == 0) {
			opt.mirror.jobs = (unsigned)parse_size(a, need_arg(argc, argv, &i), 256);
			mirror_opts = 1;
		} else if (strcmp(a, "--mirror-max-waiting") == 0) {
			opt.mirror.max_waiting = (unsigned)parse_size(a, need_arg(argc, argv, &i), 1 << 20);
			mirror_opts = 1;
		} else if (strcmp(a, "--import") == 0) {
			if (opt.nimports == SERVE_MAX_IMPORTS)
				fatal(2, "at most %d --import", SERVE_MAX_IMPORTS);
			opt.imports[opt.nimports++] = need_arg(argc, argv, &i);
		} else if (strcmp(a, "--import-mode") == 0) {
			const char *v = need_arg(argc, argv, &i);
			if ((opt.import_mode = import_mode_parse(v)) < 0)
				fatal(2, "--import-mode: expected auto, in-place or copy, got %s", v);
		} else if (strcmp(a, "--ready-file") == 0) {
			opt.ready_file = need_arg(argc, argv, &i);
		} else if (strcmp(a, "--read-only") == 0) {
			opt.read_only = 1;
		} else if (strcmp(a, "--log-level") == 0) {
			int l = log_level_parse(need_arg(argc, argv, &i));
			if (l < 0)
				fatal(2, "--log-level: expected error, warn, info or debug");
			log_level = l;
		} else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
			log_level = LOG_DEBUG;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage, stdout);
			return 0;
		} else {
			fatal(2, "serve: unknown option %s\n%s", a, usage);
		}
	}
	check_import_specs(&opt);
	opt.mirror.tag_ttl_ms = opt.mirror.tag_ttl_ms < 0 ? MIRROR_TAG_TTL_MS_DEFAULT
							    : opt.mirror.tag_ttl_ms;
	for (unsigned k = 0; k < nmirror; k++) {
		char err[512];
		if (upstream_parse(mirror_urls[k], opt.mirror.insecure, &opt.mirror.ups[k], err,
				   sizeof err) < 0)
			fatal(2, "%s", err);
		for (unsigned l = 0; l < k; l++)
			if (strcmp(opt.mirror.ups[l].host, opt.mirror.ups[k].host) == 0)
				fatal(2, "--mirror: %s is given twice", opt.mirror.ups[k].host);
		opt.mirror.nups++;
	}
	if (mirror_opts && !nmirror)
		fatal(2, "--mirror-* options need --mirror URL");
	if (nmirror && opt.read_only)
		fatal(2, "--mirror: a mirror stores what it fetches; not with --read-only");
	if (nmirror && opt.nimports)
		fatal(2, "--mirror: every repository of a mirror is an upstream's; not with --import");
	if (opt.gc_interval_ms && opt.read_only)
		fatal(2, "--gc-interval: a --read-only store is never collected");
	if (gc_opts && !opt.gc_interval_ms)
		fatal(2, "--gc-grace and --gc-delete-untagged need --gc-interval");
	opt.max_conns = conn_limit();
	if (max_conns) {
		if (max_conns > opt.max_conns)
			log_warnx("--max-conns %u: past the %u the descriptor limit allows; clients "
				  "may be refused for want of descriptors", max_conns, opt.max_conns);
		opt.max_conns = max_conns;
	}
	if (opt.max_conns_per_peer > opt.max_conns)
		opt.max_conns_per_peer = opt.max_conns;
	srv.opt = &opt;
	srv.listen_fd = -1;
	map_init(&srv.peers);
	srv.reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0)
		fatal(1, "signalfd: %s", strerror(errno));

	srv.ev = ev_new();
	if (!srv.ev)
		fatal(1, "epoll: %s", strerror(errno));
	srv.listen_fd = listen_on(&srv, opt.listen);
	if (store_open(&srv.store, opt.root, opt.read_only ? STORE_READ_ONLY : 0) < 0)
		fatal(1, "cannot open the store at %s", opt.root);
	/* the links found on disk count from now, after the loading, for gc */
	store_clock(srv.store, clock_ms());
	store_set_limits(srv.store, &(struct store_limits){ opt.max_uploads, opt.max_uploads_per_peer });
	srv.reg = (struct reg){ .store = srv.store, .read_only = opt.read_only,
				.allow_sparse = opt.allow_sparse };
	if (nmirror) {
		char err[512];
		/* the workers inherit the blocked signals: the loop's signalfd gets them */
		mirror = mirror_new(&opt.mirror, srv.store, srv.ev, reg_manifest_mirrored, err,
				    sizeof err);
		if (!mirror)
			fatal(1, "--mirror: %s", err);
		srv.reg.mirror = mirror;
		srv.reg.read_only = 1; /* pushes: 405, as registry:2's proxy */
	}
	srv.conns = (struct conn_set){
		.ev = srv.ev,
		.lim = { .header_timeout_ms = opt.header_timeout_ms,
			 .idle_timeout_ms = opt.idle_timeout_ms,
			 .body_timeout_ms = opt.body_timeout_ms,
			 .min_rate = opt.min_rate,
			 .max_buffered = opt.max_buffered,
			 .max_sndbuf = opt.max_sndbuf },
		.app = reg_app(&srv.reg),
		.on_close = conn_closed,
		.owner = &srv,
	};
	ev_io_init(&srv.listen_io, srv.listen_fd, on_accept, &srv);
	ev_io_init(&sig_io, sfd, on_signal, &srv);
	if (ev_io_set(srv.ev, &srv.listen_io, EV_READ) < 0 || ev_io_set(srv.ev, &sig_io, EV_READ) < 0)
		fatal(1, "epoll_ctl: %s", strerror(errno));
	ev_set_tick(srv.ev, on_tick, &srv);
	srv.gc_next_ms = ev_now(srv.ev) + opt.gc_interval_ms;
	ev_set_before_sleep(srv.ev, before_sleep, &srv);
	log_info("serving %s on %s%s", opt.root, srv.listen_addr, opt.read_only ? " (read-only)" : "");
	for (unsigned k = 0; k < opt.mirror.nups; k++)
		log_info("mirror: %s%s as %s/...%s", opt.mirror.ups[k].plain ? "http://" : "",
			 opt.mirror.ups[k].host, opt.mirror.ups[k].prefix,
			 k == 0 ? " (requests without ns)" : "");
	if (opt.gc_interval_ms)
		log_info("gc: every %.1f s, grace period %.1f s%s", (double)opt.gc_interval_ms / 1000.0,
			 (double)opt.gc_grace_ms / 1000.0,
			 opt.gc_untagged ? ", untagged manifests too" : "");
	start_imports(&srv);
	ev_run(srv.ev);

	conn_close_all(&srv.conns);
	/* an import still reading (a stopped `docker run -i`), or a mirror's
	 * fetch that would not stop, uses the store's directory: leave the
	 * store to the process's end rather than free it under the thread */
	if (!mirror_free(mirror) && !__atomic_load_n(&srv.import_running, __ATOMIC_ACQUIRE))
		store_close(srv.store);
	close(srv.listen_fd);
	close(sfd);
	if (srv.reserve_fd >= 0)
		close(srv.reserve_fd);
	map_free(&srv.peers);
	ev_free(srv.ev);
	log_info("stopped");
	log_flush();
	return srv.exit_status;
}
