/* unit.h - a tiny test harness for the unit tests (one binary per module).
 *
 *   TEST(name) { CHECK(cond); CHECK_EQ_INT(a, b); CHECK_EQ_STR(a, b); }
 *   int main(void) { RUN(name); ...; return unit_report("http"); }
 *
 * unit_report prints "MODULE: N passed, N failed" and returns the exit code. */
#ifndef PH_UNIT_H
#define PH_UNIT_H

#include <stdio.h>
#include <string.h>

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

static inline int unit_report(const char *module)
{
	printf("%s: %d passed, %d failed\n", module, unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}

#endif
