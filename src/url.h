/* url.h - the http(s) URLs the pusher meets: the registry's base, Location
 * headers, token realms.  No libcurl: the fuzzer links this file alone.
 *
 * Why a parser of our own: credentials are bound to an origin (scheme, host,
 * port), so the origin we compare must be the one libcurl then connects to.
 * url_parse accepts only a strict subset of RFC 3986 (http/https, a reg-name
 * or IPv4 or bracketed IPv6 host, no user info, no percent-encoding in the
 * host, no control characters, spaces, backslashes or non-ASCII bytes
 * anywhere), and url_format writes it back canonically, so what libcurl is
 * given is exactly what was checked.
 *
 * Limits: host at most URL_HOST_MAX - 1 bytes, path + query at most
 * URL_PATH_MAX - 1 bytes; anything longer is refused, never cut. */
#ifndef PH_URL_H
#define PH_URL_H

#include <stddef.h>

#define URL_HOST_MAX 256
#define URL_PATH_MAX 4096
/* a formatted URL: scheme, host, port, path */
#define URL_MAX (8 + URL_HOST_MAX + 8 + URL_PATH_MAX)

struct url {
	int https;                 /* 1 https, 0 http */
	char host[URL_HOST_MAX];   /* lower case; IPv6 without brackets */
	unsigned port;             /* 1..65535, the scheme's default when none given */
	char path[URL_PATH_MAX];   /* "/..." with the query, without the fragment */
};

/* Parse the absolute URL s[0..len).  0, or -1 (not a URL this accepts). */
int url_parse(struct url *u, const char *s, size_t len);
/* Parse "host[:port]" (as a user writes a registry) with the given scheme;
 * path "/".  0 or -1. */
int url_parse_host(struct url *u, int https, const char *s, size_t len);
/* Resolve the reference ref[0..len) (absolute, "//authority...", "/path",
 * "?query" or a relative path) against base, as RFC 3986 section 5.2 does
 * (dot segments are left to the server).  0, or -1. */
int url_resolve(const struct url *base, const char *ref, size_t len, struct url *out);
/* Same scheme, host and port? */
int url_same_origin(const struct url *a, const struct url *b);
/* Is the host a loopback name or address (localhost, *.localhost,
 * 127.0.0.0/8, ::1)? */
int url_host_is_loopback(const char *host);
/* "scheme://host[:port]path" (the port only when not the default) into
 * out[cap]; with_path 0 gives the origin alone.  Length, or -1 if it does
 * not fit (out is then ""). */
int url_format(const struct url *u, int with_path, char *out, size_t cap);

#endif
