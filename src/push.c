/* push.c - `packhelper push`, the verb: options and usage, loading the
 * image (import.c, image.c), then for each target its blobs (push_blob.c,
 * with progress.c on a TTY), all at once, and the manifests last. */
#include "push.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "credhelper.h"
#include "clock.h"
#include "image.h"
#include "import.h"
#include "log.h"
#include "push_blob.h"
#include "ref.h"
#include "regsink.h"
#include "tmpdir.h"

#define MAX_REFS 32
#define MAX_TAGS 32

static const char usage[] =
	"usage: packhelper push [options] SRC[#NAME] REF [REF...]\n"
	"  SRC  docker-save tarball, OCI layout (dir or tar), - (stdin), docker://IMAGE\n"
	"  REF  host[:port]/repo[:tag|@digest]\n"
	"options:\n"
	"  -t, --tag TAG           push this tag too (repeatable)\n"
	"  --insecure              allow plain HTTP and any certificate\n"
	"  --ca-file FILE          trust this CA bundle for HTTPS\n"
	"  -u, --username USER     with --password-stdin\n"
	"  --password-stdin        read the password from stdin\n"
	"  --mount-from REPO       try a cross-repository mount from REPO first\n"
	"  -j, --jobs N            parallel blob uploads (default 4)\n"
	"  --compression none|gzip layers as they are (default) or gzip-compressed\n"
	"  --gzip-level N          1 (fast, default) to 9\n"
	"  --format oci|docker     manifest format for docker-save sources (default oci)\n"
	"  --chunk-size SIZE       blobs up to SIZE go in one PUT, larger ones in\n"
	"                          PATCHes of SIZE that resume (default 128M)\n"
	"  -q, --quiet             only the digest on stdout\n"
	"  --timeout DURATION      give up when the whole push takes longer\n"
	"                          (default 1h; 0: no limit)\n"
	"  --stall-timeout DURATION  a request that moves under 1 KiB/s this long\n"
	"                          fails (default 60s; retried once if it may be)\n"
	"  -v, --verbose           show the HTTP exchange (secrets masked)\n"
	"environment: PACKHELPER_USERNAME, PACKHELPER_PASSWORD, DOCKER_CONFIG (config.json:\n"
	"  credHelpers, credsStore, auths; helpers docker-credential-NAME on PATH), TMPDIR\n";

struct push {
	/* options */
	struct regsink_opts o;    /* o.gzip_level 0 until --compression gzip */
	int gzip;
	int gzip_level;
	int quiet;
	/* the loaded image, the same for every target */
	struct tmpdir scratch;    /* the source's temporary files, compressed layers:
	                             our own directory in $TMPDIR, removed whole */
	struct source *src;       /* the image's files (tar members read in place) */
};

/* Before the blobs: media types for --format docker. */
static void prepare_image(const struct push *p, struct image *img)
{
	if (!img->generated || p->o.format != IMAGE_FORMAT_DOCKER)
		return;
	snprintf(img->blobs[img->config].media_type, MEDIA_TYPE_MAX,
		 "application/vnd.docker.container.image.v1+json");
	for (size_t i = 0; i < img->nblobs; i++)
		if (strcmp(img->blobs[i].media_type, "application/vnd.oci.image.layer.v1.tar") == 0)
			snprintf(img->blobs[i].media_type, MEDIA_TYPE_MAX,
				 "application/vnd.docker.image.rootfs.diff.tar");
}

/* After the blobs: rebuild a docker-save image's manifest from what the
 * layers now are (compressed, or in the docker format). */
static int finish_manifest(const struct push *p, struct image *img, char *err, size_t cap)
{
	struct buf m;
	const struct image_blob **lp;
	struct image_manifest *top = &img->manifests[img->nmanifests - 1];

	if (!img->generated || (!p->gzip && p->o.format == IMAGE_FORMAT_OCI))
		return 0;
	lp = calloc(img->nlayers ? img->nlayers : 1, sizeof *lp);
	if (!lp)
		return log_fail(err, cap, "out of memory");
	for (size_t i = 0; i < img->nlayers; i++)
		lp[i] = &img->blobs[img->layers[i]];
	buf_init(&m, (size_t)4 << 20);
	if (image_write_manifest(&m, p->o.format, &img->blobs[img->config], lp, img->nlayers) < 0) {
		free(lp);
		buf_free(&m);
		return log_fail(err, cap, "manifest too large");
	}
	free(lp);
	free(top->bytes);
	top->bytes = m.p;
	top->len = m.len;
	digest_of(DIGEST_SHA256, m.p, m.len, top->digest);
	snprintf(top->media_type, MEDIA_TYPE_MAX, "%s",
		 p->o.format == IMAGE_FORMAT_DOCKER ? MT_DOCKER_MANIFEST : MT_OCI_MANIFEST);
	return 0;
}

