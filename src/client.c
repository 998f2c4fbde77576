/* client.c - the remote-registry transport: scheme, TLS, auth, retries,
 * origins and time budgets (client.h says the rules). */
#include "client.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "clock.h"
#include "credhelper.h"
#include "json.h"
#include "log.h"

#ifndef PACKHELPER_VERSION
#define PACKHELPER_VERSION "dev"
#endif

#define RESP_BODY_MAX (64 * 1024)
/* a registry's answers to a pusher are small: more than this is an attack or
 * a broken server, not something to read for ever */
#define RESP_READ_MAX (1024 * 1024)
#define STALL_BYTES_PER_S 1024L
#define STALL_S_DEFAULT 60L
#define MAX_ATTEMPTS 6
/* the attempts a client makes: its option, else MAX_ATTEMPTS */
#define ATTEMPTS(c) ((c)->opt.attempts > 0 ? (c)->opt.attempts : MAX_ATTEMPTS)
#define DEFAULT_CA "/etc/ssl/certs/ca-certificates.crt"

/* ---- base64 ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* in[0..n) into out[cap]; cap 4 * ((n + 2) / 3) + 1 holds all of it. */
static void b64_encode(const char *in, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 4 < cap; i += 3) {
		unsigned v = (unsigned char)in[i] << 16;
		if (i + 1 < n)
			v |= (unsigned char)in[i + 1] << 8;
		if (i + 2 < n)
			v |= (unsigned char)in[i + 2];
		out[o++] = b64[v >> 18];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? b64[v & 63] : '=';
	}
	out[o] = '\0';
}

/* ---- hosts and credentials ---- */

int client_expired(const struct client *c)
{
	return c->opt.deadline_ms && clock_ms() >= c->opt.deadline_ms;
}


int client_init(struct client *c, const char *host, const struct client_opts *opt, char *err,
		size_t cap)
{
	memset(c, 0, sizeof *c);
	if (strlen(host) >= sizeof c->host)
		return log_fail(err, cap, "registry host too long");
	snprintf(c->host, sizeof c->host, "%s", host);
	c->opt = *opt;
	pthread_mutex_init(&c->lock, NULL);
	if (opt->username && opt->password) {
		snprintf(c->user, sizeof c->user, "%s", opt->username);
		c->pass = strdup(opt->password);
	} else if (!opt->config_creds_only && getenv("PACKHELPER_USERNAME") &&
		   getenv("PACKHELPER_PASSWORD")) {
		snprintf(c->user, sizeof c->user, "%s", getenv("PACKHELPER_USERNAME"));
		c->pass = strdup(getenv("PACKHELPER_PASSWORD"));
	} else {
		struct cred cr;
		if (cred_lookup(host, opt->deadline_ms, &cr, err, cap) < 0) {
			pthread_mutex_destroy(&c->lock);
			return -1;
		}
		snprintf(c->cred_source, sizeof c->cred_source, "%s", cr.source);
		if (cr.kind != CRED_NONE) {
			snprintf(c->user, sizeof c->user, "%s", cr.user);
			c->pass = cr.secret; /* ours now */
			c->identity = cr.kind == CRED_IDENTITY;
			cr.secret = NULL;
		}
		cred_clear(&cr);
	}
	c->have_creds = c->pass != NULL;
	return 0;
}

void client_fini(struct client *c)
{
	if (c->pass) {
		memset(c->pass, 0, strlen(c->pass));
		free(c->pass);
	}
	for (size_t i = 0; i < c->ntokens; i++) {
		if (!c->tokens[i].value)
			continue;
		memset(c->tokens[i].value, 0, strlen(c->tokens[i].value));
		free(c->tokens[i].value);
	}
	pthread_mutex_destroy(&c->lock);
}

/* ---- curl plumbing ---- */

struct xfer {
	struct client_resp *resp;
	const struct client_body *body;
	uint64_t sent;
	size_t received;       /* body bytes, up to resp->read_max */
	long code;             /* the status line's, as it arrives */
	int head_done;         /* a final (not 1xx) response's head is in */
	struct client_stream *stream; /* told when the head is in, or NULL */
};

static void stream_head_done(struct client_stream *s);

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
	struct xfer *x = ctx;
	struct client_resp *r = x->resp;
	size_t len = size * n, vlen;
	const char *colon, *v;
	char *dst = NULL;
	size_t dcap = 0;

	if (len > 5 && strncmp(p, "HTTP/", 5) == 0) {
		/* a new response (after 100 Continue, or a retry): start over */
		r->location[0] = r->range[0] = r->digest[0] = r->content_type[0] = r->www_auth[0] = '\0';
		r->link[0] = r->content_range[0] = '\0';
		r->oci_subject = 0;
		r->retry_after = 0;
		r->content_length = -1;
		x->head_done = 0;
		{
			const char *sp = memchr(p, ' ', len);
			x->code = sp ? strtol(sp + 1, NULL, 10) : 0;
		}
		return len;
	}
	if (len <= 2 && (p[0] == '\r' || p[0] == '\n')) {
		/* the end of a head: a 1xx is followed by another */
		x->head_done = x->code >= 200;
		if (x->head_done && x->stream)
			stream_head_done(x->stream);
		return len;
	}
	colon = memchr(p, ':', len);
	if (!colon)
		return len;
	v = colon + 1;
	while (v < p + len && (*v == ' ' || *v == '\t'))
		v++;
	vlen = (size_t)(p + len - v);
	while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
		vlen--;
#define IS(h) ((size_t)(colon - p) == sizeof(h) - 1 && strncasecmp(p, h, sizeof(h) - 1) == 0)
	if (IS("Location"))
		dst = r->location, dcap = sizeof r->location;
	else if (IS("Range"))
		dst = r->range, dcap = sizeof r->range;
	else if (IS("Docker-Content-Digest"))
		dst = r->digest, dcap = sizeof r->digest;
	else if (IS("Content-Type"))
		dst = r->content_type, dcap = sizeof r->content_type;
	else if (IS("WWW-Authenticate"))
		dst = r->www_auth, dcap = sizeof r->www_auth;
	else if (IS("Link"))
		dst = r->link, dcap = sizeof r->link;
	else if (IS("Content-Range"))
		dst = r->content_range, dcap = sizeof r->content_range;
	else if (IS("OCI-Subject"))
		r->oci_subject = 1;
	else if (IS("Retry-After"))
		r->retry_after = strtol(v, NULL, 10);
	else if (IS("Content-Length")) {
		char *end;
		long long cl;
		errno = 0;
		cl = vlen && v[0] >= '0' && v[0] <= '9' ? strtoll(v, &end, 10) : -1;
		r->content_length = cl >= 0 && !errno && end == v + vlen ? (int64_t)cl : -1;
	}
