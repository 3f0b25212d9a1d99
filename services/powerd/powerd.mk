# kerbgate-powerd: the root helper that reboots for kerbgate-mgmtd (one
# command over a Unix socket only root and the management user reach).

POWERD_SRCS := $(wildcard services/powerd/*.c)
POWERD_BIN  := $(BINDIR)/kerbgate-powerd

$(POWERD_BIN): $(call objs,$(POWERD_SRCS)) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(TARGET_CC) $(TARGET_LDFLAGS) -o $@ $^

ifeq ($(CONFIG_SERVICE_MGMTD),y)
SERVICE_BINS += $(POWERD_BIN)
endif
