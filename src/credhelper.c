/* credhelper.c - config.json credentials and docker-credential-* helpers
 * (credhelper.h says the rules). */
#include "credhelper.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "json.h"
#include "log.h"

extern char **environ;

#define HELPER_PREFIX "docker-credential-"
#define ERR_KEEP 4096          /* the helper's stderr kept for the error line */
#define DETAIL_MAX 200         /* the helper's words in our error line */

/* Docker Hub's names for itself, as an image reference may give them */
static int is_hub(const char *host)
{
	return strcmp(host, "registry-1.docker.io") == 0 || strcmp(host, "docker.io") == 0 ||
	       strcmp(host, "index.docker.io") == 0;
}

static void wipe(void *p, size_t n)
{
	if (p)
		memset(p, 0, n);
}

void cred_clear(struct cred *c)
{
	if (c->secret) {
		wipe(c->secret, strlen(c->secret));
		free(c->secret);
	}
	wipe(c->user, sizeof c->user);
	c->secret = NULL;
	c->kind = CRED_NONE;
}


int cred_key(const char *host, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s", is_hub(host) ? CRED_HUB_KEY : host);
	if (n < 0 || (size_t)n >= cap) {
		if (cap)
			out[0] = '\0';
		return -1;
	}
	return 0;
}

void cred_hostname(const char *key, char *out, size_t cap)
{
	const char *sep = strstr(key, "://");
	size_t n;

	if (!cap)
		return;
	if (sep) {
		/* url.Parse(key).Host, less user info; Hostname() drops the
		 * brackets of an IPv6 literal when no port follows */
		const char *h = sep + 3, *e = h + strcspn(h, "/?#"), *at, *colon;
		for (at = e; at > h && at[-1] != '@'; at--)
			;
		if (at > h)
			h = at;
		n = (size_t)(e - h);
		colon = n && h[n - 1] == ':' ? h + n - 1 : NULL; /* "h:" has no port */
		if (colon)
			n--;
		if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
			h++;
			n -= 2;
		}
		if (n) {
			if (n >= cap)
				n = cap - 1;
			memcpy(out, h, n);
			out[n] = '\0';
			return;
		}
	}
	n = strcspn(key, "/");
	if (n >= cap)
		n = cap - 1;
	memcpy(out, key, n);
	out[n] = '\0';
}

int cred_helper_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > CRED_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)name[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '.' || ch == '_' || ch == '-'))
			return 0;
	}
	return 1;
}

/* A username as it may go into Basic credentials and our messages. */
static int user_ok(const char *u)
{
	for (; *u; u++)
		if ((unsigned char)*u < 0x20 || *u == 0x7f || *u == ':')
			return 0;
	return 1;
}

/* Go's base64.StdEncoding: padded, '\r' and '\n' skipped.  Bytes, or -1. */
static long b64_decode(const char *in, size_t len, char *out, size_t cap)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned v = 0;
	size_t o = 0, q = 0, pad = 0;

	for (size_t i = 0; i < len; i++) {
		const char *p;
		if (in[i] == '\r' || in[i] == '\n')
			continue;
		if (in[i] == '=') {
			pad++;
			q++;
			continue;
		}
		p = in[i] ? strchr(tab, in[i]) : NULL;
		if (!p || pad)
			return -1;
		v = v << 6 | (unsigned)(p - tab);
		if (++q % 4 == 0) {
			if (o + 3 > cap)
				return -1;
			out[o++] = (char)(v >> 16);
			out[o++] = (char)(v >> 8);
			out[o++] = (char)v;
			v = 0;
		}
	}
	if (q % 4 || pad > 2)
		return -1;
	if (pad) {
		/* the last quantum: 4 - pad characters carry 3 - pad bytes */
		unsigned bits = (unsigned)(4 - pad) * 6;
		if (o + 3 - pad > cap || (v & ((1u << (bits - (3 - pad) * 8)) - 1)))
			return -1;
		v >>= bits - (3 - pad) * 8;
		for (size_t k = 3 - pad; k-- > 0;)
			out[o++] = (char)(v >> (k * 8));
	}
	return (long)o;
}

