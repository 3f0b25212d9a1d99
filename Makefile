# kerbgate: top-level Makefile.
#
#   make qemu_x86_64_defconfig   start a configuration from a board's defaults
#   make menuconfig              change it (kconfig-frontends)
#   make                         build everything into output/
#   make qemu                    boot the image under QEMU, on the lab's bridge
#   make test                    install what the tests need, build, run every test
#   make demo                    show Kerberos terminated at the VIP in the lab
#   make help                    the rest
#
# Everything generated goes under $(O) (default output/; output/asan/ for
# SANITIZE=1).  Component recipes live beside their code: <dir>/<name>.mk.

SHELL := /bin/bash
.DEFAULT_GOAL := all

ifeq ($(SANITIZE),1)
O ?= output/asan
else
O ?= output
endif
BUILD   := $(O)/build
OBJDIR  := $(BUILD)/obj
LIBDIR  := $(BUILD)/lib
BINDIR  := $(O)/bin
TESTDIR := $(O)/tests
GENINC  := $(BUILD)/include

KCONFIG_CONF := kconfig-conf
KCONFIG_MCONF := kconfig-mconf
DEFAULT_DEFCONFIG := qemu_x86_64_defconfig

# Targets that work without a .config.  demo and the test targets are among
# them because on a fresh machine kconfig-conf arrives only with `deps`: they
# install the packages first and then run a second make, which configures.
NOCONFIG_GOALS := %_defconfig menuconfig nconfig olddefconfig clean distclean help deps \
                  lab-up lab-down lab-status demo demo-stop test test-long test-unit need-root
CONFIG_NEEDED := $(if $(MAKECMDGOALS),$(filter-out $(NOCONFIG_GOALS),$(MAKECMDGOALS)),all)
ifneq ($(strip $(foreach g,$(CONFIG_NEEDED),$(if $(filter $(NOCONFIG_GOALS),$(g)),,$(g)))),)
-include .config
endif

include toolchain/toolchain.mk
DL_DIR ?= output/dl
BOARD := $(or $(patsubst "%",%,$(CONFIG_BOARD_NAME)),qemu_x86_64)
include board/$(BOARD)/board.mk
include toolchain/mbedtls/mbedtls.mk

AUTOCONF_H := $(GENINC)/generated/autoconf.h
INCLUDES   := -I$(GENINC) -Iservices/common -Iservices/kerbgated -Iservices/mgmtd -Itools/roll \
              -Ifirmware/bootstate $(HEIMDAL_CFLAGS) $(MBEDTLS_CPPFLAGS)
SERVICE_LIBS := $(HEIMDAL_LIBS) $(MBEDTLS_LIBS) $(MBEDTLS_LDLIBS) $(EV_LIBS) $(JANSSON_LIBS) $(SECCOMP_LIBS) $(CRYPTO_LIBS) $(ARGON2_LIBS)

objs = $(patsubst %.c,$(OBJDIR)/%.o,$(1))

# ---------------------------------------------------------------- config

.config:
	@command -v $(KCONFIG_CONF) >/dev/null || { \
	  echo "$(KCONFIG_CONF) not found: run 'make deps' first (it installs toolchain/debian-packages.txt)," >&2; \
	  echo "or use 'make demo' / 'make test', which do." >&2; exit 1; }
	@echo "No .config yet: starting from configs/$(DEFAULT_DEFCONFIG)."
	@$(KCONFIG_CONF) --defconfig=configs/$(DEFAULT_DEFCONFIG) Kconfig >/dev/null

%_defconfig: configs/%_defconfig
	@$(KCONFIG_CONF) --defconfig=$< Kconfig
	@echo "Configured from $<.  Next: make"

menuconfig: | .config
	@$(KCONFIG_MCONF) Kconfig

nconfig: | .config
	@kconfig-nconf Kconfig

olddefconfig:
	@$(KCONFIG_CONF) --olddefconfig Kconfig

savedefconfig: .config
	@$(KCONFIG_CONF) --savedefconfig=configs/$(patsubst "%",%,$(CONFIG_BOARD_NAME))_defconfig Kconfig
	@echo "Saved configs/$(patsubst "%",%,$(CONFIG_BOARD_NAME))_defconfig"

