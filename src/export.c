/* export.c - `packhelper export`, the verb, and export_ref: one reference's
 * images into a file sink (export.h). */
#include "export.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "clock.h"
#include "import.h"
#include "log.h"
#include "map.h"
#include "platform.h"
#include "ref.h"
#include "regsink.h"
#include "transfer.h"

static const char usage[] =
	"usage: packhelper export [options] REF... -o FILE|DIR/|-\n"
	"  REF  host[:port]/repo[:tag|@digest], or what --import reads:\n"
	"       SRC[#NAME][=REPO[:TAG]] (a docker-save tarball, an OCI layout,\n"
	"       - for stdin, docker://IMAGE; every image in it by default)\n"
	"  -o, --output FILE       write a tar there (a temporary file renamed at\n"
	"                          the end: no partial file on failure); DIR/ (a\n"
	"                          trailing slash): an OCI layout directory, which\n"
	"                          must not exist or be empty; -: the tar on stdout\n"
	"options:\n"
	"  --format oci|docker     oci (default): an OCI image layout holding every\n"
	"                          image, all platforms, digests kept, that serve\n"
	"                          --import restores under the same names; docker:\n"
	"                          a docker-save tarball for docker load, one\n"
	"                          platform per image, layers uncompressed\n"
	"  --platform OS/ARCH[/VARIANT]  that platform's manifest of an index, as\n"
	"                          it is (docker: default the host's)\n"
	"  -r, --referrers         the referrers of every manifest, too (oci)\n"
	"  --insecure              allow plain HTTP and any certificate\n"
	"  --ca-file FILE          trust this CA bundle for HTTPS\n"
	"  --timeout DURATION      give up after this long (default 1h; 0: none)\n"
	"  --stall-timeout DURATION  a request that moves under 1 KiB/s this long\n"
	"                          fails (default 60s)\n"
	"  -q, --quiet             no summary\n"
	"  -v, --verbose           show the HTTP exchange (secrets masked)\n"
	"Prints REF DIGEST per image on stdout (not with -o -).\n"
	"environment: DOCKER_CONFIG (credentials, each for its own registry), TMPDIR\n";

int export_is_file_source(const char *s)
{
	char path[4096];
	struct stat sb;
	const char *hash = strrchr(s, '#'), *eq = strrchr(s, '=');
	size_t n = strlen(s);
	if (strcmp(s, "-") == 0 || strncmp(s, "-=", 2) == 0 || strncmp(s, "docker://", 9) == 0)
		return 1;
	if (eq && (!hash || eq > hash))
		n = (size_t)(eq - s);
	if (hash && (size_t)(hash - s) < n)
		n = (size_t)(hash - s);
	if (n >= sizeof path)
		return 0;
	memcpy(path, s, n);
	path[n] = '\0';
	return stat(path, &sb) == 0;
}

void export_src_close(struct export_src *x)
{
	if (x->open)
		regsrc_close(&x->rs);
	x->open = 0;
}

/* The full repository name of r, as the source names it: "host/repo", and
 * docker.io/library/x for Docker Hub (containerd's form). */
static void full_repo(const struct ref *r, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s", ref_is_hub(r) ? "docker.io" : r->host, r->repo);
}

static int export_registry(struct export_src *x, struct sink_file *f, const char *arg,
			   const char *as_repo, const char *as_tag, char digest[DIGEST_STR_MAX],
			   struct sink_stats *st, char *err, size_t cap)
{
	struct ref r;
	struct descriptor top;
	struct image *imgs = NULL;
	size_t n = 0;
	struct map seen;
	char full[SINK_FILE_REPO_MAX], why[512];
	const char *tag;
	int rc = -1;

