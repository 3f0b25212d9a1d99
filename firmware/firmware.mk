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

$(ESP_DIR)/.stamp: $(GRUB_EFI) firmware/grub.cfg board/$(BOARD)/board.mk
	@rm -rf $(ESP_DIR); mkdir -p $(ESP_DIR)/EFI/BOOT $(ESP_DIR)/EFI/kerbgate
	@cp $(GRUB_EFI) $(ESP_DIR)/EFI/BOOT/BOOTX64.EFI
	@sed 's|@CMDLINE@|$(BOARD_CMDLINE)|' firmware/grub.cfg >$(ESP_DIR)/EFI/kerbgate/grub.cfg
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
