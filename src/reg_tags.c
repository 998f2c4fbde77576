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
#include "regerr.h"
#include "router.h"
#include "serve.h"
#include "store.h"

#define LIST_MAX ((size_t)64 << 20)

/* Answer a page of the sorted list: {"<head_key>":<head_val>,"<key>":[...]}. */
static void send_page(struct conn *c, const char **items, size_t count, const char *path,
		      const char *key, const char *name)
{
	char nbuf[32], last[STORE_NAME_MAX + 1];
	long n_len = router_query(c->rt.query, c->rt.query_len, "n", 0, nbuf, sizeof nbuf);
	long l_len = router_query(c->rt.query, c->rt.query_len, "last", 0, last, sizeof last);
	size_t start = 0, limit = count, end;
	struct buf b;
	int r = 0;

	if (n_len == -2 || l_len == -2) {
		regerr_send(c, RE_BAD_REQUEST, "malformed n or last");
		return;
	}
	if (n_len >= 0) {
		int64_t v = http_parse_u64((struct http_slice){ nbuf, (size_t)n_len });
		if (v < 0) {
			regerr_send(c, RE_BAD_REQUEST, "n must be a non-negative integer");
			return;
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
		regerr_send(c, RE_INTERNAL, "listing too large");
		return;
	}
	if (end < count && end > start)
		conn_stage(c, "Link: <%s?n=%zu&last=%s>; rel=\"next\"", path, limit, items[end - 1]);
	conn_begin(c, 200);
	conn_end_buf(c, "application/json; charset=utf-8", &b);
}

void reg_tags_list(struct conn *c)
{
	const char **tags;
	size_t n;
	char path[STORE_NAME_MAX + 32];

	if (store_tags(c->srv->store, c->rt.name, &tags, &n) < 0) {
		regerr_send(c, errno == ENOENT ? RE_NAME_UNKNOWN : RE_INTERNAL, c->rt.name);
		return;
	}
	snprintf(path, sizeof path, "/v2/%s/tags/list", c->rt.name);
	send_page(c, tags, n, path, "tags", c->rt.name);
	free(tags);
}

void reg_catalog(struct conn *c)
{
	const char **repos;
	size_t n;

	if (store_catalog(c->srv->store, &repos, &n) < 0) {
		regerr_send(c, RE_INTERNAL, NULL);
		return;
	}
	send_page(c, repos, n, "/v2/_catalog", "repositories", NULL);
	free(repos);
}