	map_init(&seen);
	if (ref_parse(arg, strlen(arg), &r, why, sizeof why) < 0) {
		log_fail(err, cap, "%s is neither a file nor host[:port]/repo[:tag|@digest] (%s)", arg,
			 why);
		goto out;
	}
	if (x->open && strcmp(x->rs.host, r.host) != 0)
		export_src_close(x);
	if (!x->open) {
		if (regsrc_open(&x->rs, r.host, x->copt, err, cap) < 0)
			goto out;
		x->open = 1;
	}
	if (regsrc_resolve(&x->rs, r.repo, r.digest[0] ? r.digest : r.tag, &top, err, cap) != 0)
		goto out;
	if (!(imgs = calloc(1, sizeof *imgs))) {
		log_fail(err, cap, "out of memory");
		goto out;
	}
	n = 1;
	if (regsrc_image(&x->rs, &top, x->pf, &imgs[0], err, cap) < 0)
		goto out;
	for (size_t m = 0; m < imgs[0].nmanifests; m++)
		if (map_put(&seen, imgs[0].manifests[m].digest, (void *)1) < 0) {
			log_fail(err, cap, "out of memory");
			goto out;
		}
	if (x->referrers) {
		int deeper = 0;
		if (regsrc_add_referrers(&x->rs, &imgs, &n, &seen, &deeper, err, cap) < 0)
			goto out;
		if (deeper && !x->quiet)
			fprintf(stderr, "packhelper: %s: note: referrers deeper than %d levels are left "
				"out\n", x->verb, REGSRC_REFERRERS_DEPTH);
	}
	full_repo(&r, full, sizeof full);
	if (as_repo)
		sink_file_name(f, as_repo, as_repo);
	else
		sink_file_name(f, full, ref_familiar_name(&r));
	tag = as_tag ? as_tag : r.digest[0] ? NULL : r.tag;
	{
		struct sink_from from = { .reader = &x->rs.reader };
		if (transfer_images(&f->sink, &from, imgs, n, tag, st, err, cap) < 0)
			goto out;
	}
	snprintf(digest, DIGEST_STR_MAX, "%s", image_digest(&imgs[0]));
	rc = 0;
out:
	for (size_t i = 0; i < n; i++)
		image_free(&imgs[i]);
	free(imgs);
	map_free(&seen);
	return rc;
}

static int export_file(struct export_src *x, struct sink_file *f, const char *arg,
		       const char *as_repo, const char *as_tag, char digest[DIGEST_STR_MAX],
		       struct sink_stats *st, char *err, size_t cap)
{
	struct import_spec spec;
	struct source src;
	struct image_set set;
	int rc = -1;

	if (import_parse_spec(arg, &spec, err, cap) < 0)
		return -1;
	if (as_repo) {
		snprintf(spec.repo, sizeof spec.repo, "%s", as_repo);
		snprintf(spec.tag, sizeof spec.tag, "%s", as_tag ? as_tag : "latest");
	}
	spec.platform = x->pf;
	if (import_load(x->scratch, &spec, SOURCE_IN_PLACE, &src, &set, err, cap) < 0)
		return -1;
	for (size_t i = 0; i < set.n; i++) {
		struct image *img = &set.v[i];
		struct sink_from from = { .src = &src, .scratch = x->scratch };
		sink_file_name(f, img->repo, img->repo);
		if (transfer_images(&f->sink, &from, img, 1, img->tag[0] ? img->tag : NULL, st, err,
				    cap) < 0)
			goto out;
		snprintf(digest, DIGEST_STR_MAX, "%s", image_digest(img));
	}
	rc = 0;
out:
	image_set_free(&set);
	source_close(&src);
	return rc;
}

int export_ref(struct export_src *x, struct sink_file *f, const char *ref, const char *as_repo,
	       const char *as_tag, char digest[DIGEST_STR_MAX], struct sink_stats *st, char *err,
	       size_t cap)
{
	if (export_is_file_source(ref)) {
		if (x->referrers && !x->quiet)
			fprintf(stderr, "packhelper: %s: note: %s is a file: its referrers are those "
				"its index.json lists\n", x->verb, ref);
		return export_file(x, f, ref, as_repo, as_tag, digest, st, err, cap);
	}
	return export_registry(x, f, ref, as_repo, as_tag, digest, st, err, cap);
}

