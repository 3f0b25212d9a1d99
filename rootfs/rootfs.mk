# The root filesystem and the kernel: Debian binary packages (pinned in
# rootfs/packages.txt and the board's packages.txt) downloaded into
# $(DL_DIR)/debs and unpacked under $(BUILD), the skeleton, the board's
# overlay and our services, assembled in $(O)/target and packed read-only.

ROOTFS_DEBS        := $(BUILD)/debs
KERNEL_DEBS        := $(BUILD)/kernel-debs
ROOTFS_TARGET      := $(O)/target
IMAGES             := $(O)/images
ROOTFS_IMG         := $(IMAGES)/rootfs.squashfs
KERNEL_IMG         := $(IMAGES)/vmlinuz
INITRD_IMG         := $(IMAGES)/initrd.img
ROOTFS_DEBS_STAMP  := $(ROOTFS_DEBS)/.fetched
KERNEL_DEBS_STAMP  := $(KERNEL_DEBS)/.fetched
ROOTFS_STAMP       := $(BUILD)/.rootfs-target
FIRMWARE_VERSION   := $(or $(patsubst "%",%,$(CONFIG_FIRMWARE_VERSION)),0.1.0)
ROOTFS_INPUTS      := $(shell find rootfs/skeleton board/$(BOARD) services/mgmtd/www 2>/dev/null) \
                      rootfs/mkrootfs.sh rootfs/elf-libs.sh

$(ROOTFS_DEBS_STAMP): rootfs/packages.txt rootfs/fetch-debs.sh
	@rootfs/fetch-debs.sh $< $(DL_DIR)/debs $(ROOTFS_DEBS)
	@touch $@

$(KERNEL_DEBS_STAMP): $(BOARD_PACKAGES) rootfs/fetch-debs.sh
	@rootfs/fetch-debs.sh $< $(DL_DIR)/debs $(KERNEL_DEBS)
	@touch $@

$(KERNEL_IMG): $(KERNEL_DEBS_STAMP)
	@mkdir -p $(dir $@)
	@cp $(KERNEL_DEBS)/*/boot/vmlinuz-* $@
	@echo "  KERNEL  $@ ($$(ls $(KERNEL_DEBS)/*/lib/modules))"

$(INITRD_IMG): $(KERNEL_DEBS_STAMP) $(ROOTFS_DEBS_STAMP) rootfs/mkinitramfs.sh rootfs/initramfs/init \
               board/$(BOARD)/board.mk
	@mkdir -p $(dir $@)
	@rootfs/mkinitramfs.sh $(firstword $(wildcard $(KERNEL_DEBS)/*/)) \
	  $(ROOTFS_DEBS)/busybox-static/bin/busybox $@ $(BOARD_MODULES)

$(ROOTFS_STAMP): $(ROOTFS_DEBS_STAMP) $(KERNEL_IMG) $(INITRD_IMG) $(SERVICE_BINS) $(ROOTFS_INPUTS)
	@echo "  ROOTFS  $(ROOTFS_TARGET)"
	@KG_RAUC_CONF=$(RAUC_SYSTEM_CONF) KG_RAUC_KEYRING=$(RAUC_KEYRING) \
	  KG_SECURITY_VERSION=$(CONFIG_FIRMWARE_ROLLBACK_COUNTER) \
	  rootfs/mkrootfs.sh $(ROOTFS_TARGET) $(ROOTFS_DEBS) board/$(BOARD) $(KERNEL_IMG) $(INITRD_IMG) \
	  "kerbgate $(FIRMWARE_VERSION) $(BOARD)" $(SERVICE_BINS)
	@touch $@

# squashfs with xz: GRUB 2.06 reads it (the kernel is in the slot), and it
# is the smaller of squashfs and erofs here (docs/performance.md).  /boot is
# stored uncompressed: GRUB decompressing 15 MB of xz under TCG costs 4 to
# 10 s of boot for 3.7 MB saved.  Fixed times: the same tree, the same image.
$(ROOTFS_IMG): $(ROOTFS_STAMP) rootfs/rootfs.mk
	@rm -f $@
	@mksquashfs $(ROOTFS_TARGET) $@ -comp xz -b 256K -noappend -all-root -no-xattrs \
	  -action 'uncompressed@subpathname(boot/*)' \
	  -mkfs-time 0 -all-time 0 -quiet -no-progress >/dev/null
	@echo "  SQUASH  $@ ($$(( $$(stat -c %s $@) / 1024 )) KiB)"

rootfs: $(ROOTFS_IMG)

# The library packages the current binaries need, as NAME=VERSION lines for
# rootfs/packages.txt.
rootfs-libs-update: $(SERVICE_BINS) $(ROOTFS_DEBS_STAMP)
	@rootfs/lib-packages.sh $(SERVICE_BINS) $(ROOTFS_DEBS)/openntpd/usr/sbin/ntpd

.PHONY: rootfs rootfs-libs-update