/* ---- config.json ---- */

/* obj is absent, null, or an object (json.h token index). */
static int obj_or_null(const struct json *j, int t)
{
	return t == -1 || j->t[t].type == JSON_OBJECT || j->t[t].type == JSON_NULL;
}

static int is_str(const struct json *j, int t)
{
	return t >= 0 && j->t[t].type == JSON_STRING;
}

/* A string member of obj into out[cap]: 0 (absent: ""), or -1 (twice, not
 * a string, too long, a NUL). */
static int member_str(const struct json *j, int obj, const char *key, char *out, size_t cap)
{
	int t = json_get(j, obj, key);
	out[0] = '\0';
	if (t == -1 || (t >= 0 && j->t[t].type == JSON_NULL))
		return 0;
	if (!is_str(j, t) || json_str_copy(j, t, out, cap) < 0) {
		wipe(out, cap);
		return -1;
	}
	return 0;
}

/* The auths entry ent into c.  0, or 1 (malformed: why in err). */
static int auths_entry(const struct json *j, int ent, struct cred *c, char *err, size_t cap)
{
	const size_t bcap = CRED_USER_MAX + CRED_SECRET_MAX, acap = bcap * 4 / 3 + 8;
	char *b = NULL, *tok = NULL, *auth = NULL, *colon;
	int rc = 1;
	long n;

	if (j->t[ent].type == JSON_NULL)
		return 0;
	if (j->t[ent].type != JSON_OBJECT)
		return log_fail(err, cap, "the auths entry is not an object"), 1;
	b = malloc(bcap);
	tok = malloc(CRED_SECRET_MAX);
	auth = malloc(acap);
	if (!b || !tok || !auth) {
		log_fail(err, cap, "out of memory");
		goto out;
	}
	if (member_str(j, ent, "auth", auth, acap) < 0) {
		log_fail(err, cap, "the auths entry's \"auth\" is not a string that fits");
		goto out;
	}
	if (member_str(j, ent, "identitytoken", tok, CRED_SECRET_MAX) < 0) {
		log_fail(err, cap, "the auths entry's \"identitytoken\" is not a string that fits");
		goto out;
	}
	if (auth[0]) {
		size_t s, e;
		n = b64_decode(auth, strlen(auth), b, bcap - 1);
		if (n < 0 || !(colon = memchr(b, ':', (size_t)n)) || colon == b) {
			log_fail(err, cap, "the auths entry's \"auth\" is not base64 of user:password");
			goto out;
		}
		b[n] = '\0';
		*colon = '\0';
		/* the CLI trims NULs around the password */
		for (s = (size_t)(colon - b) + 1; s < (size_t)n && b[s] == '\0'; s++)
			;
		for (e = (size_t)n; e > s && b[e - 1] == '\0'; e--)
			;
		if (memchr(b, '\0', (size_t)(colon - b)) || memchr(b + s, '\0', e - s) ||
		    (size_t)(colon - b) >= CRED_USER_MAX || e - s >= CRED_SECRET_MAX) {
			log_fail(err, cap, "the auths entry's \"auth\" holds a NUL or is too long");
			goto out;
		}
		memcpy(c->user, b, (size_t)(colon - b) + 1);
		memmove(b, b + s, e - s);
		b[e - s] = '\0';
	} else if (member_str(j, ent, "username", c->user, sizeof c->user) < 0 ||
		   member_str(j, ent, "password", b, CRED_SECRET_MAX) < 0) {
		log_fail(err, cap, "the auths entry's \"username\" or \"password\" is not a string "
			 "that fits");
		goto out;
	}
	if (tok[0]) {
		c->kind = CRED_IDENTITY;
		c->user[0] = '\0';
		c->secret = strdup(tok);
	} else if (c->user[0]) {
		if (!user_ok(c->user)) {
			log_fail(err, cap, "the auths entry's username has a control character or ':'");
			goto out;
		}
		c->kind = CRED_BASIC;
		c->secret = strdup(b);
	}
	if (c->kind != CRED_NONE && !c->secret) {
		log_fail(err, cap, "out of memory");
		goto out;
	}
	rc = 0;
out:
	wipe(auth, auth ? acap : 0);
	wipe(b, b ? bcap : 0);
	wipe(tok, tok ? CRED_SECRET_MAX : 0);
	free(auth);
	free(b);
	free(tok);
	if (rc)
		cred_clear(c);
	return rc;
}

