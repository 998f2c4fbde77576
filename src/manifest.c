/* manifest.c - manifest validation and reference extraction. */
#include "manifest.h"
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int manifest_write_referrer(struct buf *b, const char *media_type, const char *digest, size_t size,
			    const char *artifact_type, const char *annotations, size_t annotations_len)
{
	int r = buf_puts(b, "{\"mediaType\":");
	r |= json_write_str(b, media_type, strlen(media_type));
	r |= buf_printf(b, ",\"digest\":\"%s\",\"size\":%zu", digest, size);
	if (artifact_type[0]) {
		r |= buf_puts(b, ",\"artifactType\":");
		r |= json_write_str(b, artifact_type, strlen(artifact_type));
	}
	if (annotations) {
		r |= buf_puts(b, ",\"annotations\":");
		r |= buf_append(b, annotations, annotations_len);
	}
	r |= buf_puts(b, "}");
	return r ? -1 : 0;
}

int manifest_type_known(const char *mt)
{
	return strcmp(mt, MT_OCI_MANIFEST) == 0 || strcmp(mt, MT_OCI_INDEX) == 0 ||
	       strcmp(mt, MT_DOCKER_MANIFEST) == 0 || strcmp(mt, MT_DOCKER_LIST) == 0;
}

/* media type grammar (RFC 6838): type "/" subtype, restricted-name chars */
static int media_type_valid(const char *s)
{
	int slash = 0;
	size_t n = 0;
	for (; *s; s++, n++) {
		char c = *s;
		if (c == '/') {
			if (slash++ || n == 0 || !s[1])
				return 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("!#$&-^_.+", c)))
			return 0;
	}
	return slash == 1 && n < MEDIA_TYPE_MAX;
}

static int get_string(const struct json *j, int obj, const char *key, char *out, size_t cap,
		      int required, char *why, size_t whycap)
{
	int t = json_get(j, obj, key);
	out[0] = '\0';
	if (t == -2)
		return log_fail(why, whycap, "duplicate key \"%s\"", key);
	if (t < 0)
		return required ? log_fail(why, whycap, "missing \"%s\"", key) : 0;
	if (json_str_copy(j, t, out, cap) < 0)
		return log_fail(why, whycap, "\"%s\" must be a string of at most %zu bytes", key, cap - 1);
	return 0;
}

static int parse_descriptor(const struct json *j, int obj, struct descriptor *d, const char *what,
			    char *why, size_t whycap)
{
	enum digest_alg alg;
	int t;

	memset(d, 0, sizeof *d);
	if (obj < 0 || j->t[obj].type != JSON_OBJECT)
		return log_fail(why, whycap, "%s must be an object", what);
	if (get_string(j, obj, "mediaType", d->media_type, sizeof d->media_type, 1, why, whycap) < 0)
		return -1;
	if (!media_type_valid(d->media_type))
		return log_fail(why, whycap, "%s has an invalid mediaType", what);
	if (get_string(j, obj, "digest", d->digest, sizeof d->digest, 1, why, whycap) < 0)
		return log_fail(why, whycap, "%s needs a valid digest", what);
	if (digest_parse(d->digest, strlen(d->digest), &alg) != DIGEST_OK)
		return log_fail(why, whycap, "%s has an invalid digest", what);
	t = json_get(j, obj, "size");
	if (t < 0 || json_u64(j, t, &d->size) < 0)
		return log_fail(why, whycap, "%s needs a non-negative integer size", what);
	if (get_string(j, obj, "artifactType", d->artifact_type, sizeof d->artifact_type, 0, why,
		       whycap) < 0)
		return -1;
	t = json_get(j, obj, "urls");
	if (t == -2)
		return log_fail(why, whycap, "duplicate key \"urls\"");
	if (t >= 0) {
		if (j->t[t].type != JSON_ARRAY)
			return log_fail(why, whycap, "%s urls must be an array", what);
		d->has_urls = j->t[t].size > 0;
	}
	t = json_get(j, obj, "annotations");
	if (t == -2 || (t >= 0 && j->t[t].type != JSON_OBJECT))
		return log_fail(why, whycap, "%s annotations must be an object", what);
	return 0;
}

