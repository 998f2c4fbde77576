/* digest.c - digest grammar and BearSSL-backed hashing. */
#include "digest.h"

#include <string.h>

static int is_alg_component(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_alg_separator(char c)
{
	return c == '+' || c == '.' || c == '_' || c == '-';
}

static int is_encoded_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '=' || c == '_' || c == '-';
}

static int is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

size_t digest_hex_len(enum digest_alg alg)
{
	return alg == DIGEST_SHA256 ? 64 : alg == DIGEST_SHA512 ? 128 : 0;
}

const char *digest_alg_name(enum digest_alg alg)
{
	return alg == DIGEST_SHA256 ? "sha256" : alg == DIGEST_SHA512 ? "sha512" : "";
}

int digest_parse(const char *s, size_t n, enum digest_alg *alg)
{
	size_t i = 0, colon, hexlen;
	enum digest_alg a;

	*alg = DIGEST_NONE;
	if (n == 0 || n >= 256)
		return DIGEST_BAD;
	/* algorithm: component (separator component)* */
	for (;;) {
		size_t start = i;
		while (i < n && is_alg_component(s[i]))
			i++;
		if (i == start)
			return DIGEST_BAD;
		if (i < n && is_alg_separator(s[i])) {
			i++;
			continue;
		}
		break;
	}
	if (i >= n || s[i] != ':')
		return DIGEST_BAD;
	colon = i++;
	if (i == n)
		return DIGEST_BAD;
	for (size_t j = i; j < n; j++)
		if (!is_encoded_char(s[j]))
			return DIGEST_BAD;
	if (colon == 6 && memcmp(s, "sha256", 6) == 0)
		a = DIGEST_SHA256;
	else if (colon == 6 && memcmp(s, "sha512", 6) == 0)
		a = DIGEST_SHA512;
	else
		return DIGEST_UNSUPPORTED;
	hexlen = digest_hex_len(a);
	if (n - i != hexlen)
		return DIGEST_BAD;
	for (size_t j = i; j < n; j++)
		if (!is_lower_hex(s[j]))
			return DIGEST_BAD;
	*alg = a;
	return DIGEST_OK;
}

void hasher_init(struct hasher *h, enum digest_alg alg)
{
	h->alg = alg;
	if (alg == DIGEST_SHA512)
		br_sha512_init(&h->u.s512);
	else
		br_sha256_init(&h->u.s256);
}

void hasher_update(struct hasher *h, const void *data, size_t n)
{
	if (h->alg == DIGEST_SHA512)
		br_sha512_update(&h->u.s512, data, n);
	else
		br_sha256_update(&h->u.s256, data, n);
}

void hasher_final(const struct hasher *h, char out[DIGEST_STR_MAX])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[64];
	size_t rawlen, o;
	const char *name = digest_alg_name(h->alg);

	if (h->alg == DIGEST_SHA512) {
		br_sha512_out(&h->u.s512, raw);
		rawlen = 64;
	} else {
		br_sha256_out(&h->u.s256, raw);
		rawlen = 32;
	}
	o = strlen(name);
	memcpy(out, name, o);
	out[o++] = ':';
	for (size_t i = 0; i < rawlen; i++) {
		out[o++] = hex[raw[i] >> 4];
		out[o++] = hex[raw[i] & 15];
	}
	out[o] = '\0';
}

void digest_of(enum digest_alg alg, const void *data, size_t n, char out[DIGEST_STR_MAX])
{
	struct hasher h;
	hasher_init(&h, alg);
	hasher_update(&h, data, n);
	hasher_final(&h, out);
}
