/* listing.h - the registry's listings as a client reads them: a tags/list
 * page ({"name": ..., "tags": [...]}), a _catalog page ({"repositories":
 * [...]}), and the Link header that points to the next page
 * (distribution spec: `<URL>; rel="next"`).  No I/O (fuzzed by
 * tests/fuzz/fuzz_listing.c).
 *
 * Limits: a page is what the caller read (client.c bounds it); each name
 * at most the cap the caller gives, else the page is refused; a Link URL at
 * most the caller's cap. */
#ifndef PH_LISTING_H
#define PH_LISTING_H

#include <stddef.h>

/* Call each(ctx, s) for every string of the array `key` ("tags",
 * "repositories") of the JSON object body[0..len); a missing or null array
 * is an empty page.  each returns 0 to go on, -1 to stop (its error).
 * The count, or -1 with a reason in why (not an object, an element that is
 * not a string of 1 to max - 1 bytes, or each's -1, when why is left as
 * each wrote it). */
long listing_each(const char *body, size_t len, const char *key, size_t max,
		  int (*each)(void *ctx, const char *s), void *ctx, char *why, size_t cap);
/* The URL of the rel="next" link in a Link header value v[0..len) into
 * out[cap]: 1, 0 when there is none, -1 when the value is malformed or the
 * URL does not fit. */
int listing_next(const char *v, size_t len, char *out, size_t cap);

#endif
