/* test_ref.c - the name and tag grammar, and its one limit. */
#include <string.h>

#include "ref.h"
#include "unit.h"

static void deep_name(char *out, size_t components)
{
	size_t o = 0;
	for (size_t i = 0; i < components; i++) {
		if (i)
			out[o++] = '/';
		out[o++] = 'a';
	}
	out[o] = '\0';
}

TEST(names_at_and_past_the_limit)
{
	char name[2 * REF_NAME_COMPONENTS_MAX + 4];
	deep_name(name, REF_NAME_COMPONENTS_MAX);
	CHECK(strlen(name) == REF_NAME_MAX);
	CHECK(ref_name_valid(name));
	deep_name(name, REF_NAME_COMPONENTS_MAX + 1);
	CHECK(!ref_name_valid(name));
	memset(name, 'a', REF_NAME_MAX + 1);
	name[REF_NAME_MAX + 1] = '\0';
	CHECK(!ref_name_valid(name));
	name[REF_NAME_MAX] = '\0';
	CHECK(ref_name_valid(name));
}

TEST(grammar)
{
	CHECK(ref_name_valid("library/ubuntu"));
	CHECK(ref_name_valid("a0.b_c__d-e--f/g"));
	CHECK(!ref_name_valid("a//b"));
	CHECK(!ref_name_valid("a/_layout"));
	CHECK(!ref_name_valid("a___b"));
	CHECK(ref_component_valid("ab", 2));
	CHECK(!ref_component_valid("ab/", 3));
	CHECK(ref_tag_valid("v1.0-rc_1"));
	CHECK(!ref_tag_valid(".v"));
}

TEST(tag_limit)
{
	char tag[REF_TAG_MAX + 2];
	memset(tag, 'T', sizeof tag - 1);
	tag[REF_TAG_MAX] = '\0';
	CHECK(ref_tag_valid(tag));
	tag[REF_TAG_MAX] = 'T';
	tag[REF_TAG_MAX + 1] = '\0';
	CHECK(!ref_tag_valid(tag));
}

int main(void)
{
	RUN(names_at_and_past_the_limit);
	RUN(grammar);
	RUN(tag_limit);
	return unit_report("unit ref");
}
