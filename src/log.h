/* log.h - one logging style for the whole program.
 *
 * Lines go to stderr through a buffer that the event loop flushes before it
 * sleeps (log_flush), so a busy server makes one write per loop turn rather
 * than one per request.  log_warn appends strerror(errno); log_warnx does not.
 * fatal() is for start-up and the CLI only: the request path never exits.
 * No log call changes errno. */
#ifndef PH_LOG_H
#define PH_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

extern int log_level;
/* Write each line at once (client verbs, whose threads share stderr). */
extern int log_immediate;

/* Parse "error", "warn", "info", "debug"; -1 if unknown. */
int log_level_parse(const char *s);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(int level, const char *fmt, va_list ap);
/* Like log_msg at LOG_WARN/LOG_ERROR, with ": strerror(errno)" appended. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_flush(void);

/* Lines a client can cause go through a limit, one per call site: at most
 * LOG_LIMIT_BURST a second, then one line saying how many were dropped.  A
 * client that makes the server fail a thousand times a second makes it log
 * a handful of lines, not a thousand. */
#define LOG_LIMIT_BURST 10
struct log_limit {
	long sec;           /* the second being counted */
	unsigned n;         /* lines logged in it */
	unsigned long dropped;
};
void log_limited(int level, struct log_limit *l, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* log_limited with ": strerror(errno)" appended. */
void log_limited_errno(int level, struct log_limit *l, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* log_warn and log_warnx with a limit of their own call site. */
#define log_warn_limited(...)                                                    \
	do {                                                                     \
		static struct log_limit log_site_;                               \
		log_limited_errno(LOG_WARN, &log_site_, __VA_ARGS__);            \
	} while (0)
#define log_warnx_limited(...)                                                   \
	do {                                                                     \
		static struct log_limit log_site_;                               \
		log_limited(LOG_WARN, &log_site_, __VA_ARGS__);                  \
	} while (0)
/* Write a one-line error message into err[cap] for a caller to report;
 * returns -1, so `return log_fail(err, cap, ...)` ends a failing function. */
int log_fail(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Print "packhelper: MSG" and exit(status).  Start-up and CLI only. */
void fatal(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warnx(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  do { if (log_level >= LOG_INFO) log_msg(LOG_INFO, __VA_ARGS__); } while (0)
#define log_debug(...) do { if (log_level >= LOG_DEBUG) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

/* s[0..len) as it may appear in one log or error line: bytes outside
 * printable ASCII become '?', and it is cut at cap - 4 with "...". */
void log_printable(const char *s, size_t len, char *out, size_t cap);

#endif
