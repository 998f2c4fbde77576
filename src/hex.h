/* hex.h - the value of one hexadecimal digit, for every parser that reads
 * them (chunk sizes, JSON \u escapes, percent-encoding, URLs). */
#ifndef PH_HEX_H
#define PH_HEX_H

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

#endif
