/* ref.c - repository-name, tag and reference grammar (drawn in ref.h). */
#include "ref.h"

#include <string.h>

#include "log.h"
#include "url.h"

int ref_component_valid(const char *s, size_t n)
{
	size_t i = 0;
	for (;;) {
		size_t start = i;
		while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
			i++;
		if (i == start)
			return 0;
		if (i == n)
			return 1;
		if (s[i] == '.')
			i++;
		else if (s[i] == '_')
			i += (i + 1 < n && s[i + 1] == '_') ? 2 : 1;
		else if (s[i] == '-')
			while (i < n && s[i] == '-')
				i++;
		else
			return 0;
	}
}

int ref_name_valid(const char *name)
{
	size_t n = strnlen(name, REF_NAME_MAX + 1), ncomp = 0;
	const char *p = name;
	if (n == 0 || n > REF_NAME_MAX)
		return 0;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		if (!ref_component_valid(p, len) || ++ncomp > REF_NAME_COMPONENTS_MAX)
			return 0;
		if (!slash)
			return 1;
		p = slash + 1;
	}
}

int ref_tag_valid(const char *tag)
{
	size_t n = strnlen(tag, REF_TAG_MAX + 1);
	if (n == 0 || n > REF_TAG_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = tag[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			 c == '_' || (i > 0 && (c == '.' || c == '-'));
		if (!ok)
			return 0;
	}
	return 1;
}

/* docker and crane: a first component is a registry host when it has a '.'
 * or a ':' or is "localhost" */
static int is_host(const char *s, size_t n)
{
	return memchr(s, '.', n) || memchr(s, ':', n) || (n == 9 && memcmp(s, "localhost", 9) == 0);
}

static int is_hub_alias(const char *s, size_t n)
{
	static const char *const names[] = { "docker.io", "index.docker.io", REF_HUB_HOST };
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (n == strlen(names[i]) && memcmp(s, names[i], n) == 0)
			return 1;
	return 0;
}

int ref_parse(const char *s, size_t len, struct ref *out, char *err, size_t cap)
{
	const char *slash = memchr(s, '/', len), *rest = s, *at, *colon = NULL, *end = s + len;
	size_t n, hn = 0;
	struct url u;

	memset(out, 0, sizeof *out);
	if (memchr(s, '\0', len))
		return log_fail(err, cap, "a NUL byte");
	if (slash && is_host(s, (size_t)(slash - s))) {
		hn = (size_t)(slash - s);
		if (hn > REF_HOST_MAX)
			return log_fail(err, cap, "the registry host is longer than %d bytes", REF_HOST_MAX);
		if (url_parse_host(&u, 1, s, hn) < 0)
			return log_fail(err, cap,
					"what comes before the first '/' is not a registry host[:port]");
		rest = slash + 1;
	}
	at = memchr(rest, '@', (size_t)(end - rest));
	if (at) {
		enum digest_alg alg;
		size_t dn = (size_t)(end - at - 1);
		if (digest_parse(at + 1, dn, &alg) != DIGEST_OK || dn >= sizeof out->digest)
			goto bad_digest;
		memcpy(out->digest, at + 1, dn);
		n = (size_t)(at - rest);
		if (memchr(rest, ':', n)) {
			memset(out, 0, sizeof *out);
			return log_fail(err, cap, "a tag and a digest together");
		}
	} else {
		/* the last ':' after the last '/' */
		for (const char *q = end; q > rest; q--)
			if (q[-1] == ':' || q[-1] == '/') {
				colon = q[-1] == ':' ? q - 1 : NULL;
				break;
			}
		n = colon ? (size_t)(colon - rest) : (size_t)(end - rest);
		if (colon) {
			size_t tn = (size_t)(end - colon - 1);
			if (tn > REF_TAG_MAX)
				goto bad_tag;
			memcpy(out->tag, colon + 1, tn);
			if (!ref_tag_valid(out->tag))
				goto bad_tag;
		} else {
			memcpy(out->tag, "latest", sizeof "latest");
		}
	}
	if (!hn || is_hub_alias(s, hn)) {
		memcpy(out->host, REF_HUB_HOST, sizeof REF_HUB_HOST);
		if (!memchr(rest, '/', n)) {
			if (n + 8 > REF_NAME_MAX)
				goto bad_name;
			memcpy(out->repo, "library/", 8);
			memcpy(out->repo + 8, rest, n);
			n = 0;
		}
	} else {
		memcpy(out->host, s, hn);
	}
	if (n > REF_NAME_MAX)
		goto bad_name;
	if (n)
		memcpy(out->repo, rest, n);
	if (!ref_name_valid(out->repo))
		goto bad_name;
	return 0;
bad_digest:
	memset(out, 0, sizeof *out);
	return log_fail(err, cap, "not a digest after '@'");
bad_tag:
	memset(out, 0, sizeof *out);
	return log_fail(err, cap, "not a tag (at most %d of [A-Za-z0-9_.-], not starting with '.' or '-')",
			REF_TAG_MAX);
bad_name:
	memset(out, 0, sizeof *out);
	return log_fail(err, cap, "not a repository name (lower-case components, at most %d chars)",
			REF_NAME_MAX);
}

int ref_is_hub(const struct ref *r)
{
	return strcmp(r->host, REF_HUB_HOST) == 0;
}

const char *ref_familiar_name(const struct ref *r)
{
	if (ref_is_hub(r) && strncmp(r->repo, "library/", 8) == 0 && !strchr(r->repo + 8, '/'))
		return r->repo + 8;
	return r->repo;
}
