/* ref.h - the grammar of repository names and tags, and their limits: the one
 * place the router, the store's start-up walk, imports and push ask.
 *
 *   name       component ( "/" component )*        at most REF_NAME_MAX chars
 *   component  [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
 *   tag        [A-Za-z0-9_] [A-Za-z0-9_.-]*         at most REF_TAG_MAX chars
 *
 * A name of REF_NAME_MAX chars has at most REF_NAME_COMPONENTS_MAX
 * components ("a/a/.../a"); the store keeps one directory per component, so
 * every name the router accepts is one the store finds again at start-up. */
#ifndef PH_REF_H
#define PH_REF_H

#include <stddef.h>

#define REF_NAME_MAX 255
#define REF_NAME_COMPONENTS_MAX ((REF_NAME_MAX + 1) / 2)
#define REF_TAG_MAX 128

/* One path component, s[0..n). */
int ref_component_valid(const char *s, size_t n);
/* A whole repository name, NUL-terminated. */
int ref_name_valid(const char *name);
int ref_tag_valid(const char *tag);

#endif
