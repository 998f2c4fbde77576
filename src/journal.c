/* journal.c - append-only record log with a group-commit sync thread and
 * background compaction (journal.h draws the design). */
#include "journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "digest.h"
#include "log.h"

#define JDIR "journal"
#define CHECK_LEN 8

struct job {
	struct journal_file *files;
	size_t nfiles;
	int old_fd;          /* the generation just closed for appends, or -1 */
	uint64_t below;      /* delete generations [oldest, below) on success */
};

struct journal {
	int dirfd;
	int read_only;
	uint64_t oldest;     /* lowest generation that may exist on disk */
	uint64_t gen;        /* the generation appended to */
	int fd;              /* its descriptor, -1 until the first append */
	uint64_t len;        /* bytes in it */
	size_t found;        /* bytes in older generations start-up found */

	pthread_t thread;
	int thread_running;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* under mu */
	uint64_t appended, synced; /* append counters */
	int sync_fd;               /* the descriptor the thread syncs */
	int dir_unsynced;          /* a generation was created: fsync JDIR */
	struct job *job;           /* a compaction waiting or running */
	int stop;
	int failed, failed_err;
};

static void gen_rel(char out[64], uint64_t gen)
{
	snprintf(out, 64, JDIR "/%016" PRIx64, gen);
}

static void check_of(const char *text, size_t n, char out[CHECK_LEN + 1])
{
	char d[DIGEST_STR_MAX];
	digest_of(DIGEST_SHA256, text, n, d);
	memcpy(out, d + 7, CHECK_LEN); /* after "sha256:" */
	out[CHECK_LEN] = '\0';
}

static int parse_gen(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;
	for (i = 0; s[i]; i++) {
		int c = s[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0 || i >= 16)
			return -1;
		v = v << 4 | (uint64_t)d;
	}
	if (i != 16)
		return -1;
	*out = v;
	return 0;
}

/* The lowest and highest generations on disk; 0 when there are none. */
static int scan(struct journal *j, uint64_t *lo, uint64_t *hi)
{
	DIR *d = file_opendir(j->dirfd, JDIR);
	struct dirent *de;
	*lo = *hi = 0;
	if (!d)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d))) {
		uint64_t g;
		struct stat sb;
		if (parse_gen(de->d_name, &g) < 0)
			continue;
		if (!*lo || g < *lo)
			*lo = g;
		if (g > *hi)
			*hi = g;
		if (fstatat(dirfd(d), de->d_name, &sb, 0) == 0)
			j->found += (size_t)sb.st_size;
	}
	closedir(d);
	return 0;
}

int journal_open(struct journal **out, int dirfd, int read_only)
{
	struct journal *j = calloc(1, sizeof *j);
	uint64_t lo, hi;
	*out = NULL;
	if (!j)
		return -1;
	j->dirfd = dirfd;
	j->read_only = read_only;
	j->fd = -1;
	j->sync_fd = -1;
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cv, NULL);
	if (scan(j, &lo, &hi) < 0) {
		journal_close(j);
		return -1;
	}
	j->oldest = lo ? lo : 1;
	j->gen = hi + 1; /* appends never go into a file a crash may have torn */
	*out = j;
	return 0;
}

int journal_replay(struct journal *j, int (*fn)(void *arg, const char *text, size_t n), void *arg)
{
	for (uint64_t g = j->oldest; g < j->gen; g++) {
		char rel[64];
		struct buf b;
		size_t pos = 0;
		gen_rel(rel, g);
		if (file_read_at(j->dirfd, rel, JOURNAL_FILE_MAX, &b) < 0) {
			if (errno == ENOENT)
				continue;
			return -1;
		}
		while (pos < b.len) {
			char *nl = memchr(b.p + pos, '\n', b.len - pos);
			char check[CHECK_LEN + 1];
			const char *text = b.p + pos + CHECK_LEN + 1;
			size_t n;
			if (!nl || (size_t)(nl - (b.p + pos)) < CHECK_LEN + 1 || b.p[pos + CHECK_LEN] != ' ')
				break;
			n = (size_t)(nl - text);
			check_of(text, n, check);
			if (memcmp(check, b.p + pos, CHECK_LEN) != 0) {
				log_warnx("journal %s: damaged record at byte %zu: the rest of the file is ignored",
					  rel, pos);
				break;
			}
			if (fn(arg, text, n) < 0) {
				buf_free(&b);
				return -1;
			}
			pos = (size_t)(nl - b.p) + 1;
		}
		buf_free(&b);
	}
	return 0;
}