#undef IS
	if (dst && vlen < dcap) {
		memcpy(dst, v, vlen);
		dst[vlen] = '\0';
	}
	return len;
}

static size_t on_write(char *p, size_t size, size_t n, void *ctx)
{
	struct xfer *x = ctx;
	size_t len = size * n;
	struct buf *b = &x->resp->body;
	if (len > x->resp->read_max - x->received) {
		x->resp->too_big = 1;
		return 0; /* curl fails the transfer (CURLE_WRITE_ERROR) */
	}
	x->received += len;
	if (b->len < b->max) {
		size_t take = len < b->max - b->len ? len : b->max - b->len;
		buf_append(b, p, take);
	}
	return len;
}

static size_t on_read(char *p, size_t size, size_t n, void *ctx)
{
	struct xfer *x = ctx;
	const struct client_body *b = x->body;
	size_t want = size * n;
	uint64_t total = b->fd >= 0 || b->read_at ? b->len : b->mem_len;
	size_t take;

	if (x->sent >= total)
		return 0;
	take = total - x->sent < want ? (size_t)(total - x->sent) : want;
	if (b->read_at) {
		long r = b->read_at(b->read_ctx, p, take, b->off + x->sent);
		if (r <= 0)
			return CURL_READFUNC_ABORT;
		take = (size_t)r;
	} else if (b->fd >= 0) {
		ssize_t r;
		do
			r = pread(b->fd, p, take, (off_t)(b->off + x->sent));
		while (r < 0 && errno == EINTR);
		if (r <= 0)
			return CURL_READFUNC_ABORT;
		take = (size_t)r;
	} else {
		memcpy(p, (const char *)b->mem + x->sent, take);
	}
	x->sent += take;
	if (b->progress)
		b->progress(b->progress_ctx, x->sent);
	return take;
}

static int on_seek(void *ctx, curl_off_t off, int origin)
{
	struct xfer *x = ctx;
	if (origin != SEEK_SET || off < 0)
		return CURL_SEEKFUNC_CANTSEEK;
	x->sent = (uint64_t)off;
	return CURL_SEEKFUNC_OK;
}

/* -v: the exchange's headers, with credentials masked. */
static int on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *ctx)
{
	const char *prefix;
	size_t i = 0;
	(void)h;
	(void)ctx;
	if (type == CURLINFO_HEADER_OUT)
		prefix = "> ";
	else if (type == CURLINFO_HEADER_IN)
		prefix = "< ";
	else if (type == CURLINFO_TEXT)
		prefix = "* ";
	else
		return 0;
	while (i < size) {
		const char *nl = memchr(data + i, '\n', size - i);
		size_t n = nl ? (size_t)(nl - (data + i)) : size - i;
		size_t show = n;
		while (show && (data[i + show - 1] == '\r'))
			show--;
		if (show >= 14 && strncasecmp(data + i, "Authorization:", 14) == 0) {
			const char *sp = memchr(data + i + 15, ' ', show > 15 ? show - 15 : 0);
			int keep = sp ? (int)(sp - (data + i)) : 14;
			fprintf(stderr, "%s%.*s ***\n", prefix, keep, data + i);
		} else if (show >= 11 && (strncasecmp(data + i, "Set-Cookie:", 11) == 0 ||
					  strncasecmp(data + i, "Cookie:", 7) == 0)) {
			fprintf(stderr, "%s%.*s ***\n", prefix, (int)(memchr(data + i, ':', show) ?
						  (const char *)memchr(data + i, ':', show) - (data + i) + 1 : 0),
				data + i);
		} else if (show) {
			fprintf(stderr, "%s%.*s\n", prefix, (int)show, data + i);
		}
		i += n + 1;
	}
	return 0;
}

static void setup_handle(struct client *c, CURL *h)
{
	const char *ca = c->opt.ca_file ? c->opt.ca_file : getenv("SSL_CERT_FILE");
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "packhelper/" PACKHELPER_VERSION);
	/* a TLS handshake that gets no answer is a stall too */
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT,
			 c->opt.stall_s > 0 && c->opt.stall_s < 30 ? c->opt.stall_s : 30L);
	/* a stalled transfer is a failure */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, STALL_BYTES_PER_S);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, c->opt.stall_s > 0 ? c->opt.stall_s : STALL_S_DEFAULT);
	if (c->opt.deadline_ms) {
		int64_t left = c->opt.deadline_ms - clock_ms();
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(left > 1 ? left : 1));
	}
	/* never: a redirect would take the Authorization header (set with
	 * CURLOPT_HTTPHEADER) along to wherever it points; Locations are
	 * resolved and checked by client_abs_url instead */
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_UNRESTRICTED_AUTH, 0L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_CAINFO, ca ? ca : DEFAULT_CA);
	curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024);
	curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 2L * 1024 * 1024);
	if (c->opt.insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (c->opt.verbose) {
		curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
		curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, on_debug);
	}
}

/* A handle set up for one exchange: url, curl's error text into curl_err
 * (CURL_ERROR_SIZE), and the answer's head and body into x. */
