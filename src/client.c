/* client.c - the remote-registry transport: scheme, TLS, auth, retries. */
#include "client.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "log.h"

#ifndef PACKHELPER_VERSION
#define PACKHELPER_VERSION "dev"
#endif

#define RESP_BODY_MAX (64 * 1024)
#define MAX_ATTEMPTS 6
#define DEFAULT_CA "/etc/ssl/certs/ca-certificates.crt"

/* Copy src into dst[cap], cutting it short if it does not fit. */
static void set_str(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* ---- base64 ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64_encode(const char *in, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 5 < cap; i += 3) {
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

static long b64_decode(const char *in, char *out, size_t cap)
{
	unsigned v = 0;
	int bits = 0;
	size_t o = 0;
	for (; *in && *in != '='; in++) {
		const char *p = strchr(b64, *in);
		if (!p || !*in)
			return -1;
		v = v << 6 | (unsigned)(p - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o + 1 >= cap)
				return -1;
			out[o++] = (char)((v >> bits) & 0xff);
		}
	}
	out[o] = '\0';
	return (long)o;
}

/* ---- hosts and credentials ---- */

/* host part of "host[:port]" / "[v6]:port" */
static void host_only(const char *hp, char *out, size_t cap)
{
	if (hp[0] == '[') {
		const char *rb = strchr(hp, ']');
		size_t n = rb ? (size_t)(rb - hp - 1) : strlen(hp + 1);
		snprintf(out, cap, "%.*s", (int)n, hp + 1);
		return;
	}
	{
		const char *colon = strchr(hp, ':');
		size_t n = colon ? (size_t)(colon - hp) : strlen(hp);
		snprintf(out, cap, "%.*s", (int)n, hp);
	}
}

int client_is_loopback(const char *host)
{
	struct in_addr a4;
	size_t n = strlen(host);
	if (strcasecmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
		return 1;
	if (n > 10 && strcasecmp(host + n - 10, ".localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	return 0;
}

/* user:pass from ~/.docker/config.json (or $DOCKER_CONFIG/config.json). */
static int docker_config_creds(struct client *c)
{
	char path[1024], key[400], dec[1024];
	const char *dir = getenv("DOCKER_CONFIG");
	const char *home = getenv("HOME");
	static const char *const pre[] = { "", "https://", "http://", "https://" };
	static const char *const post[] = { "", "", "", "/v1/" };
	/* docker login stores Docker Hub under its old index name */
	const char *host = strcmp(c->host, "registry-1.docker.io") == 0 ? "index.docker.io" : c->host;
	FILE *f;
	char *text = NULL;
	size_t len = 0;
	struct json j;
	int auths, rc = 0;

	if (dir)
		snprintf(path, sizeof path, "%s/config.json", dir);
	else if (home)
		snprintf(path, sizeof path, "%s/.docker/config.json", home);
	else
		return 0;
	f = fopen(path, "r");
	if (!f)
		return 0;
	text = malloc(1 << 20);
	if (text)
		len = fread(text, 1, 1 << 20, f);
	fclose(f);
	if (!text || json_parse(&j, text, len) < 0) {
		free(text);
		return 0;
	}
	auths = json_get(&j, 0, "auths");
	for (size_t i = 0; i < sizeof pre / sizeof *pre && !rc; i++) {
		int ent, a;
		snprintf(key, sizeof key, "%s%s%s", pre[i], host, post[i]);
		ent = json_get(&j, auths, key);
		if (ent < 0)
			continue;
		a = json_get(&j, ent, "auth");
		if (a >= 0 && json_str_copy(&j, a, key, sizeof key) > 0 &&
		    b64_decode(key, dec, sizeof dec) > 0 && strchr(dec, ':')) {
			char *colon = strchr(dec, ':');
			*colon = '\0';
			set_str(c->user, sizeof c->user, dec);
			c->pass = strdup(colon + 1);
			rc = c->pass != NULL;
		} else if (json_str_copy(&j, json_get(&j, ent, "username"), c->user, sizeof c->user) > 0 &&
			   json_str_copy(&j, json_get(&j, ent, "password"), dec, sizeof dec) >= 0) {
			c->pass = strdup(dec);
			rc = c->pass != NULL;
		}
	}
	if (!rc && (json_get(&j, 0, "credsStore") >= 0 || json_get(&j, 0, "credHelpers") >= 0))
		log_debug("%s uses a credential helper, which packhelper does not run; "
			  "use --username/--password-stdin", path);
	memset(dec, 0, sizeof dec);
	json_free(&j);
	memset(text, 0, len);
	free(text);
	return rc;
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
	} else if (getenv("PACKHELPER_USERNAME") && getenv("PACKHELPER_PASSWORD")) {
		snprintf(c->user, sizeof c->user, "%s", getenv("PACKHELPER_USERNAME"));
		c->pass = strdup(getenv("PACKHELPER_PASSWORD"));
	} else {
		docker_config_creds(c);
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
};

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
		r->retry_after = 0;
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
	else if (IS("Retry-After"))
		r->retry_after = strtol(v, NULL, 10);
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
	if (b->len < RESP_BODY_MAX) {
		size_t take = len < RESP_BODY_MAX - b->len ? len : RESP_BODY_MAX - b->len;
		buf_append(b, p, take);
	}
	return len;
}

static size_t on_read(char *p, size_t size, size_t n, void *ctx)
{
	struct xfer *x = ctx;
	const struct client_body *b = x->body;
	size_t want = size * n;
	uint64_t total = b->fd >= 0 ? b->len : b->mem_len;
	size_t take;

	if (x->sent >= total)
		return 0;
	take = total - x->sent < want ? (size_t)(total - x->sent) : want;
	if (b->fd >= 0) {
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
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
	/* a stalled transfer (under 1 KiB/s for 60 s) is a failure */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
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

CURL *client_handle(struct client *c)
{
	CURL *h = curl_easy_init();
	if (h)
		setup_handle(c, h);
	return h;
}

void client_resp_init(struct client_resp *r)
{
	memset(r, 0, sizeof *r);
	buf_init(&r->body, RESP_BODY_MAX);
}

void client_resp_free(struct client_resp *r)
{
	buf_free(&r->body);
}

void client_abs_url(const struct client *c, const char *loc, char *out, size_t cap)
{
	if (strncmp(loc, "http://", 7) == 0 || strncmp(loc, "https://", 8) == 0)
		snprintf(out, cap, "%s", loc);
	else
		snprintf(out, cap, "%s%s%s", c->base, loc[0] == '/' ? "" : "/", loc);
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

static void backoff(int attempt, long retry_after)
{
	long ms = retry_after > 0 ? retry_after * 1000 : 200L << attempt;
	if (ms > 10000)
		ms = 10000;
	usleep((useconds_t)ms * 1000);
}

/* ---- auth ---- */

/* Parse key="value" pairs of a challenge into realm/service/scope. */
static void parse_challenge(const char *h, char *realm, size_t rcap, char *service, size_t scap,
			    char *scope, size_t sccap)
{
	const char *p = strchr(h, ' ');
	realm[0] = service[0] = '\0';
	if (scope)
		scope[0] = '\0';
	while (p && *p) {
		char key[32], val[1024];
		size_t k = 0, v = 0;
		while (*p == ' ' || *p == ',')
			p++;
		while (*p && *p != '=' && k + 1 < sizeof key)
			key[k++] = *p++;
		key[k] = '\0';
		if (*p != '=')
			break;
		p++;
		if (*p == '"') {
			p++;
			while (*p && *p != '"' && v + 1 < sizeof val)
				val[v++] = *p++;
			if (*p == '"')
				p++;
		} else {
			while (*p && *p != ',' && v + 1 < sizeof val)
				val[v++] = *p++;
		}
		val[v] = '\0';
		if (strcasecmp(key, "realm") == 0)
			set_str(realm, rcap, val);
		else if (strcasecmp(key, "service") == 0)
			set_str(service, scap, val);
		else if (scope && strcasecmp(key, "scope") == 0)
			set_str(scope, sccap, val);
	}
}

static void note_challenge(struct client *c, const char *h)
{
	pthread_mutex_lock(&c->lock);
	if (strncasecmp(h, "Bearer", 6) == 0) {
		c->auth_kind = 2;
		parse_challenge(h, c->realm, sizeof c->realm, c->service, sizeof c->service, NULL, 0);
	} else if (strncasecmp(h, "Basic", 5) == 0) {
		c->auth_kind = 1;
	}
	pthread_mutex_unlock(&c->lock);
}

static const char *token_lookup(struct client *c, const char *scope)
{
	for (size_t i = 0; i < c->ntokens; i++)
		if (strcmp(c->tokens[i].scope, scope) == 0)
			return c->tokens[i].value;
	return NULL;
}

/* GET realm?service=..&scope=.. (with Basic credentials if we have them). */
static int fetch_token(struct client *c, CURL *h, const char *scope, char *err, size_t cap)
{
	char url[2048], *esc_s, *esc_sc;
	struct client_resp r;
	struct xfer x;
	struct curl_slist *hdr = NULL;
	struct json j;
	char tok[8192];
	CURLcode rc;
	int t;

	client_resp_init(&r);
	x.resp = &r;
	x.body = NULL;
	x.sent = 0;
	esc_s = curl_easy_escape(h, c->service, 0);
	esc_sc = curl_easy_escape(h, scope, 0);
	snprintf(url, sizeof url, "%s%sservice=%s&scope=%s", c->realm, strchr(c->realm, '?') ? "&" : "?",
		 esc_s ? esc_s : "", esc_sc ? esc_sc : "");
	curl_free(esc_s);
	curl_free(esc_sc);
	setup_handle(c, h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
	if (c->have_creds) {
		char up[1400], enc[2000], line[2100];
		snprintf(up, sizeof up, "%s:%s", c->user, c->pass);
		b64_encode(up, strlen(up), enc, sizeof enc);
		snprintf(line, sizeof line, "Authorization: Basic %s", enc);
		hdr = curl_slist_append(hdr, line);
		memset(up, 0, sizeof up);
		memset(line, 0, sizeof line);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	}
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
	curl_slist_free_all(hdr);
	if (rc != CURLE_OK) {
		client_resp_free(&r);
		return log_fail(err, cap, "token endpoint %s: %s", c->realm, curl_easy_strerror(rc));
	}
	if (r.status != 200) {
		client_resp_free(&r);
		return log_fail(err, cap, "token endpoint %s: HTTP %ld%s", c->realm, r.status,
			    r.status == 401 ? " (credentials rejected)" : "");
	}
	if (json_parse(&j, r.body.p ? r.body.p : "", r.body.len) < 0) {
		client_resp_free(&r);
		return log_fail(err, cap, "token endpoint %s: answer is not JSON", c->realm);
	}
	t = json_get(&j, 0, "token");
	if (t < 0)
		t = json_get(&j, 0, "access_token");
	if (t < 0 || json_str_copy(&j, t, tok, sizeof tok) <= 0) {
		json_free(&j);
		client_resp_free(&r);
		return log_fail(err, cap, "token endpoint %s: no token in the answer", c->realm);
	}
	json_free(&j);
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

/* The Authorization header line for scope, or "" for none. */
static void auth_line(struct client *c, const char *scope, char *out, size_t cap)
{
	out[0] = '\0';
	pthread_mutex_lock(&c->lock);
	if (c->auth_kind == 1 && c->have_creds) {
		char up[1400], enc[2000];
		snprintf(up, sizeof up, "%s:%s", c->user, c->pass);
		b64_encode(up, strlen(up), enc, sizeof enc);
		snprintf(out, cap, "Authorization: Basic %s", enc);
		memset(up, 0, sizeof up);
	} else if (c->auth_kind == 2) {
		const char *t = token_lookup(c, scope ? scope : "");
		if (t)
			snprintf(out, cap, "Authorization: Bearer %s", t);
	}
	pthread_mutex_unlock(&c->lock);
}

/* ---- requests ---- */

static CURLcode perform(struct client *c, CURL *h, const char *method, const char *url,
			const char *content_type, const struct client_body *body, const char *auth,
			struct client_resp *resp, char *curl_err)
{
	struct curl_slist *hdr = NULL;
	char ct[300], cr[100];
	struct xfer x = { resp, body, 0 };
	CURLcode rc;

	resp->body.len = 0;
	resp->status = 0;
	setup_handle(c, h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
	hdr = curl_slist_append(hdr, "Expect:");
	if (auth && auth[0])
		hdr = curl_slist_append(hdr, auth);
	if (content_type) {
		snprintf(ct, sizeof ct, "Content-Type: %s", content_type);
		hdr = curl_slist_append(hdr, ct);
	}
	if (body && body->content_range) {
		snprintf(cr, sizeof cr, "Content-Range: %s", body->content_range);
		hdr = curl_slist_append(hdr, cr);
	}
	if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (body && (body->fd >= 0 || body->mem)) {
		uint64_t len = body->fd >= 0 ? body->len : body->mem_len;
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
	curl_err[0] = '\0';
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	curl_slist_free_all(hdr);
	return rc;
}

int client_request(struct client *c, CURL *h, const char *method, const char *path,
		   const char *scope, const char *content_type, const struct client_body *body,
		   int idempotent, struct client_resp *resp, char *err, size_t cap)
{
	char url[4096], auth[9000], curl_err[CURL_ERROR_SIZE];
	int reauthed = 0;

	client_abs_url(c, path, url, sizeof url);
	for (int attempt = 0;; attempt++) {
		CURLcode rc;
		auth_line(c, scope, auth, sizeof auth);
		rc = perform(c, h, method, url, content_type, body, auth, resp, curl_err);
		memset(auth, 0, sizeof auth);
		if (rc != CURLE_OK) {
			if (rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_PEER_FAILED_VERIFICATION) {
				tls_failure(c, rc, curl_err[0] ? curl_err : curl_easy_strerror(rc), err, cap);
				return -1;
			}
			if (idempotent && transient_curl(rc) && attempt + 1 < MAX_ATTEMPTS) {
				log_debug("%s %s: %s; retrying", method, url,
					  curl_err[0] ? curl_err : curl_easy_strerror(rc));
				backoff(attempt, 0);
				continue;
			}
			return log_fail(err, cap, "%s %s: %s", method, url,
				    curl_err[0] ? curl_err : curl_easy_strerror(rc));
		}
		if (resp->status == 401 && reauthed && c->auth_kind == 1 && c->have_creds)
			return log_fail(err, cap, "%s rejected the credentials of %s (HTTP 401)", c->host,
					c->user);
		if (resp->status == 401 && !reauthed && resp->www_auth[0]) {
			reauthed = 1;
			note_challenge(c, resp->www_auth);
			if (c->auth_kind == 2) {
				char sc[512];
				char realm[1024], service[256];
				parse_challenge(resp->www_auth, realm, sizeof realm, service, sizeof service,
						sc, sizeof sc);
				if (fetch_token(c, h, scope ? scope : sc, err, cap) < 0)
					return -1;
			} else if (!c->have_creds) {
				return log_fail(err, cap, "%s requires credentials: use --username with "
						      "--password-stdin, PACKHELPER_USERNAME/PASSWORD, or docker login",
					    c->host);
			}
			attempt--; /* an auth round is not a failure */
			continue;
		}
		if (idempotent && (resp->status == 408 || resp->status == 429 || resp->status == 500 || resp->status == 502 ||
				   resp->status == 503 || resp->status == 504) &&
		    attempt + 1 < MAX_ATTEMPTS) {
			log_debug("%s %s: HTTP %ld; retrying", method, url, resp->status);
			backoff(attempt, resp->retry_after);
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

int client_connect(struct client *c, CURL *h, char *err, size_t cap)
{
	char host[256];
	struct client_resp r;
	int rc;

	host_only(c->host, host, sizeof host);
	client_resp_init(&r);
	if (client_is_loopback(host) || c->opt.insecure) {
		/* does it answer plain HTTP as a registry? */
		char curl_err[CURL_ERROR_SIZE];
		snprintf(c->base, sizeof c->base, "http://%s", c->host);
		{
			char url[400];
			snprintf(url, sizeof url, "http://%s/v2/", c->host);
			if (perform(c, h, "GET", url, NULL, NULL, NULL, &r, curl_err) == CURLE_OK) {
				if (r.status == 200 || r.status == 401) {
					c->plain_http = 1;
					if (r.status == 401 && r.www_auth[0])
						note_challenge(c, r.www_auth);
					client_resp_free(&r);
					return 0;
				}
				if (r.status != 400) { /* 400: a TLS port that was sent plain HTTP */
					char d[256];
					client_describe(&r, d, sizeof d);
					client_resp_free(&r);
					return log_fail(err, cap, "%s does not look like a registry: GET %s gave %s",
							c->host, url, d);
				}
			}
		}
	}
	snprintf(c->base, sizeof c->base, "https://%s", c->host);
	rc = client_request(c, h, "GET", "/v2/", NULL, NULL, NULL, 1, &r, err, cap);
	if (rc == 0 && r.status != 200 && r.status != 401) {
		char d[256];
		client_describe(&r, d, sizeof d);
		rc = log_fail(err, cap, "%s does not look like a registry: GET /v2/ gave %s", c->host, d);
	}
	if (rc == 0 && r.status == 401 && r.www_auth[0])
		note_challenge(c, r.www_auth);
	client_resp_free(&r);
	return rc;
}
