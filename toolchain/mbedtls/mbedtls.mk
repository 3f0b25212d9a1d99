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
#
# With CONFIG_MBEDTLS_PSA_OSSL_DRIVER, our PSA accelerator driver
# (toolchain/mbedtls/driver/: X25519 and P-256 ECDH on OpenSSL's libcrypto)
# is plugged in the way mbedTLS 3.6 supports: its description,
# driver/kg_psa_ossl.json, goes beside upstream's into the list that
# mbedTLS's own scripts/generate_driver_wrappers.py reads, and the script
# regenerates library/psa_crypto_driver_wrappers*.{h,c} in the build tree;
# the 0003 patch adds the entry points the script cannot generate yet.

MBEDTLS_VERSION  := 3.6.6
MBEDTLS_HASH     := toolchain/mbedtls/mbedtls.hash
MBEDTLS_SOURCE   := $(DL_DIR)/mbedtls/mbedtls_$(MBEDTLS_VERSION).orig.tar.bz2
MBEDTLS_SRCDIR   := $(BUILD)/mbedtls-$(MBEDTLS_VERSION)
MBEDTLS_CONFIG_H := $(CURDIR)/toolchain/mbedtls/mbedtls_config.h
MBEDTLS_TUNING_H := $(BUILD)/mbedtls-tuning/kg_mbedtls_tuning.h
MBEDTLS_STAMP    := $(MBEDTLS_SRCDIR)/.kg_built
MBEDTLS_DRV_DIR  := toolchain/mbedtls/driver
MBEDTLS_DRV_JSON := $(BUILD)/mbedtls-drivers
MBEDTLS_DRV_LIB  := $(BUILD)/mbedtls-drivers/libkg_psa_ossl.a

MBEDTLS_CPPFLAGS := -isystem $(CURDIR)/$(MBEDTLS_SRCDIR)/include \
                    -isystem $(CURDIR)/$(MBEDTLS_SRCDIR)/3rdparty/everest/include \
                    -DMBEDTLS_CONFIG_FILE='"$(MBEDTLS_CONFIG_H)"' \
                    -DMBEDTLS_USER_CONFIG_FILE='"$(CURDIR)/$(MBEDTLS_TUNING_H)"'
MBEDTLS_LIBS     := $(addprefix $(MBEDTLS_SRCDIR)/library/,libmbedtls.a libmbedx509.a libmbedcrypto.a)
# What links MBEDTLS_LIBS links MBEDTLS_LDLIBS after them.
MBEDTLS_LDLIBS   :=
ifeq ($(CONFIG_MBEDTLS_PSA_OSSL_DRIVER),y)
MBEDTLS_LIBS     += $(MBEDTLS_DRV_LIB)
MBEDTLS_LDLIBS   += -lcrypto
endif

# The library itself is built the same way in every output tree, sanitizers
# or not: it is mbedTLS's code, tested upstream; ours is what we instrument.
MBEDTLS_BUILD_CFLAGS := -O2 -g -fPIE -fstack-protector-strong -D_FORTIFY_SOURCE=2