static void setup_exchange(struct client *c, CURL *h, const char *url, char *curl_err,
			   struct xfer *x)
{
	setup_handle(c, h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
}

CURL *client_handle(struct client *c)
{
	CURL *h = curl_easy_init();
	if (h)
		setup_handle(c, h);
	return h;
}

void client_resp_init(struct client_resp *r)
{
	client_resp_init_max(r, RESP_BODY_MAX);
}

void client_resp_init_max(struct client_resp *r, size_t max)
{
	memset(r, 0, sizeof *r);
	r->content_length = -1;
	buf_init(&r->body, max);
	r->read_max = max > RESP_READ_MAX ? max : RESP_READ_MAX;
}

void client_resp_free(struct client_resp *r)
{
	buf_free(&r->body);
}

int client_abs_url(const struct client *c, const char *loc, char *out, size_t cap, char *err,
		   size_t ecap)
{
	struct url u;
	char shown[300];

	log_printable(loc, strlen(loc), shown, sizeof shown);
	if (url_resolve(&c->origin, loc, strlen(loc), &u) < 0)
		return log_fail(err, ecap, "%s gave a URL packhelper does not follow: \"%s\"", c->host,
				shown);
	if (c->origin.https && !u.https)
		return log_fail(err, ecap, "%s (HTTPS) points to plain HTTP (%s): refusing the downgrade",
				c->host, shown);
	if (!u.https && !c->opt.insecure && !url_host_is_loopback(u.host))
		return log_fail(err, ecap, "%s points to %s: plain HTTP to a host that is not loopback "
				"needs --insecure", c->host, shown);
	if (url_format(&u, 1, out, cap) < 0)
		return log_fail(err, ecap, "%s gave a URL that is too long: \"%s\"", c->host, shown);
	return 0;
}

static void duration_text(int64_t ms, char *out, size_t cap)
{
	if (ms % 1000 == 0)
		snprintf(out, cap, "%llds", (long long)(ms / 1000));
	else
		snprintf(out, cap, "%lldms", (long long)ms);
}

static int deadline_failure(const struct client *c, const char *what, char *err, size_t cap)
{
	char d[32];
	duration_text(c->opt.timeout_ms, d, sizeof d);
	return log_fail(err, cap, "timed out: the %s took longer than --timeout %s (during %s)",
			c->opt.verb ? c->opt.verb : "push", d, what);
}

/* A transfer that failed below HTTP, explained; what is "METHOD URL". */
static int curl_failure(const struct client *c, CURLcode rc, const struct client_resp *r,
			const char *what, const char *curl_err, char *err, size_t cap)
{
	const char *m = curl_err[0] ? curl_err : curl_easy_strerror(rc);
	if (client_expired(c))
		return deadline_failure(c, what, err, cap);
	if (r->too_big)
		return log_fail(err, cap, "%s: the answer is over %zu KiB; a registry's answers to a "
				"pusher are small", what, r->read_max / 1024);
	if (rc == CURLE_OPERATION_TIMEDOUT && strstr(m, "too slow"))
		return log_fail(err, cap, "%s: stalled: under %ld bytes/s for %ld s (--stall-timeout)",
				what, STALL_BYTES_PER_S,
				c->opt.stall_s > 0 ? c->opt.stall_s : STALL_S_DEFAULT);
	if (rc == CURLE_UNSUPPORTED_PROTOCOL && strstr(m, "HTTP/0.9"))
		return log_fail(err, cap, "%s: the answer is not HTTP", what);
	if (rc == CURLE_WEIRD_SERVER_REPLY)
		return log_fail(err, cap, "%s: the answer is not valid HTTP (%s)", what, m);
	return log_fail(err, cap, "%s: %s", what, m);
}

/* A TLS failure, explained. */
static void tls_failure(const struct client *c, CURLcode rc, const char *msg, char *err, size_t cap)
{
	/* curl's BearSSL backend: "BearSSL: connection error 0x%04x", where
	 * 0x100 + n is fatal alert n received, 0x200 + n sent (bearssl_ssl.h) */
	const char *ce = strstr(msg, "connection error 0x");
	long code = ce ? strtol(ce + 17, NULL, 16) : -1;
	if (code == 0x100 + 70 || code == 0x100 + 40)
		log_fail(err, cap, "%s: the server refused TLS 1.2 (TLS 1.3 only?); this build speaks "
				   "TLS 1.2 at most (BearSSL)",
			 c->host);
	else if (code == 3 || code == 4 || code == 9)
		log_fail(err, cap, "%s: the server does not answer in TLS (a plain-HTTP registry? "
				   "then use --insecure)",
			 c->host);
	else if (strstr(msg, "IP address"))
		log_fail(err, cap, "%s: certificates cannot be checked against an IP address in this "
				   "build (BearSSL); use a host name the certificate names, or --insecure",
			 c->host);
	else if (strstr(msg, "BR_ERR_UNSUPPORTED_VERSION") || strstr(msg, "alert 70") ||
	    strstr(msg, "protocol_version") || strstr(msg, "UNSUPPORTED_VERSION"))
		log_fail(err, cap, "%s: the server offers no TLS 1.2 (TLS 1.3 only?), and this build "
			       "speaks TLS 1.2 at most (BearSSL): %s",
		     c->host, msg);
	else if (rc == CURLE_PEER_FAILED_VERIFICATION || strstr(msg, "X509") ||
		 strstr(msg, "certificate"))
		log_fail(err, cap, "%s: certificate not trusted (%s); pass --ca-file with the "
			       "registry's CA, or --insecure",
		     c->host, msg);
	else
		log_fail(err, cap, "%s: TLS handshake failed: %s", c->host, msg);
}

static int transient_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_HTTP2:
		return 1;
	default:
		return 0;
	}
}

static void backoff(const struct client *c, int attempt, long retry_after)
{
	long ms = retry_after > 0 ? retry_after * 1000 : 200L << attempt;
	if (ms > 10000)
		ms = 10000;
	if (c->opt.deadline_ms) {
		int64_t left = c->opt.deadline_ms - clock_ms();
		if (left < ms)
			ms = left > 0 ? (long)left : 0;
	}
	usleep((useconds_t)ms * 1000);
}

/* ---- auth ---- */

/* A challenge from the registry's own origin (never from another). */
static void note_challenge(struct client *c, const struct auth_challenge *ch)
{
	pthread_mutex_lock(&c->lock);
	c->auth_kind = ch->scheme;
	if (ch->scheme == AUTH_BEARER) {
		snprintf(c->realm, sizeof c->realm, "%s", ch->realm);
		snprintf(c->service, sizeof c->service, "%s", ch->service);
	}
	pthread_mutex_unlock(&c->lock);
}

/* May the token endpoint r have the Basic credentials? */
static int realm_trusted(const struct client *c, const struct url *r)
{
	if (r->https)
		return 1;
	if (c->origin.https)
		return 0; /* never from an HTTPS registry to plain HTTP */
	if (url_host_is_loopback(r->host) && url_host_is_loopback(c->origin.host))
		return 1;
	/* --insecure accepted plain HTTP to the registry's host, not to others */
	return c->opt.insecure && strcmp(r->host, c->origin.host) == 0;
}

/* Wipe and free a string that held a secret. */
static void free_secret(char *s)
{
	if (s) {
		memset(s, 0, strlen(s));
		free(s);
	}
}

/* "Authorization: Basic base64(user:pass)", malloc'd (free_secret), or NULL
 * out of memory.  Any length: a helper's password may be a long token. */
