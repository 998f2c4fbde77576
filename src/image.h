/* image.h - the image model shared by import and push.
 *
 * An image is what a source holds for one reference: its blobs (config and
 * layers, each a verified temporary file) and its manifests, children first,
 * the tagged top manifest last.  A docker-save archive (legacy <id>/layer.tar
 * or the Docker >= 25 blobs/sha256 layout) becomes an OCI manifest built here
 * from manifest.json, with uncompressed layers stored as they are; an OCI
 * layout keeps its own manifests byte for byte.  Every digest is checked,
 * and the config's rootfs.diff_ids must match the layers.
 *
 * The walk of OCI manifests (an index, its children, their config and
 * layers) is one, whoever reads them: an OCI layout's files (image_load), or
 * a registry (copy: regsrc.c), through struct image_fetch. */
#ifndef PH_IMAGE_H
#define PH_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "digest.h"
#include "manifest.h"
#include "ref.h"
#include "source.h"

struct store;
struct platform;

struct image_blob {
	char digest[DIGEST_STR_MAX];
	char media_type[MEDIA_TYPE_MAX];
	uint64_t size;
	size_t entry;                 /* the source entry that holds it */
	char tmp[TMPDIR_NAME_MAX];    /* the bytes, a file in the source's tmpdir, or */
	int64_t off;                  /* >= 0: at off in the source's tar (in place) */
	int is_config;
	int gzipped;                  /* compressed by a sink (push) */
	int unverified;               /* digest claimed by the archive: hashed as it is read */
};

struct image_manifest {
	char digest[DIGEST_STR_MAX];
	char media_type[MEDIA_TYPE_MAX];
	char *bytes;
	size_t len;
};

struct image {
	char repo[REF_NAME_MAX + 1];
	char tag[REF_TAG_MAX + 1];        /* "": kept untagged (a referrer) */
	struct image_blob *blobs;         /* deduplicated by digest */
	size_t nblobs;
	struct image_manifest *manifests; /* children first; the last is tagged */
	size_t nmanifests;
	/* From docker save: the manifest is ours (built from manifest.json), so
	 * a sink may rebuild it, e.g. with compressed layers.  Indexes into
	 * blobs; a layer may repeat. */
	int generated;
	size_t config;
	size_t *layers;
	size_t nlayers;
	/* Another tag of the same docker-save item: blobs, manifests and layers
	 * are an earlier image's (in the same set), which frees them. */
	int shared;
};

/* What one import may make the process do: a source that passes one of
 * these fails with a line naming it.  Descriptors count every reference
 * read (index.json entries, manifest config/layers/children, docker-save
 * Config/Layers/RepoTags), including repeats of a digest already walked;
 * each digest is walked once per image.  The bytes written into the store
 * are only those of blobs an image uses, each exactly the size its
 * descriptor (or its tar header, for docker-save layers, which declare no
 * size) declares: see source_fetch. */
#define IMAGE_MAX_DEPTH 4              /* indexes above an image manifest */
#define IMAGE_MAX_DESCRIPTORS 65536
#define IMAGE_MAX_MANIFESTS 4096       /* manifests held, all images together */
#define IMAGE_MAX_MANIFEST_BYTES (64ul << 20)
#define IMAGE_MAX_BLOBS 65536          /* blob records, all images together */
#define IMAGE_MAX_IMAGES 4096          /* repo:tag pairs made by one import */

enum image_format { IMAGE_FORMAT_OCI = 0, IMAGE_FORMAT_DOCKER = 1 };

struct image_set {
	struct image *v;
	size_t n;
};

/* Find the images src holds and verify them.  select (may be NULL) names one
 * image by its docker RepoTag or OCI ref name; repo/tag (may be NULL) is where
 * to put it.  With neither, every image is taken under its own name.
 * platform (NULL: all) keeps one child of an OCI layout's top index, as
 * image_walk does.  0, or -1 with a one-line reason in err. */
int image_load(struct source *src, const char *select, const char *repo, const char *tag,
	       const struct platform *platform, struct image_set *out, char *err, size_t cap);

/* Where a walk of OCI manifests reads them. */
struct image_fetch {
	/* Manifest d's bytes, checked against d's digest and size, into a
	 * malloc'd *bytes that the walk then owns.  0, or -1 with err. */
	int (*manifest)(void *ctx, const struct descriptor *d, char **bytes, size_t *len, char *err,
			size_t cap);
	/* Blob d is one of the image's (asked once per digest); b has its
	 * digest, media type and size, and off -1: say where its bytes are, or
	 * leave it so (a registry's blobs are streamed by the sink).  NULL: nothing
	 * to do.  0, or -1 with err. */
	int (*blob)(void *ctx, const struct descriptor *d, struct image_blob *b, char *err,
		    size_t cap);
	void *ctx;
	const char *what;        /* the source, for messages */
};
/* Walk manifest top and everything below it into img (zeroed by the caller;
 * manifests children first, each digest once; foreign layers left out),
 * within the import limits above.  With platform, a top index stands aside
 * for its one child that matches (platform.h), which becomes img's top
 * manifest; none matching is an error naming the platforms there are.
 * 0, or -1 with a one-line reason in err (img then holds what was read:
 * image_free it). */
int image_walk(const struct image_fetch *f, const struct descriptor *top,
	       const struct platform *platform, struct image *img, char *err, size_t cap);
/* Commit an image into the store: blobs (their temporary files in src's
 * tmpdir, on the store's filesystem: store_tmpdir; or, read from src in
 * place, their place in it: source_place), then manifests, the tag last.
 * Main thread only.  0, or -1 with a reason in err. */
int image_commit(struct store *st, const struct source *src, const struct image *img, char *err,
		 size_t cap);
/* Write an image manifest for config and layers (their media types as given)
 * in the chosen format.  0, or -1 when the buffer's limit is hit. */
int image_write_manifest(struct buf *out, enum image_format fmt, const struct image_blob *config,
			 const struct image_blob *const *layers, size_t nlayers);

/* The digest of the tagged manifest. */
const char *image_digest(const struct image *img);
void image_free(struct image *img);
void image_set_free(struct image_set *set);

/* Split "repo:tag" (tag defaults to "latest"; a registry host prefix such as
 * docker.io/library/ is dropped) and validate both.  0 or -1. */
int image_parse_ref(const char *ref, char repo[REF_NAME_MAX + 1], char tag[REF_TAG_MAX + 1]);

#endif
