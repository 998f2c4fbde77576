/* Unit tests for credhelper.c: the config key, config.json's choice
 * (credHelpers > credsStore > auths), a helper's answer, and real helper
 * processes (shell scripts in a temporary PATH directory): the key on stdin,
 * "credentials not found", failures, a hang, garbage, an answer too big, a
 * helper gone before the key is written (no SIGPIPE). */
#include "credhelper.h"
#include "clock.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>

static int plan(const char *cfg, const char *host, struct cred_plan *p, struct cred *c, char *err)
{
	struct unit_guard g;
	char *s = unit_guard_str(&g, cfg);
	int rc = cred_plan(s, strlen(cfg), host, p, c, err, 300);
	unit_guard_free(&g);
	return rc;
}

static int answer(const char *a, struct cred *c, char *err)
{
	struct unit_guard g;
	char *s = unit_guard_str(&g, a);
	int rc = cred_parse_answer(s, strlen(a), c, err, 300);
	unit_guard_free(&g);
	return rc;
}

static const char *hostname(const char *key)
{
	static char out[300];
	cred_hostname(key, out, sizeof out);
	return out;
}

TEST(key)
{
	char k[CRED_KEY_MAX];
	CHECK_EQ_INT(cred_key("registry-1.docker.io", k, sizeof k), 0);
	CHECK_EQ_STR(k, CRED_HUB_KEY);
	CHECK_EQ_INT(cred_key("docker.io", k, sizeof k), 0);
	CHECK_EQ_STR(k, CRED_HUB_KEY);
	CHECK_EQ_INT(cred_key("index.docker.io", k, sizeof k), 0);
	CHECK_EQ_STR(k, CRED_HUB_KEY);
	CHECK_EQ_INT(cred_key("localhost:5000", k, sizeof k), 0);
	CHECK_EQ_STR(k, "localhost:5000");
	CHECK_EQ_INT(cred_key("ghcr.io", k, 4), -1);
}

TEST(hostname)
{
	/* the CLI's ConvertToHostname */
	CHECK_EQ_STR(hostname("reg.example:5000"), "reg.example:5000");
	CHECK_EQ_STR(hostname("https://reg.example:5000"), "reg.example:5000");
	CHECK_EQ_STR(hostname("https://reg.example:5000/v2/"), "reg.example:5000");
	CHECK_EQ_STR(hostname("http://reg.example/"), "reg.example");
	CHECK_EQ_STR(hostname(CRED_HUB_KEY), "index.docker.io");
	CHECK_EQ_STR(hostname("reg.example/some/path"), "reg.example");
	CHECK_EQ_STR(hostname("https://u:p@reg.example:443/x"), "reg.example:443");
	CHECK_EQ_STR(hostname("https://[::1]:5000/v2/"), "[::1]:5000");
	CHECK_EQ_STR(hostname("https://[::1]/"), "::1");
	CHECK_EQ_STR(hostname("https://reg.example:/"), "reg.example");
	CHECK_EQ_STR(hostname("https:///x"), "https:");
	CHECK_EQ_STR(hostname(""), "");
}