static char *basic_line(const struct client *c)
{
	static const char pre[] = "Authorization: Basic ";
	size_t ul = strlen(c->user), n = ul + 1 + strlen(c->pass), ecap = 4 * ((n + 2) / 3) + 1;
	char *up = malloc(n + 1), *line = malloc(sizeof pre - 1 + ecap);

	if (!up || !line) {
		free(up);
		free(line);
		return NULL;
	}
	memcpy(up, c->user, ul);
	up[ul] = ':';
	memcpy(up + ul + 1, c->pass, n - ul); /* and the NUL */
	memcpy(line, pre, sizeof pre - 1);
	b64_encode(up, n, line + sizeof pre - 1, ecap);
	free_secret(up);
	return line;
}

static const char *token_lookup(struct client *c, const char *scope)
{
	for (size_t i = 0; i < c->ntokens; i++)
		if (strcmp(c->tokens[i].scope, scope) == 0)
			return c->tokens[i].value;
	return NULL;
}

/* GET realm?service=..&scope=.. (with Basic credentials if we have them and
 * the realm may have them); with an identity token, the OAuth2 POST of
 * distribution's token spec instead: grant_type=refresh_token. */
static int fetch_token(struct client *c, CURL *h, const char *scope, char *err, size_t cap)
{
	char realm_s[AUTH_REALM_MAX], service[AUTH_SERVICE_MAX], shown[300];
	char rurl[URL_MAX], url[URL_MAX + 1024], what[URL_MAX + 1100], *esc_s, *esc_sc;
	char curl_err[CURL_ERROR_SIZE], tok[AUTH_TOKEN_MAX];
	struct url realm;
	struct client_resp r;
	struct xfer x;
	struct curl_slist *hdr = NULL;
	char *form = NULL, *line = NULL;
	CURLcode rc;
	int n;

	pthread_mutex_lock(&c->lock);
	snprintf(realm_s, sizeof realm_s, "%s", c->realm);
	snprintf(service, sizeof service, "%s", c->service);
	pthread_mutex_unlock(&c->lock);
	log_printable(realm_s, strlen(realm_s), shown, sizeof shown);
	if (url_parse(&realm, realm_s, strlen(realm_s)) < 0 || url_format(&realm, 1, rurl, sizeof rurl) < 0)
		return log_fail(err, cap, "%s asks for a token from \"%s\", which is not an http(s) URL "
				"packhelper accepts", c->host, shown);
	if (c->have_creds && !realm_trusted(c, &realm))
		return log_fail(err, cap, "token endpoint %s is plain HTTP: packhelper sends credentials "
				"to a token endpoint over HTTPS only (plain HTTP only when it and the "
				"registry are both loopback)", rurl);
	if (client_expired(c))
		return deadline_failure(c, "a token request", err, cap);
	client_resp_init(&r);
	memset(&x, 0, sizeof x);
	x.resp = &r;
	esc_s = curl_easy_escape(h, service, 0);
	esc_sc = curl_easy_escape(h, scope, 0);
	if (c->identity) {
		char *esc_t = curl_easy_escape(h, c->pass, 0);
		size_t fcap = (esc_s ? strlen(esc_s) : 0) + (esc_sc ? strlen(esc_sc) : 0) +
			      (esc_t ? strlen(esc_t) : 0) + 100;
		form = esc_t ? malloc(fcap) : NULL;
		if (form)
			snprintf(form, fcap, "grant_type=refresh_token&service=%s&scope=%s"
				 "&client_id=packhelper&refresh_token=%s", esc_s ? esc_s : "",
				 esc_sc ? esc_sc : "", esc_t);
		free_secret(esc_t);
		n = snprintf(url, sizeof url, "%s", rurl);
	} else {
		n = snprintf(url, sizeof url, "%s%sservice=%s&scope=%s", rurl,
			     strchr(realm.path, '?') ? "&" : "?", esc_s ? esc_s : "", esc_sc ? esc_sc : "");
	}
	curl_free(esc_s);
	curl_free(esc_sc);
	if (n < 0 || (size_t)n >= sizeof url || (c->identity && !form)) {
		client_resp_free(&r);
		free_secret(form);
		return log_fail(err, cap, "token endpoint %s: the request URL is too long", rurl);
	}
	snprintf(what, sizeof what, "token endpoint %s", rurl);
	setup_exchange(c, h, url, curl_err, &x);
	if (form) {
		/* libcurl sends it as application/x-www-form-urlencoded */
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(form));
	} else if (c->have_creds) {
		line = basic_line(c);
		if (!line) {
			client_resp_free(&r);
			return log_fail(err, cap, "out of memory");
		}
		hdr = curl_slist_append(hdr, line);
		free_secret(line);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	}
	curl_err[0] = '\0';
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
	curl_slist_free_all(hdr);
	free_secret(form);
	if (rc != CURLE_OK) {
		int ret = rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_PEER_FAILED_VERIFICATION ?
				  log_fail(err, cap, "%s: %s", what, curl_err[0] ? curl_err : curl_easy_strerror(rc)) :
				  curl_failure(c, rc, &r, what, curl_err, err, cap);
		client_resp_free(&r);
		return ret;
	}
	if (r.status != 200) {
		client_resp_free(&r);
		return log_fail(err, cap, "%s: HTTP %ld%s", what, r.status,
			    c->identity && (r.status == 400 || r.status == 401) ?
				    " (identity token rejected)" :
			    r.status == 401 ? " (credentials rejected)" : "");
	}
	if (auth_parse_token(r.body.p ? r.body.p : "", r.body.len, tok, sizeof tok) < 0) {
		if (r.body.p)
			memset(r.body.p, 0, r.body.len);
		client_resp_free(&r);
		return log_fail(err, cap, "%s: no usable token in the answer", what);
	}
	memset(r.body.p, 0, r.body.len);
	client_resp_free(&r);
	pthread_mutex_lock(&c->lock);
	{
		size_t slot = SIZE_MAX;
		for (size_t i = 0; i < c->ntokens; i++)
			if (strcmp(c->tokens[i].scope, scope) == 0)
				slot = i;
		if (slot == SIZE_MAX)
			slot = c->ntokens < 16 ? c->ntokens++ : 15;
		if (c->tokens[slot].value)
			memset(c->tokens[slot].value, 0, strlen(c->tokens[slot].value));
		free(c->tokens[slot].value);
		snprintf(c->tokens[slot].scope, sizeof c->tokens[slot].scope, "%s", scope);
		c->tokens[slot].value = strdup(tok);
	}
	pthread_mutex_unlock(&c->lock);
	memset(tok, 0, sizeof tok);
	return 0;
}

