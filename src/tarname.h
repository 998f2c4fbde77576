/* tarname.h - names inside an image archive: normalised, symlinks resolved,
 * and quoted for messages.
 *
 * A member name is only ever looked up (never used to build a host path,
 * except below a directory source after these checks), so normalising is
 * about one name meaning one member: "./a//b", "/a/b" and "a/c/../b" are all
 * "a/b".  Names come from whoever made the archive: a message that quotes
 * one goes through tarname_quote, so a control byte cannot reach a terminal.
 * Pure functions: no allocation, no I/O (fuzzed by tests/fuzz/fuzz_tarname.c). */
#ifndef PH_TARNAME_H
#define PH_TARNAME_H

#include <stddef.h>

/* Longest normalised name, with its NUL. */
#define TARNAME_MAX 1024
/* Longest quoted form (longer names are cut, with "..."), with its NUL. */
#define TARNAME_QUOTE_MAX 260

/* Normalise in: drop a leading "/", "." and empty components, fold ".." into
 * its parent.  Writes out[cap]; -1 if the name climbs out of the archive, is
 * empty, or does not fit.  What comes out never holds "." or ".." components,
 * empty components, or a leading '/'. */
int tarname_clean(const char *in, char *out, size_t cap);
/* What a symlink called cur pointing at target names: target relative to
 * cur's directory (docker save writes "../<id>/layer.tar"), or to the
 * archive's top when absolute; normalised.  -1 as tarname_clean. */
int tarname_resolve(const char *cur, const char *target, char *out, size_t cap);

/* A printable copy of s: bytes outside 0x20..0x7e and the backslash become
 * \xNN or \\.  Returned by value, so it can sit inside a call's arguments:
 * log_fail(err, cap, "no %s", tarname_quote(name).s). */
struct tarname_quoted {
	char s[TARNAME_QUOTE_MAX];
};
struct tarname_quoted tarname_quote(const char *s);

#endif