int export_main(int argc, char **argv)
{
	struct regsink_opts o;
	struct export_src x;
	struct platform platform;
	struct tmpdir scratch;
	struct sink_file f;
	struct sink_stats st;
	enum sink_file_format fmt = SINK_FILE_OCI;
	const char *out = NULL, *refs[256];
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char err[2048], (*digests)[DIGEST_STR_MAX] = NULL;
	size_t nrefs = 0, len;
	int have_pf = 0, dir, quiet = 0, referrers = 0;
	int64_t t0;

	regsink_opts_init(&o, "export");
	o.copt.config_creds_only = 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (regsink_option(&o, argc, argv, &i, usage)) {
			continue;
		} else if (strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
			out = cli_arg(argc, argv, &i, usage);
		} else if (strcmp(a, "--format") == 0) {
			const char *v = cli_arg(argc, argv, &i, usage);
			if (strcmp(v, "oci") == 0)
				fmt = SINK_FILE_OCI;
			else if (strcmp(v, "docker") == 0)
				fmt = SINK_FILE_DOCKER;
			else
				fatal(2, "export: --format takes oci or docker, not \"%s\"", v);
		} else if (strcmp(a, "--platform") == 0) {
			const char *v = cli_arg(argc, argv, &i, usage);
			if (platform_parse(v, &platform) < 0)
				fatal(2, "export: --platform takes os/arch[/variant], such as linux/arm64, "
					 "not \"%s\"", v);
			have_pf = 1;
		} else if (strcmp(a, "-r") == 0 || strcmp(a, "--referrers") == 0) {
			referrers = 1;
		} else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
			quiet = 1;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage, stdout);
			return 0;
		} else if (a[0] == '-' && a[1] && strncmp(a, "-=", 2) != 0) {
			fatal(2, "export: unknown option %s (packhelper export --help)", a);
		} else if (nrefs < sizeof refs / sizeof *refs) {
			refs[nrefs++] = a;
		} else {
			fatal(2, "export: at most %zu REFs", sizeof refs / sizeof *refs);
		}
	}
	if (!out)
		fatal(2, "export: no output: -o FILE, -o DIR/ or -o - (packhelper export --help)");
	if (!nrefs)
		fatal(2, "export: no REF to export (packhelper export --help)");
	len = strlen(out);
	dir = len > 1 && out[len - 1] == '/';
	if (fmt == SINK_FILE_DOCKER && dir)
		fatal(2, "export: --format docker writes a tar, not a directory (%s)", out);
	if (fmt == SINK_FILE_DOCKER && referrers)
		fatal(2, "export: a docker-save tarball has no place for referrers (-r needs --format "
			 "oci)");
	if (strcmp(out, "-") == 0 && isatty(1))
		fatal(2, "export: -o - would write a tar to a terminal");
	if (fmt == SINK_FILE_DOCKER && !have_pf) {
		platform_host(&platform);
		have_pf = 1;
	}
	regsink_opts_start(&o, quiet);
	memset(&x, 0, sizeof x);
	x.copt = &o.copt;
	x.pf = have_pf ? &platform : NULL;
	x.referrers = referrers;
	x.quiet = quiet;
	x.verb = "export";
	x.scratch = &scratch;
	if (tmpdir_make(&scratch, tmp, "packhelper-export-", "export-") < 0)
		fatal(1, "export: cannot create a scratch directory in %s: %s", tmp, strerror(errno));
	memset(&st, 0, sizeof st);
	t0 = clock_us();
	if (sink_file_open(&f, fmt, out, dir, &scratch, err, sizeof err) < 0) {
		tmpdir_fini(&scratch);
		fatal(1, "export: %s", err);
	}
	if (!(digests = calloc(nrefs, sizeof *digests)))
		fatal(1, "export: out of memory");
	for (size_t i = 0; i < nrefs; i++) {
		if (export_ref(&x, &f, refs[i], NULL, NULL, digests[i], &st, err, sizeof err) < 0) {
			sink_file_close(&f);
			export_src_close(&x);
			tmpdir_fini(&scratch);
			fatal(1, "export: %s: %s%s", refs[i], err,
			      strcmp(out, "-") == 0 ? "" : " (nothing written)");
		}
	}
	if (sink_file_commit(&f, err, sizeof err) < 0) {
		sink_file_close(&f);
		export_src_close(&x);
		tmpdir_fini(&scratch);
		fatal(1, "export: %s", err);
	}
	if (strcmp(out, "-") != 0)
		for (size_t i = 0; i < nrefs; i++)
			printf("%s %s\n", refs[i], digests[i]);
	fflush(stdout);
	if (!quiet)
		fprintf(stderr, "exported %zu reference%s to %s in %.2f s: %lu manifests, %lu blobs "
			"(%.1f MiB), %lu shared\n", nrefs, nrefs == 1 ? "" : "s", out,
			(double)(clock_us() - t0) / 1e6, st.manifests_put, st.blobs_sent,
			(double)st.bytes_sent / 1048576.0, st.blobs_found);
	sink_file_close(&f);
	export_src_close(&x);
	tmpdir_fini(&scratch);
	free(digests);
	return 0;
}
