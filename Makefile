# packhelper - one static binary: OCI registry, pusher, readiness probe.
#
#   make            build/packhelper (static, musl; deps built once and cached)
#   make ARCH=arm64 build/arm64/packhelper, cross-built for linux/arm64
#   make run        the registry on localhost:5000, store in build/store
#   make check      unit and end-to-end tests: no Docker, no Go, under a minute
#   make test       everything: unit, end-to-end, conformance, client interop, ASan/UBSan
#   make bench      benchmarks against nginx, registry 2.8, crane, skopeo, regctl (not part of the tests)
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

.PHONY: all run test check image test-unit test-e2e compile_commands.json test-conformance test-interop test-oneshot test-push \
        test-copy \
        test-asan asan \
        test-fuzz tools bench fuzz clean
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

$(BUILD)/packhelper: $(OBJS) $(DEPS_STAMP)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(OBJS) -L$(DEPS)/lib $(LIBS)
	@file $@ | grep -q 'statically linked' || { echo "$@ is not static" >&2; exit 1; }
	@file $@ | grep -q '$(FILE_ARCH_$(ARCH))' || { echo "$@ is not $(ARCH)" >&2; exit 1; }

$(BUILD)/obj:
	mkdir -p $@

# ---- the FROM-scratch image
image: $(BUILD)/packhelper
	rm -rf $(BUILD)/image
	mkdir -p $(BUILD)/image/etc/ssl/certs $(BUILD)/image/var/lib/packhelper $(BUILD)/image/tmp
	$(STRIP) -o $(BUILD)/image/packhelper $(BUILD)/packhelper
	cp static/passwd static/group $(BUILD)/image/etc/
	cp /etc/ssl/certs/ca-certificates.crt $(BUILD)/image/etc/ssl/certs/
	chmod 1777 $(BUILD)/image/var/lib/packhelper $(BUILD)/image/tmp
	docker build -q --build-arg VERSION=$(VERSION) -t $(IMAGE) -f Dockerfile . >/dev/null
	@docker image inspect -f '{{.Size}}' $(IMAGE) | awk '{printf "image $(IMAGE): %.2f MiB\n", $$1/1048576}'

run: $(BUILD)/packhelper
	$(BUILD)/packhelper serve --listen 127.0.0.1:5000 --root $(BUILD)/store

tools:
	@mk/tools.sh >/dev/null

# ---- unit tests: one binary per module, linked with the static library objects
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/unit/%)

$(BUILD)/unit/%: tests/unit/%.c tests/unit/unit.h $(filter-out $(BUILD)/obj/main.o,$(OBJS)) $(DEPS_STAMP)
	@mkdir -p $(BUILD)/unit
	$(CC) $(CFLAGS) -Isrc -I$(DEPS)/include $(LDFLAGS) -o $@ $< \
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

# twice: every switch on against --allow-sparse, and the default (which
# refuses manifests naming blobs it lacks) with the sparse data set off
test-conformance: $(BUILD)/packhelper tools
	@PACKHELPER_SERVE_ARGS=--allow-sparse tests/with-server.sh $(BUILD)/packhelper tests/conformance.sh
	@OCI_DATA_SPARSE=false tests/with-server.sh $(BUILD)/packhelper tests/conformance.sh

test-interop: $(BUILD)/packhelper tools
	@tests/with-server.sh $(BUILD)/packhelper tests/interop/all.sh

test-oneshot: image tools
	@tests/oneshot/all.sh

test-push: $(BUILD)/packhelper tools
	@tests/push/all.sh

test-copy: $(BUILD)/packhelper tools
	@tests/copy/all.sh

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
	@PACKHELPER=$(CURDIR)/$(BUILD)/asan/packhelper tests/push/all.sh registries tags faults errors sources auth origins deadline
	@PACKHELPER=$(CURDIR)/$(BUILD)/asan/packhelper tests/copy/all.sh

# the fuzzers are built and run briefly on every test run, so they cannot rot
test-fuzz:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=10

test: all test-unit test-e2e test-conformance test-interop test-oneshot test-push test-copy test-asan test-fuzz

# ---- fuzzing (clang libFuzzer, glibc; Debian: clang libclang-rt-14-dev libbearssl-dev)
# Only the parsers are linked (libc and BearSSL, whose Debian headers live in
# /usr/include/bearssl).  UBSan findings abort, so libFuzzer reports them.
# Crash inputs go to $(BUILD)/fuzz/artifacts-<target>/; a crash fails `make fuzz`.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SRCS    := src/http.c src/json.c src/buf.c src/digest.c src/manifest.c src/router.c src/log.c src/ref.c \
                src/conn.c src/ev.c src/bytes.c
FUZZ_SRCS    += src/url.c src/auth.c
FUZZ_SRCS    += src/tarname.c src/dockersave.c src/imageconfig.c src/ocindex.c
FUZZ_SRCS    += src/platform.c src/listing.c src/copylist.c
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

clean:
	rm -rf $(BUILD)
