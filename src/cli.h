/* cli.h - command-line values shared by the verbs. */
#ifndef PH_CLI_H
#define PH_CLI_H

#include <stdint.h>

/* "250ms", "1.5s", "2m", "1h" or bare seconds ("0.5") -> milliseconds.
 * -1 if malformed, negative, or over a day. */
int64_t cli_duration_ms(const char *s);
/* The value after argv[*i], or fatal(2) naming the option. */
const char *cli_arg(int argc, char **argv, int *i, const char *usage);

#endif
