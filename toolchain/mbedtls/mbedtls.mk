# mbedTLS 3.6 LTS, built from Debian 13's source package with our
# configuration (mbedtls_config.h beside this file) into static libraries
# that every service links.  The Buildroot way: version and hashes pinned
# (mbedtls.hash), fetched into $(DL_DIR) by `make deps` or on first use,
# extracted and built under $(BUILD).
#
# Debian's own patches are not applied: one is a gcc 14 fix that gcc 12 does
# not need, the other removes 3rdparty/ (Everest) from the CMake build, which
# we need and do not use.  Upstream's library/Makefile builds it.  Ours,
# toolchain/mbedtls/*.patch, are applied in order; each says why at its top.

MBEDTLS_VERSION  := 3.6.6
MBEDTLS_HASH     := toolchain/mbedtls/mbedtls.hash
MBEDTLS_SOURCE   := $(DL_DIR)/mbedtls/mbedtls_$(MBEDTLS_VERSION).orig.tar.bz2
MBEDTLS_SRCDIR   := $(BUILD)/mbedtls-$(MBEDTLS_VERSION)
MBEDTLS_CONFIG_H := $(CURDIR)/toolchain/mbedtls/mbedtls_config.h
MBEDTLS_TUNING_H := $(BUILD)/mbedtls-tuning/kg_mbedtls_tuning.h
MBEDTLS_STAMP    := $(MBEDTLS_SRCDIR)/.kg_built

MBEDTLS_CPPFLAGS := -isystem $(CURDIR)/$(MBEDTLS_SRCDIR)/include \
                    -isystem $(CURDIR)/$(MBEDTLS_SRCDIR)/3rdparty/everest/include \
                    -DMBEDTLS_CONFIG_FILE='"$(MBEDTLS_CONFIG_H)"' \
                    -DMBEDTLS_USER_CONFIG_FILE='"$(CURDIR)/$(MBEDTLS_TUNING_H)"'
MBEDTLS_LIBS     := $(addprefix $(MBEDTLS_SRCDIR)/library/,libmbedtls.a libmbedx509.a libmbedcrypto.a)

# The library itself is built the same way in every output tree, sanitizers
# or not: it is mbedTLS's code, tested upstream; ours is what we instrument.
MBEDTLS_BUILD_CFLAGS := -O2 -g -fPIE -fstack-protector-strong -D_FORTIFY_SOURCE=2

# What a board chose in Kconfig, as the defines mbedTLS reads after our
# configuration.  Rewritten only when it changes, so that a `make` with the
# same .config rebuilds nothing.
$(MBEDTLS_TUNING_H): $(AUTOCONF_H) toolchain/mbedtls/mbedtls.mk
	@mkdir -p $(dir $@)
	@{ echo '/* Generated from .config by toolchain/mbedtls/mbedtls.mk. */'; \
	  $(if $(filter y,$(CONFIG_MBEDTLS_EVEREST)),echo '#define MBEDTLS_ECDH_VARIANT_EVEREST_ENABLED';) \
	  echo '#define MBEDTLS_ECP_WINDOW_SIZE $(or $(CONFIG_MBEDTLS_ECP_WINDOW_SIZE),4)'; \
	  echo '#define MBEDTLS_ECP_FIXED_POINT_OPTIM $(if $(filter y,$(CONFIG_MBEDTLS_ECP_FIXED_POINT_OPTIM)),1,0)'; \
	  echo '#define MBEDTLS_SSL_IN_CONTENT_LEN $(or $(CONFIG_MBEDTLS_SSL_CONTENT_LEN),16384)'; \
	  echo '#define MBEDTLS_SSL_OUT_CONTENT_LEN $(or $(CONFIG_MBEDTLS_SSL_CONTENT_LEN),16384)'; \
	} >$@.tmp
	@if cmp -s $@.tmp $@; then rm $@.tmp; else mv $@.tmp $@; fi

$(MBEDTLS_SOURCE): $(MBEDTLS_HASH)
	@toolchain/debsrc-fetch.sh $(MBEDTLS_HASH) $(DL_DIR)/mbedtls
	@touch $@

MBEDTLS_PATCHES := $(sort $(wildcard toolchain/mbedtls/*.patch))

$(MBEDTLS_SRCDIR)/.kg_extracted: $(MBEDTLS_SOURCE) $(MBEDTLS_PATCHES)
	@echo "  EXTRACT mbedtls $(MBEDTLS_VERSION)"
	@rm -rf $(MBEDTLS_SRCDIR) && mkdir -p $(BUILD)
	@tar -xjf $< -C $(BUILD)
	@for p in $(MBEDTLS_PATCHES); do \
	  echo "  PATCH   $$p"; patch -s -p1 -d $(MBEDTLS_SRCDIR) <$$p || exit 1; done
	@touch $@

# MAKEFLAGS= keeps our command line (O=, SANITIZE=) out of mbedTLS's make.
$(MBEDTLS_STAMP): $(MBEDTLS_SRCDIR)/.kg_extracted $(MBEDTLS_CONFIG_H) $(MBEDTLS_TUNING_H)
	@echo "  BUILD   mbedtls $(MBEDTLS_VERSION) (toolchain/mbedtls/mbedtls_config.h)"
	@$(MAKE) -C $(MBEDTLS_SRCDIR)/library clean >/dev/null
	@MAKEFLAGS= $(MAKE) -s -C $(MBEDTLS_SRCDIR)/library static \
	  CC="$(TARGET_CC)" AR="$(TARGET_AR)" \
	  CFLAGS="$(MBEDTLS_BUILD_CFLAGS) $(subst ",\",$(MBEDTLS_CPPFLAGS))"
	@touch $@

$(MBEDTLS_LIBS): $(MBEDTLS_STAMP)

mbedtls-fetch:
	@toolchain/debsrc-fetch.sh $(MBEDTLS_HASH) $(DL_DIR)/mbedtls

.PHONY: mbedtls-fetch
