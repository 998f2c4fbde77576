/* serve.c - `packhelper serve`: options, bind, open the store, run the loop,
 * end cleanly on SIGTERM/SIGINT (it runs as PID 1 in its container). */
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
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "store.h"

#define ACCEPTS_PER_EVENT 64

static const char usage[] =
	"usage: packhelper serve [--listen ADDR:PORT] [--root DIR] [--read-only]\n"
	"                        [--log-level error|warn|info|debug]\n"
	"                        [--header-timeout S] [--idle-timeout S] [--body-timeout S]\n"
	"                        [--upload-expiry S]\n";

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

static void format_addr(const struct sockaddr_storage *ss, char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "?";
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
		snprintf(out, cap, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		const struct sockaddr_in *in4 = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &in4->sin_addr, host, sizeof host);
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
	format_addr(&ss, srv->listen_addr, sizeof srv->listen_addr);
	return fd;
}

static void on_accept(struct ev *ev, struct ev_io *io, unsigned events)
{
	struct server *srv = io->data;
	(void)ev;
	(void)events;
	for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof ss;
		char peer[64];
		int fd;

		if (srv->nconns >= srv->opt->max_conns) {
			/* stop accepting until a connection closes */
			ev_io_set(srv->ev, &srv->listen_io, 0);
			srv->accept_paused = 1;
			log_warnx("connection limit %u reached; accepting again when one closes",
				  srv->opt->max_conns);
			return;
		}
		fd = accept4(srv->listen_fd, (struct sockaddr *)&ss, &len,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("accept");
			return;
		}
		format_addr(&ss, peer, sizeof peer);
		if (!conn_new(srv, fd, peer)) {
			log_warnx("dropping connection from %s: out of memory", peer);
			close(fd);
		}
	}
}

void serve_conn_closed(struct server *srv)
{
	if (srv->accept_paused && srv->nconns < srv->opt->max_conns) {
		srv->accept_paused = 0;
		ev_io_set(srv->ev, &srv->listen_io, EV_READ);
	}
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
	conn_tick(srv, now);
	store_upload_expire(srv->store, ev_clock_ms(), srv->opt->upload_expiry_ms);
}

static void before_sleep(struct ev *ev, void *data)
{
	struct server *srv = data;
	(void)ev;
	conn_reap(srv);
	log_flush();
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
	};
	static struct server srv;
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
	opt.max_conns = conn_limit();
	srv.opt = &opt;
	srv.listen_fd = -1;
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
	if (store_open(&srv.store, opt.root) < 0)
		fatal(1, "cannot open the store at %s", opt.root);
	ev_io_init(&srv.listen_io, srv.listen_fd, on_accept, &srv);
	ev_io_init(&sig_io, sfd, on_signal, &srv);
	if (ev_io_set(srv.ev, &srv.listen_io, EV_READ) < 0 || ev_io_set(srv.ev, &sig_io, EV_READ) < 0)
		fatal(1, "epoll_ctl: %s", strerror(errno));
	ev_set_tick(srv.ev, on_tick, &srv);
	ev_set_before_sleep(srv.ev, before_sleep, &srv);
	srv.ready = 1;
	log_info("serving %s on %s%s", opt.root, srv.listen_addr, opt.read_only ? " (read-only)" : "");
	ev_run(srv.ev);

	while (srv.conns)
		conn_close(srv.conns);
	conn_reap(&srv);
	store_close(srv.store);
	close(srv.listen_fd);
	close(sfd);
	ev_free(srv.ev);
	log_info("stopped");
	log_flush();
	return 0;
}
