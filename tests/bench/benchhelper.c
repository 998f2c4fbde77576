/* benchhelper.c - small measuring tools for tests/bench/run.sh (glibc, no deps).
 *
 *   benchhelper freeport
 *       print a free TCP port on 127.0.0.1
 *   benchhelper ready N PORT CMD [ARGS...]
 *       N+1 times: posix_spawn CMD (stdout/stderr to /dev/null), then poll
 *       connect()+"GET /v2/" on 127.0.0.1:PORT with no sleeps until a 200
 *       arrives; the time from just before the spawn to the 200 is one
 *       sample.  The first (cold) run is discarded.  The child is stopped
 *       with SIGTERM (SIGKILL after 3 s) and reaped before the next run.
 *       Prints "median_ms min_ms max_ms" on stdout.
 *   benchhelper blob N PORT PATH [RANGE [CLIENTS]]
 *       N sequential GETs of PATH on one keep-alive connection, the body read
 *       with 1 MiB recv()s and dropped; checks status 200 (206 with RANGE,
 *       "FIRST-LAST" sent as "Range: bytes=FIRST-LAST"; "-" for none) and
 *       the full Content-Length.  Prints "median_MiBps best_MiBps worst_MiBps
 *       client_cpu_ms data_segments": the client's CPU time per GET (kernel
 *       time of the receive included) and the TCP data segments it received
 *       per GET (TCP_INFO), both summed over the clients.  With CLIENTS > 1,
 *       that many processes do it at once, each on its own connection, and
 *       the speeds are aggregates: per round i, the bytes
 *       of every client's GET i over the wall time from the first start to
 *       the last end (rounds are not synchronised: a fair approximation as
 *       long as the GETs are long).
 *
 * Exit status 0, or 1 with a message on stderr. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_data_segs_in */
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static int do_freeport(void)
{
	struct sockaddr_in a = loopback(0);
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		perror("freeport");
		return 1;
	}
	printf("%d\n", ntohs(a.sin_port));
	close(fd);
	return 0;
}

/* One attempt: 1 if GET /v2/ answered 200, 0 otherwise (refused, reset, other). */
static int probe(int port)
{
	static const char req[] = "GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
	struct sockaddr_in a = loopback(port);
	struct timeval tv = { 5, 0 };
	char resp[64];
	size_t got = 0;
	int ok = 0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return 0;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
		goto out;
	if (send(fd, req, sizeof req - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof req - 1))
		goto out;
	while (got < 12) {
		ssize_t r = recv(fd, resp + got, sizeof resp - 1 - got, 0);
		if (r <= 0)
			goto out;
		got += (size_t)r;
	}
	resp[got] = '\0';
	ok = strncmp(resp, "HTTP/1.1 200", 12) == 0 || strncmp(resp, "HTTP/1.0 200", 12) == 0;
out:
	close(fd);
	return ok;
}

static void stop_child(pid_t pid)
{
	double t0 = now_ms();
	int st;
	kill(pid, SIGTERM);
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid || (r < 0 && errno != EINTR))
			return;
		if (now_ms() - t0 > 3000) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return;
		}
		usleep(1000);
	}
}

static volatile pid_t ready_child;