static int parse_descriptor_array(struct manifest *m, int arr, const char *what, char *why,
				  size_t whycap)
{
	const struct json *j = &m->j;
	uint32_t i;

	if (arr == -2)
		return log_fail(why, whycap, "duplicate key \"%s\"", what);
	if (arr < 0)
		return log_fail(why, whycap, "missing \"%s\"", what);
	if (j->t[arr].type != JSON_ARRAY)
		return log_fail(why, whycap, "\"%s\" must be an array", what);
	m->nrefs = j->t[arr].size;
	if (m->nrefs > MANIFEST_MAX_REFS)
		return log_fail(why, whycap, "more than %d entries in \"%s\"", MANIFEST_MAX_REFS, what);
	if (m->nrefs) {
		m->refs = calloc(m->nrefs, sizeof *m->refs);
		if (!m->refs)
			return log_fail(why, whycap, "out of memory");
	}
	i = (uint32_t)arr + 1;
	for (size_t k = 0; k < m->nrefs; k++) {
		if (parse_descriptor(j, (int)i, &m->refs[k], what, why, whycap) < 0)
			return -1;
		i = j->t[i].next;
	}
	return 0;
}

int manifest_parse(struct manifest *m, const char *body, size_t len, const char *content_type,
		   char *why, size_t whycap)
{
	struct json *j = &m->j;
	char ct[MEDIA_TYPE_MAX] = "";
	uint64_t version;
	int t;

	memset(m, 0, sizeof *m);
	if (len > MANIFEST_MAX)
		return log_fail(why, whycap, "manifest larger than %u bytes", MANIFEST_MAX);
	if (json_parse(j, body, len) < 0)
		return log_fail(why, whycap, "manifest is not valid JSON");
	if (j->t[0].type != JSON_OBJECT) {
		log_fail(why, whycap, "manifest must be a JSON object");
		goto bad;
	}
	t = json_get(j, 0, "schemaVersion");
	if (t < 0 || json_u64(j, t, &version) < 0 || version != 2) {
		log_fail(why, whycap, "schemaVersion must be 2");
		goto bad;
	}
	if (get_string(j, 0, "mediaType", m->media_type, sizeof m->media_type, 0, why, whycap) < 0)
		goto bad;
	if (content_type) {
		/* drop parameters such as "; charset=utf-8" and surrounding blanks */
		size_t n = strcspn(content_type, ";");
		while (n && (content_type[n - 1] == ' ' || content_type[n - 1] == '\t'))
			n--;
		if (n < sizeof ct) {
			memcpy(ct, content_type, n);
			ct[n] = '\0';
		}
	}
	if (m->media_type[0] && ct[0] && strcmp(ct, m->media_type) != 0 &&
	    manifest_type_known(ct)) {
		log_fail(why, whycap, "Content-Type %s does not match mediaType %s", ct, m->media_type);
		goto bad;
	}
	if (!m->media_type[0]) {
		if (manifest_type_known(ct))
			snprintf(m->media_type, sizeof m->media_type, "%s", ct);
		else if (json_get(j, 0, "manifests") >= 0)
			snprintf(m->media_type, sizeof m->media_type, "%s", MT_OCI_INDEX);
		else
			snprintf(m->media_type, sizeof m->media_type, "%s", MT_OCI_MANIFEST);
	}
	if (strcmp(m->media_type, MT_OCI_MANIFEST) == 0 ||
	    strcmp(m->media_type, MT_DOCKER_MANIFEST) == 0) {
		m->kind = MANIFEST_IMAGE;
		t = json_get(j, 0, "config");
		if (t == -2 || parse_descriptor(j, t, &m->config, "config", why, whycap) < 0) {
			if (t < 0)
				log_fail(why, whycap, "missing \"config\"");
			goto bad;
		}
		if (parse_descriptor_array(m, json_get(j, 0, "layers"), "layers", why, whycap) < 0)
			goto bad;
	} else if (strcmp(m->media_type, MT_OCI_INDEX) == 0 ||
		   strcmp(m->media_type, MT_DOCKER_LIST) == 0) {
		m->kind = MANIFEST_INDEX;
		if (parse_descriptor_array(m, json_get(j, 0, "manifests"), "manifests", why, whycap) < 0)
			goto bad;
	} else {
		log_fail(why, whycap, "unsupported manifest mediaType %s", m->media_type);
		goto bad;
	}
	if (get_string(j, 0, "artifactType", m->artifact_type, sizeof m->artifact_type, 0, why,
		       whycap) < 0)
		goto bad;
	if (m->artifact_type[0] && !media_type_valid(m->artifact_type)) {
		log_fail(why, whycap, "invalid artifactType");
		goto bad;
	}
	if (!m->artifact_type[0] && m->kind == MANIFEST_IMAGE)
		memcpy(m->artifact_type, m->config.media_type, sizeof m->artifact_type);
	t = json_get(j, 0, "subject");
	if (t == -2) {
		log_fail(why, whycap, "duplicate key \"subject\"");
		goto bad;
	}
	if (t >= 0) {
		if (parse_descriptor(j, t, &m->subject, "subject", why, whycap) < 0)
			goto bad;
		m->has_subject = 1;
	}
	t = json_get(j, 0, "annotations");
	if (t == -2 || (t >= 0 && j->t[t].type != JSON_OBJECT)) {
		log_fail(why, whycap, "annotations must be an object");
		goto bad;
	}
	if (t >= 0)
		m->annotations = json_raw(j, t, &m->annotations_len);
	return 0;
bad:
	manifest_free(m);
	return -1;
}

