# Board qemu_x86_64: QEMU q35 with OVMF, a virtio disk and a virtio NIC.

# The kernel package (pinned) and the modules the initramfs loads: the disk,
# the NIC, the entropy source, squashfs for the root slots, vfat for the ESP.
BOARD_PACKAGES := board/qemu_x86_64/packages.txt
BOARD_MODULES  := virtio_pci virtio_blk virtio_net virtio_rng squashfs vfat nls_cp437 nls_ascii
BOARD_CMDLINE  := console=ttyS0,115200 quiet

# GPT layout, MiB: ESP (GRUB, outside the A/B slots), root slots A and B
# (each: /boot/vmlinuz, /boot/initrd.img and the squashfs root), data.
BOARD_ESP_MB    := 4
BOARD_SLOT_MB   := 24
# kerbgate-smbpull (CONFIG_SERVICE_SMBPULL) brings libsmbclient, Samba's
# client libraries and ICU: about 20 MiB more in each slot.
ifeq ($(CONFIG_SERVICE_SMBPULL),y)
BOARD_SLOT_MB   := 48
endif
BOARD_DATA_MB   := 8
