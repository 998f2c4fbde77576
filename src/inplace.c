/* inplace.c - in-place blob records and file identity (inplace.h). */
#include "inplace.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "json.h"

int inplace_id_of(int fd, struct inplace_id *id)
{
	struct stat sb;
	if (fstat(fd, &sb) < 0)
		return -1;
	id->dev = (uint64_t)sb.st_dev;
	id->ino = (uint64_t)sb.st_ino;
	id->size = (uint64_t)sb.st_size;
	id->mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
	id->ctime_ns = (int64_t)sb.st_ctim.tv_sec * 1000000000 + sb.st_ctim.tv_nsec;
	return 0;
}

int inplace_id_eq(const struct inplace_id *a, const struct inplace_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

int inplace_id_same(int fd, const struct inplace_id *id)
{
	struct inplace_id now;
	return inplace_id_of(fd, &now) == 0 && inplace_id_eq(&now, id);
}

void inplace_id_key(const struct inplace_id *id, char out[128])
{
	snprintf(out, 128, "%llu:%llu:%llu:%lld:%lld", (unsigned long long)id->dev,
		 (unsigned long long)id->ino, (unsigned long long)id->size, (long long)id->mtime_ns,
		 (long long)id->ctime_ns);
}

int inplace_format(const struct inplace_rec *rec, struct buf *out)
{
	size_t start = out->len;
	char sum[DIGEST_STR_MAX];
	int r = 0;
	r |= buf_printf(out, "{\"v\":1,\"digest\":\"%s\",\"path\":", rec->digest);
	r |= json_write_str(out, rec->path, strlen(rec->path));
	r |= buf_printf(out,
			",\"dev\":%llu,\"ino\":%llu,\"fsize\":%llu,\"mtime_ns\":%lld,\"ctime_ns\":%lld,"
			"\"off\":%llu,\"len\":%llu}\n",
			(unsigned long long)rec->id.dev, (unsigned long long)rec->id.ino,
			(unsigned long long)rec->id.size, (long long)rec->id.mtime_ns,
			(long long)rec->id.ctime_ns, (unsigned long long)rec->off,
			(unsigned long long)rec->len);
	if (r)
		return -1;
	digest_of(DIGEST_SHA256, out->p + start, out->len - start, sum);
	return buf_printf(out, "%s\n", sum) < 0 ? -1 : 0;
}

static int fail(char *why, size_t cap, const char *msg)
{
	snprintf(why, cap, "%s", msg);
	return -1;
}

static int get_u64(const struct json *j, const char *key, uint64_t *out)
{
	return json_u64(j, json_get(j, 0, key), out);
}

/* A time: an integer that may be negative (a file dated before 1970). */
static int get_i64(const struct json *j, const char *key, int64_t *out)
{
	int tok = json_get(j, 0, key);
	size_t n;
	const char *p;
	uint64_t v = 0;
	int neg;
	if (tok < 0 || j->t[tok].type != JSON_NUMBER)
		return -1;
	p = json_raw(j, tok, &n);
	neg = n && p[0] == '-';
	if (n - (size_t)neg == 0 || n - (size_t)neg > 19)
		return -1;
	for (size_t i = (size_t)neg; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	if (v > (uint64_t)INT64_MAX)
		return -1;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

int inplace_parse(struct inplace_rec *rec, const char *text, size_t len, char *why, size_t cap)
{
	const char *nl;
	char sum[DIGEST_STR_MAX];
	size_t line, sumlen;
	struct json j;
	uint64_t v;
	enum digest_alg alg;
	int rc = -1;

	memset(rec, 0, sizeof *rec);
	if (len > INPLACE_REC_MAX)
		return fail(why, cap, "record too long");
	nl = memchr(text, '\n', len);
	if (!nl)
		return fail(why, cap, "no checksum line");
	line = (size_t)(nl - text) + 1;
	digest_of(DIGEST_SHA256, text, line, sum);
	sumlen = strlen(sum);
	if (len - line != sumlen + 1 || memcmp(text + line, sum, sumlen) != 0 || text[len - 1] != '\n')
		return fail(why, cap, "checksum mismatch (a torn or edited record)");
	if (json_parse(&j, text, line - 1) < 0 || j.t[0].type != JSON_OBJECT)
		return fail(why, cap, "not a JSON object");
	if (get_u64(&j, "v", &v) < 0 || v != 1) {
		fail(why, cap, "unknown version");
		goto out;
	}
	if (json_str_copy(&j, json_get(&j, 0, "digest"), rec->digest, sizeof rec->digest) < 0 ||
	    digest_parse(rec->digest, strlen(rec->digest), &alg) != DIGEST_OK) {
		fail(why, cap, "bad digest");
		goto out;
	}
	if (json_str_copy(&j, json_get(&j, 0, "path"), rec->path, sizeof rec->path) < 1 ||
	    rec->path[0] != '/') {
		fail(why, cap, "bad path");
		goto out;
	}
	if (get_u64(&j, "dev", &rec->id.dev) < 0 || get_u64(&j, "ino", &rec->id.ino) < 0 ||
	    get_u64(&j, "fsize", &rec->id.size) < 0 || get_i64(&j, "mtime_ns", &rec->id.mtime_ns) < 0 ||
	    get_i64(&j, "ctime_ns", &rec->id.ctime_ns) < 0 || get_u64(&j, "off", &rec->off) < 0 ||
	    get_u64(&j, "len", &rec->len) < 0) {
		fail(why, cap, "a number is missing or bad");
		goto out;
	}
	if (rec->off > rec->id.size || rec->len > rec->id.size - rec->off) {
		fail(why, cap, "range outside the file");
		goto out;
	}
	rc = 0;
out:
	json_free(&j);
	return rc;
}
