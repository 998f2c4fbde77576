/* json.c - strict JSON tokenizer and string writer. */
#include "json.h"

#include <stdlib.h>
#include <string.h>

#include "hex.h"
struct parser {
	struct json *j;
	const unsigned char *s;
	size_t len;
	size_t pos;
};

static void skip_ws(struct parser *p)
{
	while (p->pos < p->len) {
		unsigned char c = p->s[p->pos];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		p->pos++;
	}
}

static int new_tok(struct parser *p, uint8_t type, size_t start)
{
	struct json *j = p->j;
	if (j->n == j->cap) {
		uint32_t cap = j->cap ? j->cap * 2 : 64;
		struct json_tok *t;
		if (j->cap >= JSON_MAX_TOKENS)
			return -1;
		if (cap > JSON_MAX_TOKENS)
			cap = JSON_MAX_TOKENS;
		t = realloc(j->t, (size_t)cap * sizeof *t);
		if (!t)
			return -1;
		j->t = t;
		j->cap = cap;
	}
	j->t[j->n] = (struct json_tok){ .type = type, .start = (uint32_t)start };
	return (int)j->n++;
}

static int read_hex4(const unsigned char *s, size_t avail, unsigned *out)
{
	unsigned v = 0;
	if (avail < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int h = hex_value((unsigned char)s[i]);
		if (h < 0)
			return -1;
		v = v << 4 | (unsigned)h;
	}
	*out = v;
	return 0;
}

/* Length of a valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return avail >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (avail < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xe0 && s[1] < 0xa0)
			return 0; /* overlong */
		if (c == 0xed && s[1] >= 0xa0)
			return 0; /* surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (avail < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
		    (s[3] & 0xc0) != 0x80)
			return 0;
		if (c == 0xf0 && s[1] < 0x90)
			return 0;
		if (c == 0xf4 && s[1] >= 0x90)
			return 0;
		return 4;
	}
	return 0;
}

/* Parse a string starting at the opening quote. */
static int parse_string(struct parser *p)
{
	int t = new_tok(p, JSON_STRING, p->pos + 1);
	if (t < 0)
		return -1;
	p->pos++;
	while (p->pos < p->len) {
		unsigned char c = p->s[p->pos];
		if (c == '"') {
			p->j->t[t].end = (uint32_t)p->pos;
			p->j->t[t].next = (uint32_t)t + 1;
			p->pos++;
			return t;
		}
		if (c < 0x20)
			return -1;
		if (c == '\\') {
			p->j->t[t].escaped = 1;
			if (p->pos + 1 >= p->len)
				return -1;
			c = p->s[p->pos + 1];
			if (c == 'u') {
				unsigned u, lo;
				if (read_hex4(p->s + p->pos + 2, p->len - p->pos - 2, &u) < 0)
					return -1;
				p->pos += 6;
				if (u >= 0xd800 && u <= 0xdbff) {
					/* a high surrogate must be followed by a low one */
					if (p->pos + 1 >= p->len || p->s[p->pos] != '\\' ||
					    p->s[p->pos + 1] != 'u' ||
					    read_hex4(p->s + p->pos + 2, p->len - p->pos - 2, &lo) < 0 ||
					    lo < 0xdc00 || lo > 0xdfff)
						return -1;
					p->pos += 6;
				} else if (u >= 0xdc00 && u <= 0xdfff) {
					return -1;
				}
				continue;
			}
			if (!strchr("\"\\/bfnrt", c) || c == 0)
				return -1;
			p->pos += 2;
			continue;
		}
		size_t n = utf8_seq(p->s + p->pos, p->len - p->pos);
		if (n == 0)
			return -1;
		p->pos += n;
	}
	return -1;
}

static int parse_number(struct parser *p)
{
	size_t i = p->pos;
	const unsigned char *s = p->s;
	int t;

	if (i < p->len && s[i] == '-')
		i++;
	if (i >= p->len)
		return -1;
	if (s[i] == '0') {
		i++;
	} else if (s[i] >= '1' && s[i] <= '9') {
		while (i < p->len && s[i] >= '0' && s[i] <= '9')
			i++;
	} else {
		return -1;
	}
	if (i < p->len && s[i] == '.') {
		size_t d = ++i;
		while (i < p->len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == d)
			return -1;
	}
	if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
		size_t d;
		i++;
		if (i < p->len && (s[i] == '+' || s[i] == '-'))
			i++;
		d = i;
		while (i < p->len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == d)
			return -1;
	}
	t = new_tok(p, JSON_NUMBER, p->pos);
	if (t < 0)
		return -1;
	p->j->t[t].end = (uint32_t)i;
	p->j->t[t].next = (uint32_t)t + 1;
	p->pos = i;
	return t;
}