/* The Authorization header line for scope, malloc'd (free_secret), or NULL
 * for none.  An identity token is never a Basic password. */
static char *auth_line(struct client *c, const char *scope)
{
	char *out = NULL;
	pthread_mutex_lock(&c->lock);
	if (c->auth_kind == AUTH_BASIC && c->have_creds && !c->identity) {
		out = basic_line(c);
	} else if (c->auth_kind == AUTH_BEARER) {
		const char *t = token_lookup(c, scope ? scope : "");
		size_t n = t ? sizeof "Authorization: Bearer " + strlen(t) : 0;
		if (t && (out = malloc(n)))
			snprintf(out, n, "Authorization: Bearer %s", t);
	}
	pthread_mutex_unlock(&c->lock);
	return out;
}

/* ---- requests ---- */

static CURLcode perform(struct client *c, CURL *h, const char *method, const char *url,
			const char *content_type, const struct client_body *body, const char *auth,
			struct client_resp *resp, char *curl_err)
{
	struct curl_slist *hdr = NULL;
	char ct[700], cr[100];
	struct xfer x = { .resp = resp, .body = body };
	CURLcode rc;

	resp->body.len = 0;
	resp->status = 0;
	resp->too_big = 0;
	resp->stalled = 0;
	setup_exchange(c, h, url, curl_err, &x);
	hdr = curl_slist_append(hdr, "Expect:");
	if (auth && auth[0])
		hdr = curl_slist_append(hdr, auth);
	if (content_type) {
		int fetch = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
		snprintf(ct, sizeof ct, "%s: %s", fetch ? "Accept" : "Content-Type", content_type);
		hdr = curl_slist_append(hdr, ct);
	}
	if (body && body->content_range) {
		snprintf(cr, sizeof cr, "Content-Range: %s", body->content_range);
		hdr = curl_slist_append(hdr, cr);
	}
	if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (body && (body->fd >= 0 || body->mem || body->read_at)) {
		uint64_t len = body->fd >= 0 || body->read_at ? body->len : body->mem_len;
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, &x);
		curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(h, CURLOPT_SEEKDATA, &x);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	} else if (strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)0);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	if (c->plain_http_probe)
		curl_easy_setopt(h, CURLOPT_HTTP09_ALLOWED, 1L); /* to see what answers */
	curl_err[0] = '\0';
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	/* nothing may point into this frame once it returns */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(hdr);
	return rc;
}

static int retryable_status(long st)
{
	return st == 408 || st == 429 || st == 500 || st == 502 || st == 503 || st == 504;
}

/* A 401 from target: 1 when a new challenge was taken (a token fetched, or
 * Basic credentials to send): ask again; 0 when it is the answer; -1 with
 * err set.  *reauthed: a round was had already. */
static int auth_round(struct client *c, CURL *h, const struct client_resp *resp,
		      const struct url *target, int same, int *reauthed, const char *scope,
		      const char *what, char *err, size_t cap)
{
	struct auth_challenge ch;

	if (!same) {
		char o[URL_MAX];
		url_format(target, 0, o, sizeof o);
		return log_fail(err, cap, "%s: %s asks for credentials, and they go only to the "
				"registry (%s)", what, o, c->base);
	}
	if (*reauthed && c->auth_kind == AUTH_BASIC && c->have_creds && !c->identity)
		return log_fail(err, cap, "%s rejected the credentials of %s%s%s (HTTP 401)",
				c->host, c->user, c->cred_source[0] ? " from " : "", c->cred_source);
	if (*reauthed || !resp->www_auth[0])
		return 0;
	*reauthed = 1;
	if (auth_parse_challenge(&ch, resp->www_auth, strlen(resp->www_auth)) < 0) {
		char shown[300];
		log_printable(resp->www_auth, strlen(resp->www_auth), shown, sizeof shown);
		return log_fail(err, cap, "%s: HTTP 401 with a challenge packhelper does not "
				"understand: \"%s\"", what, shown);
	}
	note_challenge(c, &ch);
	if (ch.scheme == AUTH_BEARER) {
		if (fetch_token(c, h, scope ? scope : ch.scope, err, cap) < 0)
			return -1;
	} else if (!c->have_creds) {
		if (c->opt.config_creds_only)
			return log_fail(err, cap, "%s requires credentials%s%s: docker login %s (they "
					"are read from $DOCKER_CONFIG/config.json)", c->host,
					c->cred_source[0] ? ", and " : "", c->cred_source, c->host);
		return log_fail(err, cap, "%s requires credentials%s%s: use --username with "
				"--password-stdin, PACKHELPER_USERNAME/PASSWORD, or docker login",
				c->host, c->cred_source[0] ? ", and " : "", c->cred_source);
	} else if (c->identity) {
		return log_fail(err, cap, "%s asks for a password (Basic), and %s gave an identity "
				"token, which only a token endpoint takes", c->host, c->cred_source);
	}
	return 1;
}

int client_request(struct client *c, CURL *h, const char *method, const char *path,
		   const char *scope, const char *content_type, const struct client_body *body,
		   int idempotent, struct client_resp *resp, char *err, size_t cap)
{
	char url[URL_MAX], what[URL_MAX + 16], curl_err[CURL_ERROR_SIZE], *auth;
	struct url target;
	int reauthed = 0, stalls = 0, same;

	if (client_abs_url(c, path, url, sizeof url, err, cap) < 0)
		return -1;
	if (url_parse(&target, url, strlen(url)) < 0) /* canonical: cannot fail */
		return log_fail(err, cap, "%s: not a URL", url);
	same = url_same_origin(&target, &c->origin);
	snprintf(what, sizeof what, "%s %s", method, url);
	for (int attempt = 0;; attempt++) {
		CURLcode rc;
		if (client_expired(c))
			return deadline_failure(c, what, err, cap);
		/* credentials and tokens belong to the registry's origin */
		auth = same ? auth_line(c, scope) : NULL;
		rc = perform(c, h, method, url, content_type, body, auth, resp, curl_err);
		free_secret(auth);
		resp->from_registry = same;
		if (rc == CURLE_OK && resp->location[0]) {
			/* relative to the URL that answered (not always the registry's) */
			struct url l;
			char abs[URL_MAX];
			if (url_resolve(&target, resp->location, strlen(resp->location), &l) == 0 &&
			    url_format(&l, 1, abs, sizeof abs) >= 0 && strlen(abs) < sizeof resp->location)
				memcpy(resp->location, abs, strlen(abs) + 1);
		}
		if (rc != CURLE_OK) {
			resp->stalled = rc == CURLE_OPERATION_TIMEDOUT;
			if (client_expired(c) || resp->too_big)
				return curl_failure(c, rc, resp, what, curl_err, err, cap);
			if (rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_PEER_FAILED_VERIFICATION) {
				tls_failure(c, rc, curl_err[0] ? curl_err : curl_easy_strerror(rc), err, cap);
				return -1;
			}
			/* a stall is retried once: the next one is the server, not the path */
			if (idempotent && transient_curl(rc) && attempt + 1 < ATTEMPTS(c) &&
			    (rc != CURLE_OPERATION_TIMEDOUT || stalls++ < 1)) {
				log_debug("%s: %s; retrying", what, curl_err[0] ? curl_err : curl_easy_strerror(rc));
				backoff(c, attempt, 0);
				continue;
			}
			return curl_failure(c, rc, resp, what, curl_err, err, cap);
		}
		if (resp->status == 401) {
			int r = auth_round(c, h, resp, &target, same, &reauthed, scope, what, err, cap);
			if (r < 0)
				return -1;
			if (r > 0) {
				attempt--; /* an auth round is not a failure */
				continue;
			}
		}
		if (idempotent && retryable_status(resp->status) && attempt + 1 < ATTEMPTS(c)) {
			log_debug("%s: HTTP %ld; retrying", what, resp->status);
			backoff(c, attempt, resp->retry_after);
			continue;
		}
		return 0;
	}
}

