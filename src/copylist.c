/* copylist.c - the --from-file list of copies (copylist.h). */
#include "copylist.h"

#include <stdarg.h>
#include <string.h>

#include "log.h"

long copylist_parse(const char *text, size_t len,
		    int (*each)(void *ctx, unsigned long line, const char *src, const char *dst),
		    void *ctx, char *why, size_t cap)
{
	char line[COPYLIST_LINE_MAX + 1];
	unsigned long no = 0;
	long pairs = 0;
	size_t i = 0;

	if (cap)
		why[0] = '\0';
	while (i < len) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (text + i)) : len - i;
		char *words[3];
		size_t nw = 0;
		char *p;

		no++;
		if (n && text[i + n - 1] == '\r')
			n--;
		if (n > COPYLIST_LINE_MAX)
			return log_fail(why, cap, "line %lu: longer than %d bytes", no, COPYLIST_LINE_MAX);
		memcpy(line, text + i, n);
		line[n] = '\0';
		i += (nl ? (size_t)(nl - (text + i)) + 1 : len - i);
		for (size_t k = 0; k < n; k++)
			if ((unsigned char)line[k] < 0x20 && line[k] != '\t')
				return log_fail(why, cap, "line %lu: a control byte (0x%02x)", no,
						(unsigned char)line[k]);
			else if ((unsigned char)line[k] == 0x7f)
				return log_fail(why, cap, "line %lu: a control byte (0x7f)", no);
		p = line;
		for (;;) {
			while (*p == ' ' || *p == '\t')
				p++;
			if (!*p || *p == '#')
				break;
			if (nw == 3)
				break;
			words[nw++] = p;
			while (*p && *p != ' ' && *p != '\t')
				p++;
			if (*p)
				*p++ = '\0';
		}
		if (nw == 0)
			continue;
		if (nw != 2)
			return log_fail(why, cap, "line %lu: want SRC DST, found %s", no,
					nw == 1 ? "one word" : "more than two words");
		if (pairs == COPYLIST_MAX)
			return log_fail(why, cap, "line %lu: more than %d copies", no, COPYLIST_MAX);
		if (each && each(ctx, no, words[0], words[1]) < 0)
			return -1;
		pairs++;
	}
	return pairs;
}