/* The auths entry for key (hub: Docker Hub), or -1; -2: malformed. */
static int auths_find(const struct json *j, int auths, const char *key, int hub)
{
	int ent = json_get(j, auths, key);
	uint32_t i;

	if (ent != -1 || auths < 0 || j->t[auths].type != JSON_OBJECT)
		return ent;
	i = (uint32_t)auths + 1;
	for (uint32_t k = 0; k < j->t[auths].size; k++) {
		char name[1024], h[1024];
		if (json_str_copy(j, (int)i, name, sizeof name) >= 0) {
			cred_hostname(name, h, sizeof h);
			if (strcmp(h, key) == 0 ||
			    (hub && (strcmp(h, "index.docker.io") == 0 || strcmp(h, "docker.io") == 0)))
				return (int)i + 1;
		}
		i = j->t[i + 1].next;
	}
	return -1;
}

int cred_plan(const char *cfg, size_t len, const char *host, struct cred_plan *p, struct cred *c,
	      char *err, size_t cap)
{
	static const char *const hub_alias[] = { CRED_HUB_KEY, "index.docker.io", "docker.io" };
	struct json j;
	char name[CRED_NAME_MAX + 2], shown[100];
	int helpers, store, auths, ent = -1, rc = 1, hub = is_hub(host);

	memset(p, 0, sizeof *p);
	memset(c, 0, sizeof *c);
	if (cred_key(host, p->key, sizeof p->key) < 0)
		return log_fail(err, cap, "registry host too long");
	if (json_parse(&j, cfg, len) < 0)
		return log_fail(err, cap, "not JSON"), 1;
	if (j.t[0].type != JSON_OBJECT) {
		log_fail(err, cap, "not a JSON object");
		goto out;
	}
	helpers = json_get(&j, 0, "credHelpers");
	store = json_get(&j, 0, "credsStore");
	auths = json_get(&j, 0, "auths");
	if (helpers == -2 || store == -2 || auths == -2) {
		log_fail(err, cap, "credHelpers, credsStore or auths appears twice");
		goto out;
	}
	if (!obj_or_null(&j, helpers) || !obj_or_null(&j, auths) ||
	    (store >= 0 && !is_str(&j, store) && j.t[store].type != JSON_NULL)) {
		log_fail(err, cap, "credHelpers or auths is not an object, or credsStore not a string");
		goto out;
	}
	/* 1. credHelpers[key] (the Hub's other names too); 2. credsStore */
	for (size_t a = 0; a < (hub ? 3u : 1u) && ent == -1; a++)
		ent = json_get(&j, helpers, hub ? hub_alias[a] : p->key);
	if (ent == -2 || (ent >= 0 && !is_str(&j, ent))) {
		log_fail(err, cap, "credHelpers[\"%s\"] is not one string", p->key);
		goto out;
	}
	if (ent < 0 && store >= 0 && is_str(&j, store)) {
		ent = store;
		p->field = "credsStore";
	} else if (ent >= 0) {
		p->field = "credHelpers";
	}
	name[0] = '\0';
	if (ent >= 0 && json_str_copy(&j, ent, name, sizeof name) < 0)
		memcpy(name, "\1", 2); /* too long, or a NUL: refused below */
	if (name[0]) {
		if (!cred_helper_name_ok(name)) {
			size_t rl;
			const char *raw = json_raw(&j, ent, &rl);
			log_printable(raw, rl, shown, sizeof shown);
			rc = log_fail(err, cap, "%s names the helper %s, which packhelper does not run "
				      "(a name is [A-Za-z0-9._-], at most %d)", p->field, shown,
				      CRED_NAME_MAX);
			goto out;
		}
		p->how = CRED_FROM_HELPER;
		memcpy(p->helper, name, strlen(name) + 1);
		rc = 0;
		goto out;
	}
	/* 3. auths (also when credHelpers[key] is "") */
	p->field = NULL;
	ent = auths_find(&j, auths, p->key, hub);
	if (ent == -2) {
		log_fail(err, cap, "auths[\"%s\"] appears twice", p->key);
		goto out;
	}
	if (ent >= 0) {
		p->how = CRED_FROM_AUTHS;
		rc = auths_entry(&j, ent, c, err, cap);
		if (rc)
			p->how = CRED_FROM_NOWHERE;
		goto out;
	}
	rc = 0;
out:
	json_free(&j);
	return rc;
}

