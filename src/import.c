/* import.c - import specs, loading, and the `import` verb. */
#include "import.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "log.h"
#include "store.h"

int import_parse_spec(const char *arg, struct import_spec *spec, char *err, size_t cap)
{
	const char *eq = strrchr(arg, '=');
	const char *hash;
	size_t n;

	memset(spec, 0, sizeof *spec);
	n = eq ? (size_t)(eq - arg) : strlen(arg);
	if (eq) {
		if (image_parse_ref(eq + 1, spec->repo, spec->tag) < 0)
			return log_fail(err, cap, "--import %s: %s is not a valid REPO[:TAG]", arg, eq + 1);
	}
	if (n == 0 || n >= sizeof spec->src)
		return log_fail(err, cap, "--import %s: no source", arg);
	memcpy(spec->src, arg, n);
	spec->src[n] = '\0';
	hash = strrchr(spec->src, '#');
	if (hash && strncmp(spec->src, "docker://", 9) != 0) {
		snprintf(spec->select, sizeof spec->select, "%s", hash + 1);
		spec->src[hash - spec->src] = '\0';
		if (!spec->select[0] || !spec->src[0])
			return log_fail(err, cap, "--import %s: empty #NAME or source", arg);
	}
	if (strncmp(spec->src, "docker://", 9) == 0) {
		const char *image = spec->src + 9;
		if (!*image)
			return log_fail(err, cap, "--import %s: docker:// needs an image name", arg);
		/* docker save IMAGE names it in RepoTags (unless IMAGE is an id) */
		if (!spec->repo[0] && image_parse_ref(image, spec->repo, spec->tag) < 0)
			return log_fail(err, cap, "--import %s: give =REPO:TAG for %s", arg, image);
	}
	return 0;
}

int import_mode_parse(const char *s)
{
	if (strcmp(s, "auto") == 0)
		return IMPORT_AUTO;
	if (strcmp(s, "copy") == 0)
		return IMPORT_COPY;
	if (strcmp(s, "in-place") == 0)
		return IMPORT_IN_PLACE;
	return -1;
}

int import_mode_flags(enum import_mode mode)
{
	switch (mode) {
	case IMPORT_IN_PLACE:
		return SOURCE_SERVE | SOURCE_SERVE_ONLY;
	case IMPORT_AUTO:
		return SOURCE_SERVE;
	default:
		return 0;
	}
}

int import_load(const struct tmpdir *tmp, const struct import_spec *spec, int flags,
		struct source *src, struct image_set *set, char *err, size_t cap)
{
	int r;
	const char *select = spec->select[0] ? spec->select : NULL;

	if (strcmp(spec->src, "-") == 0) {
		r = source_open_fd(src, tmp, 0, "stdin", flags, err, cap);
	} else if (strncmp(spec->src, "docker://", 9) == 0) {
		if (flags & SOURCE_SERVE_ONLY) {
			log_fail(err, cap, "%s cannot be served in place (a stream from the daemon); "
				 "--import-mode copy or auto copies it", spec->src);
			return -1;
		}
		r = source_open_daemon(src, tmp, spec->src + 9, err, cap);
	} else
		r = source_open_path(src, tmp, spec->src, flags, err, cap);
	if (r < 0) {
		source_close(src);
		return -1;
	}
	if (image_load(src, select, spec->repo[0] ? spec->repo : NULL,
		       spec->repo[0] ? spec->tag : NULL, spec->platform, set, err, cap) < 0) {
		source_close(src);
		return -1;
	}
	return 0;
}

static const char import_usage[] =
	"usage: packhelper import SRC[#NAME] [REPO[:TAG]] [--root DIR] [--import-mode copy|in-place|auto]\n"
	"  SRC: docker-save tarball, OCI layout (dir or tar), - (stdin), docker://IMAGE\n"
	"  --import-mode: copy (the default here: the store stands alone), or serve\n"
	"  the tarball or layout directory in place (it must then stay as it is)\n";

int import_main(int argc, char **argv)
{
	const char *root = getenv("PACKHELPER_ROOT") ? getenv("PACKHELPER_ROOT") : "/var/lib/packhelper";
	const char *srcarg = NULL, *target = NULL;
	char arg[8192], err[1024];
	struct import_spec spec;
	struct store *st;
	struct source src;
	struct image_set set;
	int rc = 0, mode = IMPORT_COPY;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--root") == 0)
			root = cli_arg(argc, argv, &i, import_usage);
		else if (strcmp(argv[i], "--import-mode") == 0) {
			const char *v = cli_arg(argc, argv, &i, import_usage);
			if ((mode = import_mode_parse(v)) < 0)
				fatal(2, "import: --import-mode: expected copy, in-place or auto, got %s", v);
		}
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			fputs(import_usage, stdout);
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1])
			fatal(2, "import: unknown option %s\n%s", argv[i], import_usage);
		else if (!srcarg)
			srcarg = argv[i];
		else if (!target)
			target = argv[i];
		else
			fatal(2, "import: too many arguments\n%s", import_usage);
	}
	if (!srcarg)
		fatal(2, "import: no source\n%s", import_usage);
	snprintf(arg, sizeof arg, "%s%s%s", srcarg, target ? "=" : "", target ? target : "");
	if (import_parse_spec(arg, &spec, err, sizeof err) < 0)
		fatal(2, "import: %s", err);
	log_level = log_level < LOG_WARN ? log_level : LOG_WARN;
	if (store_open(&st, root, 0) < 0)
		fatal(1, "import: cannot open the store at %s", root);
	if (import_load(store_tmpdir(st), &spec, import_mode_flags((enum import_mode)mode), &src, &set,
			err, sizeof err) < 0) {
		store_close(st);
		fatal(1, "import: %s", err);
	}
	for (size_t i = 0; i < set.n && rc == 0; i++) {
		if (image_commit(st, &src, &set.v[i], err, sizeof err) < 0) {
			fprintf(stderr, "packhelper: import: %s\n", err);
			rc = 1;
			break;
		}
		printf("%s%s%s %s\n", set.v[i].repo, set.v[i].tag[0] ? ":" : "@",
		       set.v[i].tag[0] ? set.v[i].tag : image_digest(&set.v[i]), image_digest(&set.v[i]));
	}
	source_close(&src);
	image_set_free(&set);
	store_close(st);
	return rc;
}
