/* regsrc.h - a registry as the place images come from (copy).
 *
 * Manifests are read with every manifest type accepted, at most
 * MANIFEST_MAX bytes each, and checked: by digest, the bytes must hash to it
 * and have the size the descriptor gives; by tag, they must hash to the
 * registry's Docker-Content-Digest when it sends one.  The walk is image.h's
 * image_walk (children first, each digest once, its limits), so an image
 * from a registry is the same model as one from a file, manifests byte for
 * byte.  Its blobs stay where they are: the sink reads them through
 * regsrc_reader, a stream per worker, each blob's GET feeding the
 * destination's PUT or PATCH as it arrives, hashed on the way; nothing is
 * written to disk, and at most the stream's 4 MiB is held.  A blob's bytes
 * that are not its digest fail the upload before its last byte goes out.
 *
 * Listings: tags/list and _catalog pages of REGSRC_PAGE names, followed by
 * their Link (never more than REGSRC_MAX_NAMES names, each page at most
 * REGSRC_PAGE_MAX bytes); referrers from the referrers API, or where the
 * registry has none (404) from the fallback tag (sha256-<hex>).
 *
 * Ownership: struct regsrc owns its client and handle (one thread: the
 * caller's); each reader has a stream and a handle of its own (the
 * worker's).  repo is read by readers when they start a blob: set it
 * before handing regsrc_reader to a sink, not while one runs. */
#ifndef PH_REGSRC_H
#define PH_REGSRC_H

#include "client.h"
#include "image.h"
#include "manifest.h"
#include "map.h"
#include "push_blob.h"
#include "ref.h"

#define REGSRC_PAGE 1000
#define REGSRC_PAGE_MAX ((size_t)4 << 20)
#define REGSRC_MAX_NAMES 100000
/* Referrers of referrers, and how many images one image and its referrers
 * may make. */
#define REGSRC_REFERRERS_DEPTH 4
#define REGSRC_MAX_IMAGES 1024

struct platform;

struct regsrc {
	struct client cl;
	CURL *h;
	char host[REF_HOST_MAX + 1];
	char repo[REF_NAME_MAX + 1];   /* the repository being read */
	struct push_blob_reader reader;
	/* the top manifest read by regsrc_resolve, for the walk that follows */
	char *top;
	size_t top_len;
	char top_digest[DIGEST_STR_MAX];
};

/* Connect to host's registry.  0, or -1 with err (nothing to close). */
int regsrc_open(struct regsrc *s, const char *host, const struct client_opts *o, char *err,
		size_t cap);
void regsrc_close(struct regsrc *s);
/* Read the manifest reference (a tag, or a digest) of repo: its descriptor
 * (media type, digest, size) into out.  Makes repo the one being read.
 * 0; 1 when the registry has no such manifest (err says so); -1 with err. */
int regsrc_resolve(struct regsrc *s, const char *repo, const char *reference,
		   struct descriptor *out, char *err, size_t cap);
/* The image of top (from regsrc_resolve, or a referrer) in the repository
 * being read, by image_walk (platform: see there).  0, or -1 with err
 * (image_free img either way). */
int regsrc_image(struct regsrc *s, const struct descriptor *top, const struct platform *platform,
		 struct image *img, char *err, size_t cap);
/* The referrers of digest in the repository being read, into a malloc'd
 * array (*out, *n; free it).  0, or -1 with err. */
int regsrc_referrers(struct regsrc *s, const char *digest, struct descriptor **out, size_t *n,
		     char *err, size_t cap);
/* Append to (*imgs)[0..*n) the referrers of every manifest there, and
 * theirs, breadth first, each manifest once (seen: digests taken already,
 * kept up to date), at most REGSRC_REFERRERS_DEPTH levels and
 * REGSRC_MAX_IMAGES images.  *deeper: a level was left out.  0, or -1 with
 * err (what was appended is the caller's to free either way). */
int regsrc_add_referrers(struct regsrc *s, struct image **imgs, size_t *n, struct map *seen,
			 int *deeper, char *err, size_t cap);
/* Every tag of repo, every repository (the catalog): each(ctx, name) in the
 * registry's order; each returns 0 to go on, -1 to stop (its error in err).
 * The count, or -1 with err. */
long regsrc_tags(struct regsrc *s, const char *repo, int (*each)(void *ctx, const char *name),
		 void *ctx, char *err, size_t cap);
long regsrc_catalog(struct regsrc *s, int (*each)(void *ctx, const char *name), void *ctx,
		    char *err, size_t cap);

#endif
