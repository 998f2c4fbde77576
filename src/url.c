/* url.c - strict http(s) URL parsing, resolution and origin comparison. */
#include "url.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Bytes never allowed anywhere in a URL we accept: controls, space, DEL,
 * backslash (WHATWG parsers read it as '/'), and non-ASCII. */
static int bad_byte(unsigned char c)
{
	return c <= 0x20 || c >= 0x7f || c == '\\';
}

static int is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int is_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* host[:port] in s[0..len) into u (scheme already set). */
static int parse_authority(struct url *u, const char *s, size_t len)
{
	size_t i = 0, h = 0;
	unsigned long port = 0;

	if (len == 0 || memchr(s, '@', len))
		return -1; /* no host, or user info: never credentials in a URL */
	if (s[0] == '[') {
		int colons = 0;
		for (i = 1; i < len && s[i] != ']'; i++) {
			unsigned char c = (unsigned char)s[i];
			if (!is_hex(c) && c != ':' && c != '.')
				return -1; /* no zone IDs, no IPvFuture */
			colons += c == ':';
			if (h + 1 >= sizeof u->host)
				return -1;
			u->host[h++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		}
		if (i >= len || colons < 2)
			return -1;
		u->host[h] = '\0';
		{
			struct in6_addr a6;
			if (inet_pton(AF_INET6, u->host, &a6) != 1)
				return -1;
		}
		i++; /* ']' */
	} else {
		for (; i < len && s[i] != ':'; i++) {
			unsigned char c = (unsigned char)s[i];
			if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '.' && c != '_' && c != '~')
				return -1;
			if (h + 1 >= sizeof u->host)
				return -1;
			u->host[h++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		}
		if (h == 0)
			return -1;
		u->host[h] = '\0';
	}
	u->port = u->https ? 443 : 80;
	if (i == len)
		return 0;
	if (s[i] != ':')
		return -1;
	if (++i == len)
		return 0; /* "host:" is the default port (RFC 3986 section 6.2.3) */
	if (len - i > 5)
		return -1;
	for (; i < len; i++) {
		if (!is_digit((unsigned char)s[i]))
			return -1;
		port = port * 10 + (unsigned long)(s[i] - '0');
	}
	if (port == 0 || port > 65535)
		return -1;
	u->port = (unsigned)port;
	return 0;
}

/* Path + query s[0..len) (fragment already cut) into u->path; every byte
 * checked.  prefix (may be empty) goes first. */
static int set_path(struct url *u, const char *prefix, size_t plen, const char *s, size_t len)
{
	char tmp[URL_PATH_MAX];
	if (plen + len + 1 > sizeof tmp)
		return -1;
	memcpy(tmp, prefix, plen);
	memcpy(tmp + plen, s, len);
	tmp[plen + len] = '\0';
	for (size_t i = 0; i < plen + len; i++)
		if (bad_byte((unsigned char)tmp[i]) || tmp[i] == '#')
			return -1;
	if (tmp[0] != '/')
		return -1;
	memcpy(u->path, tmp, plen + len + 1);
	return 0;
}

/* Length of a "scheme:" prefix of s (including ':'), 0 if none. */
static size_t scheme_len(const char *s, size_t len)
{
	size_t i;
	if (len == 0 || !is_alpha((unsigned char)s[0]))
		return 0;
	for (i = 1; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == ':')
			return i + 1;
		if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.')
			return 0;
	}
	return 0;
}

/* "//authority[path]" with the scheme set in u. */
static int parse_net_path(struct url *u, const char *s, size_t len)
{
	size_t a = 2, end;
	if (len < 2 || s[0] != '/' || s[1] != '/')
		return -1;
	for (end = a; end < len && s[end] != '/' && s[end] != '?'; end++)
		if (bad_byte((unsigned char)s[end]) || s[end] == '#')
			return -1;
	if (parse_authority(u, s + a, end - a) < 0)
		return -1;
	if (end == len)
		return set_path(u, "/", 1, "", 0);
	if (s[end] == '?')
		return set_path(u, "/", 1, s + end, len - end);
	return set_path(u, "", 0, s + end, len - end);
}

int url_parse(struct url *u, const char *s, size_t len)
{
	const char *hash = memchr(s, '#', len);
	size_t n;
	memset(u, 0, sizeof *u);
	if (hash)
		len = (size_t)(hash - s);
	n = scheme_len(s, len);
	if (n == 6 && strncasecmp(s, "https:", 6) == 0)
		u->https = 1;
	else if (!(n == 5 && strncasecmp(s, "http:", 5) == 0))
		return -1;
	if (parse_net_path(u, s + n, len - n) < 0) {
		memset(u, 0, sizeof *u);
		return -1;
	}
	return 0;
}

int url_parse_host(struct url *u, int https, const char *s, size_t len)
{
	memset(u, 0, sizeof *u);
	u->https = https;
	for (size_t i = 0; i < len; i++)
		if (bad_byte((unsigned char)s[i]) || s[i] == '/' || s[i] == '?' || s[i] == '#')
			return -1;
	if (parse_authority(u, s, len) < 0) {
		memset(u, 0, sizeof *u);
		return -1;
	}
	u->path[0] = '/';
	return 0;
}

int url_resolve(const struct url *base, const char *ref, size_t len, struct url *out)
{
	const char *hash = memchr(ref, '#', len);
	struct url r;
	int rc;

	if (hash)
		len = (size_t)(hash - ref);
	if (len == 0)
		return -1; /* an empty Location points nowhere useful */
	if (scheme_len(ref, len))
		return url_parse(out, ref, len);
	memset(&r, 0, sizeof r);
	r.https = base->https;
	if (len >= 2 && ref[0] == '/' && ref[1] == '/') {
		rc = parse_net_path(&r, ref, len);
	} else {
		memcpy(r.host, base->host, sizeof r.host);
		r.port = base->port;
		if (ref[0] == '/') {
			rc = set_path(&r, "", 0, ref, len);
		} else if (ref[0] == '?') {
			/* the base's path without its query */
			size_t q = strcspn(base->path, "?");
			rc = set_path(&r, base->path, q, ref, len);
		} else {
			/* merge: the base path up to its last '/' (before any query) */
			size_t q = strcspn(base->path, "?"), slash = 0;
			for (size_t i = 0; i < q; i++)
				if (base->path[i] == '/')
					slash = i + 1;
			rc = set_path(&r, base->path, slash ? slash : 1, ref, len);
		}
	}
	if (rc < 0)
		return -1;
	*out = r;
	return 0;
}

int url_same_origin(const struct url *a, const struct url *b)
{
	return a->https == b->https && a->port == b->port && strcmp(a->host, b->host) == 0 &&
	       a->host[0] != '\0';
}

int url_host_is_loopback(const char *host)
{
	struct in_addr a4;
	size_t n = strlen(host);
	if (strcasecmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
		return 1;
	if (n > 10 && strcasecmp(host + n - 10, ".localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return 0;
}

int url_format(const struct url *u, int with_path, char *out, size_t cap)
{
	char port[8] = "";
	int v6 = strchr(u->host, ':') != NULL, n;
	if (u->port != (u->https ? 443u : 80u))
		snprintf(port, sizeof port, ":%u", u->port);
	n = snprintf(out, cap, "%s://%s%s%s%s%s", u->https ? "https" : "http", v6 ? "[" : "", u->host,
		     v6 ? "]" : "", port, with_path ? u->path : "");
	if (n < 0 || (size_t)n >= cap) {
		if (cap)
			out[0] = '\0';
		return -1;
	}
	return n;
}
