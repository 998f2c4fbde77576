/* cli.c - durations and option values. */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

int64_t cli_duration_ms(const char *s)
{
	char *end;
	double v, scale = 1000;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !(v >= 0))
		return -1;
	if (strcmp(end, "ms") == 0)
		scale = 1;
	else if (strcmp(end, "s") == 0 || *end == '\0')
		scale = 1000;
	else if (strcmp(end, "m") == 0)
		scale = 60000;
	else if (strcmp(end, "h") == 0)
		scale = 3600000;
	else
		return -1;
	v *= scale;
	if (v > 86400000.0)
		return -1;
	return (int64_t)(v + 0.5);
}

int cli_int(const char *s, long min, long max, long *out)
{
	long v = 0;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (LONG_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*s - '0');
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

const char *cli_arg(int argc, char **argv, int *i, const char *usage)
{
	if (*i + 1 >= argc)
		fatal(2, "%s needs a value\n%s", argv[*i], usage);
	return argv[++*i];
}

uint64_t cli_size(const char *s)
{
	char *end;
	double v;
	uint64_t mul = 1;
	errno = 0;
	v = strtod(s, &end);
	/* !(v >= 0) is also NaN; 2^52 keeps the conversion below exact */
	if (errno || end == s || !(v >= 0) || v >= 4503599627370496.0)
		return UINT64_MAX;
	if (*end == 'k' || *end == 'K')
		mul = 1024;
	else if (*end == 'm' || *end == 'M')
		mul = 1 << 20;
	else if (*end == 'g' || *end == 'G')
		mul = 1 << 30;
	else if (*end)
		return UINT64_MAX;
	return (uint64_t)(v * (double)mul);
}