/* interrupted: take the server under test along */
static void on_signal(int sig)
{
	if (ready_child > 0)
		kill(ready_child, SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

static int do_ready(int n, int port, char **cmd)
{
	double *v = calloc((size_t)n, sizeof *v);
	posix_spawn_file_actions_t fa;

	if (!v || n < 1)
		return 1;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	for (int i = -1; i < n; i++) {
		pid_t pid;
		double t0 = now_ms(), t;
		int st;
		if (posix_spawn(&pid, cmd[0], &fa, NULL, cmd, environ) != 0) {
			fprintf(stderr, "benchhelper: cannot run %s\n", cmd[0]);
			return 1;
		}
		ready_child = pid;
		for (;;) {
			if (probe(port))
				break;
			if (waitpid(pid, &st, WNOHANG) == pid) {
				fprintf(stderr, "benchhelper: %s exited before it was ready\n", cmd[0]);
				return 1;
			}
			if (now_ms() - t0 > 20000) {
				fprintf(stderr, "benchhelper: %s not ready after 20 s\n", cmd[0]);
				stop_child(pid);
				return 1;
			}
			sched_yield();
		}
		t = now_ms() - t0;
		stop_child(pid);
		ready_child = 0;
		if (i >= 0)
			v[i] = t;
	}
	{
		double med = median(v, n);
		printf("%.2f %.2f %.2f\n", med, v[0], v[n - 1]);
	}
	return 0;
}

/* Read one response head into hb; returns its length, with *clen set. */
static ssize_t read_head(int fd, char *hb, size_t cap, size_t *have, long long *clen, int *status)
{
	char *end;
	*clen = -1;
	for (;;) {
		hb[*have] = '\0';
		if ((end = strstr(hb, "\r\n\r\n")))
			break;
		if (*have >= cap - 1)
			return -1;
		ssize_t r = recv(fd, hb + *have, cap - 1 - *have, 0);
		if (r <= 0)
			return -1;
		*have += (size_t)r;
	}
	*status = atoi(hb + 9);
	for (char *p = hb; p < end; p++) {
		if ((p == hb || p[-1] == '\n') && strncasecmp(p, "Content-Length:", 15) == 0)
			*clen = atoll(p + 15);
	}
	return end + 4 - hb;
}

/* One client: n GETs; the start and end of each (ms) into t0s/t1s, the
 * body length into *len.  0, or 1 with a message. */
static double cpu_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int blob_client(int n, int port, const char *path, const char *range, double *t0s,
		       double *t1s, long long *len, double *cpu, double *segs)
{
	struct tcp_info ti;
	socklen_t tl = sizeof ti;
	static char body[1 << 20];
	char req[1024], hb[8192];
	struct sockaddr_in a = loopback(port);
	int one = 1, fd, reqlen, want = range ? 206 : 200;

	reqlen = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s%s\r\n", path,
			  range ? "Range: bytes=" : "", range ? range : "", range ? "\r\n" : "");
	fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		perror("benchhelper: blob connect");
		return 1;
	}
	*cpu = cpu_ms();
	for (int i = 0; i < n; i++) {
		size_t have = 0;
		long long clen, left;
		int status = 0;
		ssize_t hl;
		t0s[i] = now_ms();
		if (send(fd, req, (size_t)reqlen, MSG_NOSIGNAL) != reqlen) {
			perror("benchhelper: blob send");
			return 1;
		}
		hl = read_head(fd, hb, sizeof hb, &have, &clen, &status);
		if (hl < 0 || status != want || clen <= 0) {
			fprintf(stderr, "benchhelper: blob GET %s: bad response (status %d)\n", path,
				status);
			return 1;
		}
		left = clen - (long long)(have - (size_t)hl);
		while (left > 0) {
			ssize_t r = recv(fd, body, (size_t)left < sizeof body ? (size_t)left : sizeof body, 0);
			if (r <= 0) {
				fprintf(stderr, "benchhelper: blob body short by %lld bytes\n", left);
				return 1;
			}
			left -= r;
		}
		t1s[i] = now_ms();
		*len = clen;
	}
	*cpu = cpu_ms() - *cpu;
	memset(&ti, 0, sizeof ti);
	getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl);
	*segs = ti.tcpi_data_segs_in;
	close(fd);
	return 0;
}

static int do_blob(int n, int port, const char *path, const char *range, int clients)
{
	/* clients write their timings here: [client][0..n) starts, [n..2n) ends, [2n] length,
	 * [2n+1] CPU ms, [2n+2] data segments received */
	size_t per = 2 * (size_t)n + 3;
	double cpu = 0, segs = 0;
	double *t = mmap(NULL, (size_t)clients * per * sizeof *t, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	double *v = calloc((size_t)n, sizeof *v);
	int bad = 0;

	if (t == MAP_FAILED || !v || n < 1 || clients < 1) {
		fprintf(stderr, "benchhelper: blob: bad arguments\n");
		return 1;
	}
	for (int k = 0; k < clients; k++) {
		pid_t pid = clients == 1 ? 0 : fork();
		if (pid < 0) {
			perror("benchhelper: fork");
			return 1;
		}
		if (pid == 0) {
			long long len = 0;
			double *mine = t + (size_t)k * per;
			int r = blob_client(n, port, path, range, mine, mine + n, &len, mine + 2 * n + 1,
					    mine + 2 * n + 2);
			mine[2 * n] = (double)len;
			if (clients == 1) {
				bad = r;
				break;
			}
			_exit(r);
		}
	}
	if (clients > 1) {
		int st;
		while (wait(&st) > 0)
			bad |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	}
	if (bad)
		return 1;
	for (int k = 0; k < clients; k++) {
		cpu += t[(size_t)k * per + 2 * (size_t)n + 1];
		segs += t[(size_t)k * per + 2 * (size_t)n + 2];
	}
	for (int i = 0; i < n; i++) {
		double first = 1e300, last = 0, bytes = 0;
		for (int k = 0; k < clients; k++) {
			double *c = t + (size_t)k * per;
			first = c[i] < first ? c[i] : first;
			last = c[n + i] > last ? c[n + i] : last;
			bytes += c[2 * n];
		}
		v[i] = bytes / (1024.0 * 1024.0) / ((last - first) / 1000.0);
	}
	{
		double med = median(v, n);
		printf("%.0f %.0f %.0f %.1f %.0f\n", med, v[n - 1], v[0], cpu / n, segs / n);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "freeport") == 0)
		return do_freeport();
	if (argc >= 5 && strcmp(argv[1], "ready") == 0)
		return do_ready(atoi(argv[2]), atoi(argv[3]), argv + 4);
	if (argc >= 5 && argc <= 7 && strcmp(argv[1], "blob") == 0)
		return do_blob(atoi(argv[2]), atoi(argv[3]), argv[4],
			       argc >= 6 && strcmp(argv[5], "-") != 0 ? argv[5] : NULL,
			       argc == 7 ? atoi(argv[6]) : 1);
	fprintf(stderr, "usage: benchhelper freeport | ready N PORT CMD... | "
			"blob N PORT PATH [RANGE [CLIENTS]]\n");
	return 1;
}
