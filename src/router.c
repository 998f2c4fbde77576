/* router.c - request targets to routes, and the spec's name/tag grammar. */
#include "router.h"

#include <string.h>

#include "hex.h"
#include "ref.h"

#define PATH_MAX_LEN 1024

/* Percent-decode s[0..n) into out; -1 on a bad escape, a control byte, or
 * overflow.  '+' is literal (paths and our query values alike). */
static long pct_decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			int h, l;
			if (i + 2 >= n)
				return -1;
			h = hex_value((unsigned char)s[i + 1]);
			l = hex_value((unsigned char)s[i + 2]);
			if (h < 0 || l < 0)
				return -1;
			c = (unsigned char)(h * 16 + l);
			i += 2;
		}
		if (c < 0x20 || c == 0x7f)
			return -1;
		if (o + 1 >= cap)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return (long)o;
}

/* The grammar lives in ref.c; these names stay for the router's callers. */
static int ends_with(const char *s, size_t n, const char *suffix, size_t *at)
{
	size_t m = strlen(suffix);
	if (n < m || memcmp(s + n - m, suffix, m) != 0)
		return 0;
	*at = n - m;
	return 1;
}

static enum regerr set_name(struct route *rt, const char *p, size_t n)
{
	if (n == 0 || n > REF_NAME_MAX)
		return RE_NAME_INVALID;
	memcpy(rt->name, p, n);
	rt->name[n] = '\0';
	return ref_name_valid(rt->name) ? RE_OK : RE_NAME_INVALID;
}

static enum regerr set_digest(struct route *rt, const char *p, size_t n)
{
	enum digest_alg alg;
	if (n >= sizeof rt->ref || digest_parse(p, n, &alg) != DIGEST_OK)
		return RE_DIGEST_INVALID;
	memcpy(rt->ref, p, n);
	rt->ref[n] = '\0';
	rt->ref_is_digest = 1;
	return RE_OK;
}

enum regerr router_match(const char *target, size_t n, struct route *rt)
{
	char path[PATH_MAX_LEN];
	const char *q = memchr(target, '?', n);
	size_t plen = q ? (size_t)(q - target) : n, at;
	long len;
	const char *rest;
	enum regerr e;

	rt->kind = ROUTE_NONE;
	rt->name[0] = rt->ref[0] = rt->query[0] = '\0';
	rt->ref_is_digest = 0;
	rt->query_len = 0;
	if (q) {
		rt->query_len = n - plen - 1;
		if (rt->query_len >= sizeof rt->query)
			return RE_BAD_REQUEST;
		memcpy(rt->query, q + 1, rt->query_len);
	}
	len = pct_decode(target, plen, path, sizeof path);
	if (len < 0)
		return RE_NOT_FOUND;
	if (strcmp(path, "/v2/") == 0 || strcmp(path, "/v2") == 0) {
		rt->kind = ROUTE_BASE;
		return RE_OK;
	}
	if (strcmp(path, "/readyz") == 0) {
		rt->kind = ROUTE_READY;
		return RE_OK;
	}
	if (strcmp(path, "/healthz") == 0) {
		rt->kind = ROUTE_HEALTH;
		return RE_OK;
	}
	if (strcmp(path, "/v2/_catalog") == 0) {
		rt->kind = ROUTE_CATALOG;
		return RE_OK;
	}
	if (strncmp(path, "/v2/", 4) != 0)
		return RE_NOT_FOUND;
	rest = path + 4;
	n = (size_t)len - 4;

	if (ends_with(rest, n, "/tags/list", &at)) {
		rt->kind = ROUTE_TAGS;
		return set_name(rt, rest, at);
	}
	if (ends_with(rest, n, "/blobs/uploads/", &at) || ends_with(rest, n, "/blobs/uploads", &at)) {
		rt->kind = ROUTE_UPLOADS;
		return set_name(rt, rest, at);
	}
	/* the last segment is the reference; the one before says what it is */
	{
		const char *last = memrchr(rest, '/', n);
		const char *prev;
		size_t reflen, kindlen;
		if (!last)
			return RE_NOT_FOUND;
		reflen = n - (size_t)(last - rest) - 1;
		prev = last > rest ? memrchr(rest, '/', (size_t)(last - rest)) : NULL;
		if (!prev)
			return RE_NOT_FOUND;
		kindlen = (size_t)(last - prev) - 1;
#define SEG(s) (kindlen == sizeof(s) - 1 && memcmp(prev + 1, s, kindlen) == 0)
		if (SEG("manifests")) {
			rt->kind = ROUTE_MANIFEST;
			if ((e = set_name(rt, rest, (size_t)(prev - rest))) != RE_OK)
				return e;
			if (memchr(last + 1, ':', reflen))
				return set_digest(rt, last + 1, reflen);
			if (reflen == 0 || reflen > REF_TAG_MAX)
				return RE_TAG_INVALID;
			memcpy(rt->ref, last + 1, reflen);
			rt->ref[reflen] = '\0';
			return ref_tag_valid(rt->ref) ? RE_OK : RE_TAG_INVALID;
		}
		if (SEG("blobs")) {
			rt->kind = ROUTE_BLOB;
			if ((e = set_name(rt, rest, (size_t)(prev - rest))) != RE_OK)
				return e;
			return set_digest(rt, last + 1, reflen);
		}
		if (SEG("referrers")) {
			rt->kind = ROUTE_REFERRERS;
			if ((e = set_name(rt, rest, (size_t)(prev - rest))) != RE_OK)
				return e;
			return set_digest(rt, last + 1, reflen);
		}
		if (SEG("uploads")) {
			size_t at2;
			if (!ends_with(rest, (size_t)(prev - rest), "/blobs", &at2))
				return RE_NOT_FOUND;
			rt->kind = ROUTE_UPLOAD;
			if ((e = set_name(rt, rest, at2)) != RE_OK)
				return e;
			/* ids are ours: 32 lowercase hex */
			if (reflen != 32)
				return RE_BLOB_UPLOAD_UNKNOWN;
			for (size_t i = 0; i < 32; i++) {
				char c = last[1 + i];
				if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
					return RE_BLOB_UPLOAD_UNKNOWN;
			}
			memcpy(rt->ref, last + 1, 32);
			rt->ref[32] = '\0';
			return RE_OK;
		}
#undef SEG
	}
	return RE_NOT_FOUND;
}

long router_query(const char *q, size_t n, const char *key, unsigned idx, char *out, size_t cap)
{
	size_t klen = strlen(key), i = 0;
	while (i < n) {
		size_t start = i, eq;
		const char *amp = memchr(q + i, '&', n - i);
		size_t end = amp ? (size_t)(amp - q) : n;
		i = end + 1;
		eq = start;
		while (eq < end && q[eq] != '=')
			eq++;
		if (eq - start != klen || memcmp(q + start, key, klen) != 0)
			continue;
		if (idx--)
			continue;
		if (eq == end) {
			out[0] = '\0';
			return 0;
		}
		{
			long r = pct_decode(q + eq + 1, end - eq - 1, out, cap);
			return r < 0 ? -2 : r;
		}
	}
	return -1;
}
