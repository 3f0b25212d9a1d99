# Firmware updates: a signed RAUC bundle of the root filesystem, and RAUC's
# configuration for the image.  The development CA and signer are made once
# into $(RAUC_KEY_DIR); a vendor overrides RAUC_CERT/RAUC_KEY (files or
# PKCS#11 URLs) and RAUC_KEYRING (docs/updates.md).

IMAGES       ?= $(O)/images
RAUC_KEY_DIR ?= $(O)/rauc-keys
RAUC_CERT    ?= $(RAUC_KEY_DIR)/signer.pem
RAUC_KEY     ?= $(RAUC_KEY_DIR)/signer.key
RAUC_KEYRING ?= $(RAUC_KEY_DIR)/ca.pem
RAUC_COMPATIBLE := kerbgate-$(patsubst "%",%,$(CONFIG_BOARD_NAME))
FIRMWARE_VERSION_STR := $(patsubst "%",%,$(CONFIG_FIRMWARE_VERSION))
BUNDLE       := $(IMAGES)/kerbgate-$(patsubst "%",%,$(CONFIG_BOARD_NAME))-$(FIRMWARE_VERSION_STR).raucb
RAUC_SYSTEM_CONF := $(BUILD)/rauc/system.conf

$(RAUC_KEY_DIR)/signer.pem:
	@firmware/rauc/devkeys.sh $(RAUC_KEY_DIR)

$(RAUC_KEY_DIR)/ca.pem: | $(RAUC_KEY_DIR)/signer.pem

# The image carries RAUC's configuration, the keyring and the handlers.
$(ROOTFS_STAMP): $(RAUC_SYSTEM_CONF) $(RAUC_KEYRING) firmware/rauc/kerbgate-antirollback

$(RAUC_SYSTEM_CONF): firmware/rauc/system.conf.in .config
	@mkdir -p $(dir $@)
	@sed 's|@COMPATIBLE@|$(RAUC_COMPATIBLE)|' $< >$@

ifneq ($(ROOTFS_IMG),)
$(BUNDLE): $(ROOTFS_IMG) firmware/rauc/mkbundle.sh $(if $(filter $(RAUC_KEY_DIR)/%,$(RAUC_CERT)),$(RAUC_KEY_DIR)/signer.pem)
	@mkdir -p $(dir $@)
	@firmware/rauc/mkbundle.sh $(ROOTFS_IMG) $@ $(RAUC_COMPATIBLE) \
	  $(FIRMWARE_VERSION_STR) $(CONFIG_FIRMWARE_ROLLBACK_COUNTER) \
	  $(RAUC_CERT) $(RAUC_KEY) $(RAUC_KEYRING)

bundle: $(BUNDLE)
.PHONY: bundle
endif