int cred_parse_answer(const char *s, size_t len, struct cred *c, char *err, size_t cap)
{
	struct json j;
	int u, sec, url, rc = -1;
	char *secret = NULL;

	memset(c, 0, sizeof *c);
	if (json_parse(&j, s, len) < 0)
		return log_fail(err, cap, "the answer is not JSON");
	if (j.t[0].type != JSON_OBJECT) {
		log_fail(err, cap, "the answer is not a JSON object");
		goto out;
	}
	u = json_get(&j, 0, "Username");
	sec = json_get(&j, 0, "Secret");
	url = json_get(&j, 0, "ServerURL");
	if (!is_str(&j, u) || !is_str(&j, sec) || url == -2 || (url >= 0 && !is_str(&j, url))) {
		log_fail(err, cap, "the answer is not {\"ServerURL\",\"Username\",\"Secret\"} with "
			 "one string each");
		goto out;
	}
	secret = malloc(CRED_SECRET_MAX);
	if (!secret) {
		log_fail(err, cap, "out of memory");
		goto out;
	}
	if (json_str_copy(&j, u, c->user, sizeof c->user) < 0) {
		log_fail(err, cap, "the answer's Username is over %d bytes or has a NUL",
			 CRED_USER_MAX - 1);
		goto out;
	}
	if (json_str_copy(&j, sec, secret, CRED_SECRET_MAX) < 0) {
		log_fail(err, cap, "the answer's Secret is over %d bytes or has a NUL",
			 CRED_SECRET_MAX - 1);
		goto out;
	}
	if (!c->user[0] && !secret[0]) {
		rc = 0; /* what the CLI makes of it: no credentials */
		goto out;
	}
	if (strcmp(c->user, "<token>") == 0) {
		if (!secret[0]) {
			log_fail(err, cap, "the answer's identity token is empty");
			goto out;
		}
		c->kind = CRED_IDENTITY;
		c->user[0] = '\0';
	} else if (!c->user[0]) {
		log_fail(err, cap, "the answer has a Secret without a Username");
		goto out;
	} else if (!user_ok(c->user)) {
		log_fail(err, cap, "the answer's Username has a control character or ':'");
		goto out;
	} else {
		c->kind = CRED_BASIC;
	}
	c->secret = strdup(secret);
	if (!c->secret) {
		log_fail(err, cap, "out of memory");
		goto out;
	}
	rc = 0;
out:
	if (secret) {
		wipe(secret, CRED_SECRET_MAX);
		free(secret);
	}
	json_free(&j);
	if (rc)
		cred_clear(c);
	return rc;
}

/* ---- running a helper ---- */

/* prog in PATH's absolute directories (a relative or empty entry would be
 * the working directory: never).  0 with out, or -1. */