# What a board chose in Kconfig, as the defines mbedTLS reads after our
# configuration.  Rewritten only when it changes, so that a `make` with the
# same .config rebuilds nothing.  autoconf.h is named by its path: this file
# is read before the Makefile sets AUTOCONF_H, and a prerequisite is
# expanded when read (empty, it made a changed .config go unnoticed).
$(MBEDTLS_TUNING_H): $(BUILD)/include/generated/autoconf.h toolchain/mbedtls/mbedtls.mk
	@mkdir -p $(dir $@)
	@# Read from autoconf.h when the recipe runs, not from the make variables
	@# .config gave at parse time: an option added since .config was written
	@# takes its default only in autoconf.h (the rule above runs olddefconfig).
	@ac=$(BUILD)/include/generated/autoconf.h; \
	on() { grep -q "^#define CONFIG_$$1 1$$" $$ac; }; \
	val() { v=$$(sed -n "s/^#define CONFIG_$$1 //p" $$ac); echo $${v:-$$2}; }; \
	{ echo '/* Generated from .config (autoconf.h) by toolchain/mbedtls/mbedtls.mk. */'; \
	  on MBEDTLS_EVEREST && echo '#define MBEDTLS_ECDH_VARIANT_EVEREST_ENABLED'; \
	  on MBEDTLS_PSA_OSSL_DRIVER && echo '#define KG_PSA_OSSL_DRIVER_ENABLED'; \
	  on MBEDTLS_USE_PSA_CRYPTO && echo '#define MBEDTLS_USE_PSA_CRYPTO'; \
	  echo "#define MBEDTLS_ECP_WINDOW_SIZE $$(val MBEDTLS_ECP_WINDOW_SIZE 4)"; \
	  echo "#define MBEDTLS_ECP_FIXED_POINT_OPTIM $$(on MBEDTLS_ECP_FIXED_POINT_OPTIM && echo 1 || echo 0)"; \
	  echo "#define MBEDTLS_SSL_IN_CONTENT_LEN $$(val MBEDTLS_SSL_CONTENT_LEN 16384)"; \
	  echo "#define MBEDTLS_SSL_OUT_CONTENT_LEN $$(val MBEDTLS_SSL_CONTENT_LEN 16384)"; \
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

# The driver dispatch layer, regenerated with our driver's description added
# to upstream's list (upstream's entries are compiled out by their own
# conditions).  Whether our driver is compiled in is KG_PSA_OSSL_DRIVER_ENABLED,
# from Kconfig, so the generated files do not depend on .config.
$(MBEDTLS_SRCDIR)/.kg_wrappers: $(MBEDTLS_SRCDIR)/.kg_extracted $(MBEDTLS_DRV_DIR)/kg_psa_ossl.json
	@echo "  GEN     mbedtls driver wrappers ($(MBEDTLS_DRV_DIR)/kg_psa_ossl.json)"
	@rm -rf $(MBEDTLS_DRV_JSON)/json && mkdir -p $(MBEDTLS_DRV_JSON)/json
	@cp $(MBEDTLS_SRCDIR)/scripts/data_files/driver_jsons/*.json $(MBEDTLS_DRV_DIR)/kg_psa_ossl.json \
	  $(MBEDTLS_DRV_JSON)/json/
	@python3 -c 'import json,sys; l=json.load(open(sys.argv[1])); json.dump(l+["kg_psa_ossl.json"],open(sys.argv[1],"w"))' \
	  $(MBEDTLS_DRV_JSON)/json/driverlist.json
	@cd $(MBEDTLS_SRCDIR) && python3 scripts/generate_driver_wrappers.py --project-root . \
	  --json-dir $(abspath $(MBEDTLS_DRV_JSON))/json library >/dev/null
	@touch $@

# MAKEFLAGS= keeps our command line (O=, SANITIZE=) out of mbedTLS's make.
$(MBEDTLS_STAMP): $(MBEDTLS_SRCDIR)/.kg_wrappers $(MBEDTLS_CONFIG_H) $(MBEDTLS_TUNING_H) \
                  $(MBEDTLS_DRV_DIR)/kg_psa_ossl.h
	@echo "  BUILD   mbedtls $(MBEDTLS_VERSION) (toolchain/mbedtls/mbedtls_config.h)"
	@$(MAKE) -C $(MBEDTLS_SRCDIR)/library clean >/dev/null
	@MAKEFLAGS= $(MAKE) -s -C $(MBEDTLS_SRCDIR)/library static \
	  CC="$(TARGET_CC)" AR="$(TARGET_AR)" \
	  CFLAGS="$(MBEDTLS_BUILD_CFLAGS) $(subst ",\",$(MBEDTLS_CPPFLAGS)) -I$(CURDIR)/$(MBEDTLS_DRV_DIR)"
	@touch $@

$(filter-out $(MBEDTLS_DRV_LIB),$(MBEDTLS_LIBS)): $(MBEDTLS_STAMP)

# Our driver is our code: built with our warnings, beside the library.
$(MBEDTLS_DRV_LIB): $(MBEDTLS_DRV_DIR)/kg_psa_ossl.c $(MBEDTLS_DRV_DIR)/kg_psa_ossl.h $(MBEDTLS_STAMP)
	@echo "  CC      $<"
	@mkdir -p $(dir $@)
	@$(TARGET_CC) $(MBEDTLS_BUILD_CFLAGS) -Wall -Wextra -Werror $(MBEDTLS_CPPFLAGS) \
	  -c $< -o $(@:.a=.o)
	@rm -f $@ && $(TARGET_AR) rcs $@ $(@:.a=.o)

mbedtls-fetch:
	@toolchain/debsrc-fetch.sh $(MBEDTLS_HASH) $(DL_DIR)/mbedtls

.PHONY: mbedtls-fetch
