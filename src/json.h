/* json.h - a strict JSON tokenizer over a caller's buffer, and an escaping writer.
 *
 * json_parse checks the whole text against RFC 8259 (UTF-8 validated, no
 * trailing commas, no duplicate handling surprises: json_get reports a key that
 * appears twice) and fills a flat token array: every value is one token, an
 * object's members are key token then value subtree, and each token knows the
 * index just past its subtree (next), so siblings are one step apart.  Tokens
 * point into the caller's text; the text must outlive the struct json. */
#ifndef PH_JSON_H
#define PH_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum json_type {
	JSON_OBJECT = 1,
	JSON_ARRAY,
	JSON_STRING,
	JSON_NUMBER,
	JSON_TRUE,
	JSON_FALSE,
	JSON_NULL,
};

#define JSON_MAX_DEPTH 64
#define JSON_MAX_TOKENS (1u << 21)

struct json_tok {
	uint8_t type;
	uint8_t escaped; /* string contains backslash escapes */
	uint32_t start;  /* strings: first byte inside the quotes */
	uint32_t end;    /* strings: the closing quote */
	uint32_t size;   /* objects: members; arrays: elements */
	uint32_t next;   /* index of the first token after this subtree */
};

struct json {
	const char *s;
	size_t len;
	struct json_tok *t;
	uint32_t n;
	uint32_t cap;
};

/* 0 on success; -1 if the text is not valid JSON or passes a limit.  On
 * success the caller owns j->t and releases it with json_free. */
int json_parse(struct json *j, const char *s, size_t len);
void json_free(struct json *j);

/* Index of the value of member key in object obj; -1 if absent, -2 if the key
 * appears more than once (callers treat that as invalid input). */
int json_get(const struct json *j, int obj, const char *key);
/* Index of element i of array arr (0-based); -1 if out of range. */
int json_index(const struct json *j, int arr, uint32_t i);
/* Decoded string token equals the NUL-terminated lit. */
int json_str_eq(const struct json *j, int tok, const char *lit);
/* Decode string token into out (NUL-terminated); returns length, or -1 if the
 * token is not a string, does not fit in cap, or decodes to a NUL byte. */
long json_str_copy(const struct json *j, int tok, char *out, size_t cap);
/* A non-negative integer number token without fraction or exponent. */
int json_u64(const struct json *j, int tok, uint64_t *out);
/* The raw text of a token (strings include their quotes). */
const char *json_raw(const struct json *j, int tok, size_t *len);

/* Append s[0..n) as a JSON string literal, escaped. */
int json_write_str(struct buf *b, const char *s, size_t n);

#endif
