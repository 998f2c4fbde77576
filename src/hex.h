/* hex.h - the value of one hexadecimal digit, for every parser that reads
 * them (chunk sizes, JSON \u escapes, percent-encoding, URLs); and 128
 * random bits in hex, for names nobody else may guess (upload sessions,
 * temporary files). */
#ifndef PH_HEX_H
#define PH_HEX_H

#include <errno.h>
#include <stddef.h>
#include <sys/random.h>
#include <sys/types.h>

/* 0..15, or -1 if c is not [0-9a-fA-F]. */
static inline int hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* 32 lowercase hex digits from getrandom, NUL-terminated. */
static inline void hex_random128(char out[33])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[16] = { 0 };
	size_t got = 0;
	while (got < sizeof raw) {
		ssize_t r = getrandom(raw + got, sizeof raw - got, 0);
		if (r > 0)
			got += (size_t)r;
		else if (errno != EINTR)
			break;
	}
	for (size_t i = 0; i < 16; i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[32] = '\0';
}

#endif
