#!/bin/bash
# mkgrub.sh OUT.efi: GRUB for x86_64 EFI as one file with the modules it
# needs built in (grub-mkimage from grub-efi-amd64-bin).  Its prefix is
# /EFI/kerbgate on the partition it was loaded from (the ESP), where
# firmware/grub.cfg goes.
set -euo pipefail
out=$1
moddir=${GRUB_MODDIR:-/usr/lib/grub/x86_64-efi}
[ -d "$moddir" ] || { echo "mkgrub: $moddir missing: install grub-efi-amd64-bin (make deps)" >&2; exit 1; }
modules="part_gpt fat squash4 ext2 linux normal configfile regexp echo test true sleep
         loadenv search serial terminal efi_gop reboot halt"
grub-mkimage -d "$moddir" -O x86_64-efi -p /EFI/kerbgate -o "$out" $modules
