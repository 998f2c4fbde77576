/* regerr.h - registry errors: one enum, one table, one writer.
 *
 * Handlers return or pass a regerr; regerr_send turns it into the status and
 * the distribution spec's JSON envelope {"errors":[{code,message,detail}]}. */
#ifndef PH_REGERR_H
#define PH_REGERR_H

enum regerr {
	RE_OK = 0,
	RE_BLOB_UNKNOWN,
	RE_BLOB_UPLOAD_INVALID,
	RE_BLOB_UPLOAD_UNKNOWN,
	RE_DIGEST_INVALID,
	RE_MANIFEST_BLOB_UNKNOWN,
	RE_MANIFEST_INVALID,
	RE_MANIFEST_UNKNOWN,
	RE_NAME_INVALID,
	RE_NAME_UNKNOWN,
	RE_SIZE_INVALID,
	RE_UNAUTHORIZED,
	RE_DENIED,
	RE_UNSUPPORTED,
	RE_TOOMANYREQUESTS,
	RE_TAG_INVALID,         /* 400 MANIFEST_INVALID: a reference that is no tag */
	RE_RANGE_INVALID,       /* 416 BLOB_UPLOAD_INVALID: chunk out of order */
	RE_RANGE_UNSATISFIABLE, /* 416 on a blob GET */
	RE_MANIFEST_TOO_BIG,    /* 413 MANIFEST_INVALID */
	RE_READ_ONLY,           /* 405 UNSUPPORTED */
	RE_METHOD,              /* 405 UNSUPPORTED */
	RE_NOT_FOUND,           /* 404: no such endpoint */
	RE_BAD_REQUEST,         /* 400: malformed query or headers */
	RE_STORAGE_FULL,        /* 507 */
	RE_STORAGE_READ_ONLY,   /* 507: the disk went read-only under us */
	RE_INTERNAL,            /* 500 */
	RE_NOT_READY,           /* 503, the readiness endpoint */
	RE_UNAVAILABLE,         /* 503 UNAVAILABLE: a server-wide budget is spent; retry */
	RE_UPSTREAM,            /* 502 UNAVAILABLE: the mirror's upstream failed */
	RE_UPSTREAM_TIMEOUT,    /* 504 UNAVAILABLE: the mirror's upstream stalled or timed out */
	RE__COUNT
};

struct conn;

/* Queue the error response on c; detail (may be NULL) goes in "detail". */
void regerr_send(struct conn *c, enum regerr e, const char *detail);
/* The error for a failed store call, from errno: 507 for a full disk, 503 for
 * exhausted descriptors or memory, else 500.  ENOENT is no exception: a
 * caller for whom "missing" means "unknown" checks for it first. */
enum regerr regerr_from_errno(int err);

#endif
