/* credhelper.h - registry credentials where Docker users keep them: the
 * Docker CLI's config.json ($DOCKER_CONFIG/config.json, else
 * $HOME/.docker/config.json) and the credential helpers it names.  One
 * question, "credentials for registry host H", for push today and for copy
 * and the mirror later.  No libcurl: the fuzzer links this file with json.c.
 *
 * Owned here: reading config.json, choosing where the credentials come from,
 * running the helper, parsing its answer.  The caller owns the struct cred
 * and wipes it with cred_clear; what it does with the secret (which origin
 * may have it) is client.h's business.
 *
 * The choice, as the Docker CLI makes it (cli/config/configfile/file.go):
 *   key      Docker Hub (registry-1.docker.io, docker.io, index.docker.io)
 *            is "https://index.docker.io/v1/"; any other registry is its
 *            host[:port] as written in the reference.
 *   1. credHelpers[key] names a helper: docker-credential-NAME.  The key is
 *      matched exactly; for Docker Hub "index.docker.io" and "docker.io"
 *      are accepted too.  An entry "" means: no helper, use auths.
 *   2. else credsStore names the helper for every registry.
 *   3. else auths: the entry keyed exactly by key, else the first whose key
 *      reduces to key the CLI's way (ConvertToHostname: "https://h:p/v2/"
 *      is "h:p"); for Docker Hub, a key reducing to index.docker.io or
 *      docker.io.  "auth" (base64 user:password) else "username" and
 *      "password"; "identitytoken" when present.
 * A helper's answer is final: "credentials not found" means anonymous, not
 * a fallback to auths (nor does the CLI fall back).
 *
 * A helper (docker-credential-helpers' protocol): `docker-credential-NAME
 * get`, the key on stdin (no newline), {"ServerURL","Username","Secret"} on
 * stdout, exit 0.  Username "<token>" makes Secret an identity token (an
 * OAuth2 refresh token for the registry's token endpoint).  Exit non-zero
 * with "credentials not found in native keychain" on stdout: no credentials.
 *
 * Limits: NAME is [A-Za-z0-9._-]{1,64} (nothing from config.json becomes a
 * path); the program is looked up in PATH's absolute directories only and
 * run without a shell, in a process group of its own, SIGPIPE at its
 * default; its stdout may hold CRED_OUT_MAX bytes, its stderr is kept to
 * 4 KiB for the error line and otherwise dropped; it is killed (the whole
 * group) after CRED_HELPER_MS or at the caller's deadline, whichever comes
 * first.  config.json up to CRED_CONFIG_MAX.  A username up to 255 bytes
 * without ':', a secret up to CRED_SECRET_MAX - 1 bytes, neither with a NUL.
 *
 * Malformed config.json (not JSON, a field of the wrong type, a duplicate
 * key, a bad "auth") is a warning and no credentials from it, as the CLI
 * does; a helper that may not run, cannot run, fails, hangs or answers
 * garbage is an error (one line, no secret in it). */
#ifndef PH_CREDHELPER_H
#define PH_CREDHELPER_H

#include <stddef.h>
#include <stdint.h>

#define CRED_USER_MAX 256           /* buffer: 255 bytes and the NUL */
#define CRED_SECRET_MAX 16384       /* buffer: ECR's tokens are a few KiB */
#define CRED_NAME_MAX 64            /* NAME of docker-credential-NAME */
#define CRED_KEY_MAX 300            /* the key: host[:port] or the Hub URL */
#define CRED_CONFIG_MAX (1L << 20)
#define CRED_OUT_MAX (64 * 1024)
#define CRED_HELPER_MS 30000
#define CRED_HUB_KEY "https://index.docker.io/v1/"
#define CRED_NOT_FOUND "credentials not found in native keychain"

enum cred_kind {
	CRED_NONE = 0,      /* anonymous */
	CRED_BASIC,         /* user + password */
	CRED_IDENTITY,      /* secret is an identity (refresh) token */
};

struct cred {
	enum cred_kind kind;
	char user[CRED_USER_MAX];   /* "" for CRED_IDENTITY */
	char *secret;               /* malloc'd, NULL for CRED_NONE; never printed */
	char source[448];           /* where they came from (or were not found), for
	                             * messages: "docker-credential-x (credHelpers)" */
};

/* Where the credentials for a host are to come from (cred_plan). */
enum cred_how { CRED_FROM_NOWHERE = 0, CRED_FROM_HELPER, CRED_FROM_AUTHS };

struct cred_plan {
	enum cred_how how;
	char key[CRED_KEY_MAX];          /* the key; what a helper gets on stdin */
	char helper[CRED_NAME_MAX + 1];  /* NAME, for CRED_FROM_HELPER */
	const char *field;               /* "credHelpers" or "credsStore" */
};

/* Credentials for registry host ("host[:port]", REF_HUB_HOST for Docker
 * Hub) from config.json and its helpers.  deadline_ms: CLOCK_MONOTONIC ms
 * when the caller gives up (0: none); a helper also gets CRED_HELPER_MS at
 * most.  0 with c filled (c->kind CRED_NONE: anonymous, c->source may say
 * why), or -1 with a one-line err.  Warnings go to the log. */
int cred_lookup(const char *host, int64_t deadline_ms, struct cred *c, char *err, size_t cap);
/* Wipe and free c's secret; c is then CRED_NONE. */
void cred_clear(struct cred *c);

/* The parts without a process or a file (unit tests, the fuzzer). */

/* The config key for host: CRED_HUB_KEY for Docker Hub's names, else host.
 * -1 if it does not fit out[cap]. */
int cred_key(const char *host, char *out, size_t cap);
/* The Docker CLI's ConvertToHostname: "https://h:p/x" -> "h:p", "h/x" -> "h". */
void cred_hostname(const char *key, char *out, size_t cap);
/* NAME as a helper name: [A-Za-z0-9._-]{1,CRED_NAME_MAX}. */
int cred_helper_name_ok(const char *name);
/* Decide from config.json's text cfg[0..len) for host.  CRED_FROM_AUTHS
 * fills c (it may still be CRED_NONE: an empty entry).  0; 1 when the file
 * is malformed (err says how; no credentials from it); -1 when it names a
 * helper packhelper refuses to run (err). */
int cred_plan(const char *cfg, size_t len, const char *host, struct cred_plan *p, struct cred *c,
	      char *err, size_t cap);
/* A helper's `get` answer s[0..len) (exit 0) into c.  0 (c->kind may be
 * CRED_NONE: both fields empty), or -1 with err (not the JSON object with
 * string Username and Secret, a value too long or with a NUL, a username
 * with ':', a secret without a username, an empty identity token).  c holds
 * no secret after a failure. */
int cred_parse_answer(const char *s, size_t len, struct cred *c, char *err, size_t cap);

#endif