static int parse_literal(struct parser *p, const char *lit, uint8_t type)
{
	size_t n = strlen(lit);
	int t;
	if (p->len - p->pos < n || memcmp(p->s + p->pos, lit, n) != 0)
		return -1;
	t = new_tok(p, type, p->pos);
	if (t < 0)
		return -1;
	p->pos += n;
	p->j->t[t].end = (uint32_t)p->pos;
	p->j->t[t].next = (uint32_t)t + 1;
	return t;
}

/* Iterative value parser: stack holds the open containers. */
static int parse_value(struct parser *p)
{
	int stack[JSON_MAX_DEPTH];
	int depth = 0;

	for (;;) {
		int t;
		skip_ws(p);
		if (p->pos >= p->len)
			return -1;
		switch (p->s[p->pos]) {
		case '{':
		case '[':
			if (depth == JSON_MAX_DEPTH)
				return -1;
			t = new_tok(p, p->s[p->pos] == '{' ? JSON_OBJECT : JSON_ARRAY, p->pos);
			if (t < 0)
				return -1;
			p->pos++;
			stack[depth++] = t;
			skip_ws(p);
			if (p->pos < p->len &&
			    p->s[p->pos] == (p->j->t[t].type == JSON_OBJECT ? '}' : ']')) {
				p->pos++;
				p->j->t[t].end = (uint32_t)p->pos;
				p->j->t[t].next = p->j->n;
				depth--;
				break;
			}
			if (p->j->t[t].type == JSON_OBJECT)
				goto member_key;
			continue;
		case '"':
			if (parse_string(p) < 0)
				return -1;
			break;
		case 't':
			if (parse_literal(p, "true", JSON_TRUE) < 0)
				return -1;
			break;
		case 'f':
			if (parse_literal(p, "false", JSON_FALSE) < 0)
				return -1;
			break;
		case 'n':
			if (parse_literal(p, "null", JSON_NULL) < 0)
				return -1;
			break;
		default:
			if (parse_number(p) < 0)
				return -1;
			break;
		}
		/* a value is complete: close containers or move to the next element */
		for (;;) {
			struct json_tok *c;
			if (depth == 0)
				return 0;
			c = &p->j->t[stack[depth - 1]];
			c->size++;
			skip_ws(p);
			if (p->pos >= p->len)
				return -1;
			if (p->s[p->pos] == ',') {
				p->pos++;
				if (c->type == JSON_OBJECT)
					goto member_key;
				break;
			}
			if (p->s[p->pos] != (c->type == JSON_OBJECT ? '}' : ']'))
				return -1;
			p->pos++;
			c->end = (uint32_t)p->pos;
			c->next = p->j->n;
			depth--;
		}
		continue;
member_key:
		skip_ws(p);
		if (p->pos >= p->len || p->s[p->pos] != '"' || parse_string(p) < 0)
			return -1;
		skip_ws(p);
		if (p->pos >= p->len || p->s[p->pos] != ':')
			return -1;
		p->pos++;
	}
}

int json_parse(struct json *j, const char *s, size_t len)
{
	struct parser p = { .j = j, .s = (const unsigned char *)s, .len = len };

	memset(j, 0, sizeof *j);
	j->s = s;
	j->len = len;
	if (len >= UINT32_MAX)
		return -1;
	if (parse_value(&p) < 0)
		goto bad;
	skip_ws(&p);
	if (p.pos != len)
		goto bad;
	return 0;
bad:
	json_free(j);
	return -1;
}

void json_free(struct json *j)
{
	free(j->t);
	j->t = NULL;
	j->n = j->cap = 0;
}

int json_get(const struct json *j, int obj, const char *key)
{
	int found = -1;
	uint32_t i;

	if (obj < 0 || (uint32_t)obj >= j->n || j->t[obj].type != JSON_OBJECT)
		return -1;
	i = (uint32_t)obj + 1;
	for (uint32_t k = 0; k < j->t[obj].size; k++) {
		uint32_t val = i + 1;
		if (json_str_eq(j, (int)i, key)) {
			if (found >= 0)
				return -2;
			found = (int)val;
		}
		i = j->t[val].next;
	}
	return found;
}

int json_index(const struct json *j, int arr, uint32_t idx)
{
	uint32_t i;
	if (arr < 0 || (uint32_t)arr >= j->n || j->t[arr].type != JSON_ARRAY || idx >= j->t[arr].size)
		return -1;
	i = (uint32_t)arr + 1;
	while (idx--)
		i = j->t[i].next;
	return (int)i;
}

