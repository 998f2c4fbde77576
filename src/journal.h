/* journal.h - an append-only log of small records, synced off the event loop
 * and compacted into snapshot files in the background.
 *
 * On disk: DIR/journal/<16 hex generation>, one or more files, replayed in
 * order.  A record is one line "<8 hex check> <text>\n" (text has no newline);
 * a torn or damaged tail ends its file's replay, so a record is all there or
 * absent.
 *
 * Durability: journal_append returns once the record is in the kernel (a
 * crash or kill -9 of the process loses nothing acknowledged); one sync
 * thread fdatasyncs the journal as soon as records arrive, one fdatasync for
 * every record written since the last (group commit), so a power loss can
 * lose only the records of the sync in flight.
 *
 * Compaction: the caller hands the snapshot files that make the journal so
 * far redundant (journal_compact); appends move to a new generation at once,
 * and the sync thread publishes the files (atomic rename, fsync) and only then
 * deletes the older generations.  A crash at any point replays a journal
 * whose records are idempotent over either snapshot.
 *
 * All functions but the thread's own run on one thread (the event loop). */
#ifndef PH_JOURNAL_H
#define PH_JOURNAL_H

#include <stddef.h>

#include "buf.h"
#include "file.h"

#define JOURNAL_RECORD_MAX 16384        /* one record's text */
#define JOURNAL_FILE_MAX ((size_t)256 << 20)

struct journal;

/* A file to publish at compaction: rel (under the journal's directory
 * descriptor) gets data.  data is owned by the journal once handed over. */
struct journal_file {
	char rel[FILE_REL_MAX];
	struct buf data;
};

/* Open the journal under dirfd (nothing is created until the first append).
 * read_only: replay only. */
int journal_open(struct journal **out, int dirfd, int read_only);
/* Call fn for every intact record, oldest first; fn's -1 stops the replay. */
int journal_replay(struct journal *j, int (*fn)(void *arg, const char *text, size_t n), void *arg);
/* Append one record; 0 once it is in the kernel, or -1 with errno (ENOSPC,
 * EROFS...): then the journal is exactly as before the call. */
int journal_append(struct journal *j, const char *text, size_t n);
/* Bytes appended since the last compaction (journal files included that
 * start-up found). */
size_t journal_pending(const struct journal *j);
/* Is a background compaction still running? */
int journal_busy(struct journal *j);
/* 1 (once) when the last background compaction failed, its errno in *err:
 * the older generations are kept, so nothing is lost, but the caller must
 * hand over the same snapshots again. */
int journal_compact_failed(struct journal *j, int *err);
/* Start a background compaction with files[0..n) (consumed, also on error).
 * -1 with EBUSY while one is running. */
int journal_compact(struct journal *j, struct journal_file *files, size_t n);
/* The same, done now on this thread (start-up and close): on success every
 * journal file is gone. */
int journal_compact_now(struct journal *j, struct journal_file *files, size_t n);
/* Stop the sync thread (after a last sync) and free. */
void journal_close(struct journal *j);

#endif