static int find_on_path(const char *prog, char *out, size_t cap)
{
	const char *path = getenv("PATH"), *p;

	if (!path)
		path = "/usr/local/bin:/bin:/usr/bin";
	for (p = path;;) {
		const char *e = strchr(p, ':');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		struct stat st;
		if (n && p[0] == '/' && n + 1 + strlen(prog) < cap) {
			memcpy(out, p, n);
			out[n] = '/';
			memcpy(out + n + 1, prog, strlen(prog) + 1);
			if (stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0)
				return 0;
		}
		if (!e)
			return -1;
		p = e + 1;
	}
}

/* A close-on-exec pipe with both ends above stderr (so the dup2s onto 0, 1
 * and 2 in the child cannot clobber one another). */
static int pipe_hi(int fd[2])
{
	if (pipe2(fd, O_CLOEXEC) < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		if (fd[i] <= 2) {
			int hi = fcntl(fd[i], F_DUPFD_CLOEXEC, 3);
			close(fd[i]);
			fd[i] = hi;
		}
	}
	if (fd[0] < 0 || fd[1] < 0) {
		if (fd[0] >= 0)
			close(fd[0]);
		if (fd[1] >= 0)
			close(fd[1]);
		return -1;
	}
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* The helper gets stdin, stdout and stderr, nothing else of ours: every
 * other descriptor without close-on-exec is closed in the child. */
static void close_inherited(posix_spawn_file_actions_t *fa)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char *end;
		long fd = strtol(de->d_name, &end, 10);
		int fl;
		if (*end || end == de->d_name || fd <= 2 || fd == dirfd(d) || fd > INT_MAX)
			continue;
		fl = fcntl((int)fd, F_GETFD);
		if (fl >= 0 && !(fl & FD_CLOEXEC))
			posix_spawn_file_actions_addclose(fa, (int)fd);
	}
	closedir(d);
}

/* Write the key to the helper's stdin.  A helper that exits without
 * reading makes it EPIPE, never a SIGPIPE for us (whatever the caller's
 * disposition). */
