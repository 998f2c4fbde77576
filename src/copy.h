/* copy.h - `packhelper copy`: images from a registry (or anything push
 * reads) to a registry, digests kept, like crane copy, skopeo copy --all
 * and oras cp; one copy, every tag of a repository, every repository under
 * a prefix, or a list from a file. */
#ifndef PH_COPY_H
#define PH_COPY_H

/* Returns the exit status: 0 all copied, 1 something failed, 2 usage. */
int copy_main(int argc, char **argv);

#endif
