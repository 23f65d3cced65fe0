# llorch: see README.md. `make` builds libllorch.a and the tools; `make check`
# runs every test; `make run` generates text from the demo model.
include config.mk

# Sanitizer builds live in their own tree so that switching does not mix objects.
ifneq ($(SANITIZE),)
BUILD ?= build-sanitize
SAN_FLAGS = -fsanitize=$(SANITIZE) -fno-sanitize-recover=$(SANITIZE) -fno-omit-frame-pointer
else
BUILD ?= build
SAN_FLAGS =
endif

PKGS = jansson libpcre2-8 blas libmicrohttpd libcurl
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
CMOCKA_CFLAGS := $(shell $(PKG_CONFIG) --cflags cmocka 2>/dev/null)
CMOCKA_LIBS := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null)

ALL_CFLAGS = -std=c11 $(OPT) $(WARN) $(SAN_FLAGS) -pthread -Ilib $(PKG_CFLAGS) \
	-DLLORCH_VERSION_STRING='"$(VERSION)"' $(CFLAGS)
ALL_LDFLAGS = $(SAN_FLAGS) -pthread $(LDFLAGS)
LIBS = $(PKG_LIBS) -lm $(LDLIBS)

LIB_SRC := $(sort $(wildcard lib/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB_A = $(BUILD)/libllorch.a
CMD_SRC := $(sort $(wildcard cmd/*.c))
CMD_COMMON_SRC := $(sort $(wildcard cmd/common/*.c))
CMD_COMMON_OBJ := $(CMD_COMMON_SRC:%.c=$(BUILD)/%.o)
BINS := $(CMD_SRC:cmd/%.c=$(BUILD)/bin/%)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
UNIT_SUPPORT_SRC := $(sort $(filter-out $(UNIT_SRC),$(wildcard tests/unit/*.c)))
UNIT_SUPPORT_OBJ := $(UNIT_SUPPORT_SRC:%.c=$(BUILD)/%.o)
BENCH_SRC := $(sort $(wildcard tests/bench/*.c))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)

# SIMD kernels are compiled for their instruction set and chosen at run time.
AVX2_FLAGS = -mavx2 -mfma -mf16c
AVX512_FLAGS = -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma -mf16c

.PHONY: all lib deps check check-sanitize run fuzz bench install uninstall clean demo-model
.SUFFIXES:
.SECONDARY:

all: $(LIB_A) $(BINS)
lib: $(LIB_A)

$(BUILD)/lib/%_avx2.o: lib/%_avx2.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(AVX2_FLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/lib/%_avx512.o: lib/%_avx512.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(AVX512_FLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(LIB_A): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

# A tool is cmd/llorch-X.c plus, when it is large, the files in cmd/llorch-X/.
# (The objects come through a function: a literal % in the rule would be
# taken for the stem.)
tool_objs = $(patsubst %.c,$(BUILD)/%.o,$(wildcard cmd/$(1)/*.c))
.SECONDEXPANSION:
$(BUILD)/bin/%: $(BUILD)/cmd/%.o $$(call tool_objs,$$*) $(CMD_COMMON_OBJ) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) $(LIB_A) $(LIBS)

$(BUILD)/tests/%.o: tests/unit/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/unit/%.o: tests/unit/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/test_%: $(BUILD)/tests/test_%.o $(UNIT_SUPPORT_OBJ) $(LIB_A)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(UNIT_SUPPORT_OBJ) $(LIB_A) $(CMOCKA_LIBS) $(LIBS)

# The whole suite: C unit tests (cmocka, TAP) and bats tests for the tools,
# under one prove run whose last line is the summary.
check: deps all $(UNIT_BINS) $(BUILD)/tests/bench
	LLORCH_BUILD=$(abspath $(BUILD)) LLORCH_SANITIZE=$(SANITIZE) tests/run

check-sanitize:
	$(MAKE) SANITIZE=address,undefined check

deps:
	@tests/deps.sh $(DEB_PACKAGES)

run: deps all
	tests/run-demo $(abspath $(BUILD))

# libFuzzer harnesses (clang); each links the library sources directly.
# The SIMD files need their -m flags, so they are compiled on their own.
FUZZ_CFLAGS = -std=c11 -g -O1 -Ilib $(PKG_CFLAGS) -DLLORCH_VERSION_STRING='"$(VERSION)"'
FUZZ_SIMD_OBJ := $(patsubst lib/%.c,build-fuzz/lib/%.o,$(wildcard lib/*_avx2.c lib/*_avx512.c))
fuzz: $(FUZZ_BINS)
build-fuzz/lib/%_avx2.o: lib/%_avx2.c
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined $(AVX2_FLAGS) -c -o $@ $<
build-fuzz/lib/%_avx512.o: lib/%_avx512.c
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined $(AVX512_FLAGS) -c -o $@ $<
# Harnesses of the tools' NDJSON input also link the shared CLI sources.
build-fuzz/fuzz_ndjson: FUZZ_EXTRA = cmd/common/ndjson.c cmd/common/logits_codec.c cmd/common/strbuf.c cmd/common/cli.c
build-fuzz/fuzz_ndjson: cmd/common/ndjson.c cmd/common/logits_codec.c cmd/common/strbuf.c cmd/common/cli.c
build-fuzz/%: tests/fuzz/%.c $(LIB_SRC) $(FUZZ_SIMD_OBJ)
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< \
		$(FUZZ_EXTRA) \
		$(filter-out %_avx2.c %_avx512.c,$(LIB_SRC)) $(FUZZ_SIMD_OBJ) $(PKG_LIBS) -lm -pthread

# The benchmark driver: built from its sources in one step, so that no object
# directory collides with its name. `make check` builds it to keep it compiling.
$(BUILD)/tests/bench: $(BENCH_SRC) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(BENCH_SRC) $(LIB_A) $(LIBS)

# LLAMA_BENCH=PATH/llama-bench: llama.cpp's figures on the same files beside ours
bench: all $(BUILD)/tests/bench
	tests/bench/run $(abspath $(BUILD))$(if $(LLAMA_BENCH), --compare $(LLAMA_BENCH))

demo-model:
	$(MAKE) -C examples/train-demo

# Made at every install: PREFIX may differ from the last one.
install: all
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	    libllorch.pc.in > $(BUILD)/libllorch.pc
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) \
		$(DESTDIR)$(INCLUDEDIR)/llorch $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7
	cp -f $(BINS) $(DESTDIR)$(BINDIR)/
	cp -f $(LIB_A) $(DESTDIR)$(LIBDIR)/
	cp -f lib/llorch.h lib/llorch_*.h $(DESTDIR)$(INCLUDEDIR)/llorch/
	cp -f $(BUILD)/libllorch.pc $(DESTDIR)$(PKGCONFIGDIR)/
	cp -f $(wildcard man/*.1) $(DESTDIR)$(MANDIR)/man1/
	cp -f $(wildcard man/*.7) $(DESTDIR)$(MANDIR)/man7/

uninstall:
	rm -f $(BINS:$(BUILD)/bin/%=$(DESTDIR)$(BINDIR)/%)
	rm -f $(DESTDIR)$(LIBDIR)/libllorch.a $(DESTDIR)$(PKGCONFIGDIR)/libllorch.pc
	rm -rf $(DESTDIR)$(INCLUDEDIR)/llorch
	rm -f $(patsubst man/%,$(DESTDIR)$(MANDIR)/man1/%,$(wildcard man/*.1))
	rm -f $(patsubst man/%,$(DESTDIR)$(MANDIR)/man7/%,$(wildcard man/*.7))

clean:
	rm -rf build build-sanitize build-fuzz

-include $(wildcard $(BUILD)/cmd/*/*.d) $(LIB_OBJ:.o=.d) $(BINS:$(BUILD)/bin/%=$(BUILD)/cmd/%.d) $(UNIT_BINS:%=%.d)
