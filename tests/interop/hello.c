/*
 * tests/interop/hello.c - the program inside the interop suite's two-platform
 * test image (tests/interop/lib.sh, iop_mp): built static with musl for
 * linux/amd64 and linux/arm64, it prints the architecture it was compiled for,
 * so a container run shows which platform's image a client pulled and ran
 * (the arm64 one under qemu through binfmt_misc on an x86-64 machine).
 * No libc beyond stdio; nothing read, nothing written but one line.
 */
#include <stdio.h>

#if defined(__x86_64__)
#define HELLO_ARCH "x86_64"
#elif defined(__aarch64__)
#define HELLO_ARCH "aarch64"
#else
#error "hello.c: build for x86_64 or aarch64"
#endif

int main(void)
{
	return printf("hello from %s\n", HELLO_ARCH) < 0;
}