/* Push img to one target: blobs (layers first, then configs), then
 * manifests, children by digest, the top by tag (or digest), extra tags. */
static int push_image(const struct push *p, struct image *img, const struct ref *ref,
		      const char *const *tags, size_t ntags, char *err, size_t cap)
{
	struct regsink k;
	struct sink_stats st;
	struct sink_from from = { .src = p->src, .scratch = &p->scratch };
	int rc = -1;
	int64_t t0;

	memset(&st, 0, sizeof st);
	if (regsink_open(&k, ref, &p->o, err, cap) < 0)
		return -1;
	t0 = clock_us();
	if (k.sink.ops->put_blobs(&k, img, NULL, &from, &st, err, cap) < 0)
		goto out;
	if (finish_manifest(p, img, err, cap) < 0)
		goto out;
	for (size_t i = 0; i < img->nmanifests; i++) {
		const struct image_manifest *m = &img->manifests[i];
		int top = i + 1 == img->nmanifests;
		if (!top || ref->digest[0]) {
			if (top && strcmp(ref->digest, m->digest) != 0) {
				log_fail(err, cap, "%s@%s: the image's manifest is %s", ref->repo, ref->digest,
					 m->digest);
				goto out;
			}
			if (k.sink.ops->put_manifest(&k, m, m->digest, &st, err, cap) < 0)
				goto out;
		}
		if (top) {
			if (ref->tag[0] && k.sink.ops->put_manifest(&k, m, ref->tag, &st, err, cap) < 0)
				goto out;
			for (size_t t = 0; t < ntags; t++)
				if (k.sink.ops->put_manifest(&k, m, tags[t], &st, err, cap) < 0)
					goto out;
		}
	}
	if (!p->quiet)
		fprintf(stderr, "pushed %s/%s%s%s %s in %.2f s\n", ref->host, ref->repo,
			ref->tag[0] ? ":" : "", ref->tag, image_digest(img),
			(double)(clock_us() - t0) / 1e6);
	rc = 0;
out:
	regsink_close(&k);
	return rc;
}

