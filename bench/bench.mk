# Benchmarks (never timed tests): kgbench, the load generator, kgbackend,
# the back-end it is measured against, and parsebench, the CPU cost of the
# relay's head parsing and token decoding without the network.  Include from
# the top Makefile with
#   -include bench/bench.mk
# or run without it: make -f Makefile -f bench/bench.mk bench-build
#
#   make bench-build   build $(O)/bench/kgbench, kgbackend and parsebench
#   make parsebench    build and run $(O)/bench/parsebench (seconds, no root)
#   make tlsprim       build and run $(O)/bench/tlsprim: the handshake's
#                      public-key operations with our mbedTLS (seconds)
#   make bench         build, then run bench/run.sh (root; several minutes;
#                      results in docs/performance.md's format on stdout)

ifndef KG_BENCH_MK
KG_BENCH_MK := 1

BENCH_DIR  := $(O)/bench
BENCH_BINS := $(BENCH_DIR)/kgbench $(BENCH_DIR)/kgbackend $(BENCH_DIR)/parsebench \
              $(BENCH_DIR)/tlsprim

# kgbench mints its tokens with the unit tests' fixture (tests/unit/krbmint.c).
$(BENCH_DIR)/kgbench: $(call objs,bench/kgbench.c bench/kgbench_pac.c tests/unit/krbmint.c) $(MBEDTLS_LIBS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(TARGET_CC) $(TARGET_LDFLAGS) -o $@ $^ $(HEIMDAL_LIBS) $(MBEDTLS_LIBS) $(MBEDTLS_LDLIBS)

$(OBJDIR)/bench/kgbench.o $(OBJDIR)/bench/kgbench_pac.o: INCLUDES += -Itests/unit

$(BENCH_DIR)/kgbackend: $(call objs,bench/backend.c)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(TARGET_CC) $(TARGET_LDFLAGS) -o $@ $^

# The relay's own http.c and negotiate.c, built as the daemon builds them.
$(BENCH_DIR)/parsebench: $(call objs,bench/parsebench.c services/kerbgated/http.c services/kerbgated/negotiate.c services/common/util.c) $(MBEDTLS_LIBS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(TARGET_CC) $(TARGET_LDFLAGS) -o $@ $^ $(HEIMDAL_LIBS) $(MBEDTLS_LIBS) $(MBEDTLS_LDLIBS)

# The handshake's public-key operations with the mbedTLS we build.
$(BENCH_DIR)/tlsprim: $(call objs,bench/tlsprim.c) $(MBEDTLS_LIBS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(TARGET_CC) $(TARGET_LDFLAGS) -o $@ $^ $(MBEDTLS_LIBS) $(MBEDTLS_LDLIBS)

bench-build: $(BENCH_BINS) $(SERVICE_BINS)

parsebench: $(BENCH_DIR)/parsebench
	@$(BENCH_DIR)/parsebench

tlsprim: $(BENCH_DIR)/tlsprim
	@$(BENCH_DIR)/tlsprim

bench: bench-build
	@bench/run.sh

.PHONY: bench bench-build parsebench

endif
