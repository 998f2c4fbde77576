/* upstream.c - --mirror URLs, ?ns= matching, store names of mirrored
 * repositories. */
#include "upstream.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "url.h"

static int is_hub_host(const char *h, size_t n)
{
	static const char *const names[] = { "docker.io", "index.docker.io", REF_HUB_HOST };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strlen(names[i]) == n && strncasecmp(h, names[i], n) == 0)
			return 1;
	return 0;
}

int upstream_parse(const char *s, int insecure, struct upstream *u, char *err, size_t cap)
{
	struct url url;
	size_t len = strlen(s), o = 0;
	int plain = 0;

	memset(u, 0, sizeof *u);
	if (len >= 7 && strncasecmp(s, "http://", 7) == 0) {
		plain = 1;
		s += 7, len -= 7;
	} else if (len >= 8 && strncasecmp(s, "https://", 8) == 0) {
		s += 8, len -= 8;
	}
	if (len && s[len - 1] == '/')
		len--;
	if (len == 0 || memchr(s, '/', len) || memchr(s, '?', len) || memchr(s, '#', len) ||
	    memchr(s, '@', len)) {
		snprintf(err, cap, "--mirror: expected http(s)://HOST[:PORT] with no path");
		return -1;
	}
	if (url_parse_host(&url, !plain, s, len) < 0) {
		snprintf(err, cap, "--mirror: %.*s is not a HOST[:PORT]", (int)(len > 200 ? 200 : len), s);
		return -1;
	}
	if (strchr(url.host, ':')) {
		snprintf(err, cap, "--mirror: IPv6 addresses are not supported (use a host name)");
		return -1;
	}
	if (plain && !insecure && !url_host_is_loopback(url.host)) {
		snprintf(err, cap, "--mirror: plain http://%s only with --mirror-insecure (loopback "
			 "hosts excepted)", url.host);
		return -1;
	}
	u->plain = plain;
	if (is_hub_host(url.host, strlen(url.host)) && url.port == (plain ? 80u : 443u)) {
		u->hub = 1;
		snprintf(u->host, sizeof u->host, "%s", REF_HUB_HOST);
		snprintf(u->prefix, sizeof u->prefix, "%s", UPSTREAM_HUB_PREFIX);
		return 0;
	}
	if (url.port == (plain ? 80u : 443u))
		snprintf(u->host, sizeof u->host, "%s", url.host);
	else
		snprintf(u->host, sizeof u->host, "%s:%u", url.host, url.port);
	for (const char *p = u->host; *p && o + 3 < sizeof u->prefix; p++) {
		if (*p == ':') {
			u->prefix[o++] = '_';
			u->prefix[o++] = '_';
		} else {
			u->prefix[o++] = *p; /* url_parse lowered it */
		}
	}
	u->prefix[o] = '\0';
	if (!ref_component_valid(u->prefix, o)) {
		snprintf(err, cap, "--mirror: %s cannot name a repository component", u->host);
		return -1;
	}
	return 0;
}

int upstream_host_eq(const struct upstream *u, const char *ns, size_t n)
{
	size_t hl = strlen(u->host);
	if (u->hub)
		return is_hub_host(ns, n) || (n > 4 && memcmp(ns + n - 4, ":443", 4) == 0 &&
					      is_hub_host(ns, n - 4));
	if (n == hl && strncasecmp(ns, u->host, n) == 0)
		return 1;
	/* the default port, written or not */
	if (!u->plain && n == hl + 4 && strncasecmp(ns, u->host, hl) == 0 &&
	    memcmp(ns + hl, ":443", 4) == 0)
		return 1;
	return 0;
}

int upstream_find(const struct upstream *ups, size_t n, const char *ns, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (upstream_host_eq(&ups[i], ns, len))
			return (int)i;
	return -1;
}

int upstream_store_name(const struct upstream *u, const char *name, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s/%s", u->prefix, name);
	if (n < 0 || (size_t)n >= cap || n > REF_NAME_MAX || !ref_name_valid(out)) {
		if (cap)
			out[0] = '\0';
		return -1;
	}
	return 0;
}
