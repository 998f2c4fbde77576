/* manifest.h - manifest media types, validation and the references a manifest makes.
 *
 * Understands OCI image manifests and indexes (with artifactType, subject and
 * the empty config) and Docker schema2 manifests and manifest lists.  The
 * stored bytes are always the client's exact bytes; this module only reads. */
#ifndef PH_MANIFEST_H
#define PH_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "json.h"

#define MANIFEST_MAX (4u << 20)
#define MEDIA_TYPE_MAX 256
#define MANIFEST_MAX_REFS 16384 /* layers or child manifests */

#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"

enum manifest_kind { MANIFEST_IMAGE = 1, MANIFEST_INDEX = 2 };

struct descriptor {
	char media_type[MEDIA_TYPE_MAX];
	char digest[DIGEST_STR_MAX];
	uint64_t size;
	char artifact_type[MEDIA_TYPE_MAX];
	int has_urls;        /* foreign layer: the registry need not hold it */
};

struct manifest {
	struct json j;
	enum manifest_kind kind;
	char media_type[MEDIA_TYPE_MAX];
	/* What the referrers API reports: artifactType, else config.mediaType. */
	char artifact_type[MEDIA_TYPE_MAX];
	struct descriptor config;   /* images only */
	struct descriptor *refs;    /* layers, or an index's manifests */
	size_t nrefs;
	int has_subject;
	struct descriptor subject;
	const char *annotations;    /* raw JSON object text in the body, or NULL */
	size_t annotations_len;
};

/* Validate body as a manifest.  content_type may be NULL.  On success fills m
 * (release with manifest_free) and returns 0; on failure returns -1 and writes
 * a one-line reason into why. */
int manifest_parse(struct manifest *m, const char *body, size_t len, const char *content_type,
		   char *why, size_t whycap);
void manifest_free(struct manifest *m);
/* Append the descriptor of a referrer (a manifest with a subject) as the
 * referrers API lists it: mediaType, digest, size, artifactType when not "",
 * annotations (raw JSON object text) when not NULL.  0, or -1 past b's max. */
int manifest_write_referrer(struct buf *b, const char *media_type, const char *digest, size_t size,
			    const char *artifact_type, const char *annotations, size_t annotations_len);
/* A media type this registry stores as a manifest. */
int manifest_type_known(const char *mt);
/* Is mt (a manifest media type) acceptable under the Accept header values?
 * Accept values arrive as one comma-separated string (headers joined). */
int manifest_accepts(const char *accept, size_t accept_len, const char *mt);

#endif
