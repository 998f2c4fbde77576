/* fuzz_credhelper.c - credhelper.c's parsers: a helper's answer
 * (cred_parse_answer), config.json's choice for two hosts (cred_plan: one
 * registry, and Docker Hub), and the CLI's ConvertToHostname.  A parsed
 * answer is consistent (no secret without a kind, a Basic user that can go
 * into user:password, an identity token that is not empty); a refused one
 * leaves nothing behind; a chosen helper has a name that is no path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "credhelper.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_cred(const struct cred *c)
{
	switch (c->kind) {
	case CRED_NONE:
		if (c->secret)
			abort();
		break;
	case CRED_BASIC:
		if (!c->secret || !c->user[0] || strnlen(c->secret, CRED_SECRET_MAX) >= CRED_SECRET_MAX)
			abort();
		for (const char *u = c->user; *u; u++)
			if ((unsigned char)*u < 0x20 || *u == 0x7f || *u == ':')
				abort();
		break;
	case CRED_IDENTITY:
		if (!c->secret || !c->secret[0] || c->user[0] ||
		    strnlen(c->secret, CRED_SECRET_MAX) >= CRED_SECRET_MAX)
			abort();
		break;
	default:
		abort();
	}
	if (strnlen(c->user, sizeof c->user) >= sizeof c->user)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const hosts[] = { "reg.example:5000", "registry-1.docker.io" };
	const char *s = (const char *)data;
	struct cred c;
	struct cred_plan p;
	char err[512], *z;
	int rc;

	err[0] = '\0';
	rc = cred_parse_answer(s, size, &c, err, sizeof err);
	if (rc == 0) {
		check_cred(&c);
	} else if (rc != -1 || c.secret || c.kind != CRED_NONE || !err[0] || strchr(err, '\n')) {
		abort();
	}
	cred_clear(&c);

	for (size_t h = 0; h < 2; h++) {
		err[0] = '\0';
		rc = cred_plan(s, size, hosts[h], &p, &c, err, sizeof err);
		if (rc < -1 || rc > 1)
			abort();
		if (rc != 0 && (p.how != CRED_FROM_NOWHERE || c.kind != CRED_NONE || c.secret || !err[0]))
			abort();
		if (rc == 0 && p.how == CRED_FROM_HELPER &&
		    (!cred_helper_name_ok(p.helper) || !p.field || c.secret))
			abort();
		if (rc == 0 && p.how != CRED_FROM_AUTHS && c.kind != CRED_NONE)
			abort();
		if (strcmp(p.key, h ? CRED_HUB_KEY : hosts[0]) != 0)
			abort();
		check_cred(&c);
		cred_clear(&c);
	}

	z = malloc(size + 1);
	if (z) {
		char out[300];
		memcpy(z, data, size);
		z[size] = '\0';
		cred_hostname(z, out, sizeof out);
		if (strnlen(out, sizeof out) >= sizeof out || strchr(out, '/'))
			abort();
		free(z);
	}
	return 0;
}
