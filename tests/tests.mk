# Tests.  Unit tests are cmocka programs, one per tests/unit/test_*.c, linked
# against the same libraries the daemons use.  Fuzz targets are libFuzzer
# programs, one per tests/fuzz/fuzz_*.c, built with clang and the sanitizers
# into their own object tree.  Integration tests are scripts that run against
# the lab (tests/lab/): every executable tests/integration/test_*.sh, among
# them test_webui.sh, the web pages in Chromium (headless, through WebDriver:
# chromium, chromium-driver and python3-selenium come with `make deps`),
# which leaves a screenshot of every page in $(O)/webui/ as its artifacts.

#
# Each test or fuzz target names the sources it links in tests/unit/unit.mk or
# tests/fuzz/fuzz.mk (test_foo_SRCS := ...), so that a test depends on the
# code it tests and nothing else.  libkgcommon is always linked.

include tests/unit/unit.mk
include tests/fuzz/fuzz.mk

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(TESTDIR)/%,$(UNIT_SRCS))

.SECONDEXPANSION:
$(TESTDIR)/test_%: $(OBJDIR)/tests/unit/test_%.o $$(call objs,$$(test_$$*_SRCS)) $(COMMON_LIB) $(MBEDTLS_LIBS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(TARGET_CC) $(TARGET_LDFLAGS) -o $@ $^ $(SERVICE_LIBS) $(CMOCKA_LIBS)

# Tools the integration tests run in the lab (real clients built on Heimdal).
TEST_TOOLS := $(TESTDIR)/tools/hgss_get
TEST_TOOLS += $(TESTDIR)/tools/kcd_probe
# Sources a tool links besides its own file and libkgcommon:
#   tool_<name>_SRCS := ...
tool_kcd_probe_SRCS := services/kerbgated/kcd.c

$(TESTDIR)/tools/%: $(OBJDIR)/tests/integration/%.o $$(call objs,$$(tool_$$*_SRCS)) $(COMMON_LIB) $(MBEDTLS_LIBS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(TARGET_CC) $(TARGET_LDFLAGS) -o $@ $^ $(HEIMDAL_LIBS) $(MBEDTLS_LIBS) $(MBEDTLS_LDLIBS)

# ---- fuzzing
FUZZ_CC      := clang
FUZZ_CFLAGS  := -std=gnu11 -g -O1 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter \
                -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
                -DKG_FUZZING
FUZZ_OBJDIR  := $(O)/fuzz/obj
FUZZ_BINDIR  := $(O)/fuzz/bin
FUZZ_SRCS    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS    := $(patsubst tests/fuzz/%.c,$(FUZZ_BINDIR)/%,$(FUZZ_SRCS))
fuzz_objs = $(patsubst %.c,$(FUZZ_OBJDIR)/%.o,$(1))
FUZZ_SECONDS ?= 5

$(FUZZ_OBJDIR)/%.o: %.c $(AUTOCONF_H) $(MBEDTLS_STAMP)
	@mkdir -p $(dir $@)
	@echo "  FUZZCC  $<"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) $(INCLUDES) -MMD -MP -c $< -o $@

$(FUZZ_BINDIR)/fuzz_%: $(FUZZ_OBJDIR)/tests/fuzz/fuzz_%.o $$(call fuzz_objs,$$(fuzz_$$*_SRCS) $(COMMON_SRCS)) $(MBEDTLS_LIBS)
	@mkdir -p $(dir $@)
	@echo "  FUZZLD  $@"
	@$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(SERVICE_LIBS) \
	  $(fuzz_$*_LIBS)

# ---- running
# The benchmark programs too: a change that breaks them shows in make test.
test-build: $(SERVICE_BINS) $(TOOL_BINS) $(UNIT_BINS) $(TEST_TOOLS) $(BENCH_BINS)
fuzz-build: $(FUZZ_BINS)

test: deps
	@$(MAKE) --no-print-directory test-build fuzz-build image
	@tests/run.sh --out $(O) --fuzz-seconds $(FUZZ_SECONDS)

test-long: deps
	@$(MAKE) --no-print-directory test-build fuzz-build image
	@tests/run.sh --out $(O) --fuzz-seconds 300 --long

# The unit tests alone; CI runs them once more with SANITIZE=1.
test-unit: deps
	@$(MAKE) --no-print-directory $(UNIT_BINS)
	@tests/run.sh --out $(O) --only unit

fuzz: fuzz-build
	@tests/run.sh --out $(O) --fuzz-seconds $(FUZZ_SECONDS) --only fuzz

.PHONY: test test-long test-unit test-build fuzz-build fuzz
-include $(shell find $(FUZZ_OBJDIR) -name '*.d' 2>/dev/null)