int push_main(int argc, char **argv)
{
	struct push p;
	const char *srcarg = NULL, *refs[MAX_REFS], *tags[MAX_TAGS];
	size_t nrefs = 0, ntags = 0;
	int password_stdin = 0;
	char err[2048];
	static char pass[CRED_SECRET_MAX + 2]; /* one more to see a longer one */
	struct import_spec spec;
	struct source src;
	struct image_set set;
	struct ref parsed[MAX_REFS];
	int rc = 0;

	memset(&p, 0, sizeof p);
	regsink_opts_init(&p.o, "push");
	p.gzip_level = 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (regsink_option(&p.o, argc, argv, &i, usage)) {
			continue;
		} else if (strcmp(a, "-t") == 0 || strcmp(a, "--tag") == 0) {
			if (ntags == MAX_TAGS)
				fatal(2, "push: at most %d --tag", MAX_TAGS);
			tags[ntags] = cli_arg(argc, argv, &i, usage);
			if (!ref_tag_valid(tags[ntags]))
				fatal(2, "push: --tag %s is not a valid tag", tags[ntags]);
			ntags++;
		} else if (strcmp(a, "-u") == 0 || strcmp(a, "--username") == 0) {
			p.o.copt.username = cli_arg(argc, argv, &i, usage);
		} else if (strcmp(a, "--password-stdin") == 0) {
			password_stdin = 1;
		} else if (strcmp(a, "--mount-from") == 0) {
			p.o.mount_from = cli_arg(argc, argv, &i, usage);
			if (!ref_name_valid(p.o.mount_from))
				fatal(2, "push: --mount-from %s is not a repository name", p.o.mount_from);
		} else if (strcmp(a, "--compression") == 0) {
			const char *v = cli_arg(argc, argv, &i, usage);
			if (strcmp(v, "gzip") == 0)
				p.gzip = 1;
			else if (strcmp(v, "none") != 0)
				fatal(2, "push: --compression takes none or gzip");
		} else if (strcmp(a, "--gzip-level") == 0) {
			const char *v = cli_arg(argc, argv, &i, usage);
			long n;
			if (cli_int(v, 1, 9, &n) < 0)
				fatal(2, "push: --gzip-level takes a whole number from 1 to 9, not \"%s\"",
				      v);
			p.gzip_level = (int)n;
		} else if (strcmp(a, "--format") == 0) {
			const char *v = cli_arg(argc, argv, &i, usage);
			if (strcmp(v, "docker") == 0)
				p.o.format = IMAGE_FORMAT_DOCKER;
			else if (strcmp(v, "oci") != 0)
				fatal(2, "push: --format takes oci or docker");
		} else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
			p.quiet = 1;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage, stdout);
			return 0;
		} else if (a[0] == '-' && a[1]) {
			fatal(2, "push: unknown option %s\n%s", a, usage);
		} else if (!srcarg) {
			srcarg = a;
		} else if (nrefs < MAX_REFS) {
			refs[nrefs++] = a;
		} else {
			fatal(2, "push: at most %d references", MAX_REFS);
		}
	}
	if (!srcarg || nrefs == 0)
		fatal(2, "push: need SRC and at least one REF\n%s", usage);
	for (size_t i = 0; i < nrefs; i++)
		if (ref_parse(refs[i], strlen(refs[i]), &parsed[i], err, sizeof err) < 0)
			fatal(2, "push: %s (%s) is not host[:port]/repo[:tag|@digest]", refs[i], err);
	if (password_stdin) {
		size_t n;
		if (!p.o.copt.username)
			fatal(2, "push: --password-stdin needs --username");
		if (strcmp(srcarg, "-") == 0)
			fatal(2, "push: stdin cannot carry both the password and the image");
		n = fread(pass, 1, sizeof pass - 1, stdin);
		pass[n] = '\0';
		n = strcspn(pass, "\r\n");
		if (n >= CRED_SECRET_MAX)
			fatal(2, "push: the password on stdin is longer than %d bytes", CRED_SECRET_MAX - 1);
		pass[n] = '\0';
		if (n == 0)
			fatal(2, "push: --password-stdin read an empty password");
		p.o.copt.password = pass;
	}
	/* the whole command: loading the image counts too */
	regsink_opts_start(&p.o, p.quiet);
	if (p.gzip)
		p.o.gzip_level = p.gzip_level;

	if (import_parse_spec(srcarg, &spec, err, sizeof err) < 0)
		fatal(2, "push: %s", err);
	/* the source's files go to a directory of our own in TMPDIR */
	if (tmpdir_make(&p.scratch, getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", "packhelper-push-",
			"push-") < 0)
		fatal(1, "push: cannot create a scratch directory in %s: %s",
		      getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", strerror(errno));
	/* select the image for the first REF's name unless SRC#NAME says */
	snprintf(spec.repo, sizeof spec.repo, "%s", parsed[0].repo);
	snprintf(spec.tag, sizeof spec.tag, "%s", parsed[0].tag[0] ? parsed[0].tag : "latest");
	p.src = &src;
	if (import_load(&p.scratch, &spec, SOURCE_IN_PLACE, &src, &set, err, sizeof err) < 0) {
		fprintf(stderr, "packhelper: push: %s\n", err);
		rc = 1;
		goto done;
	}
	if (set.n != 1) {
		fprintf(stderr, "packhelper: push: %s holds %zu images; name one with SRC#NAME\n",
			spec.src, set.n);
		rc = 1;
		goto loaded;
	}
	prepare_image(&p, &set.v[0]);
	if (p.gzip && !set.v[0].generated && !p.quiet)
		fprintf(stderr, "packhelper: push: note: --compression applies to docker-save layers; "
				"an OCI layout's manifests and layers go as they are\n");
	for (size_t i = 0; i < nrefs; i++) {
		/* later references on the same registry mount from the first */
		const char *mount = p.o.mount_from;
		if (i > 0 && !mount && strcmp(parsed[i].host, parsed[0].host) == 0 &&
		    strcmp(parsed[i].repo, parsed[0].repo) != 0)
			p.o.mount_from = parsed[0].repo;
		rc = push_image(&p, &set.v[0], &parsed[i], tags, ntags, err, sizeof err) < 0;
		p.o.mount_from = mount;
		if (rc) {
			fprintf(stderr, "packhelper: push: %s\n", err);
			rc = 1;
			goto loaded;
		}
	}
	printf("%s\n", image_digest(&set.v[0]));
loaded:
	image_set_free(&set);
	source_close(&src);
done:
	/* the source's files and the gzip outputs, all in there */
	tmpdir_fini(&p.scratch);
	memset(pass, 0, sizeof pass);
	return rc;
}
