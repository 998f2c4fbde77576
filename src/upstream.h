/* upstream.h - the mirror's upstreams: `serve --mirror URL`, the ?ns= a
 * request names its upstream with (containerd's mirror convention), and the
 * names mirrored repositories have in the store.  No libcurl: the fuzzer
 * links this file with url.c and ref.c.
 *
 * URL: "https://host[:port]", "http://host[:port]" or "host[:port]"
 * (https), an optional "/" and nothing else (a registry lives at the root).
 * Plain http only for loopback hosts unless insecure, as push's transport
 * rules go.  Docker Hub ("docker.io", "index.docker.io",
 * "registry-1.docker.io") is fetched from registry-1.docker.io.  IPv6
 * literals are refused (no store name can be made of them).
 *
 * Store names: the upstream's content lives under its prefix, the host in
 * lower case with ":" written "__" ("127.0.0.1__5000/library/alpine"),
 * "docker.io" for Docker Hub.  Host names never hold "_", so no two
 * upstreams share a prefix, and a request without ns and one with the
 * default upstream's ns reach the same repository. */
#ifndef PH_UPSTREAM_H
#define PH_UPSTREAM_H

#include <stddef.h>

#include "ref.h"

#define UPSTREAM_HOST_MAX 262          /* host (255) ":" port and the NUL */
#define UPSTREAM_PREFIX_MAX 264
#define UPSTREAM_HUB_PREFIX "docker.io"

struct upstream {
	char host[UPSTREAM_HOST_MAX];     /* host[:port] the client connects to */
	char prefix[UPSTREAM_PREFIX_MAX]; /* its store names start "<prefix>/" */
	int plain;                        /* written http:// */
	int hub;                          /* Docker Hub */
};

/* Parse a --mirror value.  0, or -1 with a one-line err. */
int upstream_parse(const char *s, int insecure, struct upstream *u, char *err, size_t cap);
/* Do two hosts (a --mirror's, a ?ns= value) name the same registry?  Case
 * and a default port (:443) aside; Docker Hub's names are one. */
int upstream_host_eq(const struct upstream *u, const char *ns, size_t n);
/* The upstream a ?ns= value names, from ups[0..n): its index, or -1. */
int upstream_find(const struct upstream *ups, size_t n, const char *ns, size_t len);
/* "<prefix>/<name>" into out[cap].  0, or -1 when it is no valid
 * repository name (too long). */
int upstream_store_name(const struct upstream *u, const char *name, char *out, size_t cap);

#endif
