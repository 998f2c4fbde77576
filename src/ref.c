/* ref.c - repository-name and tag grammar (drawn in ref.h). */
#include "ref.h"

#include <string.h>

int ref_component_valid(const char *s, size_t n)
{
	size_t i = 0;
	for (;;) {
		size_t start = i;
		while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
			i++;
		if (i == start)
			return 0;
		if (i == n)
			return 1;
		if (s[i] == '.')
			i++;
		else if (s[i] == '_')
			i += (i + 1 < n && s[i + 1] == '_') ? 2 : 1;
		else if (s[i] == '-')
			while (i < n && s[i] == '-')
				i++;
		else
			return 0;
	}
}

int ref_name_valid(const char *name)
{
	size_t n = strnlen(name, REF_NAME_MAX + 1), ncomp = 0;
	const char *p = name;
	if (n == 0 || n > REF_NAME_MAX)
		return 0;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		if (!ref_component_valid(p, len) || ++ncomp > REF_NAME_COMPONENTS_MAX)
			return 0;
		if (!slash)
			return 1;
		p = slash + 1;
	}
}

int ref_tag_valid(const char *tag)
{
	size_t n = strnlen(tag, REF_TAG_MAX + 1);
	if (n == 0 || n > REF_TAG_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = tag[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			 c == '_' || (i > 0 && (c == '.' || c == '-'));
		if (!ok)
			return 0;
	}
	return 1;
}
