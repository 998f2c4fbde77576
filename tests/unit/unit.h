/* unit.h - a tiny test harness for the unit tests (one binary per module).
 *
 *   TEST(name) { CHECK(cond); CHECK_EQ_INT(a, b); CHECK_EQ_STR(a, b); }
 *   int main(void) { RUN(name); ...; return unit_report("http"); }
 *
 * unit_report prints "MODULE: N passed, N failed" and returns the exit code.
 * unit_guard_put places an input right before a PROT_NONE page (over-reads crash).
 * unit_tmpdir makes a fresh directory under $TMPDIR; unit_rmtree removes one. */
#ifndef PH_UNIT_H
#define PH_UNIT_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int unit_failed_checks;
static int unit_passed, unit_failed;

#define TEST(name) static void test_##name(void)

#define CHECK(cond)                                                                 \
	do {                                                                        \
		if (!(cond)) {                                                      \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			unit_failed_checks++;                                       \
		}                                                                   \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                          \
	do {                                                                        \
		long long unit_a = (long long)(a), unit_b = (long long)(b);         \
		if (unit_a != unit_b) {                                             \
			fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a, \
				unit_a, unit_b);                                    \
			unit_failed_checks++;                                       \
		}                                                                   \
	} while (0)

#define CHECK_EQ_STR(a, b)                                                          \
	do {                                                                        \
		const char *unit_a = (a), *unit_b = (b);                            \
		if (!unit_a || !unit_b || strcmp(unit_a, unit_b) != 0) {            \
			fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, \
				#a, unit_a ? unit_a : "(null)", unit_b ? unit_b : "(null)"); \
			unit_failed_checks++;                                       \
		}                                                                   \
	} while (0)

#define RUN(name)                                                                   \
	do {                                                                        \
		int unit_before = unit_failed_checks;                               \
		test_##name();                                                      \
		if (unit_failed_checks == unit_before) {                            \
			unit_passed++;                                              \
		} else {                                                            \
			unit_failed++;                                              \
			fprintf(stderr, "FAIL %s\n", #name);                        \
		}                                                                   \
	} while (0)

/* Guard pages (picohttpparser's test trick): unit_guard_put copies data[0..n)
 * so that it ends exactly where an inaccessible (PROT_NONE) page begins, so a
 * parser that reads even one byte past its input dies with SIGSEGV instead of
 * passing by luck.  Release with unit_guard_free.  n may be 0: the pointer is
 * then the first byte of the guard page itself. */
struct unit_guard {
	char *map;
	size_t maplen;
};

static inline char *unit_guard_put(struct unit_guard *g, const void *data, size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t body = (n + page - 1) / page * page;
	char *m;

	g->maplen = body + page;
	m = mmap(NULL, g->maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED || mprotect(m + body, page, PROT_NONE) != 0) {
		perror("unit_guard_put");
		exit(2);
	}
	g->map = m;
	if (n)
		memcpy(m + body - n, data, n);
	return m + body - n;
}

static inline void unit_guard_free(struct unit_guard *g)
{
	munmap(g->map, g->maplen);
	g->map = NULL;
}

/* A NUL-terminated string at the end of a page, without its NUL. */
static inline char *unit_guard_str(struct unit_guard *g, const char *s)
{
	return unit_guard_put(g, s, strlen(s));
}

/* A new empty directory (mkdtemp) into out; exits if it cannot be made. */
static inline void unit_tmpdir(char out[64], const char *module)
{
	const char *base = getenv("TMPDIR");
	snprintf(out, 64, "%.32s/ph-unit-%.12s-XXXXXX", base && base[0] ? base : "/tmp", module);
	if (!mkdtemp(out)) {
		perror("unit_tmpdir");
		exit(2);
	}
}

static inline int unit_rmtree_one(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
	(void)sb;
	(void)flag;
	(void)f;
	remove(path);
	return 0;
}

/* rm -rf dir (without following links). */
static inline void unit_rmtree(const char *dir)
{
	nftw(dir, unit_rmtree_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline int unit_report(const char *module)
{
	printf("%s: %d passed, %d failed\n", module, unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}

#endif