void client_describe(const struct client_resp *r, char *out, size_t cap)
{
	struct json j;
	char code[64] = "", msg[512] = "";
	if (r->body.len && json_parse(&j, r->body.p, r->body.len) == 0) {
		int e = json_index(&j, json_get(&j, 0, "errors"), 0);
		json_str_copy(&j, json_get(&j, e, "code"), code, sizeof code);
		json_str_copy(&j, json_get(&j, e, "message"), msg, sizeof msg);
		json_free(&j);
	}
	if (code[0])
		snprintf(out, cap, "HTTP %ld %s: %s", r->status, code, msg);
	else
		snprintf(out, cap, "HTTP %ld", r->status);
}

/* Does a reply that is not HTTP start like a TLS record (a handshake or an
 * alert), i.e. is this a TLS port that was sent plain HTTP? */
static int looks_like_tls(const struct client_resp *r)
{
	const unsigned char *p = (const unsigned char *)r->body.p;
	return r->body.len >= 2 && (p[0] == 0x15 || p[0] == 0x16) && p[1] == 0x03;
}

int client_open(struct client *c, const char *host, const struct client_opts *opt, CURL **h,
		char *err, size_t cap)
{
	*h = NULL;
	if (client_init(c, host, opt, err, cap) < 0)
		return -1;
	*h = client_handle(c);
	if (!*h) {
		client_fini(c);
		return log_fail(err, cap, "cannot start libcurl");
	}
	if (client_connect(c, *h, err, cap) < 0) {
		client_close(c, h);
		return -1;
	}
	return 0;
}

void client_close(struct client *c, CURL **h)
{
	if (*h)
		curl_easy_cleanup(*h);
	*h = NULL;
	client_fini(c);
}

int client_connect(struct client *c, CURL *h, char *err, size_t cap)
{
	struct client_resp r;
	int rc;

	if (url_parse_host(&c->origin, 0, c->host, strlen(c->host)) < 0)
		return log_fail(err, cap, "%s is not a registry host[:port]", c->host);
	client_resp_init(&r);
	if (url_host_is_loopback(c->origin.host) || c->opt.insecure) {
		/* does it answer plain HTTP as a registry? */
		char curl_err[CURL_ERROR_SIZE], url[URL_MAX + 8];
		CURLcode prc;
		url_format(&c->origin, 0, c->base, sizeof c->base);
		snprintf(url, sizeof url, "%s/v2/", c->base);
		c->plain_http_probe = 1;
		prc = perform(c, h, "GET", url, NULL, NULL, NULL, &r, curl_err);
		c->plain_http_probe = 0;
		if (prc == CURLE_OK && r.status == 0 && !looks_like_tls(&r)) {
			char shown[64];
			log_printable(r.body.p ? r.body.p : "", r.body.len, shown, sizeof shown);
			client_resp_free(&r);
			return log_fail(err, cap, "%s does not speak HTTP: GET %s was answered with \"%s\"",
					c->host, url, shown);
		}
		if (prc == CURLE_OK && (r.status == 200 || r.status == 401)) {
			c->plain_http = 1;
			if (r.status == 401 && r.www_auth[0]) {
				struct auth_challenge ch;
				if (auth_parse_challenge(&ch, r.www_auth, strlen(r.www_auth)) == 0)
					note_challenge(c, &ch);
			}
			client_resp_free(&r);
			return 0;
		}
		/* 400: a TLS port that was sent plain HTTP; 0: TLS bytes */
		if (prc == CURLE_OK && r.status != 400 && r.status != 0) {
			char d[256];
			client_describe(&r, d, sizeof d);
			client_resp_free(&r);
			return log_fail(err, cap, "%s does not look like a registry: GET %s gave %s", c->host,
					url, d);
		}
		/* a TLS server would not stall a plain request: it answers or hangs up */
		if (prc == CURLE_WEIRD_SERVER_REPLY || prc == CURLE_OPERATION_TIMEDOUT || r.too_big ||
		    client_expired(c)) {
			snprintf(url, sizeof url, "GET %s/v2/", c->base);
			rc = curl_failure(c, prc, &r, url, curl_err, err, cap);
			client_resp_free(&r);
			return rc;
		}
	}
	url_parse_host(&c->origin, 1, c->host, strlen(c->host));
	url_format(&c->origin, 0, c->base, sizeof c->base);
	rc = client_request(c, h, "GET", "/v2/", NULL, NULL, NULL, 1, &r, err, cap);
	if (rc == 0 && r.status != 200 && r.status != 401) {
		char d[256];
		client_describe(&r, d, sizeof d);
		rc = log_fail(err, cap, "%s does not look like a registry: GET /v2/ gave %s", c->host, d);
	}
	if (rc == 0 && r.status == 401 && r.www_auth[0]) {
		struct auth_challenge ch;
		if (auth_parse_challenge(&ch, r.www_auth, strlen(r.www_auth)) == 0)
			note_challenge(c, &ch);
	}
	client_resp_free(&r);
	return rc;
}

/* ---- streams ---- */

