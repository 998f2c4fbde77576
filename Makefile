# packhelper - one static binary: OCI registry, pusher, readiness probe.
#
#   make            build/packhelper (static, musl; deps built once and cached)
#   make ARCH=arm64 build/arm64/packhelper, cross-built for linux/arm64
#   make image      bot-bottle/packhelper for linux/amd64 and linux/arm64, and
#                   build/packhelper-oci.tar, both as one OCI layout
#   make publish REGISTRY=host/repo [PUSH_FLAGS=--insecure]   push that layout
#   make run        the registry on localhost:5000, store in build/store
#   make check      unit and end-to-end tests: no Docker, no Go, under a minute
#   make test       everything: unit, end-to-end, conformance, the linux/arm64 build
#                   under qemu, client interop, push, copy, the mirror, ASan/UBSan
#   make test-arm64 unit, end-to-end and conformance tests of build/arm64 under qemu
#   make bench      benchmarks against nginx, registry 2.8, crane, skopeo, regctl (not part of the tests)
#   make bench-sha  SHA-256 throughput, hardware and BearSSL, amd64 and arm64, against openssl
#   make fuzz       run the parser fuzzers for FUZZ_SECONDS each

VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
# ARCH: a Debian architecture name, amd64 or arm64; this machine's by default.
# Another ARCH is a cross build into build/ARCH/ (arm64 on amd64 only).
HOST_ARCH := $(shell dpkg --print-architecture 2>/dev/null || uname -m)
ARCH      ?= $(HOST_ARCH)
ifeq ($(ARCH),$(HOST_ARCH))
BUILD     := build
CC        := musl-gcc
STRIP     := strip
else ifeq ($(HOST_ARCH):$(ARCH),amd64:arm64)
BUILD     := build/arm64
CC        := aarch64-linux-musl-gcc
STRIP     := aarch64-linux-gnu-strip
else
$(error ARCH=$(ARCH): this machine ($(HOST_ARCH)) builds for itself, or for arm64 from amd64)
endif
FILE_ARCH_amd64 := x86-64
FILE_ARCH_arm64 := ARM aarch64
# The static dependencies: mk/deps.sh builds them once into a cache and the
# stamp records where; PACKHELPER_DEPS=PREFIX uses a prefix built elsewhere.
ifdef PACKHELPER_DEPS
DEPS       := $(PACKHELPER_DEPS)
DEPS_STAMP :=
else
DEPS_STAMP := $(BUILD)/deps.prefix
DEPS        = $(shell cat $(DEPS_STAMP))
endif
WARN      := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
             -Wpointer-arith -Wcast-qual -Wformat=2 -Wvla -Werror
CFLAGS    ?= -O2 -g
CFLAGS    += -std=c11 -D_GNU_SOURCE $(WARN) -fstack-protector-strong \
             -ffunction-sections -fdata-sections -DPACKHELPER_VERSION='"$(VERSION)"'
LDFLAGS   += -static -Wl,--gc-sections -Wl,-z,relro,-z,now
LIBS      := -larchive -lcurl -lbearssl -lz

