/* cli.h - command-line values shared by the verbs. */
#ifndef PH_CLI_H
#define PH_CLI_H

#include <stdint.h>

/* "250ms", "1.5s", "2m", "1h" or bare seconds ("0.5") -> milliseconds.
 * -1 if malformed, negative, or over a day. */
int64_t cli_duration_ms(const char *s);
/* A whole number in [min, max], written as plain decimal digits (no sign,
 * no spaces, nothing after).  0 with *out set, or -1 (*out untouched). */
int cli_int(const char *s, long min, long max, long *out);
/* "64M", "512k", "1g" or bytes ("4096"; fractions allowed: "1.5M") ->
 * bytes.  UINT64_MAX if malformed, negative, or 2^52 or more before the
 * suffix. */
uint64_t cli_size(const char *s);
/* The value after argv[*i], or fatal(2) naming the option. */
const char *cli_arg(int argc, char **argv, int *i, const char *usage);

#endif
