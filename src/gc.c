/* gc.c - `packhelper gc`: options, the collection of a stopped store to the
 * end, one line per removal on stdout and the summary. */
#include "gc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "clock.h"
#include "log.h"
#include "store.h"

#define GC_GRACE_DEFAULT_MS (3600 * 1000)

static const char gc_usage[] =
	"usage: packhelper gc [--root DIR] [--dry-run] [--grace DURATION] [--delete-untagged] [-q]\n"
	"  removes the blobs no manifest of their repository references (held longer than\n"
	"  --grace, default 1h) and upload leftovers from a store no server has open\n";

struct gc_out {
	int dry_run;
	int quiet;
};

static void print_removal(void *arg, const char *what, const char *repo, const char *name,
			  uint64_t size)
{
	const struct gc_out *out = arg;
	const char *verb = out->dry_run ? "would remove" : "removed";
	if (out->quiet)
		return;
	if (strcmp(what, "link") == 0)
		printf("%s link %s@%s\n", verb, repo, name);
	else if (strcmp(what, "manifest") == 0)
		printf("%s untagged manifest %s@%s (%llu bytes)\n", verb, repo, name,
		       (unsigned long long)size);
	else if (strcmp(what, "orphan") == 0)
		printf("%s blob %s (%llu bytes, held by no repository)\n", verb, name,
		       (unsigned long long)size);
	else if (strcmp(what, "upload") == 0)
		printf("%s upload leftover %s (%llu bytes)\n", verb, name, (unsigned long long)size);
	else
		printf("%s blob %s (%llu bytes)\n", verb, name, (unsigned long long)size);
}

int gc_main(int argc, char **argv)
{
	const char *root = getenv("PACKHELPER_ROOT") ? getenv("PACKHELPER_ROOT")
						     : "/var/lib/packhelper";
	struct store_gc_options o = { .grace_ms = GC_GRACE_DEFAULT_MS };
	struct gc_out out = { 0 };
	struct timespec wall;
	struct stat sb;
	struct store *st;
	char line[512];

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--root") == 0) {
			root = cli_arg(argc, argv, &i, gc_usage);
		} else if (strcmp(a, "--grace") == 0) {
			const char *v = cli_arg(argc, argv, &i, gc_usage);
			o.grace_ms = cli_duration_ms(v);
			if (o.grace_ms < 0)
				fatal(2, "gc: --grace: expected a duration up to a day (30m, 1h, 0), "
					 "got %s", v);
		} else if (strcmp(a, "--dry-run") == 0 || strcmp(a, "-n") == 0) {
			out.dry_run = 1;
		} else if (strcmp(a, "--delete-untagged") == 0) {
			o.untagged = 1;
		} else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
			out.quiet = 1;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(gc_usage, stdout);
			return 0;
		} else {
			fatal(2, "gc: unknown option %s\n%s", a, gc_usage);
		}
	}
	log_level = log_level < LOG_WARN ? log_level : LOG_WARN;
	if (stat(root, &sb) < 0 || !S_ISDIR(sb.st_mode))
		fatal(1, "gc: no store at %s", root); /* and not a new empty one */
	if (store_open(&st, root, STORE_FOR_GC | (out.dry_run ? STORE_READ_ONLY : 0)) < 0)
		fatal(1, "gc: cannot open the store at %s", root);
	clock_gettime(CLOCK_REALTIME, &wall);
	o.wall_ms = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
	o.dry_run = out.dry_run;
	o.report = print_removal;
	o.arg = &out;
	if (store_gc_start(st, &o, clock_ms()) < 0) {
		store_close(st);
		fatal(1, "gc: cannot collect the store at %s", root);
	}
	while (store_gc_step(st, clock_ms()))
		;
	store_gc_describe(store_gc_stats(st), out.dry_run, line, sizeof line);
	printf("gc: %s\n", line);
	fflush(stdout);
	store_close(st);
	return 0;
}
