# Benchmarks (never timed tests): kgbench, the load generator, and kgbackend,
# the back-end it is measured against.  Include from the top Makefile with
#   -include bench/bench.mk
# or run without it: make -f Makefile -f bench/bench.mk bench-build
#
#   make bench-build   build $(O)/bench/kgbench and $(O)/bench/kgbackend
#   make bench         build, then run bench/run.sh (root; several minutes;
#                      results in docs/performance.md's format on stdout)

ifndef KG_BENCH_MK
KG_BENCH_MK := 1

BENCH_DIR  := $(O)/bench
BENCH_BINS := $(BENCH_DIR)/kgbench $(BENCH_DIR)/kgbackend

# kgbench mints its tokens with the unit tests' fixture (tests/unit/krbmint.c).
$(BENCH_DIR)/kgbench: $(call objs,bench/kgbench.c bench/kgbench_pac.c tests/unit/krbmint.c)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(TARGET_CC) $(TARGET_LDFLAGS) -o $@ $^ $(HEIMDAL_LIBS) $(MBEDTLS_LIBS)

$(OBJDIR)/bench/kgbench.o $(OBJDIR)/bench/kgbench_pac.o: INCLUDES += -Itests/unit

$(BENCH_DIR)/kgbackend: $(call objs,bench/backend.c)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(TARGET_CC) $(TARGET_LDFLAGS) -o $@ $^

bench-build: $(BENCH_BINS) $(SERVICE_BINS)

bench: bench-build
	@bench/run.sh

.PHONY: bench bench-build

endif
