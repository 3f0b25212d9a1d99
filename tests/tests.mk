# Tests.  Unit tests are cmocka programs, one per tests/unit/test_*.c, linked
# against the same libraries the daemons use.  Fuzz targets are libFuzzer
# programs, one per tests/fuzz/fuzz_*.c, built with clang and the sanitizers
# into their own object tree.  Integration tests are scripts that run against
# the lab (tests/lab/).

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(TESTDIR)/%,$(UNIT_SRCS))
TEST_LINK_LIBS := $(if $(wildcard $(KERBGATED_SRCS)),$(KERBGATED_LIB)) $(COMMON_LIB)

$(TESTDIR)/test_%: $(OBJDIR)/tests/unit/test_%.o $(TEST_LINK_LIBS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(TARGET_CC) $(TARGET_LDFLAGS) -o $@ $^ $(SERVICE_LIBS) $(CMOCKA_LIBS)

# ---- fuzzing
FUZZ_CC      := clang
FUZZ_CFLAGS  := -std=gnu11 -g -O1 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter \
                -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
                -DKG_FUZZING
FUZZ_OBJDIR  := $(O)/fuzz/obj
FUZZ_BINDIR  := $(O)/fuzz/bin
FUZZ_SRCS    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS    := $(patsubst tests/fuzz/%.c,$(FUZZ_BINDIR)/%,$(FUZZ_SRCS))
FUZZ_LIB_SRCS := $(COMMON_SRCS) $(KERBGATED_SRCS)
FUZZ_LIB_OBJS := $(patsubst %.c,$(FUZZ_OBJDIR)/%.o,$(FUZZ_LIB_SRCS))
FUZZ_SECONDS ?= 20

$(FUZZ_OBJDIR)/%.o: %.c $(AUTOCONF_H)
	@mkdir -p $(dir $@)
	@echo "  FUZZCC  $<"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) $(INCLUDES) -MMD -MP -c $< -o $@

$(FUZZ_BINDIR)/fuzz_%: $(FUZZ_OBJDIR)/tests/fuzz/fuzz_%.o $(FUZZ_LIB_OBJS)
	@mkdir -p $(dir $@)
	@echo "  FUZZLD  $@"
	@$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(SERVICE_LIBS) \
	  $(if $(filter fuzz_http_diff,$*),-lhttp_parser)

# ---- running
test-build: $(SERVICE_BINS) $(UNIT_BINS)
fuzz-build: $(FUZZ_BINS)

test: deps
	@$(MAKE) --no-print-directory test-build fuzz-build
	@tests/run.sh --out $(O) --fuzz-seconds $(FUZZ_SECONDS)

test-long: deps
	@$(MAKE) --no-print-directory test-build fuzz-build
	@tests/run.sh --out $(O) --fuzz-seconds 300 --long

fuzz: fuzz-build
	@tests/run.sh --out $(O) --fuzz-seconds $(FUZZ_SECONDS) --only fuzz

.PHONY: test test-long test-build fuzz-build fuzz
-include $(shell find $(FUZZ_OBJDIR) -name '*.d' 2>/dev/null)
