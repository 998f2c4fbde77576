/* probe.c - `packhelper probe`: is the registry ready?  The image's own
 * HEALTHCHECK (there is no shell or curl in it).
 *
 * Default target: the local server's readiness endpoint, on the port of
 * PACKHELPER_LISTEN (5000 if unset).  Exit 0 when ready, 1 when not, 2 on a
 * usage error. */
#include "probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cli.h"
#include "clock.h"
#include "log.h"

static const char usage[] =
	"usage: packhelper probe [URL | HOST:PORT] [--wait DURATION] [--timeout DURATION]\n"
	"                        [--tcp] [-q]\n"
	"  default: http://127.0.0.1:<port of PACKHELPER_LISTEN, or 5000>/readyz\n";

/* The port of a listen spec such as "0.0.0.0:5000" or "[::]:5000". */
static const char *listen_port(void)
{
	const char *l = getenv("PACKHELPER_LISTEN");
	const char *colon = l ? strrchr(l, ':') : NULL;
	return colon && colon[1] ? colon + 1 : "5000";
}

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

/* One HTTP attempt: 0 ready (2xx), 1 not; why gets the reason. */
static int probe_http(const char *url, long timeout_ms, char *why, size_t cap)
{
	CURL *c = curl_easy_init();
	char errbuf[CURL_ERROR_SIZE] = "";
	long status = 0;
	CURLcode rc;

	if (!c) {
		snprintf(why, cap, "cannot start libcurl");
		return 1;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK) {
		snprintf(why, cap, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
		return 1;
	}
	if (status < 200 || status > 299) {
		snprintf(why, cap, "HTTP %ld", status);
		return 1;
	}
	return 0;
}

/* One TCP connect attempt to host:port. */
static int probe_tcp(const char *host, const char *port, long timeout_ms, char *why, size_t cap)
{
	CURL *c = curl_easy_init();
	char url[600], errbuf[CURL_ERROR_SIZE] = "";
	CURLcode rc;

	if (!c) {
		snprintf(why, cap, "cannot start libcurl");
		return 1;
	}
	snprintf(url, sizeof url, strchr(host, ':') && host[0] != '[' ? "http://[%s]:%s/" : "http://%s:%s/",
		 host, port);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	rc = curl_easy_perform(c);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK) {
		snprintf(why, cap, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
		return 1;
	}
	return 0;
}

int probe_main(int argc, char **argv)
{
	const char *target = NULL;
	int64_t wait_ms = 0, timeout_ms = 2000;
	int tcp = 0, quiet = 0;
	char url[1024], host[512], port[16], why[512] = "";
	int64_t deadline;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--wait") == 0) {
			wait_ms = cli_duration_ms(cli_arg(argc, argv, &i, usage));
			if (wait_ms < 0)
				fatal(2, "probe: --wait: expected a duration such as 30s");
		} else if (strcmp(a, "--timeout") == 0) {
			timeout_ms = cli_duration_ms(cli_arg(argc, argv, &i, usage));
			if (timeout_ms <= 0)
				fatal(2, "probe: --timeout: expected a duration such as 2s");
		} else if (strcmp(a, "--tcp") == 0) {
			tcp = 1;
		} else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
			quiet = 1;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage, stdout);
			return 0;
		} else if (a[0] == '-') {
			fatal(2, "probe: unknown option %s\n%s", a, usage);
		} else if (!target) {
			target = a;
		} else {
			fatal(2, "probe: too many arguments\n%s", usage);
		}
	}
	/* target: a URL, HOST:PORT, or the local default */
	snprintf(host, sizeof host, "127.0.0.1");
	snprintf(port, sizeof port, "%s", listen_port());
	if (target && strstr(target, "://")) {
		if (tcp)
			fatal(2, "probe: --tcp takes HOST:PORT, not a URL");
		snprintf(url, sizeof url, "%s", target);
	} else {
		if (target) {
			const char *colon = strrchr(target, ':');
			if (!colon || !colon[1] || (size_t)(colon - target) >= sizeof host ||
			    strlen(colon + 1) >= sizeof port)
				fatal(2, "probe: expected URL or HOST:PORT, got %s", target);
			snprintf(host, sizeof host, "%.*s", (int)(colon - target), target);
			snprintf(port, sizeof port, "%s", colon + 1);
		}
		snprintf(url, sizeof url,
			 strchr(host, ':') && host[0] != '[' ? "http://[%s]:%s/readyz" : "http://%s:%s/readyz",
			 host, port);
	}
	deadline = clock_ms() + wait_ms;
	for (;;) {
		int64_t t0 = clock_ms();
		int r = tcp ? probe_tcp(host, port, (long)timeout_ms, why, sizeof why)
			    : probe_http(url, (long)timeout_ms, why, sizeof why);
		if (r == 0) {
			if (!quiet)
				printf("ready: %s\n", tcp ? host : url);
			return 0;
		}
		if (t0 >= deadline)
			break;
		/* retry every 50 ms, never past the deadline */
		{
			int64_t left = deadline - clock_ms();
			if (left <= 0)
				break;
			usleep((useconds_t)((left < 50 ? left : 50) * 1000));
		}
	}
	if (!quiet)
		fprintf(stderr, "packhelper: probe: not ready: %s: %s\n", tcp ? host : url, why);
	return 1;
}
