# The disk image of the board: GRUB on the ESP, the root filesystem in
# slot A, an empty slot B, a data partition.  `make qemu` boots it.

GRUB_EFI      := $(IMAGES)/bootx64.efi
ESP_DIR       := $(BUILD)/esp
DATA_SKEL     := $(BUILD)/data-skel
DISK_IMG      := $(IMAGES)/disk.img

$(GRUB_EFI): firmware/mkgrub.sh
	@mkdir -p $(dir $@)
	@firmware/mkgrub.sh $@
	@echo "  GRUB    $@"

# The ESP: GRUB, its script, and the boot state (docs/bootstate.md): the
# script GRUB sources and the two copies of the state, made by the build's
# kerbgate-bootstate (slot A primary and good, B empty).
$(ESP_DIR)/.stamp: $(GRUB_EFI) firmware/grub.cfg firmware/bootstate/grub.cfg $(BOOTSTATE_BIN) \
                   board/$(BOARD)/board.mk
	@rm -rf $(ESP_DIR); mkdir -p $(ESP_DIR)/EFI/BOOT $(ESP_DIR)/EFI/kerbgate $(ESP_DIR)/kerbgate
	@cp $(GRUB_EFI) $(ESP_DIR)/EFI/BOOT/BOOTX64.EFI
	@sed 's|@CMDLINE@|$(BOARD_CMDLINE)|' firmware/grub.cfg >$(ESP_DIR)/EFI/kerbgate/grub.cfg
	@cp firmware/bootstate/grub.cfg $(ESP_DIR)/kerbgate/bootstate.cfg
	@$(BOOTSTATE_BIN) -d $(ESP_DIR)/kerbgate init
	@touch $@

# A fresh appliance: /data empty, made ready at first boot (data-init).
$(DISK_IMG): $(ESP_DIR)/.stamp $(ROOTFS_IMG) firmware/mkdisk.sh
	@rm -rf $(DATA_SKEL); mkdir -p $(DATA_SKEL)
	@firmware/mkdisk.sh $@ $(ESP_DIR) $(ROOTFS_IMG) $(DATA_SKEL) \
	  $(BOARD_ESP_MB) $(BOARD_SLOT_MB) $(BOARD_DATA_MB)

image: $(DISK_IMG)

# Boot the image under QEMU (TCG) with its NIC on the lab's bridge.
qemu: need-root $(DISK_IMG)
	@board/$(BOARD)/qemu.sh $(DISK_IMG)

.PHONY: image qemu