static void send_key(int fd, const char *key)
{
	sigset_t pipe_set, old;
	size_t off = 0, n = strlen(key);

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	while (off < n) {
		ssize_t w = write(fd, key + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (errno == EPIPE && !sigismember(&old, SIGPIPE)) {
				struct timespec zero = { 0, 0 };
				sigtimedwait(&pipe_set, NULL, &zero);
			}
			break;
		}
		off += (size_t)w;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void duration_text(int64_t ms, char *out, size_t cap)
{
	if (ms % 1000 == 0)
		snprintf(out, cap, "%llds", (long long)(ms / 1000));
	else
		snprintf(out, cap, "%.1fs", (double)ms / 1000);
}

/* The first non-empty line of s[0..len), trimmed and printable. */
static void first_line(const char *s, size_t len, char *out, size_t cap)
{
	size_t i = 0, e;
	while (i < len && (s[i] == '\n' || s[i] == '\r' || s[i] == ' ' || s[i] == '\t'))
		i++;
	e = i;
	while (e < len && s[e] != '\n' && s[e] != '\r')
		e++;
	while (e > i && (s[e - 1] == ' ' || s[e - 1] == '\t'))
		e--;
	log_printable(s + i, e - i, out, cap);
}

static int run_helper(const struct cred_plan *p, int64_t deadline_ms, struct cred *c, char *err,
		      size_t cap)
{
	char prog[sizeof HELPER_PREFIX + CRED_NAME_MAX], path[PATH_MAX], who[768];
	char get[] = "get", *argv[] = { prog, get, NULL };
	char ebuf[ERR_KEEP], detail[DETAIL_MAX + 4], why[300], d[32];
	char *obuf = NULL;
	size_t olen = 0, elen = 0;
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, ep[2] = { -1, -1 };
	int status = 0, rc = -1, killed = 0, overflow = 0, reaped = 0;
	int64_t start = clock_ms(), limit = start + CRED_HELPER_MS;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, def;
	pid_t pid;
	int e;

	if (deadline_ms && deadline_ms < limit)
		limit = deadline_ms;
	snprintf(prog, sizeof prog, HELPER_PREFIX "%s", p->helper);
	snprintf(c->source, sizeof c->source, "%s (%s)", prog, p->field);
	snprintf(who, sizeof who, "%s get %s", c->source, p->key);
	if (find_on_path(prog, path, sizeof path) < 0)
		return log_fail(err, cap, "%s: not found in PATH", who);
	obuf = malloc(CRED_OUT_MAX + 1);
	if (!obuf)
		return log_fail(err, cap, "%s: out of memory", who);
	if (pipe_hi(in) < 0 || pipe_hi(out) < 0 || pipe_hi(ep) < 0) {
		log_fail(err, cap, "%s: pipe: %s", who, strerror(errno));
		goto out;
	}
	posix_spawn_file_actions_init(&fa);
	close_inherited(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, ep[1], 2);
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &def);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
					      POSIX_SPAWN_SETSIGDEF);
	e = posix_spawn(&pid, path, &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (e) {
		log_fail(err, cap, "%s: cannot run %s: %s", who, path, strerror(e));
		goto out;
	}
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&ep[1]);
	send_key(in[1], p->key);
	close_fd(&in[1]);

	while (out[0] >= 0 || ep[0] >= 0) {
		struct pollfd pf[2];
		int nf = 0, r;
		int64_t left = limit - clock_ms();
		if (left <= 0) {
			killed = 1;
			break;
		}
		if (out[0] >= 0)
			pf[nf++] = (struct pollfd){ .fd = out[0], .events = POLLIN };
		if (ep[0] >= 0)
			pf[nf++] = (struct pollfd){ .fd = ep[0], .events = POLLIN };
		r = poll(pf, (nfds_t)nf, left > 1000 ? 1000 : (int)left);
		if (r < 0 && errno != EINTR) {
			killed = 1;
			break;
		}
		for (int i = 0; i < nf && r > 0; i++) {
			char tmp[4096];
			ssize_t n;
			if (!pf[i].revents)
				continue;
			n = read(pf[i].fd, tmp, sizeof tmp);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				close_fd(pf[i].fd == out[0] ? &out[0] : &ep[0]);
				continue;
			}
			if (pf[i].fd == out[0]) {
				if ((size_t)n > CRED_OUT_MAX - olen) {
					overflow = killed = 1;
					break;
				}
				memcpy(obuf + olen, tmp, (size_t)n);
				olen += (size_t)n;
			} else if (elen < sizeof ebuf) {
				size_t take = (size_t)n < sizeof ebuf - elen ? (size_t)n : sizeof ebuf - elen;
				memcpy(ebuf + elen, tmp, take);
				elen += take;
			}
			wipe(tmp, sizeof tmp);
		}
		if (overflow)
			break;
	}
	/* both pipes closed: it exits, or it is killed at the limit */
	while (!killed) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid) {
			reaped = 1;
			break;
		}
		if (w < 0 && errno != EINTR) {
			/* SIGCHLD ignored: the status is gone */
			log_fail(err, cap, "%s: waitpid: %s", who, strerror(errno));
			goto out;
		}
		if (clock_ms() >= limit) {
			killed = 1;
			break;
		}
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	}
	if (killed) {
		kill(-pid, SIGKILL); /* the group: what it started dies too */
		kill(pid, SIGKILL);
	}
	while (!reaped && waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (overflow) {
		log_fail(err, cap, "%s: the answer is over %d KiB; killed", who, CRED_OUT_MAX / 1024);
		goto out;
	}
	if (killed) {
		duration_text(limit > start ? limit - start : 0, d, sizeof d);
		log_fail(err, cap, "%s: no answer within %s; killed", who, d);
		goto out;
	}
	if (WIFSIGNALED(status)) {
		log_fail(err, cap, "%s: killed by signal %d", who, WTERMSIG(status));
		goto out;
	}
	if (WEXITSTATUS(status) != 0) {
		/* helpers print their error on stdout; the CLI matches it trimmed */
		size_t i = 0, n = olen;
		while (i < n && strchr(" \t\r\n", obuf[i]))
			i++;
		while (n > i && strchr(" \t\r\n", obuf[n - 1]))
			n--;
		if (n - i == strlen(CRED_NOT_FOUND) && memcmp(obuf + i, CRED_NOT_FOUND, n - i) == 0) {
			snprintf(c->source, sizeof c->source, "%s (%s) has none for %s", prog, p->field,
				 p->key);
			rc = 0;
			goto out;
		}
		first_line(obuf, olen, detail, sizeof detail);
		if (!detail[0])
			first_line(ebuf, elen, detail, sizeof detail);
		log_fail(err, cap, "%s: exit %d%s%s", who, WEXITSTATUS(status), detail[0] ? ": " : "",
			 detail);
		goto out;
	}
	if (elen) {
		first_line(ebuf, elen, detail, sizeof detail);
		log_debug("%s said on stderr: %s", who, detail);
	}
	if (cred_parse_answer(obuf, olen, c, why, sizeof why) < 0) {
		log_fail(err, cap, "%s: %s", who, why);
		goto out;
	}
	snprintf(c->source, sizeof c->source, "%s (%s)", prog, p->field);
	rc = 0;
out:
	close_fd(&in[0]);
	close_fd(&in[1]);
	close_fd(&out[0]);
	close_fd(&out[1]);
	close_fd(&ep[0]);
	close_fd(&ep[1]);
	wipe(obuf, CRED_OUT_MAX + 1);
	free(obuf);
	wipe(ebuf, sizeof ebuf);
	return rc;
}

