/* platform.c - --platform and the index child it picks (platform.h). */
#include "platform.h"

#include <stdio.h>
#include <string.h>

static int field_valid(const char *s, size_t n)
{
	if (n == 0 || n >= PLATFORM_FIELD_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

/* A field set to s, whole (no bytes of what it held stay after the NUL, so
 * two platforms compare with memcmp). */
static void set_field(char f[PLATFORM_FIELD_MAX], const char *s)
{
	memset(f, 0, PLATFORM_FIELD_MAX);
	memcpy(f, s, strlen(s));
}

static void normalise(struct platform *p)
{
	if (strcmp(p->arch, "x86_64") == 0 || strcmp(p->arch, "x86-64") == 0)
		set_field(p->arch, "amd64");
	else if (strcmp(p->arch, "aarch64") == 0)
		set_field(p->arch, "arm64");
	if ((strcmp(p->arch, "arm64") == 0 && strcmp(p->variant, "v8") == 0) ||
	    (strcmp(p->arch, "amd64") == 0 && strcmp(p->variant, "v1") == 0))
		set_field(p->variant, "");
	else if (strcmp(p->arch, "arm") == 0 && !p->variant[0])
		set_field(p->variant, "v7");
}

int platform_parse(const char *s, struct platform *p)
{
	const char *parts[3];
	size_t lens[3], n = 0;
	const char *start = s;

	memset(p, 0, sizeof *p);
	for (const char *c = s;; c++) {
		if (*c == '/' || *c == '\0') {
			if (n == 3)
				return -1;
			parts[n] = start;
			lens[n++] = (size_t)(c - start);
			if (!*c)
				break;
			start = c + 1;
		}
	}
	if (n < 2)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!field_valid(parts[i], lens[i]))
			return -1;
	memcpy(p->os, parts[0], lens[0]);
	memcpy(p->arch, parts[1], lens[1]);
	if (n == 3)
		memcpy(p->variant, parts[2], lens[2]);
	normalise(p);
	return 0;
}

void platform_format(const struct platform *p, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s%s%s", p->os, p->arch, p->variant[0] ? "/" : "", p->variant);
}

/* Child tok's platform object, read leniently: a field that is missing or
 * not a plain string makes it match nothing.  0, or -1 with none. */
static int child_platform(const struct json *j, int tok, struct platform *p)
{
	int pl = json_get(j, tok, "platform");
	char v[PLATFORM_FIELD_MAX];
	long n;

	memset(p, 0, sizeof *p);
	if (pl < 0 || j->t[pl].type != JSON_OBJECT)
		return -1;
	n = json_str_copy(j, json_get(j, pl, "os"), v, sizeof v);
	if (n <= 0 || !field_valid(v, (size_t)n))
		return -1;
	memcpy(p->os, v, (size_t)n + 1);
	n = json_str_copy(j, json_get(j, pl, "architecture"), v, sizeof v);
	if (n <= 0 || !field_valid(v, (size_t)n))
		return -1;
	memcpy(p->arch, v, (size_t)n + 1);
	n = json_str_copy(j, json_get(j, pl, "variant"), v, sizeof v);
	if (n > 0 && field_valid(v, (size_t)n))
		memcpy(p->variant, v, (size_t)n + 1);
	normalise(p);
	return 0;
}

long platform_pick(const struct manifest *idx, const struct platform *want)
{
	int arr = json_get(&idx->j, 0, "manifests");
	if (idx->kind != MANIFEST_INDEX || arr < 0)
		return -1;
	for (size_t i = 0; i < idx->nrefs; i++) {
		struct platform p;
		if (child_platform(&idx->j, json_index(&idx->j, arr, (uint32_t)i), &p) < 0)
			continue;
		if (strcmp(p.os, want->os) == 0 && strcmp(p.arch, want->arch) == 0 &&
		    (!want->variant[0] || strcmp(p.variant, want->variant) == 0))
			return (long)i;
	}
	return -1;
}

void platform_list(const struct manifest *idx, char *out, size_t cap)
{
	int arr = json_get(&idx->j, 0, "manifests");
	size_t o = 0;

	if (!cap)
		return;
	out[0] = '\0';
	for (size_t i = 0; arr >= 0 && i < idx->nrefs; i++) {
		struct platform p;
		char s[PLATFORM_STR_MAX];
		int n;
		if (child_platform(&idx->j, json_index(&idx->j, arr, (uint32_t)i), &p) < 0)
			snprintf(s, sizeof s, "(none)");
		else
			platform_format(&p, s, sizeof s);
		n = snprintf(out + o, cap - o, "%s%s", o ? ", " : "", s);
		if (n < 0 || (size_t)n >= cap - o) {
			if (cap > 4)
				memcpy(out + cap - 4, "...", 4);
			return;
		}
		o += (size_t)n;
	}
}

void platform_host(struct platform *p)
{
#if defined(__x86_64__)
	platform_parse("linux/amd64", p);
#elif defined(__aarch64__)
	platform_parse("linux/arm64", p);
#elif defined(__arm__)
	platform_parse("linux/arm/v7", p);
#elif defined(__i386__)
	platform_parse("linux/386", p);
#elif defined(__riscv) && __riscv_xlen == 64
	platform_parse("linux/riscv64", p);
#elif defined(__s390x__)
	platform_parse("linux/s390x", p);
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	platform_parse("linux/ppc64le", p);
#else
	platform_parse("linux/unknown", p);
#endif
}
