# Board qemu_x86_64: QEMU q35 with OVMF, a virtio disk and a virtio NIC.

# The kernel package (pinned) and the modules the initramfs loads: the disk,
# the NIC, the entropy source, squashfs for the root slots, vfat for the ESP,
# loop and device-mapper verity for RAUC to mount a bundle (docs/updates.md).
BOARD_PACKAGES := board/qemu_x86_64/packages.txt
BOARD_MODULES  := virtio_pci virtio_blk virtio_net virtio_rng squashfs vfat nls_cp437 nls_ascii \
                  loop dm_mod dm_verity
BOARD_CMDLINE  := console=ttyS0,115200 quiet

# GPT layout, MiB: ESP (GRUB, outside the A/B slots), root slots A and B
# (each: /boot/vmlinuz, /boot/initrd.img and the squashfs root), data.
BOARD_ESP_MB    := 4
BOARD_SLOT_MB   := 40
# kerbgate-smbpull (CONFIG_SERVICE_SMBPULL) brings libsmbclient, Samba's
# client libraries and ICU: about 20 MiB more in each slot.
ifeq ($(CONFIG_SERVICE_SMBPULL),y)
BOARD_SLOT_MB   := 64
endif
# data holds a firmware bundle uploaded from the web page while RAUC
# installs it (up to a slot) beside logs and credentials.
BOARD_DATA_MB   := 96
