/* export.h - `packhelper export`: images (from registries, or anything
 * --import reads) into one file: an OCI layout (tar, directory, or a tar on
 * stdout) or a docker-save tarball, through transfer.c into a file sink
 * (sink_file.h).  copy uses export_ref for its file destinations.
 *
 * Ownership: struct export_src owns the source registry it has open (one at
 * a time, kept while the host stays the same); the file sink is the
 * caller's. */
#ifndef PH_EXPORT_H
#define PH_EXPORT_H

#include "client.h"
#include "regsrc.h"
#include "sink_file.h"
#include "tmpdir.h"

struct platform;

struct export_src {
	/* the caller's */
	const struct client_opts *copt;
	const struct platform *pf;       /* one platform of an index, or NULL: all */
	int referrers;                   /* registry sources: their referrers too */
	int quiet;
	const char *verb;                /* "export", "copy": for notes */
	const struct tmpdir *scratch;    /* file sources' copies */
	/* the registry open now */
	struct regsrc rs;
	int open;
};

/* Put what ref names into f: a registry reference (its image, with
 * referrers if asked), or what --import reads (SRC[#NAME][=REPO[:TAG]]:
 * every image in it, under its own name).  as_repo/as_tag (NULL: the
 * source's) rename a single image.  The top manifest's digest of the last
 * image into digest.  0, or -1 with err. */
int export_ref(struct export_src *x, struct sink_file *f, const char *ref, const char *as_repo,
	       const char *as_tag, char digest[DIGEST_STR_MAX], struct sink_stats *st, char *err,
	       size_t cap);
void export_src_close(struct export_src *x);
/* Is s something --import reads (a path that exists, -, docker://) rather
 * than a registry reference? */
int export_is_file_source(const char *s);

int export_main(int argc, char **argv);

#endif