TEST(helper_names)
{
	CHECK(cred_helper_name_ok("pass"));
	CHECK(cred_helper_name_ok("ecr-login"));
	CHECK(cred_helper_name_ok("a.b_c-D9"));
	CHECK(!cred_helper_name_ok(""));
	CHECK(!cred_helper_name_ok("../x"));
	CHECK(!cred_helper_name_ok("a/b"));
	CHECK(!cred_helper_name_ok("x y"));
	CHECK(!cred_helper_name_ok("x;rm"));
	CHECK(!cred_helper_name_ok("$(id)"));
	CHECK(cred_helper_name_ok("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")); /* 64 */
	CHECK(!cred_helper_name_ok("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

/* base64("u1:p1") etc. */
#define B64_U1 "dTE6cDE="          /* u1:p1 */
#define B64_U2 "dTI6cDI6eA=="      /* u2:p2:x (the password may hold ':') */
#define B64_HUB "aHViOmh1YnB3"     /* hub:hubpw */

TEST(precedence)
{
	struct cred_plan p;
	struct cred c;
	char err[300];
	const char *all = "{\"auths\":{\"reg:5000\":{\"auth\":\"" B64_U1 "\"}},"
			  "\"credsStore\":\"store\",\"credHelpers\":{\"reg:5000\":\"per-host\"}}";

	/* credHelpers wins over credsStore, which wins over auths */
	CHECK_EQ_INT(plan(all, "reg:5000", &p, &c, err), 0);
	CHECK_EQ_INT(p.how, CRED_FROM_HELPER);
	CHECK_EQ_STR(p.helper, "per-host");
	CHECK_EQ_STR(p.field, "credHelpers");
	CHECK_EQ_STR(p.key, "reg:5000");
	CHECK_EQ_INT(c.kind, CRED_NONE);
	/* credHelpers for another host is not used: the store is */
	CHECK_EQ_INT(plan(all, "other:5000", &p, &c, err), 0);
	CHECK_EQ_INT(p.how, CRED_FROM_HELPER);
	CHECK_EQ_STR(p.helper, "store");
	CHECK_EQ_STR(p.field, "credsStore");
	CHECK_EQ_STR(p.key, "other:5000");
	/* exact match: not the host without its port, nor another port */
	CHECK_EQ_INT(plan("{\"credHelpers\":{\"reg\":\"x\",\"reg:5001\":\"y\"}}", "reg:5000", &p, &c,
			  err), 0);
	CHECK_EQ_INT(p.how, CRED_FROM_NOWHERE);
	/* no helper at all: auths */
	CHECK_EQ_INT(plan("{\"auths\":{\"reg:5000\":{\"auth\":\"" B64_U1 "\"}},"
			  "\"credHelpers\":{\"other\":\"x\"}}", "reg:5000", &p, &c, err), 0);
	CHECK_EQ_INT(p.how, CRED_FROM_AUTHS);
	CHECK_EQ_INT(c.kind, CRED_BASIC);
	CHECK_EQ_STR(c.user, "u1");
	CHECK_EQ_STR(c.secret, "p1");
	cred_clear(&c);
	CHECK(c.secret == NULL && c.kind == CRED_NONE && c.user[0] == '\0');
	/* credHelpers[key] = "": no helper, not even credsStore: auths */
	CHECK_EQ_INT(plan("{\"auths\":{\"reg:5000\":{\"auth\":\"" B64_U1 "\"}},\"credsStore\":\"s\","
			  "\"credHelpers\":{\"reg:5000\":\"\"}}", "reg:5000", &p, &c, err), 0);
	CHECK_EQ_INT(p.how, CRED_FROM_AUTHS);
	CHECK_EQ_STR(c.secret, "p1");
	cred_clear(&c);
	/* credsStore "" or null: none */
	CHECK_EQ_INT(plan("{\"credsStore\":\"\"}", "reg:5000", &p, &c, err), 0);
	CHECK_EQ_INT(p.how, CRED_FROM_NOWHERE);
	CHECK_EQ_INT(plan("{\"credsStore\":null,\"credHelpers\":null,\"auths\":null}", "reg:5000", &p,
			  &c, err), 0);
	CHECK_EQ_INT(p.how, CRED_FROM_NOWHERE);
	/* an empty file's worth: {} */
	CHECK_EQ_INT(plan("{}", "reg:5000", &p, &c, err), 0);
	CHECK_EQ_INT(p.how, CRED_FROM_NOWHERE);
}

TEST(hub)
{
	struct cred_plan p;
	struct cred c;
	char err[300];

	CHECK_EQ_INT(plan("{\"credHelpers\":{\"" CRED_HUB_KEY "\":\"hub\"}}", "registry-1.docker.io",
			  &p, &c, err), 0);
	CHECK_EQ_INT(p.how, CRED_FROM_HELPER);
	CHECK_EQ_STR(p.helper, "hub");
	CHECK_EQ_STR(p.key, CRED_HUB_KEY);
	CHECK_EQ_INT(plan("{\"credHelpers\":{\"docker.io\":\"hub2\"}}", "registry-1.docker.io", &p, &c,
			  err), 0);
	CHECK_EQ_STR(p.helper, "hub2");
	CHECK_EQ_STR(p.key, CRED_HUB_KEY);
	CHECK_EQ_INT(plan("{\"credHelpers\":{\"index.docker.io\":\"hub3\"}}", "docker.io", &p, &c,
			  err), 0);
	CHECK_EQ_STR(p.helper, "hub3");
	/* the CLI's key first */
	CHECK_EQ_INT(plan("{\"credHelpers\":{\"docker.io\":\"b\",\"" CRED_HUB_KEY "\":\"a\"}}",
			  "registry-1.docker.io", &p, &c, err), 0);
	CHECK_EQ_STR(p.helper, "a");
	/* a Hub helper is not another registry's */
	CHECK_EQ_INT(plan("{\"credHelpers\":{\"docker.io\":\"hub\"}}", "ghcr.io", &p, &c, err), 0);
	CHECK_EQ_INT(p.how, CRED_FROM_NOWHERE);
	/* auths: the CLI's key, and the Hub's other names */
	CHECK_EQ_INT(plan("{\"auths\":{\"" CRED_HUB_KEY "\":{\"auth\":\"" B64_HUB "\"}}}",
			  "registry-1.docker.io", &p, &c, err), 0);
	CHECK_EQ_STR(c.user, "hub");
	CHECK_EQ_STR(c.secret, "hubpw");
	cred_clear(&c);
	CHECK_EQ_INT(plan("{\"auths\":{\"index.docker.io\":{\"auth\":\"" B64_HUB "\"}}}", "docker.io",
			  &p, &c, err), 0);
	CHECK_EQ_STR(c.user, "hub");
	cred_clear(&c);
	CHECK_EQ_INT(plan("{\"auths\":{\"https://docker.io\":{\"auth\":\"" B64_HUB "\"}}}",
			  "registry-1.docker.io", &p, &c, err), 0);
	CHECK_EQ_STR(c.user, "hub");
	cred_clear(&c);
	/* an exact key wins over one that reduces to it */
	CHECK_EQ_INT(plan("{\"auths\":{\"docker.io\":{\"auth\":\"" B64_U1 "\"},"
			  "\"" CRED_HUB_KEY "\":{\"auth\":\"" B64_HUB "\"}}}", "registry-1.docker.io", &p,
			  &c, err), 0);
	CHECK_EQ_STR(c.user, "hub");
	cred_clear(&c);
	/* Hub credentials never go to another registry */
	CHECK_EQ_INT(plan("{\"auths\":{\"" CRED_HUB_KEY "\":{\"auth\":\"" B64_HUB "\"}}}", "ghcr.io",
			  &p, &c, err), 0);
	CHECK_EQ_INT(p.how, CRED_FROM_NOWHERE);
	CHECK_EQ_INT(c.kind, CRED_NONE);
}

TEST(auths)
{
	struct cred_plan p;
	struct cred c;
	char err[300];

	/* keys the CLI reduces to host[:port] */
	CHECK_EQ_INT(plan("{\"auths\":{\"https://reg:5000/v2/\":{\"auth\":\"" B64_U2 "\"}}}",
			  "reg:5000", &p, &c, err), 0);
	CHECK_EQ_INT(c.kind, CRED_BASIC);
	CHECK_EQ_STR(c.user, "u2");
	CHECK_EQ_STR(c.secret, "p2:x");
	cred_clear(&c);
	CHECK_EQ_INT(plan("{\"auths\":{\"http://reg:5000\":{\"auth\":\"" B64_U1 "\"}}}", "reg:5000", &p,
			  &c, err), 0);
	CHECK_EQ_STR(c.user, "u1");
	cred_clear(&c);
	/* but not another port, nor the bare host */
	CHECK_EQ_INT(plan("{\"auths\":{\"reg:5001\":{\"auth\":\"" B64_U1 "\"},\"reg\":{\"auth\":\""
			  B64_U1 "\"}}}", "reg:5000", &p, &c, err), 0);
	CHECK_EQ_INT(p.how, CRED_FROM_NOWHERE);
	CHECK_EQ_INT(c.kind, CRED_NONE);
	/* username and password fields */
	CHECK_EQ_INT(plan("{\"auths\":{\"reg\":{\"username\":\"fu\",\"password\":\"fp\"}}}", "reg", &p,
			  &c, err), 0);
	CHECK_EQ_STR(c.user, "fu");
	CHECK_EQ_STR(c.secret, "fp");
	cred_clear(&c);
	/* "auth" wins over the fields */
	CHECK_EQ_INT(plan("{\"auths\":{\"reg\":{\"auth\":\"" B64_U1 "\",\"username\":\"fu\","
			  "\"password\":\"fp\"}}}", "reg", &p, &c, err), 0);
	CHECK_EQ_STR(c.user, "u1");
	cred_clear(&c);
	/* an identity token */
	CHECK_EQ_INT(plan("{\"auths\":{\"reg\":{\"auth\":\"" B64_U1 "\",\"identitytoken\":\"rt\"}}}",
			  "reg", &p, &c, err), 0);
	CHECK_EQ_INT(c.kind, CRED_IDENTITY);
	CHECK_EQ_STR(c.secret, "rt");
	CHECK_EQ_STR(c.user, "");
	cred_clear(&c);
	/* an empty entry (docker login with a credsStore leaves one): none */
	CHECK_EQ_INT(plan("{\"auths\":{\"reg\":{}}}", "reg", &p, &c, err), 0);
	CHECK_EQ_INT(p.how, CRED_FROM_AUTHS);
	CHECK_EQ_INT(c.kind, CRED_NONE);
	/* NULs around the password are trimmed, as the CLI does: "u:\0p\0" */
	CHECK_EQ_INT(plan("{\"auths\":{\"reg\":{\"auth\":\"dToAcAA=\"}}}", "reg", &p, &c, err), 0);
	CHECK_EQ_STR(c.user, "u");
	CHECK_EQ_STR(c.secret, "p");
	cred_clear(&c);
	/* other members are left alone */
	CHECK_EQ_INT(plan("{\"psFormat\":1,\"auths\":{\"x\":5,\"reg\":{\"auth\":\"" B64_U1 "\","
			  "\"email\":\"e@x\"}}}", "reg", &p, &c, err), 0);
	CHECK_EQ_STR(c.user, "u1");
	cred_clear(&c);
}

TEST(malformed)
{
	struct cred_plan p;
	struct cred c;
	char err[300];
	static const char *const bad[] = {
		"",
		"not json",
		"[]",
		"{\"auths\":{}",
		"{\"credHelpers\":[]}",
		"{\"credHelpers\":{\"reg\":5}}",
		"{\"credsStore\":7}",
		"{\"auths\":[]}",
		"{\"credsStore\":\"a\",\"credsStore\":\"b\"}",
		"{\"credHelpers\":{\"reg\":\"a\",\"reg\":\"b\"}}",
		"{\"auths\":{\"reg\":{\"auth\":\"" B64_U1 "\"},\"reg\":{}}}",
		"{\"auths\":{\"reg\":{\"auth\":\"not base64!\"}}}",
		"{\"auths\":{\"reg\":{\"auth\":\"dTE6cDE\"}}}",     /* no padding */
		"{\"auths\":{\"reg\":{\"auth\":\"bm9jb2xvbg==\"}}}", /* "nocolon" */
		"{\"auths\":{\"reg\":{\"auth\":\"OnB3\"}}}",         /* ":pw" */
		"{\"auths\":{\"reg\":{\"auth\":5}}}",
		"{\"auths\":{\"reg\":{\"username\":\"a\\nb\",\"password\":\"x\"}}}",
		"{\"auths\":{\"reg\":{\"username\":\"u\",\"password\":\"a\\u0000b\"}}}",
		"{\"auths\":{\"reg\":\"x\"}}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		int rc = plan(bad[i], "reg", &p, &c, err);
		if (rc != 1)
			fprintf(stderr, "malformed case %zu: %d\n", i, rc);
		CHECK_EQ_INT(rc, 1);
		CHECK(err[0]);
		CHECK_EQ_INT(c.kind, CRED_NONE);
		CHECK(c.secret == NULL);
		CHECK_EQ_INT(p.how, CRED_FROM_NOWHERE);
	}
}

TEST(refused_helpers)
{
	struct cred_plan p;
	struct cred c;
	char err[300];
	static const char *const bad[] = {
		"{\"credsStore\":\"../../tmp/x\"}",
		"{\"credsStore\":\"/bin/sh\"}",
		"{\"credHelpers\":{\"reg\":\"a b\"}}",
		"{\"credHelpers\":{\"reg\":\"x\\u0000y\"}}",
		"{\"credHelpers\":{\"reg\":\"$(id)\"}}",
		"{\"credsStore\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		CHECK_EQ_INT(plan(bad[i], "reg", &p, &c, err), -1);
		CHECK(strstr(err, "does not run") != NULL);
		CHECK(strchr(err, '\n') == NULL);
	}
}

TEST(answers)
{
	struct cred c;
	char err[300], big[CRED_SECRET_MAX + 64];

	CHECK_EQ_INT(answer("{\"ServerURL\":\"reg\",\"Username\":\"u\",\"Secret\":\"s\"}\n", &c, err), 0);
	CHECK_EQ_INT(c.kind, CRED_BASIC);
	CHECK_EQ_STR(c.user, "u");
	CHECK_EQ_STR(c.secret, "s");
	cred_clear(&c);
	/* ServerURL may be missing; other members are ignored; escapes decode */
	CHECK_EQ_INT(answer(" {\"Username\":\"u\\u00e9\",\"Secret\":\"s\\\"\\\\\",\"x\":[1]} ", &c, err), 0);
	CHECK_EQ_STR(c.user, "u\xc3\xa9");
	CHECK_EQ_STR(c.secret, "s\"\\");
	cred_clear(&c);
	/* an identity token */
	CHECK_EQ_INT(answer("{\"ServerURL\":\"\",\"Username\":\"<token>\",\"Secret\":\"rt\"}", &c, err), 0);
	CHECK_EQ_INT(c.kind, CRED_IDENTITY);
	CHECK_EQ_STR(c.user, "");
	CHECK_EQ_STR(c.secret, "rt");
	cred_clear(&c);
	/* both empty: no credentials */
	CHECK_EQ_INT(answer("{\"ServerURL\":\"\",\"Username\":\"\",\"Secret\":\"\"}", &c, err), 0);
	CHECK_EQ_INT(c.kind, CRED_NONE);
	CHECK(c.secret == NULL);
	/* the longest secret there is room for */
	memcpy(big, "{\"Username\":\"u\",\"Secret\":\"", 26);
	memset(big + 26, 'x', CRED_SECRET_MAX - 1);
	memcpy(big + 26 + CRED_SECRET_MAX - 1, "\"}", 3);
	CHECK_EQ_INT(answer(big, &c, err), 0);
	CHECK_EQ_INT(strlen(c.secret), CRED_SECRET_MAX - 1);
	cred_clear(&c);
	memcpy(big + 26, "x", 1);
	memset(big + 26, 'x', CRED_SECRET_MAX);
	memcpy(big + 26 + CRED_SECRET_MAX, "\"}", 3);
	CHECK_EQ_INT(answer(big, &c, err), -1);
	CHECK(c.secret == NULL);
}

TEST(bad_answers)
{
	struct cred c;
	char err[300];
	static const char *const bad[] = {
		"",
		"garbage",
		"{\"Username\":\"u\",\"Secret\":\"s\"} trailing",
		"{\"Username\":\"u\",\"Secret\":\"s\",}",
		"[\"u\",\"s\"]",
		"\"u:s\"",
		"{\"Username\":\"u\"}",
		"{\"Secret\":\"s\"}",
		"{\"Username\":\"u\",\"Secret\":5}",
		"{\"Username\":null,\"Secret\":\"s\"}",
		"{\"Username\":\"u\",\"Secret\":\"s\",\"Secret\":\"t\"}",
		"{\"Username\":\"u\",\"Username\":\"v\",\"Secret\":\"s\"}",
		"{\"ServerURL\":1,\"Username\":\"u\",\"Secret\":\"s\"}",
		"{\"username\":\"u\",\"secret\":\"s\"}",
		"{\"Username\":\"\",\"Secret\":\"s\"}",
		"{\"Username\":\"<token>\",\"Secret\":\"\"}",
		"{\"Username\":\"u:v\",\"Secret\":\"s\"}",
		"{\"Username\":\"u\\nv\",\"Secret\":\"s\"}",
		"{\"Username\":\"u\",\"Secret\":\"a\\u0000b\"}",
		"{\"Username\":\"u\",\"Secret\":\"\xff\"}",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		int rc = answer(bad[i], &c, err);
		if (rc != -1)
			fprintf(stderr, "bad answer %zu: %d\n", i, rc);
		CHECK_EQ_INT(rc, -1);
		CHECK(err[0] && strchr(err, '\n') == NULL);
		CHECK(c.secret == NULL);
		CHECK_EQ_INT(c.kind, CRED_NONE);
	}
}

/* ---- real helpers ---- */

static char dir[64], full_path[1024];

/* posix_spawn as credhelper.c calls it, wrapped (the Makefile links this test
 * with -Wl,--wrap=posix_spawn): while spawn_waits is set it returns only once
 * the helper has exited (left unreaped for credhelper.c's waitpid), so the
 * write of the key that follows meets a pipe with no reader.  That is the
 * order a helper that never reads its stdin wins on a loaded machine, and
 * the one a test cannot otherwise count on: the key (300 bytes at most) fits
 * the pipe, and the write comes microseconds after the spawn. */
int __real_posix_spawn(pid_t *restrict pid, const char *restrict path,
		       const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *restrict at,
		       char *const argv[restrict], char *const envp[restrict]);
int __wrap_posix_spawn(pid_t *restrict pid, const char *restrict path,
		       const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *restrict at,
		       char *const argv[restrict], char *const envp[restrict]);
static int spawn_waits, spawn_waited;

int __wrap_posix_spawn(pid_t *restrict pid, const char *restrict path,
		       const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *restrict at,
		       char *const argv[restrict], char *const envp[restrict])
{
	int rc = __real_posix_spawn(pid, path, fa, at, argv, envp);
	siginfo_t si;
	if (rc || !spawn_waits)
		return rc;
	memset(&si, 0, sizeof si);
	while (waitid(P_PID, (id_t)*pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR)
		;
	spawn_waited += si.si_pid == *pid;
	return rc;
}

static void write_file(const char *name, const char *text, int mode)
{
	char path[200];
	FILE *f;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(2);
	}
	fputs(text, f);
	fclose(f);
	chmod(path, (mode_t)mode);
}

static void read_file(const char *name, char *out, size_t cap)
{
	char path[200];
	FILE *f;
	size_t n = 0;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	out[0] = '\0';
	f = fopen(path, "r");
	if (!f)
		return;
	n = fread(out, 1, cap - 1, f);
	out[n] = '\0';
	fclose(f);
}

static void config(const char *json)
{
	write_file("config.json", json, 0600);
}

#define HELPER(name, body) write_file("docker-credential-" name, "#!/bin/sh\n" body, 0755)

TEST(helper_runs)
{
	struct cred c;
	char err[600], got[300];

	/* the key on stdin without a newline, "get" as the only argument */
	HELPER("ok", "cat >\"$0.stdin\"; echo \"$# $1\" >\"$0.args\"\n"
	       "printf '{\"ServerURL\":\"x\",\"Username\":\"hu\",\"Secret\":\"hs\"}\\n'\n");
	config("{\"credHelpers\":{\"reg:5000\":\"ok\"},\"auths\":{\"reg:5000\":{\"auth\":\"" B64_U1 "\"}}}");
	CHECK_EQ_INT(cred_lookup("reg:5000", 0, &c, err, sizeof err), 0);
	CHECK_EQ_INT(c.kind, CRED_BASIC);
	CHECK_EQ_STR(c.user, "hu");
	CHECK_EQ_STR(c.secret, "hs");
	CHECK_EQ_STR(c.source, "docker-credential-ok (credHelpers)");
	cred_clear(&c);
	read_file("docker-credential-ok.stdin", got, sizeof got);
	CHECK_EQ_STR(got, "reg:5000");
	read_file("docker-credential-ok.args", got, sizeof got);
	CHECK_EQ_STR(got, "1 get\n");
	/* Docker Hub: the CLI's key */
	config("{\"credsStore\":\"ok\"}");
	CHECK_EQ_INT(cred_lookup("registry-1.docker.io", 0, &c, err, sizeof err), 0);
	CHECK_EQ_STR(c.source, "docker-credential-ok (credsStore)");
	cred_clear(&c);
	read_file("docker-credential-ok.stdin", got, sizeof got);
	CHECK_EQ_STR(got, CRED_HUB_KEY);

	/* "credentials not found": anonymous, and the auths entry is not used */
	HELPER("none", "echo 'credentials not found in native keychain'; exit 1\n");
	config("{\"credsStore\":\"none\",\"auths\":{\"reg:5000\":{\"auth\":\"" B64_U1 "\"}}}");
	CHECK_EQ_INT(cred_lookup("reg:5000", 0, &c, err, sizeof err), 0);
	CHECK_EQ_INT(c.kind, CRED_NONE);
	CHECK(c.secret == NULL);
	CHECK_EQ_STR(c.source, "docker-credential-none (credsStore) has none for reg:5000");

	/* an identity token */
	HELPER("tok", "printf '{\"ServerURL\":\"\",\"Username\":\"<token>\",\"Secret\":\"rt-1\"}'\n");
	config("{\"credsStore\":\"tok\"}");
	CHECK_EQ_INT(cred_lookup("reg:5000", 0, &c, err, sizeof err), 0);
	CHECK_EQ_INT(c.kind, CRED_IDENTITY);
	CHECK_EQ_STR(c.secret, "rt-1");
	cred_clear(&c);

	/* auths, with no helper */
	config("{\"auths\":{\"reg:5000\":{\"auth\":\"" B64_U1 "\"}}}");
	CHECK_EQ_INT(cred_lookup("reg:5000", 0, &c, err, sizeof err), 0);
	CHECK_EQ_STR(c.user, "u1");
	CHECK(strncmp(c.source, "auths in ", 9) == 0);
	cred_clear(&c);
	/* a malformed file: a warning, no credentials, no error */
	config("{\"auths\":");
	CHECK_EQ_INT(cred_lookup("reg:5000", 0, &c, err, sizeof err), 0);
	CHECK_EQ_INT(c.kind, CRED_NONE);
}

/* A helper that exits without reading its stdin (its answer waiting in the
 * pipe) makes the write of the key EPIPE.  With SIGPIPE at its default, as
 * a library caller may have it, that write would kill the process without
 * send_key's guard; with it the answer is read as usual and no SIGPIPE is
 * left pending.  A caller that blocks SIGPIPE itself keeps it blocked. */
TEST(a_helper_gone_before_the_key_is_written_raises_no_sigpipe)
{
	struct cred c;
	char err[600];
	sigset_t pipe_set, pending, now;

	HELPER("early", "printf '{\"ServerURL\":\"x\",\"Username\":\"eu\",\"Secret\":\"es\"}'\n"
	       "exit 0\n");
	config("{\"credsStore\":\"early\"}");
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	signal(SIGPIPE, SIG_DFL);
	sigprocmask(SIG_UNBLOCK, &pipe_set, NULL);
	spawn_waits = 1;
	spawn_waited = 0;
	CHECK_EQ_INT(cred_lookup("reg:5000", 0, &c, err, sizeof err), 0);
	CHECK_EQ_INT(spawn_waited, 1); /* it had exited when the key was written */
	CHECK_EQ_STR(c.user, "eu");
	CHECK_EQ_STR(c.secret, "es");
	cred_clear(&c);
	sigpending(&pending);
	CHECK(!sigismember(&pending, SIGPIPE));
	sigprocmask(SIG_SETMASK, NULL, &now);
	CHECK(!sigismember(&now, SIGPIPE)); /* the mask is given back */

	/* blocked by the caller: still blocked after */
	sigprocmask(SIG_BLOCK, &pipe_set, NULL);
	CHECK_EQ_INT(cred_lookup("reg:5000", 0, &c, err, sizeof err), 0);
	CHECK_EQ_STR(c.secret, "es");
	cred_clear(&c);
	sigprocmask(SIG_SETMASK, NULL, &now);
	CHECK(sigismember(&now, SIGPIPE));
	{
		/* the caller's pending SIGPIPE is the caller's: take it here */
		struct timespec zero = { 0, 0 };
		sigtimedwait(&pipe_set, NULL, &zero);
	}
	sigprocmask(SIG_UNBLOCK, &pipe_set, NULL);
	spawn_waits = 0;
}

TEST(helper_failures)
{
	struct cred c;
	char err[600];
	int64_t t0;
	int fd;

	/* not on PATH */
	config("{\"credsStore\":\"missing\"}");
	CHECK_EQ_INT(cred_lookup("reg:5000", 0, &c, err, sizeof err), -1);
	CHECK_EQ_STR(err, "docker-credential-missing (credsStore) get reg:5000: not found in PATH");
	/* not executable: not found either */
	write_file("docker-credential-noexec", "#!/bin/sh\nexit 0\n", 0644);
	config("{\"credsStore\":\"noexec\"}");
	CHECK_EQ_INT(cred_lookup("reg:5000", 0, &c, err, sizeof err), -1);
	CHECK(strstr(err, "not found in PATH") != NULL);
	/* a failure: its stdout message, as the CLI shows it */
	HELPER("fail", "echo 'the keychain is locked'; echo 'noise' >&2; exit 3\n");
	config("{\"credsStore\":\"fail\"}");
	CHECK_EQ_INT(cred_lookup("reg:5000", 0, &c, err, sizeof err), -1);
	CHECK_EQ_STR(err, "docker-credential-fail (credsStore) get reg:5000: exit 3: the keychain is locked");
	/* nothing on stdout: the first line of its stderr */
	HELPER("fail2", "printf '\\n  boom: \\033[31mred\\n second\\n' >&2; exit 1\n");
	config("{\"credsStore\":\"fail2\"}");
	CHECK_EQ_INT(cred_lookup("reg:5000", 0, &c, err, sizeof err), -1);
	CHECK_EQ_STR(err, "docker-credential-fail2 (credsStore) get reg:5000: exit 1: boom: ?[31mred");
	/* killed by a signal */
	HELPER("sig", "kill -9 $$\n");
	config("{\"credsStore\":\"sig\"}");
	CHECK_EQ_INT(cred_lookup("reg:5000", 0, &c, err, sizeof err), -1);
	CHECK(strstr(err, "killed by signal 9") != NULL);
	/* garbage on stdout, exit 0 */
	HELPER("garbage", "echo 'Username: u'; echo 'Secret: s'\n");
	config("{\"credsStore\":\"garbage\"}");
	CHECK_EQ_INT(cred_lookup("reg:5000", 0, &c, err, sizeof err), -1);
	CHECK_EQ_STR(err, "docker-credential-garbage (credsStore) get reg:5000: the answer is not JSON");
	CHECK(c.secret == NULL);
	/* over 64 KiB: killed */
	HELPER("big", "head -c 200000 /dev/zero | tr '\\0' x; sleep 30\n");
	config("{\"credsStore\":\"big\"}");
	t0 = clock_ms();
	CHECK_EQ_INT(cred_lookup("reg:5000", 0, &c, err, sizeof err), -1);
	CHECK(strstr(err, "the answer is over 64 KiB; killed") != NULL);
	CHECK(clock_ms() - t0 < 5000);
	/* a hang, with a child of its own holding the pipes: killed at the deadline */
	HELPER("hang", "sleep 60 & echo $! >\"$0.bg\"; sleep 60\n");
	config("{\"credsStore\":\"hang\"}");
	t0 = clock_ms();
	CHECK_EQ_INT(cred_lookup("reg:5000", clock_ms() + 700, &c, err, sizeof err), -1);
	CHECK(clock_ms() - t0 >= 650 && clock_ms() - t0 < 3000);
	CHECK_EQ_STR(err, "docker-credential-hang (credsStore) get reg:5000: no answer within 0.7s; "
		     "killed");
	{
		/* its child went with it (the process group); give init a moment to reap it */
		char bg[32];
		long pid;
		int alive = 1;
		read_file("docker-credential-hang.bg", bg, sizeof bg);
		pid = strtol(bg, NULL, 10);
		CHECK(pid > 1);
		for (int i = 0; i < 100 && alive; i++) {
			char st[64], stat_path[64];
			snprintf(stat_path, sizeof stat_path, "/proc/%ld/stat", pid);
			FILE *f = fopen(stat_path, "r");
			alive = f && fgets(st, sizeof st, f) && !strstr(st, ") Z");
			if (f)
				fclose(f);
			if (alive)
				usleep(20000);
		}
		CHECK(!alive);
	}
	/* it closes its output and goes on: killed too */
	HELPER("linger", "exec >&- 2>&-; sleep 60\n");
	config("{\"credsStore\":\"linger\"}");
	t0 = clock_ms();
	CHECK_EQ_INT(cred_lookup("reg:5000", clock_ms() + 500, &c, err, sizeof err), -1);
	CHECK(clock_ms() - t0 < 3000);
	CHECK(strstr(err, "no answer within") != NULL);
	/* our descriptors stay ours */
	fd = open("/dev/null", O_RDONLY); /* no O_CLOEXEC */
	{
		char env[32];
		snprintf(env, sizeof env, "%d", fd);
		setenv("LEAK_FD", env, 1);
	}
	HELPER("fds", "if [ -e /proc/$$/fd/$LEAK_FD ]; then echo \"fd $LEAK_FD leaked\"; exit 1; fi\n"
	       "printf '{\"Username\":\"u\",\"Secret\":\"s\"}'\n");
	config("{\"credsStore\":\"fds\"}");
	CHECK_EQ_INT(cred_lookup("reg:5000", 0, &c, err, sizeof err), 0);
	if (c.kind != CRED_BASIC)
		fprintf(stderr, "fds: %s\n", err);
	cred_clear(&c);
	close(fd);
	/* a relative PATH entry is never searched (it would be the working directory) */
	{
		char cwd[512], path[600];
		if (getcwd(cwd, sizeof cwd) && chdir(dir) == 0) {
			HELPER("here", "printf '{\"Username\":\"u\",\"Secret\":\"s\"}'\n");
			config("{\"credsStore\":\"here\"}");
			snprintf(path, sizeof path, ".:/nonexistent-%d", (int)getpid());
			setenv("PATH", path, 1);
			CHECK_EQ_INT(cred_lookup("reg:5000", 0, &c, err, sizeof err), -1);
			CHECK(strstr(err, "not found in PATH") != NULL);
			setenv("PATH", "", 1);
			CHECK_EQ_INT(cred_lookup("reg:5000", 0, &c, err, sizeof err), -1);
			setenv("PATH", full_path, 1);
			CHECK(chdir(cwd) == 0);
		}
	}
}

int main(void)
{
	RUN(key);
	RUN(hostname);
	RUN(helper_names);
	RUN(precedence);
	RUN(hub);
	RUN(auths);
	RUN(malformed);
	RUN(refused_helpers);
	RUN(answers);
	RUN(bad_answers);

	unit_tmpdir(dir, "credhelper");
	setenv("DOCKER_CONFIG", dir, 1);
	{
		/* the helpers' directory first; sh, cat, sleep... from the rest */
		const char *old = getenv("PATH");
		snprintf(full_path, sizeof full_path, "%s:%s", dir, old ? old : "/usr/bin:/bin");
		setenv("PATH", full_path, 1);
	}
	RUN(helper_runs);
	RUN(a_helper_gone_before_the_key_is_written_raises_no_sigpipe);
	RUN(helper_failures);
	unit_rmtree(dir);
	return unit_report("credhelper");
}
