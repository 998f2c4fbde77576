/* reg_tags.c - GET /v2/<name>/tags/list and GET /v2/_catalog, both paginated
 * with n and an exclusive last, and a Link header to the next page. */
#include "reg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conn.h"
#include "json.h"
#include "store.h"

#define LIST_MAX ((size_t)64 << 20)

/* Answer a page of the sorted list: {"<head_key>":<head_val>,"<key>":[...]}. */
static enum regerr send_page(struct conn *c, struct reg_req *q, const char **items, size_t count,
			     const char *path, const char *key, const char *name)
{
	char nbuf[32], last[STORE_NAME_MAX + 1];
	long n_len = router_query(q->rt.query, q->rt.query_len, "n", 0, nbuf, sizeof nbuf);
	long l_len = router_query(q->rt.query, q->rt.query_len, "last", 0, last, sizeof last);
	size_t start = 0, limit = count, end;
	struct buf b;
	int r = 0;

	if (n_len == -2 || l_len == -2) {
		q->detail = "malformed n or last";
		return RE_BAD_REQUEST;
	}
	if (n_len >= 0) {
		int64_t v = http_parse_u64((struct http_slice){ nbuf, (size_t)n_len });
		if (v < 0) {
			q->detail = "n must be a non-negative integer";
			return RE_BAD_REQUEST;
		}
		limit = (size_t)v;
	}
	if (l_len > 0) {
		/* first item strictly after last */
		size_t lo = 0, hi = count;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (strcmp(items[mid], last) <= 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		start = lo;
	}
	end = count - start > limit ? start + limit : count;
	buf_init(&b, LIST_MAX);
	if (name) {
		r |= buf_puts(&b, "{\"name\":");
		r |= json_write_str(&b, name, strlen(name));
		r |= buf_printf(&b, ",\"%s\":[", key);
	} else {
		r |= buf_printf(&b, "{\"%s\":[", key);
	}
	for (size_t i = start; i < end; i++) {
		if (i > start)
			r |= buf_puts(&b, ",");
		r |= json_write_str(&b, items[i], strlen(items[i]));
	}
	r |= buf_puts(&b, "]}\n");
	if (r) {
		buf_free(&b);
		q->detail = "listing too large: ask for fewer with ?n=";
		return RE_INTERNAL;
	}
	if (end < count && end > start)
		conn_stage(c, "Link: <%s?n=%zu&last=%s>; rel=\"next\"", path, limit, items[end - 1]);
	conn_begin(c, 200);
	conn_end_buf(c, "application/json; charset=utf-8", &b);
	return RE_OK;
}

enum regerr reg_tags_list(struct conn *c, struct reg_req *q)
{
	const char **tags;
	size_t n;
	char path[STORE_NAME_MAX + 32];
	enum regerr e;

	if (store_tags(q->reg->store, q->rt.name, &tags, &n) < 0) {
		q->detail = q->rt.name;
		return errno == ENOENT ? RE_NAME_UNKNOWN : reg_store_error(q, errno, "list tags");
	}
	snprintf(path, sizeof path, "/v2/%s/tags/list", q->rt.name);
	e = send_page(c, q, tags, n, path, "tags", q->rt.name);
	free(tags);
	return e;
}

enum regerr reg_catalog(struct conn *c, struct reg_req *q)
{
	const char **repos;
	size_t n;
	enum regerr e;

	if (store_catalog(q->reg->store, &repos, &n) < 0)
		return reg_store_error(q, errno, "list repositories");
	e = send_page(c, q, repos, n, "/v2/_catalog", "repositories", NULL);
	free(repos);
	return e;
}
