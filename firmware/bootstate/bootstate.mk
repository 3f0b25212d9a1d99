# kerbgate-bootstate: the power-safe A/B boot state (two copies of GRUB's
# environment) and RAUC's custom bootloader backend.  No library but libc.

BOOTSTATE_SRCS := firmware/bootstate/bootstate.c
BOOTSTATE_MAIN := firmware/bootstate/main.c
BOOTSTATE_BIN  := $(BINDIR)/kerbgate-bootstate

$(BOOTSTATE_BIN): $(call objs,$(BOOTSTATE_MAIN) $(BOOTSTATE_SRCS))
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(TARGET_CC) $(TARGET_LDFLAGS) -o $@ $^

ifeq ($(CONFIG_BOOTSTATE),y)
SERVICE_BINS += $(BOOTSTATE_BIN)
endif