/* ---- the whole question ---- */

/* config.json's text (malloc'd) into *text, or NULL when there is none;
 * -1 with why when it cannot be read. */
static int read_config(const char *path, char **text, size_t *len, char *why, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0;
	char *t;

	*text = NULL;
	*len = 0;
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : log_fail(why, cap, "%s", strerror(errno));
	t = malloc(CRED_CONFIG_MAX + 1);
	if (!t) {
		close(fd);
		return log_fail(why, cap, "out of memory");
	}
	for (;;) {
		ssize_t r = read(fd, t + n, CRED_CONFIG_MAX + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			close(fd);
			wipe(t, n);
			free(t);
			return log_fail(why, cap, "%s", strerror(e));
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > CRED_CONFIG_MAX) {
			close(fd);
			wipe(t, n);
			free(t);
			return log_fail(why, cap, "over %ld KiB", CRED_CONFIG_MAX / 1024);
		}
	}
	close(fd);
	*text = t;
	*len = n;
	return 0;
}

int cred_lookup(const char *host, int64_t deadline_ms, struct cred *c, char *err, size_t cap)
{
	char path[PATH_MAX], why[400];
	const char *dir = getenv("DOCKER_CONFIG"), *home = getenv("HOME");
	struct cred_plan p;
	char *text;
	size_t len;
	int r;

	memset(c, 0, sizeof *c);
	if (dir && dir[0])
		r = snprintf(path, sizeof path, "%s/config.json", dir);
	else if (home && home[0])
		r = snprintf(path, sizeof path, "%s/.docker/config.json", home);
	else
		return 0;
	if (r < 0 || (size_t)r >= sizeof path)
		return 0;
	if (read_config(path, &text, &len, why, sizeof why) < 0) {
		log_warnx("%s: %s; no credentials from it", path, why);
		return 0;
	}
	if (!text)
		return 0;
	r = cred_plan(text, len, host, &p, c, why, sizeof why);
	wipe(text, len);
	free(text);
	if (r > 0) {
		log_warnx("%s: %s; no credentials from it", path, why);
		return 0;
	}
	if (r < 0)
		return log_fail(err, cap, "%s: %s", path, why);
	if (p.how == CRED_FROM_HELPER)
		return run_helper(&p, deadline_ms, c, err, cap);
	if (p.how == CRED_FROM_AUTHS)
		snprintf(c->source, sizeof c->source, c->kind == CRED_NONE ?
			 "the auths entry in %s is empty" : "auths in %s", path);
	return 0;
}