/* A stream's transfer runs in a thread of its own, so that the bytes keep
 * coming from the source while the reader's request sends them on: the
 * thread drives the GET (a multi handle, woken to stop) and fills a ring of
 * STREAM_BUF bytes, waiting while it is full; the reader takes from it,
 * waiting while it is empty.  One lock and one condition for every change. */
#define STREAM_BUF ((size_t)4 << 20)

struct client_stream {
	struct client *c;
	CURL *h;                  /* the transfer thread's while one runs */
	CURLM *m;
	struct client_resp resp;  /* the head, and an error answer's body */
	struct xfer x;
	struct curl_slist *hdr;
	char curl_err[CURL_ERROR_SIZE];
	char what[URL_MAX + 16];  /* "GET url", for messages */
	pthread_t tid;
	int running;              /* a transfer thread to join */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* under lock */
	int head;                 /* the answer's head is in */
	int done;                 /* the transfer ended, with rc */
	CURLcode rc;
	int stop;                 /* the reader closed the stream */
	int body_ok;              /* 1: a 2xx whose body is the stream; 0: an error
				     answer; -1: not known until the first bytes */
	uint64_t from, skip;      /* a 200 to a Range request: bytes to drop */
	char *buf;                /* the ring: len bytes from buf[at] on, wrapping */
	size_t at, len;
};

static void stream_head_done(struct client_stream *s)
{
	pthread_mutex_lock(&s->lock);
	s->head = 1;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* The transfer thread's write callback: into the ring, waiting for room. */
static size_t on_stream_write(char *p, size_t size, size_t n, void *ctx)
{
	struct client_stream *s = ctx;
	size_t len = size * n, rest, k;
	int stop;

	pthread_mutex_lock(&s->lock);
	if (s->body_ok < 0) {
		long st = 0;
		curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &st);
		s->body_ok = st == 200 || st == 206;
		/* a server that ignores Range sends the blob from its start */
		s->skip = st == 200 ? s->from : 0;
		s->head = 1;
	}
	if (!s->body_ok) {
		pthread_mutex_unlock(&s->lock);
		return on_write(p, size, n, &s->x);
	}
	k = s->skip < len ? (size_t)s->skip : len;
	s->skip -= k;
	p += k;
	rest = len - k;
	while (rest && !s->stop) {
		size_t end, room;
		while (s->len == STREAM_BUF && !s->stop)
			pthread_cond_wait(&s->cond, &s->lock);
		if (s->stop)
			break;
		end = (s->at + s->len) % STREAM_BUF;
		room = STREAM_BUF - s->len;
		if (room > STREAM_BUF - end)
			room = STREAM_BUF - end; /* up to the ring's end, then again */
		if (room > rest)
			room = rest;
		memcpy(s->buf + end, p, room);
		s->len += room;
		p += room;
		rest -= room;
		pthread_cond_broadcast(&s->cond);
	}
	stop = s->stop;
	pthread_mutex_unlock(&s->lock);
	return stop ? 0 : len;
}

