/* log.c - buffered, timestamped log lines on stderr. */
#include "log.h"
#include "clock.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int log_level = LOG_INFO;
int log_immediate;
/* push logs from its worker threads */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

#define LOG_BUF_SIZE 65536
#define LOG_LINE_MAX 4096

static char log_buf[LOG_BUF_SIZE];
static size_t log_len;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

static time_t stamp_sec = -1;
static char stamp[32];
static size_t stamp_len;

int log_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

static void log_flush_locked(void);

void log_flush(void)
{
	int saved = errno;
	pthread_mutex_lock(&log_lock);
	log_flush_locked();
	pthread_mutex_unlock(&log_lock);
	errno = saved;
}

static void log_flush_locked(void)
{
	size_t off = 0;
	while (off < log_len) {
		ssize_t n = write(2, log_buf + off, log_len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* stderr gone: drop the lines rather than block */
		off += (size_t)n;
	}
	log_len = 0;
}

/* Logging never changes errno: a caller may log a failure and then return
 * -1 for its own caller to read errno (the write to stderr would clobber it). */
static void log_append(int level, const char *fmt, va_list ap, int with_errno, int err)
{
	int saved = errno;
	char line[LOG_LINE_MAX];
	struct timespec ts;
	struct tm tm;
	size_t n;
	int r;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec != stamp_sec) {
		/* the date part changes once a second: format it then */
		stamp_sec = ts.tv_sec;
		gmtime_r(&ts.tv_sec, &tm);
		stamp_len = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S.", &tm);
	}
	memcpy(line, stamp, stamp_len);
	n = stamp_len;
	{
		long msec = ts.tv_nsec / 1000000L;
		const char *lv = level_names[level];
		size_t lvn = strlen(lv);
		line[n++] = (char)('0' + msec / 100);
		line[n++] = (char)('0' + msec / 10 % 10);
		line[n++] = (char)('0' + msec % 10);
		line[n++] = 'Z';
		line[n++] = ' ';
		memcpy(line + n, lv, lvn);
		n += lvn;
		while (lvn++ < 5)
			line[n++] = ' ';
		line[n++] = ' ';
	}
	r = vsnprintf(line + n, sizeof line - n, fmt, ap);
	if (r > 0)
		n = (size_t)r + n >= sizeof line ? sizeof line - 1 : n + (size_t)r;
	if (with_errno) {
		r = snprintf(line + n, sizeof line - n, ": %s", strerror(err));
		if (r > 0)
			n = (size_t)r + n >= sizeof line ? sizeof line - 1 : n + (size_t)r;
	}
	/* one line per message: replace control characters a client could inject */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	pthread_mutex_lock(&log_lock);
	if (log_len + n + 1 > LOG_BUF_SIZE)
		log_flush_locked();
	memcpy(log_buf + log_len, line, n);
	log_len += n;
	log_buf[log_len++] = '\n';
	if (level <= LOG_WARN || log_immediate)
		log_flush_locked();
	pthread_mutex_unlock(&log_lock);
	errno = saved;
}

void log_vmsg(int level, const char *fmt, va_list ap)
{
	if (level > log_level)
		return;
	log_append(level, fmt, ap, 0, 0);
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	int err = errno;
	va_list ap;
	va_start(ap, fmt);
	log_append(LOG_WARN, fmt, ap, 1, err);
	va_end(ap);
}

/* 1 if a line may go out now under l; says what was dropped before it */
static int limit_pass(int level, struct log_limit *l)
{
	long sec;
	if (level > log_level)
		return 0;
	sec = (long)(clock_ms() / 1000);
	if (sec != l->sec) {
		if (l->dropped)
			log_msg(level, "(%lu more lines like the next were dropped in the last %ld s)",
				l->dropped, sec - l->sec);
		l->sec = sec;
		l->n = 0;
		l->dropped = 0;
	}
	if (l->n >= LOG_LIMIT_BURST) {
		l->dropped++;
		return 0;
	}
	l->n++;
	return 1;
}

void log_limited(int level, struct log_limit *l, const char *fmt, ...)
{
	va_list ap;
	if (!limit_pass(level, l))
		return;
	va_start(ap, fmt);
	log_append(level, fmt, ap, 0, 0);
	va_end(ap);
}

void log_limited_errno(int level, struct log_limit *l, const char *fmt, ...)
{
	int err = errno;
	va_list ap;
	if (!limit_pass(level, l))
		return;
	va_start(ap, fmt);
	log_append(level, fmt, ap, 1, err);
	va_end(ap);
}

void fatal(int status, const char *fmt, ...)
{
	va_list ap;
	log_flush();
	fputs("packhelper: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

int log_fail(char *err, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
	return -1;
}

void log_printable(const char *s, size_t len, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < len && o + 4 < cap; i++)
		out[o++] = (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f ? s[i] : '?';
	if (o + 4 >= cap && len > o)
		memcpy(out + o, "...", 3), o += 3;
	out[o] = '\0';
}
