# kerbgated: the Kerberos-terminating reverse proxy.  Everything but main.c
# goes into a static library so that unit tests and fuzz targets link the
# same objects the daemon runs.

KERBGATED_MAIN := services/kerbgated/kerbgated.c
KERBGATED_SRCS := $(filter-out $(KERBGATED_MAIN),$(wildcard services/kerbgated/*.c))
KERBGATED_LIB  := $(LIBDIR)/libkerbgated.a
KERBGATED_BIN  := $(BINDIR)/kerbgated

$(KERBGATED_LIB): $(call objs,$(KERBGATED_SRCS))

$(KERBGATED_BIN): $(call objs,$(KERBGATED_MAIN)) $(KERBGATED_LIB) $(COMMON_LIB) $(MBEDTLS_LIBS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(TARGET_CC) $(TARGET_LDFLAGS) -o $@ $^ $(SERVICE_LIBS)

ifeq ($(CONFIG_SERVICE_KERBGATED),y)
SERVICE_BINS += $(if $(wildcard $(KERBGATED_MAIN)),$(KERBGATED_BIN))
endif

# kerbgatectl: the administrator's command for the control socket.
KERBGATECTL_MAIN := services/kerbgatectl/kerbgatectl.c
KERBGATECTL_BIN  := $(BINDIR)/kerbgatectl

$(KERBGATECTL_BIN): $(call objs,$(KERBGATECTL_MAIN)) $(KERBGATED_LIB) $(COMMON_LIB) $(MBEDTLS_LIBS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(TARGET_CC) $(TARGET_LDFLAGS) -o $@ $^ $(SERVICE_LIBS)

ifeq ($(CONFIG_SERVICE_KERBGATED),y)
SERVICE_BINS += $(if $(wildcard $(KERBGATECTL_MAIN)),$(KERBGATECTL_BIN))
endif