void manifest_free(struct manifest *m)
{
	json_free(&m->j);
	free(m->refs);
	m->refs = NULL;
	m->nrefs = 0;
}

/* How specifically one media range matches mt: 3 exact, 2 a type wildcard, 1 any,
 * 0 not at all; *zero is set when the range carries q=0 (a refusal). */
static int range_match(const char *r, size_t n, const char *mt, int *zero)
{
	size_t len = n, mtlen = strlen(mt), slash;
	const char *semi = memchr(r, ';', n);

	*zero = 0;
	if (semi) {
		const char *p = semi;
		while (p < r + n) {
			while (p < r + n && (*p == ';' || *p == ' ' || *p == '\t'))
				p++;
			if (r + n - p >= 3 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
				const char *v = p + 2;
				int z = 1;
				for (; v < r + n && *v != ';'; v++)
					if (*v != '0' && *v != '.' && *v != ' ')
						z = 0;
				*zero = z;
			}
			while (p < r + n && *p != ';')
				p++;
		}
		len = (size_t)(semi - r);
	}
	while (len && (r[len - 1] == ' ' || r[len - 1] == '\t'))
		len--;
	if (len == mtlen && strncasecmp(r, mt, len) == 0)
		return 3;
	slash = strcspn(mt, "/");
	if (len == slash + 2 && strncasecmp(r, mt, slash + 1) == 0 && r[slash + 1] == '*')
		return 2;
	if (len == 3 && memcmp(r, "*/*", 3) == 0)
		return 1;
	return 0;
}

int manifest_accepts(const char *accept, size_t len, const char *mt)
{
	size_t i = 0;
	int any = 0, best = 0, best_zero = 0;

	/* RFC 9110 12.5.1: the most specific range that matches decides */
	while (i < len) {
		size_t start, end;
		while (i < len && (accept[i] == ' ' || accept[i] == '\t' || accept[i] == ','))
			i++;
		start = i;
		while (i < len && accept[i] != ',')
			i++;
		end = i;
		if (end > start) {
			int zero, m = range_match(accept + start, end - start, mt, &zero);
			any = 1;
			if (m > best || (m == best && m && !zero && best_zero)) {
				best = m;
				best_zero = zero;
			}
		}
	}
	if (!any)
		return 1; /* an empty Accept accepts anything */
	return best > 0 && !best_zero;
}