/* ---- the sync thread ---- */

static void unlink_below(struct journal *j, uint64_t below)
{
	for (uint64_t g = j->oldest; g < below; g++) {
		char rel[64];
		gen_rel(rel, g);
		if (unlinkat(j->dirfd, rel, 0) < 0 && errno != ENOENT)
			log_warn("remove %s", rel);
	}
	j->oldest = below;
}

static void job_free(struct job *job)
{
	for (size_t i = 0; i < job->nfiles; i++)
		buf_free(&job->files[i].data);
	free(job->files);
	free(job);
}

/* Publish the snapshots, then drop what they make redundant. */
static int job_run(struct journal *j, struct job *job)
{
	int rc = 0;
	if (job->old_fd >= 0) {
		if (fdatasync(job->old_fd) < 0)
			rc = -1;
		close(job->old_fd);
		job->old_fd = -1;
	}
	for (size_t i = 0; rc == 0 && i < job->nfiles; i++)
		if (file_write_atomic(j->dirfd, job->files[i].rel, job->files[i].data.p,
				      job->files[i].data.len) < 0)
			rc = -1;
	if (rc == 0) {
		unlink_below(j, job->below);
		file_fsync_dir(j->dirfd, JDIR);
	}
	return rc;
}

static void *sync_thread(void *arg)
{
	struct journal *j = arg;
	pthread_mutex_lock(&j->mu);
	for (;;) {
		while (!j->stop && !j->job && j->synced == j->appended)
			pthread_cond_wait(&j->cv, &j->mu);
		if (j->synced != j->appended) {
			uint64_t upto = j->appended;
			int fd = j->sync_fd, dir = j->dir_unsynced;
			int e = 0;
			j->dir_unsynced = 0;
			pthread_mutex_unlock(&j->mu);
			if (dir && file_fsync_dir(j->dirfd, JDIR) < 0)
				e = errno;
			if (fdatasync(fd) < 0)
				e = errno;
			if (e)
				log_warnx("journal: sync: %s", strerror(e));
			pthread_mutex_lock(&j->mu);
			j->synced = upto;
		}
		/* after each sync, not only when appends pause: a client that
		 * tags in a loop must not starve compaction */
		if (j->job) {
			struct job *job = j->job;
			int rc, e;
			pthread_mutex_unlock(&j->mu);
			rc = job_run(j, job);
			e = errno;
			job_free(job);
			pthread_mutex_lock(&j->mu);
			j->job = NULL;
			if (rc < 0) {
				j->failed = 1;
				j->failed_err = e;
			}
			continue;
		}
		if (j->stop)
			break;
	}
	pthread_mutex_unlock(&j->mu);
	return NULL;
}

