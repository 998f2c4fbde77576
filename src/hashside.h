/* hashside.h - hash a block on a second thread while this one writes it.
 *
 * The copy path of an import (a pipe, the daemon's stream, a compressed
 * tar) reads, writes and hashes every byte; on one thread the write waits
 * for the hash.  A hashside is a thread that hashes the block the caller
 * hands it (hashside_give) while the caller writes the same block, then the
 * caller waits for it (hashside_wait) before the block's buffer changes: no
 * byte is copied for the hashing, and the digest covers every byte written
 * in order.  Blocks smaller than HASHSIDE_MIN are hashed by the caller (a
 * hand-over, two wake-ups, costs 10-20 us: as much as hashing 32 KiB).
 *
 * One caller per hashside.  Memory: the thread's stack, freed by
 * hashside_finish / hashside_free. */
#ifndef PH_HASHSIDE_H
#define PH_HASHSIDE_H

#include <stddef.h>

#include "digest.h"

#define HASHSIDE_MIN ((size_t)256 << 10)

struct hashside;

/* A hashing thread for alg.  NULL (errno set) when no thread can be started
 * or there is only one CPU to run it on: then hash inline. */
struct hashside *hashside_start(enum digest_alg alg);
/* Hash p[0..n) next (after the block given before), on the thread or here
 * (n < HASHSIDE_MIN); p must stay as it is until hashside_wait (or the next
 * give, or finish) returns. */
void hashside_give(struct hashside *s, const void *p, size_t n);
/* Wait until the block given last is hashed. */
void hashside_wait(struct hashside *s);
/* Put the digest of every block given into out ("alg:hex") and free s. */
void hashside_finish(struct hashside *s, char out[DIGEST_STR_MAX]);
/* Give up: stop the thread and free s (NULL is fine). */
void hashside_free(struct hashside *s);

#endif