SRCS      := $(wildcard src/*.c)
OBJS      := $(SRCS:src/%.c=$(BUILD)/obj/%.o)
LIB_SRCS  := $(filter-out src/main.c,$(SRCS))

# The sanitizer build uses the host's glibc toolchain and Debian's -dev libraries.
ASAN_CC     := gcc
ASAN_FLAGS  := -std=c11 -D_GNU_SOURCE $(WARN) -O1 -g -fno-omit-frame-pointer \
               -fsanitize=address,undefined -fno-sanitize-recover=all -DPACKHELPER_VERSION='"$(VERSION)-asan"'
ASAN_LIBS   := -I/usr/include/bearssl -larchive -lcurl -lbearssl -lz

IMAGE     ?= bot-bottle/packhelper:latest

.PHONY: all run test check image image-arch publish test-image test-unit test-e2e compile_commands.json test-conformance test-arm64 test-interop test-oneshot test-push \
        test-copy test-export test-mirror \
        test-asan asan \
        test-fuzz tools bench bench-sha fuzz clean
.PHONY: soak

all: $(BUILD)/packhelper

# the stamp is remade when mk/deps.sh changes or its prefix is gone
$(BUILD)/deps.prefix: mk/deps.sh $(if $(wildcard $(shell cat $(BUILD)/deps.prefix 2>/dev/null)/.complete),,FORCE)
	@mkdir -p $(BUILD)
	@mk/deps.sh $(ARCH) >$@.tmp && mv $@.tmp $@

.PHONY: FORCE deps
FORCE:
deps: $(DEPS_STAMP)

# header dependencies come from the compiler (-MMD), not a wildcard
$(BUILD)/obj/%.o: src/%.c | $(BUILD)/obj $(DEPS_STAMP)
	@echo "  CC $<"; $(CC) $(CFLAGS) -MMD -MP -I$(DEPS)/include -c $< -o $@

-include $(OBJS:.o=.d)

# the objects that print VERSION are rebuilt when it changes (a new commit, a
# dirty tree), so a binary never carries another commit's version label
$(BUILD)/obj/version: FORCE | $(BUILD)/obj
	@[ "$$(cat $@ 2>/dev/null)" = "$(VERSION)" ] || echo "$(VERSION)" >$@
$(BUILD)/obj/main.o $(BUILD)/obj/client.o: $(BUILD)/obj/version

$(BUILD)/packhelper: $(OBJS) $(DEPS_STAMP)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(OBJS) -L$(DEPS)/lib $(LIBS)
	@file $@ | grep -q 'statically linked' || { echo "$@ is not static" >&2; exit 1; }
	@file $@ | grep -q '$(FILE_ARCH_$(ARCH))' || { echo "$@ is not $(ARCH)" >&2; exit 1; }

$(BUILD)/obj:
	mkdir -p $@

# ---- the FROM-scratch image, for linux/amd64 and linux/arm64, without buildx
# Docker 20.10 keeps one platform per tag: each platform's image is tagged
# IMAGE-ARCH (bot-bottle/packhelper:latest-amd64, ...-arm64) and the host's is
# IMAGE too. Each is built by `make ARCH=A image-arch` (cross for arm64):
# the stripped binary, static/'s passwd and group, the CA bundle and a 1777
# store staged in build/image/A/root, `docker build --platform linux/A` with
# the legacy builder, `docker save` into build/image/A.tar. mk/oci-image.py
# then writes both as one OCI layout, OCI_TAR: an image index of the two,
# gzip layers, configs unchanged (their digests are the local image IDs).
IMAGE_REF    := $(if $(findstring :,$(lastword $(subst /, ,$(IMAGE)))),$(IMAGE),$(IMAGE):latest)
# IMAGE_ARCHES=amd64 builds one platform only: enough for test-oneshot and the
# oneshot benchmark, which run the host's (make test-oneshot IMAGE_ARCHES=amd64)
IMAGE_ARCHES ?= amd64 arm64
IMAGE_DIR    := build/image/$(ARCH)
OCI_PLATFORM_amd64 := linux/amd64
OCI_PLATFORM_arm64 := linux/arm64/v8
OCI_TAR      := build/packhelper-oci.tar

image:
	@for a in $(IMAGE_ARCHES); do $(MAKE) --no-print-directory ARCH=$$a image-arch || exit 1; done
	$(if $(filter $(HOST_ARCH),$(IMAGE_ARCHES)),docker tag $(IMAGE_REF)-$(HOST_ARCH) $(IMAGE_REF))
	@d=$$(python3 mk/oci-image.py $(OCI_TAR) $(IMAGE_REF) \
		$(foreach a,$(IMAGE_ARCHES),$(OCI_PLATFORM_$(a))=build/image/$(a).tar)) && \
		echo "$(OCI_TAR): $(IMAGE_ARCHES) under index $$d, $$(stat -c %s $(OCI_TAR)) bytes"

image-arch: $(BUILD)/packhelper
	rm -rf $(IMAGE_DIR) $(IMAGE_DIR).tar $(IMAGE_DIR).log
	mkdir -p $(IMAGE_DIR)/root/etc/ssl/certs $(IMAGE_DIR)/root/var/lib/packhelper $(IMAGE_DIR)/root/tmp
	$(STRIP) -o $(IMAGE_DIR)/root/packhelper $(BUILD)/packhelper
	cp static/passwd static/group $(IMAGE_DIR)/root/etc/
	cp /etc/ssl/certs/ca-certificates.crt $(IMAGE_DIR)/root/etc/ssl/certs/
	chmod 1777 $(IMAGE_DIR)/root/var/lib/packhelper $(IMAGE_DIR)/root/tmp
	@echo "docker build --platform linux/$(ARCH) -t $(IMAGE_REF)-$(ARCH)"; \
	DOCKER_BUILDKIT=0 docker build -q --platform linux/$(ARCH) --build-arg VERSION=$(VERSION) \
		-t $(IMAGE_REF)-$(ARCH) -f Dockerfile $(IMAGE_DIR) >$(IMAGE_DIR).log 2>&1 || \
		{ cat $(IMAGE_DIR).log >&2; exit 1; }
	docker save -o $(IMAGE_DIR).tar $(IMAGE_REF)-$(ARCH)
	@echo "image $(IMAGE_REF)-$(ARCH): $$(docker image inspect -f '{{.Os}}/{{.Architecture}}, {{.Size}} bytes' \
		$(IMAGE_REF)-$(ARCH)), binary $$(stat -c %s $(IMAGE_DIR)/root/packhelper) bytes stripped"

# ---- publish: the OCI layout as one multi-platform reference, pushed by
# packhelper itself: make publish REGISTRY=host[:port]/repo [PUSH_FLAGS=...]
# (e.g. --insecure for plain HTTP, -u USER --password-stdin), tagged with
# each of PUBLISH_TAGS (VERSION and latest), by the host's binary
REGISTRY     ?=
PUSH_FLAGS   ?=
PUSHER       ?= build/packhelper
PUBLISH_TAGS ?= $(VERSION) latest
ifneq ($(filter publish,$(MAKECMDGOALS)),)
ifeq ($(REGISTRY),)
$(error make publish REGISTRY=host[:port]/repo [PUSH_FLAGS=--insecure])
endif
endif
publish: image
	$(PUSHER) push $(PUSH_FLAGS) $(addprefix -t ,$(wordlist 2,$(words $(PUBLISH_TAGS)),$(PUBLISH_TAGS))) \
		$(OCI_TAR) $(REGISTRY):$(firstword $(PUBLISH_TAGS))

run: $(BUILD)/packhelper
	$(BUILD)/packhelper serve --listen 127.0.0.1:5000 --root $(BUILD)/store

tools:
	@mk/tools.sh >/dev/null

# ---- unit tests: one binary per module, linked with the static library objects
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/unit/%)
# a helper that has exited before its key is written (send_key's SIGPIPE guard)
UNIT_LDFLAGS_test_credhelper := -Wl,--wrap=posix_spawn

$(BUILD)/unit/%: tests/unit/%.c tests/unit/unit.h $(filter-out $(BUILD)/obj/main.o,$(OBJS)) $(DEPS_STAMP)
	@mkdir -p $(BUILD)/unit
	$(CC) $(CFLAGS) -Isrc -I$(DEPS)/include $(LDFLAGS) $(UNIT_LDFLAGS_$*) -o $@ $< \
		$(filter-out $(BUILD)/obj/main.o,$(OBJS)) -L$(DEPS)/lib $(LIBS)

test-unit: $(UNIT_BINS)
	@tests/run-unit.sh $(UNIT_BINS)

test-e2e: $(BUILD)/packhelper
	@PACKHELPER=$(BUILD)/packhelper python3 tests/e2e/run.py -j 3

# the quick loop: C unit tests and the end-to-end suite (real binary, real
# sockets; root for the tmpfs disk-full tests), nothing from Docker or Go
check: test-unit test-e2e

# for editors: one entry per source file, with the flags the build uses
compile_commands.json: $(DEPS_STAMP)
	@{ echo '['; sep=''; for f in $(SRCS); do \
		printf '%s{"directory":"%s","file":"%s","command":"%s %s -I%s/include -c %s"}\n' \
		  "$$sep" "$(CURDIR)" "$$f" "$(CC)" "$(subst ",\\\",$(CFLAGS))" "$(DEPS)" "$$f"; sep=','; \
	done; echo ']'; } >$@
	@echo "wrote $@"

# three times: every switch on against --allow-sparse, the default (which
# refuses manifests naming blobs it lacks) with the sparse data set off, and
# every switch on against a store `packhelper gc` collected, with online
# collection running meanwhile (tests/conformance-gc.sh)
test-conformance: $(BUILD)/packhelper tools
	@PACKHELPER_SERVE_ARGS=--allow-sparse tests/with-server.sh $(BUILD)/packhelper tests/conformance.sh
	@OCI_DATA_SPARSE=false tests/with-server.sh $(BUILD)/packhelper tests/conformance.sh
	@tests/conformance-gc.sh $(BUILD)/packhelper
	@tests/conformance-inplace.sh $(BUILD)/packhelper

# linux/arm64 under qemu user emulation (tests/arm64.sh: by binfmt_misc, else
# qemu-aarch64-static by hand): build/arm64's unit tests, the end-to-end suite
# and test-conformance's three runs against build/arm64/packhelper, summed as
# arm64-unit, arm64-e2e, arm64-conformance and arm64-conformance-gc
ifeq ($(ARCH),arm64)
test-arm64: $(BUILD)/packhelper $(UNIT_BINS) tools
	@tests/arm64.sh $(BUILD)/packhelper $(UNIT_BINS)
else
test-arm64:
	@$(MAKE) --no-print-directory ARCH=arm64 test-arm64
endif

test-interop: $(BUILD)/packhelper tools
	@tests/with-server.sh $(BUILD)/packhelper tests/interop/all.sh

# (all.sh makes the image itself when run alone; here `image` just did)
test-oneshot: image tools
	@ONESHOT_NO_MAKE=1 tests/oneshot/all.sh

test-image: image tools
	@PACKHELPER_IMAGE=$(IMAGE_REF) PACKHELPER_OCI=$(OCI_TAR) tests/image/all.sh

test-push: $(BUILD)/packhelper tools
	@tests/push/all.sh

test-copy: $(BUILD)/packhelper tools
	@tests/copy/all.sh

test-export: $(BUILD)/packhelper tools
	@tests/export/all.sh

test-mirror: $(BUILD)/packhelper tools
	@tests/mirror/all.sh

# ---- sanitizers
asan: $(BUILD)/asan/packhelper

$(BUILD)/asan/packhelper: $(SRCS) $(wildcard src/*.h)
	@mkdir -p $(BUILD)/asan
	@mk/tools.sh >/dev/null
	$(ASAN_CC) $(ASAN_FLAGS) -o $@ $(SRCS) $(ASAN_LIBS)

# The ASan binary links Debian's libcurl (OpenSSL), so the TLS checks, which
# read BearSSL's messages, stay with the static binary.
test-asan: $(BUILD)/asan/packhelper
	@PACKHELPER=$(BUILD)/asan/packhelper python3 tests/e2e/run.py -j 3
	@PACKHELPER_SERVE_ARGS=--allow-sparse tests/with-server.sh $(BUILD)/asan/packhelper tests/conformance.sh
	@OCI_DATA_SPARSE=false tests/with-server.sh $(BUILD)/asan/packhelper tests/conformance.sh
	@tests/conformance-gc.sh $(BUILD)/asan/packhelper
	@tests/conformance-inplace.sh $(BUILD)/asan/packhelper
	@PACKHELPER=$(CURDIR)/$(BUILD)/asan/packhelper tests/push/all.sh registries tags faults errors sources auth credhelpers origins deadline
	@PACKHELPER=$(CURDIR)/$(BUILD)/asan/packhelper tests/copy/all.sh
	@PACKHELPER=$(CURDIR)/$(BUILD)/asan/packhelper tests/export/all.sh
	@PACKHELPER=$(CURDIR)/$(BUILD)/asan/packhelper tests/mirror/all.sh

# the fuzzers are built and run briefly on every test run, so they cannot rot
test-fuzz:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=10

# the arm64 run only where it is emulated (on an arm64 machine test-unit and test-e2e are it)
test: all test-unit test-e2e test-conformance $(if $(filter amd64,$(HOST_ARCH)),test-arm64) \
      test-interop test-oneshot test-image test-push test-copy test-export test-mirror test-asan test-fuzz

# ---- fuzzing (clang libFuzzer, glibc; Debian: clang libclang-rt-14-dev libbearssl-dev)
# Only the parsers are linked (libc and BearSSL, whose Debian headers live in
# /usr/include/bearssl).  UBSan findings abort, so libFuzzer reports them.
# Crash inputs go to $(BUILD)/fuzz/artifacts-<target>/; a crash fails `make fuzz`.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SRCS    := src/http.c src/json.c src/buf.c src/digest.c src/manifest.c src/router.c src/log.c src/ref.c \
                src/conn.c src/ev.c src/bytes.c
FUZZ_SRCS    += src/url.c src/auth.c src/credhelper.c
FUZZ_SRCS    += src/tarname.c src/dockersave.c src/imageconfig.c src/ocindex.c
FUZZ_SRCS    += src/platform.c src/listing.c src/copylist.c src/inplace.c src/upstream.c
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -Isrc -I/usr/include/bearssl \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

$(BUILD)/fuzz/%: tests/fuzz/fuzz_%.c $(FUZZ_SRCS) $(wildcard src/*.h)
	@mkdir -p $(BUILD)/fuzz
	clang $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_SRCS) -lbearssl

fuzz: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/%)
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p $(BUILD)/fuzz/corpus-$$t $(BUILD)/fuzz/artifacts-$$t; \
		dict=; if [ -f tests/fuzz/$$t.dict ]; then dict=-dict=tests/fuzz/$$t.dict; fi; \
		echo "fuzz $$t for $(FUZZ_SECONDS)s"; \
		$(BUILD)/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $$dict \
			-artifact_prefix=$(BUILD)/fuzz/artifacts-$$t/ \
			$(BUILD)/fuzz/corpus-$$t tests/fuzz/corpus/$$t >$(BUILD)/fuzz/$$t.log 2>&1; \
		rc=$$?; \
		grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^Done|stat::|ERROR|SUMMARY|Test unit written' $(BUILD)/fuzz/$$t.log; \
		if [ $$rc -ne 0 ]; then echo "fuzz $$t: exit $$rc, see $(BUILD)/fuzz/$$t.log" >&2; exit 1; fi; \
	done

# ---- soak: a bounded mixed workload against one server, with a kill -9 half-way
# (loopback only, SOAK_SECONDS of load plus a minute or two of checks; not part of `make test`)
SOAK_SECONDS ?= 120
soak: $(BUILD)/packhelper tools
	@SOAK_SECONDS=$(SOAK_SECONDS) tests/soak/run.sh $(BUILD)/packhelper

bench: $(BUILD)/packhelper tools
	@tests/bench/run.sh $(BUILD)/packhelper
	@tests/bench/push.sh $(BUILD)/packhelper
	@BENCH_TARGET=packhelper BENCH_SKOPEO=0 tests/bench/push.sh $(BUILD)/packhelper
	@tests/bench/copy.sh $(BUILD)/packhelper
	@tests/bench/ranges.sh $(BUILD)/packhelper
	@tests/bench/inplace.sh $(BUILD)/packhelper
	@tests/bench/blobget.sh $(BUILD)/packhelper
	@$(MAKE) --no-print-directory image IMAGE_ARCHES=$(HOST_ARCH) >/dev/null
	@tests/bench/oneshot.sh

# SHA-256 throughput of digest.c's paths against openssl (tests/bench/README.md):
# shabench is digest.o and BearSSL, for this machine and, from amd64, linux/arm64
$(BUILD)/bench/shabench: tests/bench/shabench.c $(BUILD)/obj/digest.o $(DEPS_STAMP)
	@mkdir -p $(BUILD)/bench
	$(CC) $(CFLAGS) -Isrc -I$(DEPS)/include $(LDFLAGS) -o $@ $< $(BUILD)/obj/digest.o \
		-L$(DEPS)/lib -lbearssl

SHABENCHES := build/bench/shabench $(if $(filter amd64,$(HOST_ARCH)),build/arm64/bench/shabench)
bench-sha:
	@$(MAKE) --no-print-directory ARCH=$(HOST_ARCH) build/bench/shabench
	@$(if $(filter amd64,$(HOST_ARCH)),$(MAKE) --no-print-directory ARCH=arm64 build/arm64/bench/shabench)
	@tests/bench/sha.sh $(SHABENCHES)

clean:
	rm -rf $(BUILD)