/* The current generation's file, created (with the sync thread) on first use. */
static int ensure_file(struct journal *j)
{
	char rel[64];
	if (j->fd >= 0)
		return 0;
	if (j->read_only) {
		errno = EROFS;
		return -1;
	}
	if (mkdirat(j->dirfd, JDIR, 0755) < 0 && errno != EEXIST)
		return -1;
	gen_rel(rel, j->gen);
	j->fd = openat(j->dirfd, rel, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (j->fd < 0)
		return -1;
	j->len = 0;
	pthread_mutex_lock(&j->mu);
	j->sync_fd = j->fd;
	j->dir_unsynced = 1;
	pthread_mutex_unlock(&j->mu);
	if (!j->thread_running) {
		if (pthread_create(&j->thread, NULL, sync_thread, j) != 0) {
			errno = EAGAIN;
			return -1;
		}
		j->thread_running = 1;
	}
	return 0;
}

int journal_append(struct journal *j, const char *text, size_t n)
{
	char line[CHECK_LEN + 1 + JOURNAL_RECORD_MAX + 1];
	size_t len = CHECK_LEN + 1 + n + 1;

	if (n > JOURNAL_RECORD_MAX || memchr(text, '\n', n)) {
		errno = EINVAL;
		return -1;
	}
	if (ensure_file(j) < 0)
		return -1;
	check_of(text, n, line);
	line[CHECK_LEN] = ' ';
	memcpy(line + CHECK_LEN + 1, text, n);
	line[len - 1] = '\n';
	if (file_pwrite_all(j->fd, line, len, j->len) < 0) {
		int e = errno;
		struct stat sb;
		/* a torn record fails its check at replay anyway; cut it
		 * so the next one starts on a record boundary */
		if (fstat(j->fd, &sb) == 0 && (uint64_t)sb.st_size > j->len &&
		    ftruncate(j->fd, (off_t)j->len) < 0)
			log_warn_limited("journal: truncate after a failed append");
		errno = e;
		return -1;
	}
	j->len += len;
	pthread_mutex_lock(&j->mu);
	j->appended++;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
	return 0;
}

size_t journal_pending(const struct journal *j)
{
	return j->found + (size_t)j->len;
}

int journal_busy(struct journal *j)
{
	int busy;
	pthread_mutex_lock(&j->mu);
	busy = j->job != NULL;
	pthread_mutex_unlock(&j->mu);
	return busy;
}

int journal_compact_failed(struct journal *j, int *err)
{
	int f;
	pthread_mutex_lock(&j->mu);
	f = j->failed;
	*err = j->failed_err;
	j->failed = 0;
	pthread_mutex_unlock(&j->mu);
	return f;
}

static void files_free(struct journal_file *files, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf_free(&files[i].data);
	free(files);
}

int journal_compact(struct journal *j, struct journal_file *files, size_t n)
{
	struct job *job;
	if (journal_busy(j)) {
		files_free(files, n);
		errno = EBUSY;
		return -1;
	}
	job = calloc(1, sizeof *job);
	if (!job) {
		files_free(files, n);
		return -1;
	}
	job->files = files;
	job->nfiles = n;
	job->old_fd = j->fd;
	job->below = j->fd >= 0 ? j->gen + 1 : j->gen;
	/* appends move on to a new generation now; the next append creates it */
	if (j->fd >= 0)
		j->gen++;
	j->fd = -1;
	j->len = 0;
	j->found = 0;
	if (!j->thread_running) {
		if (pthread_create(&j->thread, NULL, sync_thread, j) != 0) {
			job_free(job);
			errno = EAGAIN;
			return -1;
		}
		j->thread_running = 1;
	}
	pthread_mutex_lock(&j->mu);
	j->job = job;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
	return 0;
}

static void thread_stop(struct journal *j)
{
	if (!j->thread_running)
		return;
	pthread_mutex_lock(&j->mu);
	j->stop = 1;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
	pthread_join(j->thread, NULL);
	j->thread_running = 0;
	j->stop = 0;
}

int journal_compact_now(struct journal *j, struct journal_file *files, size_t n)
{
	struct job job = { files, n, -1, 0 };
	int rc;
	thread_stop(j); /* finishes a running compaction and the last sync */
	if (j->fd >= 0) {
		job.old_fd = j->fd;
		j->fd = -1;
		j->gen++;
	}
	job.below = j->gen;
	rc = job_run(j, &job);
	files_free(files, n);
	if (rc == 0) {
		j->found = 0;
		j->len = 0;
	}
	return rc;
}

void journal_close(struct journal *j)
{
	if (!j)
		return;
	thread_stop(j);
	if (j->fd >= 0) {
		fdatasync(j->fd);
		close(j->fd);
	}
	pthread_mutex_destroy(&j->mu);
	pthread_cond_destroy(&j->cv);
	free(j);
}
