/* tarname.c - member names: normalise, resolve symlinks, quote for messages. */
#include "tarname.h"

#include <stdio.h>
#include <string.h>

int tarname_clean(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	while (*in) {
		const char *slash = strchr(in, '/');
		size_t n = slash ? (size_t)(slash - in) : strlen(in);
		if (n == 2 && in[0] == '.' && in[1] == '.') {
			if (o == 0)
				return -1;
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
		} else if (n > 0 && !(n == 1 && in[0] == '.')) {
			if (o + n + 2 > cap)
				return -1;
			if (o)
				out[o++] = '/';
			memcpy(out + o, in, n);
			o += n;
		}
		in += n + (slash ? 1 : 0);
	}
	if (o == 0 || cap == 0)
		return -1;
	out[o] = '\0';
	return 0;
}

int tarname_resolve(const char *cur, const char *target, char *out, size_t cap)
{
	char joined[TARNAME_MAX * 2 + 2];
	const char *slash = strrchr(cur, '/');
	size_t dl = slash ? (size_t)(slash - cur) : 0, tl = strlen(target);

	if (target[0] == '/' || !slash)
		dl = 0;
	if (dl + 1 + tl + 1 > sizeof joined)
		return -1;
	if (dl) {
		memcpy(joined, cur, dl);
		joined[dl++] = '/';
	}
	memcpy(joined + dl, target, tl + 1);
	return tarname_clean(joined, out, cap);
}

struct tarname_quoted tarname_quote(const char *s)
{
	static const char hex[] = "0123456789abcdef";
	struct tarname_quoted q;
	size_t o = 0;
	const size_t room = sizeof q.s - 4; /* for "..." and the NUL */

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		size_t need = c == '\\' ? 2 : (c < 0x20 || c > 0x7e) ? 4 : 1;
		if (o + need > room) {
			memcpy(q.s + o, "...", 3);
			o += 3;
			break;
		}
		if (need == 1) {
			q.s[o++] = (char)c;
		} else if (need == 2) {
			q.s[o++] = '\\';
			q.s[o++] = '\\';
		} else {
			q.s[o++] = '\\';
			q.s[o++] = 'x';
			q.s[o++] = hex[c >> 4];
			q.s[o++] = hex[c & 15];
		}
	}
	q.s[o] = '\0';
	return q;
}
