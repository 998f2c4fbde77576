/* import.h - load images into a store without HTTP: `serve --import` and
 * `packhelper import`.
 *
 * A spec is SRC[#NAME][=REPO[:TAG]]: SRC is a docker-save tarball, an OCI
 * layout (directory or tarball), "-" for stdin, or docker://IMAGE (the
 * Engine API through the daemon's socket).  NAME picks one image of a
 * multi-image archive by RepoTag or OCI ref name.  Without =REPO:TAG every
 * image is imported under its own name. */
#ifndef PH_IMPORT_H
#define PH_IMPORT_H

#include <stddef.h>

#include "image.h"
#include "ref.h"
#include "source.h"

struct import_spec {
	char src[4096];
	char select[512];           /* "" when none */
	char repo[REF_NAME_MAX + 1]; /* "" when importing under own names */
	char tag[REF_TAG_MAX + 1];
	const struct platform *platform; /* NULL: every platform (image_load) */
};

int import_parse_spec(const char *arg, struct import_spec *spec, char *err, size_t cap);

/* --import-mode: where imported blobs live.  IMPORT_IN_PLACE serves an
 * uncompressed tar file or a layout directory from the file itself (the
 * store records where each blob is; source.h) and refuses anything else;
 * IMPORT_COPY copies every blob into the store; IMPORT_AUTO serves in place
 * what can be and copies the rest (stdin, gzip, the daemon socket). */
enum import_mode { IMPORT_AUTO = 0, IMPORT_COPY, IMPORT_IN_PLACE };
/* "auto", "copy", "in-place": the mode, or -1. */
int import_mode_parse(const char *s);
/* The source flags (SOURCE_SERVE...) of a mode, for import_load. */
int import_mode_flags(enum import_mode mode);
/* Read and verify spec's images (blocking; safe off the event loop), with
 * temporary files in tmp (the store's: store_tmpdir; or push's own).  On
 * success src stays open (its files are the blobs) until after the commit.
 * flags: SOURCE_IN_PLACE for a sink that reads the blobs back (push);
 * import_mode_flags for a store. */
int import_load(const struct tmpdir *tmp, const struct import_spec *spec, int flags,
		struct source *src, struct image_set *set, char *err, size_t cap);
/* `packhelper import SRC REPO[:TAG] [--root DIR]`; returns the exit status. */
int import_main(int argc, char **argv);

#endif
