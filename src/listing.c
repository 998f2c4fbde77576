/* listing.c - tags/list and _catalog pages, and their Link (listing.h). */
#include "listing.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"
#include "log.h"

long listing_each(const char *body, size_t len, const char *key, size_t max,
		  int (*each)(void *ctx, const char *s), void *ctx, char *why, size_t cap)
{
	struct json j;
	int arr, t;
	long n = 0;
	char *s = NULL;

	if (cap)
		why[0] = '\0';
	if (json_parse(&j, body, len) < 0)
		return log_fail(why, cap, "not JSON");
	if (j.t[0].type != JSON_OBJECT) {
		n = log_fail(why, cap, "not a JSON object");
		goto out;
	}
	arr = json_get(&j, 0, key);
	if (arr == -2) {
		n = log_fail(why, cap, "\"%s\" twice", key);
		goto out;
	}
	if (arr < 0 || j.t[arr].type == JSON_NULL)
		goto out;
	if (j.t[arr].type != JSON_ARRAY) {
		n = log_fail(why, cap, "\"%s\" is not an array", key);
		goto out;
	}
	s = malloc(max);
	if (!s) {
		n = log_fail(why, cap, "out of memory");
		goto out;
	}
	t = arr + 1;
	for (uint32_t i = 0; i < j.t[arr].size; i++, t = (int)j.t[t].next) {
		if (json_str_copy(&j, t, s, max) <= 0) {
			n = log_fail(why, cap, "\"%s\" holds something other than a name of 1 to %zu bytes",
				     key, max - 1);
			goto out;
		}
		if (each(ctx, s) < 0) {
			n = -1;
			goto out;
		}
		n++;
	}
out:
	free(s);
	json_free(&j);
	return n;
}

/* RFC 8288: link-value = "<" URI-Reference ">" *( OWS ";" OWS link-param );
 * values are separated by commas.  rel's value may be quoted and may list
 * several relation types. */
int listing_next(const char *v, size_t len, char *out, size_t cap)
{
	size_t i = 0;

	if (cap)
		out[0] = '\0';
	while (i < len) {
		size_t us, ue;
		int next = 0;
		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		if (i == len)
			break;
		if (v[i] != '<')
			return -1;
		us = ++i;
		while (i < len && v[i] != '>')
			i++;
		if (i == len)
			return -1;
		ue = i++;
		/* parameters up to the next comma outside quotes */
		while (i < len && v[i] != ',') {
			size_t ks, ke, vs, ve;
			while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ';'))
				i++;
			if (i == len || v[i] == ',')
				break;
			ks = i;
			while (i < len && v[i] != '=' && v[i] != ';' && v[i] != ',' && v[i] != ' ')
				i++;
			ke = i;
			while (i < len && v[i] == ' ')
				i++;
			vs = ve = i;
			if (i < len && v[i] == '=') {
				i++;
				while (i < len && v[i] == ' ')
					i++;
				if (i < len && v[i] == '"') {
					vs = ++i;
					while (i < len && v[i] != '"')
						i++;
					if (i == len)
						return -1;
					ve = i++;
				} else {
					vs = i;
					while (i < len && v[i] != ';' && v[i] != ',' && v[i] != ' ')
						i++;
					ve = i;
				}
			}
			if (ke - ks == 3 && strncasecmp(v + ks, "rel", 3) == 0) {
				/* a space-separated list of relation types */
				size_t k = vs;
				while (k < ve) {
					size_t ts;
					while (k < ve && v[k] == ' ')
						k++;
					ts = k;
					while (k < ve && v[k] != ' ')
						k++;
					if (k - ts == 4 && strncasecmp(v + ts, "next", 4) == 0)
						next = 1;
				}
			}
		}
		if (next) {
			if (ue - us == 0 || ue - us >= cap)
				return -1;
			for (size_t k = us; k < ue; k++)
				if ((unsigned char)v[k] <= ' ' || (unsigned char)v[k] >= 0x7f)
					return -1;
			memcpy(out, v + us, ue - us);
			out[ue - us] = '\0';
			return 1;
		}
	}
	return 0;
}
