/* main.c - verb dispatch, usage and exit codes.
 *
 * Exit status: 0 success, 1 failure, 2 usage error. */
#include <stdio.h>
#include <string.h>

#include <archive.h>
#include <curl/curl.h>

#include <signal.h>

#include "copy.h"
#include "digest.h"
#include "export.h"
#include "gc.h"
#include "import.h"
#include "log.h"
#include "probe.h"
#include "push.h"
#include "serve.h"

#ifndef PACKHELPER_VERSION
#define PACKHELPER_VERSION "dev"
#endif

static const char usage[] =
	"usage: packhelper <command> [options]\n"
	"\n"
	"commands:\n"
	"  serve     run the OCI registry, optionally importing images first\n"
	"  import    load images into a store without a server\n"
	"  push      push an image from a file, stdin or the docker daemon to a registry\n"
	"  gc        remove unreferenced blobs and upload leftovers from a stopped store\n"
	"  copy      copy images between registries, digests kept (or from a file)\n"
	"  export    write images into one OCI layout or docker-save tarball\n"
	"  probe     exit 0 when a registry is ready (the image's HEALTHCHECK)\n"
	"  version   print the version, the libraries built in and the SHA-256 in use\n"
	"  help      this text\n";

static int version_main(void)
{
	const char *sha = digest_sha256_hw();
	printf("packhelper %s\n%s\n%s\nsha256: %s\n", PACKHELPER_VERSION, curl_version(),
	       archive_version_details(), sha ? sha : "bearssl");
	return 0;
}

int main(int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : "serve";

	/* a reader that goes away must be an error, not a signal */
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatal(1, "cannot initialise libcurl");

	if (strcmp(verb, "serve") == 0)
		return serve_main(argc > 1 ? argc - 1 : argc, argc > 1 ? argv + 1 : argv);
	if (strcmp(verb, "import") == 0)
		return import_main(argc - 1, argv + 1);
	if (strcmp(verb, "push") == 0)
		return push_main(argc - 1, argv + 1);
	if (strcmp(verb, "gc") == 0)
		return gc_main(argc - 1, argv + 1);
	if (strcmp(verb, "copy") == 0)
		return copy_main(argc - 1, argv + 1);
	if (strcmp(verb, "export") == 0)
		return export_main(argc - 1, argv + 1);
	if (strcmp(verb, "probe") == 0)
		return probe_main(argc - 1, argv + 1);
	if (strcmp(verb, "version") == 0 || strcmp(verb, "--version") == 0)
		return version_main();
	if (strcmp(verb, "help") == 0 || strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	/* `docker run IMAGE --listen ...` passes serve options straight through */
	if (verb[0] == '-')
		return serve_main(argc, argv);
	fprintf(stderr, "packhelper: unknown command %s\n%s", verb, usage);
	return 2;
}
