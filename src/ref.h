/* ref.h - the grammar of repository names, tags and image references, and
 * their limits: the one place the router, the store's start-up walk, imports
 * and push ask.
 *
 *   name       component ( "/" component )*        at most REF_NAME_MAX chars
 *   component  [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
 *   tag        [A-Za-z0-9_] [A-Za-z0-9_.-]*         at most REF_TAG_MAX chars
 *
 * A name of REF_NAME_MAX chars has at most REF_NAME_COMPONENTS_MAX
 * components ("a/a/.../a"); the store keeps one directory per component, so
 * every name the router accepts is one the store finds again at start-up.
 *
 * An image reference, as docker and crane read one:
 *
 *   reference  [ host "/" ] name [ ":" tag | "@" digest ]
 *   host       a first component with "." or ":", or "localhost"; checked
 *              as host[:port] by url_parse_host (url.h)
 *
 * Docker Hub rules: no host, "docker.io", "index.docker.io" and
 * "registry-1.docker.io" all mean Docker Hub, which answers at
 * REF_HUB_HOST; there a one-component name is an official image and gets
 * "library/" ("ubuntu" is REF_HUB_HOST/library/ubuntu).  Neither tag nor
 * digest means ":latest".  A tag and a digest together are refused. */
#ifndef PH_REF_H
#define PH_REF_H

#include <stddef.h>

#include "digest.h"

#define REF_NAME_MAX 255
#define REF_NAME_COMPONENTS_MAX ((REF_NAME_MAX + 1) / 2)
#define REF_TAG_MAX 128
#define REF_HOST_MAX 255
/* a reference as written: host, "/", name, ":" or "@", tag or digest */
#define REF_MAX (REF_HOST_MAX + 1 + REF_NAME_MAX + 1 + DIGEST_STR_MAX)
#define REF_HUB_HOST "registry-1.docker.io"

/* A parsed reference; plain arrays, so it copies. */
struct ref {
	char host[REF_HOST_MAX + 1];  /* where to connect: as written, or REF_HUB_HOST */
	char repo[REF_NAME_MAX + 1];  /* the repository there, "library/" added on the Hub */
	char tag[REF_TAG_MAX + 1];    /* "" when by digest; "latest" when neither is given */
	char digest[DIGEST_STR_MAX];  /* "" when by tag */
};

/* One path component, s[0..n). */
int ref_component_valid(const char *s, size_t n);
/* A whole repository name, NUL-terminated. */
int ref_name_valid(const char *name);
int ref_tag_valid(const char *tag);

/* Parse the reference s[0..len) (no NUL needed; nothing past len is read)
 * into out.  0, or -1 with out zeroed and a one-line reason in err[cap]. */
int ref_parse(const char *s, size_t len, struct ref *out, char *err, size_t cap);
/* Is out a Docker Hub reference? */
int ref_is_hub(const struct ref *r);
/* The repository without its registry, as docker shows it and a local store
 * names it: r->repo, less "library/" for a Hub official image.  Points into
 * r. */
const char *ref_familiar_name(const struct ref *r);

#endif
