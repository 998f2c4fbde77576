/* sink_file.h - a file as a sink (sink.h): an OCI image layout, as a tar or
 * a directory (sink_layout.c), or a docker-save tarball (sink_dockersave.c),
 * for export and for copy to a file.  Common parts here and in sink_file.c:
 * opening, naming, committing, and streaming a blob's bytes in, verified.
 *
 * An OCI layout holds every image given, all platforms, referrers:
 *
 *   oci-layout                 {"imageLayoutVersion":"1.0.0"}, first
 *   blobs/<alg>/<hex>          every blob and manifest, once, as it came
 *   index.json                 last: one entry per name, in the order
 *                              given, then one per manifest that nothing
 *                              else names (referrers, images given by
 *                              digest), in the order put
 *
 * An index.json entry for a tag carries org.opencontainers.image.ref.name
 * "repo:tag" (the repository as a local store names it, no host: what
 * `serve --import` restores it as) and io.containerd.image.name with the
 * full name ("host/repo:tag"; ctr import reads it); an unnamed one carries
 * io.containerd.image.name "host/repo@digest" only, so the importer knows
 * its repository.  Manifest bytes are kept exactly, so every digest is the
 * source's.
 *
 * A docker-save tarball (the layout Docker >= 25 writes, which Docker 20.10
 * loads too): manifest.json with Config, RepoTags and Layers, the config as
 * blobs/sha256/<hex>, each layer uncompressed as blobs/sha256/<diff_id>
 * (gzip layers are inflated on the way, through a scratch file since a tar
 * member's size comes first; the result must hash to the config's diff_id).
 * One platform per image: the image given must be an image manifest (the
 * caller picks one child of an index).  Referrers have no place there.
 *
 * Every blob's bytes are hashed as they are written; a blob that is not its
 * digest fails the whole output, which is then removed (fileout.h).
 *
 * Ownership: struct sink_file owns its output and its records; images and
 * the blobs' sources are the caller's, as sink.h says.  Limits: at most
 * SINK_FILE_MAX_MANIFESTS manifests and as many names; configs up to 16 MiB
 * (docker format). */
#ifndef PH_SINK_FILE_H
#define PH_SINK_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "fileout.h"
#include "map.h"
#include "ref.h"
#include "sink.h"

#define SINK_FILE_MAX_MANIFESTS 65536
/* "host/repo", and with ":tag" */
#define SINK_FILE_REPO_MAX (REF_HOST_MAX + 1 + REF_NAME_MAX + 1)
#define SINK_FILE_NAME_MAX (SINK_FILE_REPO_MAX + REF_TAG_MAX + 1)

enum sink_file_format { SINK_FILE_OCI, SINK_FILE_DOCKER };

struct sink_file_manifest {
	char digest[DIGEST_STR_MAX];
	char media_type[MEDIA_TYPE_MAX];
	uint64_t size;
	char repo[SINK_FILE_REPO_MAX];   /* full "host/repo" it was put for */
	int child;                       /* an index in the file names it */
	int named;
};

/* A name in the file: index.json's entry, or a docker RepoTag. */
struct sink_file_name {
	char full[SINK_FILE_NAME_MAX];   /* host/repo:tag */
	char ref[SINK_FILE_NAME_MAX];    /* repo:tag */
	size_t manifest;                 /* into manifests (OCI) or items (docker) */
};

/* docker: one manifest.json item per image manifest */
struct sink_file_item {
	char manifest[DIGEST_STR_MAX];
	char config[DIGEST_STR_MAX];
	char (*layers)[DIGEST_STR_MAX];  /* diff_ids, bottom first */
	size_t nlayers;
};

struct sink_file {
	struct sink sink;
	enum sink_file_format format;
	struct fileout out;
	const struct tmpdir *scratch;    /* docker: inflated layers */
	struct map written;              /* digests of the members written */
	struct sink_file_manifest *m;    /* OCI: manifests put, in order */
	size_t nm;
	struct map mindex;               /* digest -> index + 1, into m or items */
	struct sink_file_name *names;
	size_t nnames;
	struct sink_file_item *items;
	size_t nitems;
	/* the image being put: sink_file_name */
	char full_repo[SINK_FILE_REPO_MAX];
	char ref_repo[SINK_FILE_REPO_MAX];
	int committed;
};

/* Start a file at path (fileout_open: "-" is stdout, dir a layout
 * directory; docker is a tar only).  scratch: where gzip layers are inflated
 * (docker).  0, or -1 with err (nothing to close). */
int sink_file_open(struct sink_file *f, enum sink_file_format fmt, const char *path, int dir,
		   const struct tmpdir *scratch, char *err, size_t cap);
/* The repository of the images put next: full_repo as the source names it
 * ("host/repo"; a file's image: its repo), ref_repo as a local store does. */
void sink_file_name(struct sink_file *f, const char *full_repo, const char *ref_repo);
/* Write index.json or manifest.json and put the file in place. */
int sink_file_commit(struct sink_file *f, char *err, size_t cap);
/* Free; the output is removed unless committed. */
void sink_file_close(struct sink_file *f);

/* Each format's half of the sink's calls and of the commit (sink_file.c
 * dispatches; rd: the blob reader it opened for the call, or NULL). */
int sink_layout_put_blobs(struct sink_file *f, struct image *img, const unsigned char *want,
			  const struct sink_from *from, void *rd, struct sink_stats *st, char *err,
			  size_t cap);
int sink_layout_put_manifest(struct sink_file *f, const struct image_manifest *m, const char *ref,
			     struct sink_stats *st, char *err, size_t cap);
int sink_layout_finish(struct sink_file *f, char *err, size_t cap);
int sink_dockersave_put_blobs(struct sink_file *f, struct image *img, const unsigned char *want,
			      const struct sink_from *from, void *rd, struct sink_stats *st, char *err,
			      size_t cap);
int sink_dockersave_put_manifest(struct sink_file *f, const struct image_manifest *m,
				 const char *ref, struct sink_stats *st, char *err, size_t cap);
int sink_dockersave_finish(struct sink_file *f, char *err, size_t cap);

/* A blob's bytes in order, from where `from` says (a registry's stream, the
 * source's tar in place, a scratch file), hashed: a read that reaches the
 * end compares the digest and fails on a mismatch. */
struct sink_file_blob {
	const struct sink_from *from;
	void *rd;                        /* the registry reader (open), or NULL */
	const struct image_blob *b;
	int fd;
	uint64_t off, pos;
	struct hasher hs;
};
int sink_file_blob_open(struct sink_file_blob *r, const struct sink_from *from, void *rd,
			const struct image_blob *b, char *err, size_t cap);
/* Up to n bytes; 0 at the end (verified); -1 with err. */
long sink_file_blob_read(struct sink_file_blob *r, void *buf, size_t n, char *err, size_t cap);
void sink_file_blob_close(struct sink_file_blob *r);
/* Blob b into the file as member name, verified (skipped when written). */
int sink_file_put_blob(struct sink_file *f, const struct sink_from *from, void *rd,
		       const struct image_blob *b, const char *name, struct sink_stats *st,
		       char *err, size_t cap);
/* Name manifest k (into m, or items) "<full_repo>:<tag>", replacing what
 * that name named. */
int sink_file_add_name(struct sink_file *f, size_t k, const char *tag, char *err, size_t cap);
/* "blobs/<alg>/<hex>" for digest d. */
void sink_file_member(const char *d, char *out, size_t cap);
/* Is ref a digest (rather than a tag)? */
int sink_file_is_digest(const char *ref);

#endif
