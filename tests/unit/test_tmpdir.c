/* test_tmpdir.c - temporary-file directories: a made one goes whole at fini,
 * a lent one stays; names carry the prefix and never collide. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tmpdir.h"
#include "unit.h"

static char dir[64];

static int exists(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0;
}

TEST(made_directory_goes_whole_with_its_files)
{
	struct tmpdir td;
	char a[TMPDIR_NAME_MAX], b[TMPDIR_NAME_MAX], path[TMPDIR_PATH_MAX];
	int fa, fb, r;
	CHECK_EQ_INT(tmpdir_make(&td, dir, "made-", "x-"), 0);
	CHECK(strncmp(td.path, dir, strlen(dir)) == 0 && exists(td.path));
	fa = tmpdir_create(&td, a);
	fb = tmpdir_create(&td, b);
	CHECK(fa >= 0 && fb >= 0);
	CHECK(strncmp(a, "x-", 2) == 0 && strlen(a) == 2 + 32);
	CHECK(strcmp(a, b) != 0);
	CHECK(write(fa, "abc", 3) == 3);
	r = tmpdir_open(&td, a);
	CHECK(r >= 0);
	close(r);
	close(fa);
	close(fb);
	snprintf(path, sizeof path, "%s", td.path);
	tmpdir_fini(&td);
	CHECK(!exists(path));
	tmpdir_fini(&td); /* idempotent */
}

TEST(lent_directory_stays)
{
	struct tmpdir td;
	char a[TMPDIR_NAME_MAX], path[256];
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), fd;
	CHECK(dfd >= 0);
	CHECK_EQ_INT(mkdirat(dfd, "lent", 0755), 0);
	CHECK_EQ_INT(tmpdir_init(&td, dfd, "lent", "import-"), 0);
	close(dfd);
	fd = tmpdir_create(&td, a);
	CHECK(fd >= 0);
	close(fd);
	CHECK(tmpdir_open(&td, "absent") < 0 && errno == ENOENT);
	tmpdir_remove(&td, a);
	CHECK(tmpdir_open(&td, a) < 0);
	tmpdir_fini(&td);
	snprintf(path, sizeof path, "%s/lent", dir);
	CHECK(exists(path));
}

TEST(limits)
{
	struct tmpdir td;
	char longpath[TMPDIR_PATH_MAX + 8];
	memset(longpath, 'a', sizeof longpath - 1);
	longpath[sizeof longpath - 1] = '\0';
	CHECK_EQ_INT(tmpdir_make(&td, longpath, "n-", "p-"), -1);
	CHECK_EQ_INT(errno, ENAMETOOLONG);
	CHECK_EQ_INT(tmpdir_make(&td, dir, "n-", "a-prefix-too-long-"), -1);
	CHECK_EQ_INT(errno, ENAMETOOLONG);
	CHECK_EQ_INT(tmpdir_init(&td, AT_FDCWD, dir, "a-prefix-too-long-"), -1);
	tmpdir_fini(&td);
}

int main(void)
{
	unit_tmpdir(dir, "tmpdir");
	RUN(made_directory_goes_whole_with_its_files);
	RUN(lent_directory_stays);
	RUN(limits);
	unit_rmtree(dir);
	return unit_report("unit tmpdir");
}
