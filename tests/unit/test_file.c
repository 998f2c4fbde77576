/* test_file.c - the file-I/O module on a temporary directory: exact reads and
 * writes at offsets, hashing a range, atomic publish, mkdir -p, bounded reads. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "digest.h"
#include "file.h"
#include "unit.h"

static char dir[64];
static int dfd = -1;

static int fresh(const char *rel)
{
	return openat(dfd, rel, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}

TEST(write_all_then_read_exactly)
{
	int fd = fresh("a");
	char got[6];
	CHECK(fd >= 0);
	CHECK_EQ_INT(file_write_all(fd, "hello world", 11), 0);
	CHECK_EQ_INT(file_pread_all(fd, got, 5, 6), 0);
	got[5] = '\0';
	CHECK_EQ_STR(got, "world");
	/* past the end: the file ends first */
	errno = 0;
	CHECK_EQ_INT(file_pread_all(fd, got, 6, 6), -1);
	CHECK_EQ_INT(errno, ENODATA);
	close(fd);
}

TEST(pwrite_at_an_offset_leaves_the_rest)
{
	int fd = fresh("b");
	char got[12];
	CHECK(fd >= 0);
	CHECK_EQ_INT(file_write_all(fd, "hello world", 11), 0);
	CHECK_EQ_INT(file_pwrite_all(fd, "W", 1, 6), 0);
	CHECK_EQ_INT(file_pread_all(fd, got, 11, 0), 0);
	got[11] = '\0';
	CHECK_EQ_STR(got, "hello World");
	/* the file offset is not moved by pwrite */
	CHECK_EQ_INT(lseek(fd, 0, SEEK_CUR), 11);
	close(fd);
}

TEST(hash_a_range)
{
	/* larger than the 1 MiB read buffer, so a range crosses chunks */
	size_t n = (3u << 20) / 2 + 7;
	char *data = malloc(n), want[DIGEST_STR_MAX], got[DIGEST_STR_MAX];
	int fd = fresh("c");
	CHECK(data && fd >= 0);
	for (size_t i = 0; i < n; i++)
		data[i] = (char)(i * 131 + (i >> 9));
	CHECK_EQ_INT(file_write_all(fd, data, n), 0);
	digest_of(DIGEST_SHA256, data + 5, n - 10, want);
	CHECK_EQ_INT(file_hash_range(fd, 5, n - 10, DIGEST_SHA256, got), 0);
	CHECK_EQ_STR(got, want);
	digest_of(DIGEST_SHA512, data, n, want);
	CHECK_EQ_INT(file_hash_range(fd, 0, n, DIGEST_SHA512, got), 0);
	CHECK_EQ_STR(got, want);
	digest_of(DIGEST_SHA256, "", 0, want);
	CHECK_EQ_INT(file_hash_range(fd, 0, 0, DIGEST_SHA256, got), 0);
	CHECK_EQ_STR(got, want);
	errno = 0;
	CHECK_EQ_INT(file_hash_range(fd, 1, n, DIGEST_SHA256, got), -1);
	CHECK_EQ_INT(errno, ENODATA);
	close(fd);
	free(data);
}

TEST(atomic_write_replaces_and_leaves_no_temporary)
{
	struct buf b;
	char abs[160];
	CHECK_EQ_INT(file_mkdirs(dfd, "x/y/z"), 0);
	CHECK_EQ_INT(file_mkdirs(dfd, "x/y/z"), 0); /* again: fine */
	CHECK_EQ_INT(file_write_atomic(dfd, "x/y/z/f", "one", 3), 0);
	CHECK_EQ_INT(file_write_atomic(dfd, "x/y/z/f", "second", 6), 0);
	CHECK_EQ_INT(file_read_at(dfd, "x/y/z/f", 64, &b), 0);
	CHECK(b.len == 6 && memcmp(b.p, "second", 6) == 0);
	buf_free(&b);
	CHECK(faccessat(dfd, "x/y/z/f.tmp", F_OK, 0) < 0 && errno == ENOENT);
	/* a directory that is not there: nothing is left behind */
	CHECK_EQ_INT(file_write_atomic(dfd, "nope/f", "x", 1), -1);
	CHECK_EQ_INT(errno, ENOENT);
	/* an absolute path, as --ready-file gives it */
	snprintf(abs, sizeof abs, "%s/ready", dir);
	CHECK_EQ_INT(file_write_atomic(AT_FDCWD, abs, "{}\n", 3), 0);
	CHECK_EQ_INT(file_read_at(AT_FDCWD, abs, 64, &b), 0);
	CHECK(b.len == 3);
	buf_free(&b);
	CHECK_EQ_INT(file_fsync_parent(AT_FDCWD, "/ready-file-in-root"), 0);
}

TEST(read_has_a_maximum)
{
	struct buf b;
	CHECK_EQ_INT(file_write_atomic(dfd, "big", "0123456789", 10), 0);
	CHECK_EQ_INT(file_read_at(dfd, "big", 9, &b), -1);
	CHECK_EQ_INT(errno, EFBIG);
	/* exactly the maximum is fine */
	CHECK_EQ_INT(file_read_at(dfd, "big", 10, &b), 0);
	CHECK_EQ_INT(b.len, 10);
	buf_free(&b);
	CHECK_EQ_INT(file_read_at(dfd, "absent", 10, &b), -1);
	CHECK_EQ_INT(errno, ENOENT);
}

int main(void)
{
	unit_tmpdir(dir, "file");
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return 2;
	RUN(write_all_then_read_exactly);
	RUN(pwrite_at_an_offset_leaves_the_rest);
	RUN(hash_a_range);
	RUN(atomic_write_replaces_and_leaves_no_temporary);
	RUN(read_has_a_maximum);
	close(dfd);
	unit_rmtree(dir);
	return unit_report("unit file");
}
