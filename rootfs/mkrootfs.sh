#!/bin/bash
# mkrootfs.sh: assemble the root filesystem tree.
#
#   mkrootfs.sh TARGET DEBS BOARDDIR KERNEL INITRD RELEASE SERVICE...
#
# TARGET    the tree to (re)create (output/target)
# DEBS      the unpacked packages of rootfs/packages.txt (output/build/debs)
# BOARDDIR  board/<name>: its overlay/ is laid over the skeleton
# KERNEL, INITRD  go to /boot (GRUB loads them from the slot)
# RELEASE   one line for /etc/kerbgate-release
# SERVICE   our daemons (output/bin/*), installed stripped into /usr/sbin
#
# Firmware updates (docs/updates.md), from the environment (firmware/rauc/rauc.mk):
# KG_RAUC_CONF      RAUC's system.conf      -> /etc/rauc/system.conf
# KG_RAUC_KEYRING   the firmware CA         -> /etc/rauc/keyring.pem
# KG_SECURITY_VERSION  this firmware's anti-rollback number
#                                           -> /usr/share/kerbgate/security-version
#
# Then every library the ELF files need is copied from the packages, and the
# tree is checked: an ELF file with a library missing fails the build.
set -euo pipefail
target=$1 debs=$2 board=$3 kernel=$4 initrd=$5 release=$6; shift 6
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$target"; mkdir -p "$target"

cp -a "$here/skeleton/." "$target/"
[ -d "$board/overlay" ] && cp -a "$board/overlay/." "$target/"
for d in bin sbin usr/bin usr/sbin boot boot/efi data dev proc sys run tmp var root; do mkdir -p "$target/$d"; done
chmod 0700 "$target/root"; chmod 1777 "$target/tmp"; chmod 0600 "$target/etc/shadow"

# BusyBox and its applet links (the binary lists its own applets; on another
# architecture the list would come from the package's build of the same version).
install -m 0755 "$debs/busybox-static/bin/busybox" "$target/bin/busybox"
"$target/bin/busybox" --list-full | while read -r a; do
	[ -e "$target/$a" ] || [ -L "$target/$a" ] && continue
	mkdir -p "$target/$(dirname "$a")"
	ln -s /bin/busybox "$target/$a"
done

# Files that change at run time live on /data or in /run.
ln -sfn /data/etc/hosts "$target/etc/hosts"
ln -sfn /run/resolv.conf "$target/etc/resolv.conf"
ln -sfn /data/kerbgate "$target/etc/kerbgate"
ln -sfn /proc/mounts "$target/etc/mtab"

install -m 0755 "$debs/openntpd/usr/sbin/ntpd" "$target/usr/sbin/ntpd"
install -m 0755 "$debs/openntpd/usr/sbin/ntpctl" "$target/usr/sbin/ntpctl"
for s in "$@"; do
	install -m 0755 "$s" "$target/usr/sbin/$(basename "$s")"
	strip --strip-unneeded "$target/usr/sbin/$(basename "$s")"
done

# kerbgate-mgmtd's web pages (its "web" listener, docs/api.md)
install -d -m 0755 "$target/usr/share/kerbgate/www"
install -m 0644 "$here/../services/mgmtd/www/"* "$target/usr/share/kerbgate/www/"

# RAUC (its service on the D-Bus system bus) and what it calls.
install -m 0755 "$debs/rauc/usr/bin/rauc" "$target/usr/bin/rauc"
install -m 0755 "$debs/dbus-daemon/usr/bin/dbus-daemon" "$target/usr/bin/dbus-daemon"
install -D -m 0644 "$debs/dbus-system-bus-common/usr/share/dbus-1/system.conf" \
	"$target/usr/share/dbus-1/system.conf"
install -D -m 0644 "${KG_RAUC_CONF:?}" "$target/etc/rauc/system.conf"
install -D -m 0644 "${KG_RAUC_KEYRING:?}" "$target/etc/rauc/keyring.pem"
install -m 0755 "$here/../firmware/rauc/kerbgate-antirollback" "$target/usr/sbin/kerbgate-antirollback"
install -D -m 0644 /dev/null "$target/usr/share/kerbgate/security-version"
echo "${KG_SECURITY_VERSION:?}" >"$target/usr/share/kerbgate/security-version"

install -m 0644 "$kernel" "$target/boot/vmlinuz"
install -m 0644 "$initrd" "$target/boot/initrd.img"
echo "$release" >"$target/etc/kerbgate-release"

# libgcc_s: glibc dlopen()s it to unwind a cancelled or exiting thread.
"$here/elf-libs.sh" copy "$target" "$debs"/* -- libgcc_s.so.1 >"$target.libs"
"$here/elf-libs.sh" check "$target"
