/* fuzz_upstream.c - upstream_parse (a --mirror value), upstream_find (a ?ns=
 * value against the upstreams) and upstream_store_name.  What the mirror
 * relies on: an accepted upstream has a host that url_parse_host takes back
 * and a prefix that is one valid name component without "/" (so no two
 * upstreams' repositories meet in the store), plain http only for loopback
 * unless insecure, and a store name is always a valid repository name that
 * starts with the prefix and a "/". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"
#include "upstream.h"
#include "url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[1024], err[512], out[REF_NAME_MAX + 1];
	const char *nl;
	struct upstream u[2];
	size_t n = size < sizeof s - 1 ? size : sizeof s - 1, first;
	struct url back;

	memcpy(s, data, n);
	s[n] = '\0';
	if (strlen(s) != n)
		return 0;
	/* "URL\nNS\nNAME" */
	nl = strchr(s, '\n');
	first = nl ? (size_t)(nl - s) : n;
	s[first] = '\0';
	for (int insecure = 0; insecure < 2; insecure++) {
		if (upstream_parse(s, insecure, &u[insecure], err, sizeof err) < 0) {
			if (!err[0] || strchr(err, '\n'))
				abort();
			continue;
		}
		if (url_parse_host(&back, !u[insecure].plain, u[insecure].host, strlen(u[insecure].host)) < 0)
			abort();
		if (!ref_component_valid(u[insecure].prefix, strlen(u[insecure].prefix)) ||
		    strchr(u[insecure].prefix, '/'))
			abort();
		if (u[insecure].plain && !insecure && !url_host_is_loopback(back.host) &&
		    !u[insecure].hub)
			abort();
		if (!upstream_host_eq(&u[insecure], u[insecure].host, strlen(u[insecure].host)))
			abort();
		if (nl) {
			const char *rest = nl + 1, *nl2 = strchr(rest, '\n');
			size_t nslen = nl2 ? (size_t)(nl2 - rest) : strlen(rest);
			int i = upstream_find(&u[insecure], 1, rest, nslen);
			if (i != -1 && i != 0)
				abort();
			if (nl2 && upstream_store_name(&u[insecure], nl2 + 1, out, sizeof out) == 0) {
				size_t pl = strlen(u[insecure].prefix);
				if (!ref_name_valid(out) || strncmp(out, u[insecure].prefix, pl) != 0 ||
				    out[pl] != '/')
					abort();
			}
		}
	}
	return 0;
}