# The C code sees the configuration through autoconf.h.  silentoldconfig
# also writes include/config/ dependency stamps, kept under $(BUILD).
$(AUTOCONF_H): .config Kconfig $(shell find board toolchain services rootfs firmware -name Kconfig)
	@mkdir -p $(dir $@) $(GENINC)/config include/config
	@# Options added since .config was written take their defaults (a
	@# build has no terminal to ask on); `make menuconfig` changes them.
	@$(KCONFIG_CONF) --olddefconfig Kconfig >/dev/null
	@KCONFIG_AUTOHEADER=$@ KCONFIG_AUTOCONFIG=$(GENINC)/config/auto.conf \
	  KCONFIG_TRISTATE=$(GENINC)/config/tristate.conf \
	  $(KCONFIG_CONF) --silentoldconfig Kconfig
	@rm -rf include/config 2>/dev/null; rmdir include 2>/dev/null || true

# ---------------------------------------------------------------- build

# Every object after mbedTLS: its headers' structure layouts follow our
# configuration, so a rebuilt library means rebuilt objects.
$(OBJDIR)/%.o: %.c $(AUTOCONF_H) $(MBEDTLS_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(TARGET_CC) $(TARGET_CFLAGS) $(INCLUDES) -MMD -MP -c $< -o $@

$(LIBDIR)/%.a:
	@mkdir -p $(dir $@)
	@echo "  AR      $@"
	@rm -f $@ && $(TARGET_AR) rcs $@ $^

include services/common/common.mk
include services/kerbgated/kerbgated.mk
include firmware/bootstate/bootstate.mk
include services/mgmtd/mgmtd.mk
include services/powerd/powerd.mk
include tools/roll/roll.mk
include services/smbpull/smbpull.mk
# bench.mk before tests.mk: test-build names the benchmark programs.
-include bench/bench.mk
include tests/tests.mk
include rootfs/rootfs.mk
include firmware/firmware.mk
include firmware/rauc/rauc.mk

# autoconf.h first: without a .config its rule says what to do, where an
# empty SERVICE_BINS would otherwise "build" nothing.
all: $(AUTOCONF_H) $(SERVICE_BINS) $(TOOL_BINS) $(DISK_IMG) $(BUNDLE)
	@echo "Built into $(O)/: $(notdir $(SERVICE_BINS) $(TOOL_BINS)); the image: $(DISK_IMG); the update: $(BUNDLE)"

# ---------------------------------------------------------------- setup, demo, lab

deps:
	@toolchain/install-deps.sh
	@toolchain/debsrc-fetch.sh $(MBEDTLS_HASH) $(DL_DIR)/mbedtls

lab-up lab-down lab-status: need-root
	@tests/lab/lab $(subst lab-,,$@)

# The demo installs packages first, then builds in a second make (which reads
# the configuration made after kconfig-conf exists) everything it runs.
demo: need-root deps
	@$(MAKE) --no-print-directory demo-build
	@$(MAKE) --no-print-directory image || echo "demo: the image did not build (above); the demo runs without the appliance VM" >&2
	@tests/demo.sh $(O)

# The demo's VM runs in the lab's switch namespace: taking the lab down ends it.
demo-stop: need-root
	@board/qemu_x86_64/qemu.sh --restore 2>/dev/null || true
	@tests/lab/lab down

demo-build: $(SERVICE_BINS) $(TEST_TOOLS)

need-root:
	@if [ "$$(id -u)" != 0 ]; then \
	  echo "'make $(MAKECMDGOALS)' needs root: it creates network namespaces and installs packages." >&2; \
	  exit 1; fi

# ---------------------------------------------------------------- housekeeping

clean:
	rm -rf $(O)/build $(O)/bin $(O)/tests $(O)/fuzz output/asan $(O)/target $(O)/target.libs $(O)/images

distclean:
	rm -rf output .config .config.old include/config include/generated

help:
	@sed -n '2,13p' Makefile | sed 's/^# \{0,1\}//'
	@echo "Also: make olddefconfig | savedefconfig | deps | lab-up | lab-down | lab-status"
	@echo "      make image | rootfs | rootfs-libs-update | demo-stop   (docs/firmware.md)"
	@echo "      make test SANITIZE=1   the tests under ASan and UBSan"
	@echo "      make fuzz FUZZ_SECONDS=N   every libFuzzer target for N seconds"
	@echo "      make test-long         the long soak and cycle counts"

.PHONY: all deps demo demo-stop demo-build need-root clean distclean help menuconfig nconfig olddefconfig \
        savedefconfig lab-up lab-down lab-status

-include $(shell find $(OBJDIR) -name '*.d' 2>/dev/null)
