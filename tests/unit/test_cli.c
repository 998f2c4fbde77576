/* test_cli.c - option values: strict whole numbers (the banned atoi's
 * replacement) and durations. */
#include "cli.h"
#include "unit.h"

TEST(whole_numbers_are_strict)
{
	long v = -7;
	CHECK_EQ_INT(cli_int("1", 1, 64, &v), 0);
	CHECK_EQ_INT(v, 1);
	CHECK_EQ_INT(cli_int("64", 1, 64, &v), 0);
	CHECK_EQ_INT(v, 64);
	CHECK_EQ_INT(cli_int("007", 1, 64, &v), 0);
	CHECK_EQ_INT(v, 7);
	v = -7;
	static const char *const bad[] = { "", "0", "65", "4x", "x4", " 4", "4 ", "+4", "-4", "0x4",
					   "4.0", "99999999999999999999999999" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		if (cli_int(bad[i], 1, 64, &v) != -1)
			fprintf(stderr, "accepted \"%s\"\n", bad[i]);
		CHECK_EQ_INT(v, -7);
	}
	/* a maximum below one digit's value */
	CHECK_EQ_INT(cli_int("9", 1, 5, &v), -1);
	CHECK_EQ_INT(cli_int("5", 1, 5, &v), 0);
}

TEST(durations)
{
	CHECK_EQ_INT(cli_duration_ms("250ms"), 250);
	CHECK_EQ_INT(cli_duration_ms("1.5s"), 1500);
	CHECK_EQ_INT(cli_duration_ms("2m"), 120000);
	CHECK_EQ_INT(cli_duration_ms("24h"), 86400000);
	CHECK_EQ_INT(cli_duration_ms("25h"), -1);
	CHECK_EQ_INT(cli_duration_ms("-1s"), -1);
	CHECK_EQ_INT(cli_duration_ms("nan"), -1);
	CHECK_EQ_INT(cli_duration_ms("1x"), -1);
}

int main(void)
{
	RUN(whole_numbers_are_strict);
	RUN(durations);
	return unit_report("unit cli");
}
