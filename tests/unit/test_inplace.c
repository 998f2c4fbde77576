/* test_inplace.c - in-place blob records (inplace.h): round trip, a torn or
 * edited record refused, ranges outside the file, identity of a file. */
#include "unit.h"

#include <fcntl.h>

#include "inplace.h"

static struct inplace_rec sample(void)
{
	struct inplace_rec r;
	memset(&r, 0, sizeof r);
	snprintf(r.digest, sizeof r.digest, "sha256:%064d", 7);
	snprintf(r.path, sizeof r.path, "/in/a \"quoted\"\nname.tar");
	r.id = (struct inplace_id){ 65024, 123456789, 1 << 20, 1796101229694546092LL, -5 };
	r.off = 512;
	r.len = 4096;
	return r;
}

TEST(round_trip)
{
	struct inplace_rec r = sample(), back;
	struct buf b;
	char why[128];
	buf_init(&b, INPLACE_REC_MAX);
	CHECK_EQ_INT(inplace_format(&r, &b), 0);
	CHECK_EQ_INT(inplace_parse(&back, b.p, b.len, why, sizeof why), 0);
	CHECK_EQ_STR(back.digest, r.digest);
	CHECK_EQ_STR(back.path, r.path);
	CHECK(inplace_id_eq(&back.id, &r.id));
	CHECK_EQ_INT(back.off, 512);
	CHECK_EQ_INT(back.len, 4096);
	buf_free(&b);
}

TEST(torn_or_edited_is_refused)
{
	struct inplace_rec r = sample(), back;
	struct buf b;
	char why[128];
	buf_init(&b, INPLACE_REC_MAX);
	CHECK_EQ_INT(inplace_format(&r, &b), 0);
	for (size_t cut = 0; cut < b.len; cut += 7)
		CHECK_EQ_INT(inplace_parse(&back, b.p, cut, why, sizeof why), -1);
	b.p[b.len / 3] ^= 1; /* one bit in the JSON */
	CHECK_EQ_INT(inplace_parse(&back, b.p, b.len, why, sizeof why), -1);
	CHECK(strstr(why, "checksum") != NULL);
	buf_free(&b);
}

TEST(range_outside_the_file_and_relative_paths)
{
	struct inplace_rec r = sample(), back;
	struct buf b;
	char why[128];
	r.off = r.id.size - 10;
	r.len = 11;
	buf_init(&b, INPLACE_REC_MAX);
	CHECK_EQ_INT(inplace_format(&r, &b), 0);
	CHECK_EQ_INT(inplace_parse(&back, b.p, b.len, why, sizeof why), -1);
	CHECK(strstr(why, "range") != NULL);
	b.len = 0;
	r = sample();
	snprintf(r.path, sizeof r.path, "relative.tar");
	CHECK_EQ_INT(inplace_format(&r, &b), 0);
	CHECK_EQ_INT(inplace_parse(&back, b.p, b.len, why, sizeof why), -1);
	buf_free(&b);
}

TEST(identity_moves_with_a_write)
{
	char dir[64], path[128];
	struct inplace_id a, b;
	int fd;
	unit_tmpdir(dir, "inplace");
	snprintf(path, sizeof path, "%s/f", dir);
	fd = open(path, O_RDWR | O_CREAT, 0644);
	CHECK(fd >= 0);
	CHECK_EQ_INT(write(fd, "abc", 3), 3);
	CHECK_EQ_INT(inplace_id_of(fd, &a), 0);
	CHECK_EQ_INT(inplace_id_of(fd, &b), 0);
	CHECK(inplace_id_eq(&a, &b));
	usleep(20000);
	CHECK_EQ_INT(pwrite(fd, "x", 1, 0), 1); /* same size */
	CHECK_EQ_INT(inplace_id_of(fd, &b), 0);
	CHECK(!inplace_id_eq(&a, &b));
	close(fd);
	unit_rmtree(dir);
}

int main(void)
{
	RUN(round_trip);
	RUN(torn_or_edited_is_refused);
	RUN(range_outside_the_file_and_relative_paths);
	RUN(identity_moves_with_a_write);
	return unit_report("inplace");
}
