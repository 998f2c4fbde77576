/* copylist.h - the text of `packhelper copy --from-file`: one `SRC DST` a
 * line, words separated by spaces or tabs; `#` starts a comment (at the
 * start of a line or of a word) to the end of the line; blank lines are
 * skipped; CRLF is taken as LF.  No I/O (fuzzed by
 * tests/fuzz/fuzz_copylist.c).
 *
 * Limits: a line at most COPYLIST_LINE_MAX bytes, at most COPYLIST_MAX
 * pairs; a NUL or another control byte is refused (with the line named),
 * never skipped. */
#ifndef PH_COPYLIST_H
#define PH_COPYLIST_H

#include <stddef.h>

#define COPYLIST_LINE_MAX 8192
#define COPYLIST_MAX 100000

/* Call each(ctx, line, src, dst) for every pair of text[0..len), in order
 * (line counts from 1).  each returns 0 to go on, -1 to stop; NULL only
 * checks the text.  The number
 * of pairs, or -1 with "line N: ..." in why (or each's -1). */
long copylist_parse(const char *text, size_t len,
		    int (*each)(void *ctx, unsigned long line, const char *src, const char *dst),
		    void *ctx, char *why, size_t cap);

#endif
