/* gc.h - `packhelper gc`: garbage collection of a stopped store.
 *
 * Opens the store for collection (STORE_FOR_GC: exclusively, so a store a
 * server or an import holds is refused; shared for --dry-run, which changes
 * nothing), runs store_gc to the end, prints one line per removal and a
 * summary.  The collection itself is the store's (store.h). */
#ifndef PH_GC_H
#define PH_GC_H

/* `packhelper gc ...`; returns the process exit status. */
int gc_main(int argc, char **argv);

#endif