static void *stream_thread(void *arg)
{
	struct client_stream *s = arg;
	CURLcode rc = CURLE_OK;
	int running = 1, stop = 0;

	while (running && !stop) {
		CURLMsg *msg;
		int q;
		curl_multi_perform(s->m, &running);
		while ((msg = curl_multi_info_read(s->m, &q)))
			if (msg->msg == CURLMSG_DONE) {
				rc = msg->data.result;
				running = 0;
			}
		pthread_mutex_lock(&s->lock);
		stop = s->stop;
		pthread_mutex_unlock(&s->lock);
		if (running && !stop)
			curl_multi_poll(s->m, NULL, 0, 1000, NULL);
	}
	curl_multi_remove_handle(s->m, s->h);
	pthread_mutex_lock(&s->lock);
	s->done = 1;
	s->rc = stop && running ? CURLE_ABORTED_BY_CALLBACK : rc;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

struct client_stream *client_stream_new(struct client *c)
{
	struct client_stream *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->c = c;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->h = curl_easy_init();
	s->m = curl_multi_init();
	s->buf = malloc(STREAM_BUF);
	client_resp_init(&s->resp);
	if (!s->h || !s->m || !s->buf) {
		client_stream_free(s);
		return NULL;
	}
	return s;
}

void client_stream_close(struct client_stream *s)
{
	if (s->running) {
		pthread_mutex_lock(&s->lock);
		s->stop = 1;
		pthread_cond_broadcast(&s->cond);
		pthread_mutex_unlock(&s->lock);
		curl_multi_wakeup(s->m);
		pthread_join(s->tid, NULL);
		s->running = 0;
	}
	curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(s->hdr);
	s->hdr = NULL;
	s->at = s->len = 0;
}

void client_stream_free(struct client_stream *s)
{
	if (!s)
		return;
	if (s->h && s->m)
		client_stream_close(s);
	if (s->m)
		curl_multi_cleanup(s->m);
	if (s->h)
		curl_easy_cleanup(s->h);
	client_resp_free(&s->resp);
	free(s->buf);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* Start GET url (with the registry's credentials when same) in a thread. */
static int stream_start(struct client_stream *s, const char *url, int same, const char *scope)
{
	char *auth, range[64];

	client_stream_close(s);
	client_resp_free(&s->resp);
	client_resp_init(&s->resp);
	memset(&s->x, 0, sizeof s->x);
	s->x.resp = &s->resp;
	s->x.stream = s;
	s->head = s->done = s->stop = 0;
	s->rc = CURLE_OK;
	s->body_ok = -1;
	s->skip = 0;
	setup_exchange(s->c, s->h, url, s->curl_err, &s->x);
	curl_easy_setopt(s->h, CURLOPT_WRITEFUNCTION, on_stream_write);
	curl_easy_setopt(s->h, CURLOPT_WRITEDATA, s);
	auth = same ? auth_line(s->c, scope) : NULL;
	if (auth)
		s->hdr = curl_slist_append(s->hdr, auth); /* copies it */
	free_secret(auth);
	if (s->from) {
		snprintf(range, sizeof range, "Range: bytes=%llu-", (unsigned long long)s->from);
		s->hdr = curl_slist_append(s->hdr, range);
	}
	curl_easy_setopt(s->h, CURLOPT_HTTPHEADER, s->hdr);
	s->curl_err[0] = '\0';
	if (curl_multi_add_handle(s->m, s->h) != CURLM_OK)
		return -1;
	if (pthread_create(&s->tid, NULL, stream_thread, s) != 0) {
		curl_multi_remove_handle(s->m, s->h);
		return -1;
	}
	s->running = 1;
	return 0;
}

/* Wait until the transfer ends, or (head) until the answer's head is in:
 * what the thread wrote before is then the caller's to read. */
static void stream_wait(struct client_stream *s, int head)
{
	pthread_mutex_lock(&s->lock);
	while (!s->done && !(head && s->head))
		pthread_cond_wait(&s->cond, &s->lock);
	pthread_mutex_unlock(&s->lock);
}

/* A 206 must start where it was asked to. */
static int range_starts_at(const char *cr, uint64_t from)
{
	char *end;
	unsigned long long v;
	if (strncmp(cr, "bytes ", 6) != 0)
		return 0;
	errno = 0;
	v = strtoull(cr + 6, &end, 10);
	return !errno && end != cr + 6 && *end == '-' && v == from;
}

int client_stream_open(struct client_stream *s, const char *path, const char *scope, uint64_t from,
		       char *err, size_t cap)
{
	struct client *c = s->c;
	char url[URL_MAX], d[600];
	struct url target;
	int reauthed = 0, hops = 0, stalls = 0;

	if (client_abs_url(c, path, url, sizeof url, err, cap) < 0)
		return -1;
	s->from = from;
	for (int attempt = 0;; attempt++) {
		long status = 0;
		int same, done;
		CURLcode cc;
		if (url_parse(&target, url, strlen(url)) < 0) /* canonical: cannot fail */
			return log_fail(err, cap, "%s: not a URL", url);
		same = url_same_origin(&target, &c->origin);
		snprintf(s->what, sizeof s->what, "GET %s", url);
		if (client_expired(c))
			return deadline_failure(c, s->what, err, cap);
		if (stream_start(s, url, same, scope) < 0)
			return log_fail(err, cap, "%s: cannot start the transfer", s->what);
		/* the head (the transfer's own budgets bound the wait) */
		stream_wait(s, 1);
		pthread_mutex_lock(&s->lock);
		done = s->done;
		cc = s->rc;
		pthread_mutex_unlock(&s->lock);
		if (s->x.head_done)
			status = s->x.code;
		s->resp.from_registry = same;
		if ((status == 200 || status == 206) && (!done || cc == CURLE_OK)) {
			if (status == 206 && !range_starts_at(s->resp.content_range, from)) {
				client_stream_close(s);
				return log_fail(err, cap, "%s: the answer holds bytes \"%s\", not bytes %llu on",
						s->what, s->resp.content_range, (unsigned long long)from);
			}
			return 0;
		}
		/* an error answer: its (small, bounded) body, for the message */
		stream_wait(s, 0);
		client_stream_close(s);
		cc = s->rc;
		if (cc != CURLE_OK) {
			if (client_expired(c) || s->resp.too_big)
				return curl_failure(c, cc, &s->resp, s->what, s->curl_err, err, cap);
			if (cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_PEER_FAILED_VERIFICATION) {
				tls_failure(c, cc, s->curl_err[0] ? s->curl_err : curl_easy_strerror(cc), err,
					    cap);
				return -1;
			}
			if (transient_curl(cc) && attempt + 1 < ATTEMPTS(c) &&
			    (cc != CURLE_OPERATION_TIMEDOUT || stalls++ < 1)) {
				log_debug("%s: %s; retrying", s->what,
					  s->curl_err[0] ? s->curl_err : curl_easy_strerror(cc));
				backoff(c, attempt, 0);
				continue;
			}
			return curl_failure(c, cc, &s->resp, s->what, s->curl_err, err, cap);
		}
		if (status == 401) {
			int r = auth_round(c, s->h, &s->resp, &target, same, &reauthed, scope, s->what, err,
					   cap);
			if (r < 0)
				return -1;
			if (r > 0) {
				attempt--;
				continue;
			}
		}
		if (status >= 300 && status < 400 && status != 304 && s->resp.location[0]) {
			/* a blob elsewhere (a CDN): relative to the URL that answered, by
			 * client_abs_url's rules, and without credentials unless it is the
			 * registry's own origin */
			struct url l;
			char abs[URL_MAX];
			if (++hops > CLIENT_STREAM_HOPS)
				return log_fail(err, cap, "%s: more than %d redirects", s->what,
						CLIENT_STREAM_HOPS);
			if (url_resolve(&target, s->resp.location, strlen(s->resp.location), &l) < 0 ||
			    url_format(&l, 1, abs, sizeof abs) < 0) {
				char shown[300];
				log_printable(s->resp.location, strlen(s->resp.location), shown, sizeof shown);
				return log_fail(err, cap, "%s gave a URL packhelper does not follow: \"%s\"",
						c->host, shown);
			}
			if (client_abs_url(c, abs, url, sizeof url, err, cap) < 0)
				return -1;
			log_debug("%s: redirected to %s", s->what, url);
			attempt--;
			continue;
		}
		if (retryable_status(status) && attempt + 1 < ATTEMPTS(c)) {
			log_debug("%s: HTTP %ld; retrying", s->what, status);
			backoff(c, attempt, s->resp.retry_after);
			continue;
		}
		s->resp.status = status; /* client_stream_resp tells the caller */
		client_describe(&s->resp, d, sizeof d);
		return log_fail(err, cap, "%s: %s", s->what, d);
	}
}

const struct client_resp *client_stream_resp(const struct client_stream *s)
{
	return &s->resp;
}

long client_stream_read(struct client_stream *s, void *buf, size_t n, int *transient, char *err,
			size_t cap)
{
	size_t k = 0;
	CURLcode rc;

	*transient = 0;
	if (!s->running)
		return log_fail(err, cap, "%s: no transfer", s->what);
	pthread_mutex_lock(&s->lock);
	while (!s->len && !s->done)
		pthread_cond_wait(&s->cond, &s->lock);
	if (s->len) {
		/* up to the ring's end, then again */
		k = n < s->len ? n : s->len;
		if (k > STREAM_BUF - s->at)
			k = STREAM_BUF - s->at;
		memcpy(buf, s->buf + s->at, k);
		s->at = (s->at + k) % STREAM_BUF;
		s->len -= k;
		pthread_cond_broadcast(&s->cond);
	}
	rc = s->rc;
	pthread_mutex_unlock(&s->lock);
	if (k)
		return (long)k;
	if (rc == CURLE_OK)
		return 0;
	*transient = transient_curl(rc) && !client_expired(s->c) && !s->resp.too_big;
	return curl_failure(s->c, rc, &s->resp, s->what, s->curl_err, err, cap);
}
