/* fuzz_ref.c - ref_parse.  What push and the image loader rely on: an
 * accepted reference has a host url_parse_host accepts, a repository name
 * and a tag that pass the grammar (or a digest that parses), exactly one of
 * tag and digest, and it reads back the same when written out again; a
 * refused one leaves the struct zeroed and says why in one line. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"
#include "url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct ref zero;
	struct ref r, back;
	struct url u;
	enum digest_alg alg;
	char err[512] = "", out[REF_MAX + 16];
	int n;

	if (ref_parse((const char *)data, size, &r, err, sizeof err) < 0) {
		if (memcmp(&r, &zero, sizeof r) != 0 || !err[0] || strchr(err, '\n'))
			abort();
		return 0;
	}
	if (!r.host[0] || url_parse_host(&u, 1, r.host, strlen(r.host)) < 0 ||
	    !ref_name_valid(r.repo))
		abort();
	if (!r.tag[0] == !r.digest[0])
		abort();
	if (r.tag[0] && !ref_tag_valid(r.tag))
		abort();
	if (r.digest[0] && digest_parse(r.digest, strlen(r.digest), &alg) != DIGEST_OK)
		abort();
	if (!strstr(r.repo, ref_familiar_name(&r)))
		abort();
	n = snprintf(out, sizeof out, "%s/%s%s%s", r.host, r.repo, r.tag[0] ? ":" : "@",
		     r.tag[0] ? r.tag : r.digest);
	if (n < 0 || (size_t)n >= sizeof out)
		abort();
	if (ref_parse(out, (size_t)n, &back, err, sizeof err) < 0 || memcmp(&back, &r, sizeof r) != 0)
		abort();
	return 0;
}