/* Decode one escape at s (after the backslash); writes UTF-8 into out. */
static size_t decode_escape(const char *s, char *out, size_t *used)
{
	unsigned u, lo;
	switch (s[0]) {
	case 'b': out[0] = '\b'; *used = 1; return 1;
	case 'f': out[0] = '\f'; *used = 1; return 1;
	case 'n': out[0] = '\n'; *used = 1; return 1;
	case 'r': out[0] = '\r'; *used = 1; return 1;
	case 't': out[0] = '\t'; *used = 1; return 1;
	case 'u': break;
	default: out[0] = s[0]; *used = 1; return 1;
	}
	/* validated by the parser */
	read_hex4((const unsigned char *)s + 1, 4, &u);
	*used = 5;
	if (u >= 0xd800 && u <= 0xdbff) {
		read_hex4((const unsigned char *)s + 7, 4, &lo);
		u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
		*used = 11;
	}
	if (u < 0x80) {
		out[0] = (char)u;
		return 1;
	}
	if (u < 0x800) {
		out[0] = (char)(0xc0 | u >> 6);
		out[1] = (char)(0x80 | (u & 0x3f));
		return 2;
	}
	if (u < 0x10000) {
		out[0] = (char)(0xe0 | u >> 12);
		out[1] = (char)(0x80 | ((u >> 6) & 0x3f));
		out[2] = (char)(0x80 | (u & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | u >> 18);
	out[1] = (char)(0x80 | ((u >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((u >> 6) & 0x3f));
	out[3] = (char)(0x80 | (u & 0x3f));
	return 4;
}

long json_str_copy(const struct json *j, int tok, char *out, size_t cap)
{
	const struct json_tok *t;
	size_t o = 0;

	if (tok < 0 || (uint32_t)tok >= j->n || cap == 0)
		return -1;
	t = &j->t[tok];
	if (t->type != JSON_STRING)
		return -1;
	for (uint32_t i = t->start; i < t->end;) {
		char tmp[4];
		size_t n, used;
		if (j->s[i] != '\\') {
			if (o + 1 >= cap)
				return -1;
			out[o++] = j->s[i++];
			continue;
		}
		n = decode_escape(j->s + i + 1, tmp, &used);
		if (o + n >= cap)
			return -1;
		for (size_t k = 0; k < n; k++) {
			if (tmp[k] == '\0')
				return -1;
			out[o++] = tmp[k];
		}
		i += 1 + (uint32_t)used;
	}
	out[o] = '\0';
	return (long)o;
}

int json_str_eq(const struct json *j, int tok, const char *lit)
{
	const struct json_tok *t;
	size_t n = strlen(lit);
	char tmp[256];

	if (tok < 0 || (uint32_t)tok >= j->n)
		return 0;
	t = &j->t[tok];
	if (t->type != JSON_STRING)
		return 0;
	if (!t->escaped)
		return t->end - t->start == n && memcmp(j->s + t->start, lit, n) == 0;
	if (n >= sizeof tmp)
		return 0;
	return json_str_copy(j, tok, tmp, sizeof tmp) == (long)n && memcmp(tmp, lit, n) == 0;
}

int json_u64(const struct json *j, int tok, uint64_t *out)
{
	const struct json_tok *t;
	uint64_t v = 0;

	if (tok < 0 || (uint32_t)tok >= j->n)
		return -1;
	t = &j->t[tok];
	if (t->type != JSON_NUMBER)
		return -1;
	for (uint32_t i = t->start; i < t->end; i++) {
		char c = j->s[i];
		if (c < '0' || c > '9')
			return -1;
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(c - '0');
	}
	*out = v;
	return 0;
}

const char *json_raw(const struct json *j, int tok, size_t *len)
{
	const struct json_tok *t = &j->t[tok];
	if (t->type == JSON_STRING) {
		*len = t->end - t->start + 2;
		return j->s + t->start - 1;
	}
	*len = t->end - t->start;
	return j->s + t->start;
}

int json_write_str(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	if (buf_reserve(b, n + 2) < 0)
		return -1;
	b->p[b->len++] = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[6];
		size_t en = 0;
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			en = 2;
		} else if (c < 0x20) {
			esc[0] = '\\';
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			en = 6;
		}
		if (en) {
			if (buf_append(b, esc, en) < 0)
				return -1;
		} else if (buf_append(b, &s[i], 1) < 0) {
			return -1;
		}
	}
	return buf_append(b, "\"", 1);
}
