#!/bin/bash
# qemu.sh DISK: boot the qemu_x86_64 image under QEMU's TCG (never KVM:
# /dev/kvm hangs guests on the machines this is built on), OVMF firmware,
# the disk as virtio-blk, a virtio-rng, and a serial console.
#
# Network: with the lab up (tests/lab/lab up), the VM's NIC is a tap device
# on the lab's bridge (in the kglab-sw namespace), and the VIP moves from the
# lb namespace to the VM, so the lab's client reaches kerbgated in the VM.
# It goes back to lb when QEMU ends.  KGQ_NET=none boots without a NIC.
# KGQ_NET=user: QEMU's user-mode network, no lab: the VM must take
# 10.0.2.15/24 (ADDRESSES in /data/etc/network.conf); its web page (9443) is
# forwarded to 127.0.0.1:$KGQ_WEB_PORT on this host (default 18643).
#
# Environment (the tests use these):
#   KGQ_SERIAL   QEMU -serial argument (default: mon:stdio, interactive)
#   KGQ_CONSOLE_SOCK, KGQ_CONSOLE_LOG  instead: the console on a UNIX socket
#                (tests/integration/vmconsole.py talks to it), all of its
#                output also written to the log file
#   KGQ_PIDFILE  write QEMU's pid here and run it in the background
#   KGQ_MEM      memory in MiB (default 512)
#   KGQ_DISK2    a second virtio disk (raw, read-only; the update tests
#                carry bundles into the VM on it: /dev/vdb)
set -euo pipefail
tap=kgtap0
vip=10.77.0.100/24
serial=${KGQ_SERIAL:-mon:stdio}
ovmf=${KGQ_OVMF:-/usr/share/ovmf/OVMF.fd}
net=${KGQ_NET:-lab}

restore() {
	[ "$net" = lab ] || return 0
	ip -n kglab-sw link del "$tap" 2>/dev/null || true
	ip -n kglab-lb addr add "$vip" dev eth0 2>/dev/null || true
}
if [ "${1:-}" = --restore ]; then restore; exit 0; fi
disk=$1
[ -r "$ovmf" ] || { echo "qemu.sh: $ovmf missing: install ovmf (make deps)" >&2; exit 1; }
[ -r "$disk" ] || { echo "qemu.sh: no disk image $disk: run make first" >&2; exit 1; }

args=(-machine q35 -cpu max -accel tcg -m "${KGQ_MEM:-512}" -smp 1
      -bios "$ovmf" -display none -no-user-config -nodefaults
      -drive "file=$disk,if=virtio,format=raw,cache=unsafe"
      -device virtio-rng-pci)
[ -n "${KGQ_DISK2:-}" ] && args+=(-drive "file=$KGQ_DISK2,if=virtio,format=raw,readonly=on")
if [ -n "${KGQ_CONSOLE_SOCK:-}" ]; then
	args+=(-chardev "socket,id=con,path=$KGQ_CONSOLE_SOCK,server=on,wait=off,logfile=${KGQ_CONSOLE_LOG:-/dev/null}"
	       -serial chardev:con)
else
	args+=(-serial "$serial")
fi

ns=()
if [ "$net" = lab ]; then
	if ! ip netns list 2>/dev/null | grep -q '^kglab-sw'; then
		echo "qemu.sh: the lab is not up (make lab-up), so the VM would have no network." >&2
		echo "  Bring it up first, or boot without a NIC: KGQ_NET=none $0 $disk" >&2
		exit 1
	fi
	ip -n kglab-sw link del "$tap" 2>/dev/null || true
	ip -n kglab-sw tuntap add dev "$tap" mode tap
	ip -n kglab-sw link set "$tap" master br0 up
	# The VM serves the VIP now: lb gives it up (back when QEMU ends).
	ip -n kglab-lb addr del "$vip" dev eth0 2>/dev/null || true
	# No option ROM (iPXE) on the NIC: OVMF would start it under TCG for nothing.
	args+=(-netdev "tap,id=n0,ifname=$tap,script=no,downscript=no"
	       -device "virtio-net-pci,netdev=n0,mac=52:54:00:4b:47:01,romfile=")
	ns=(ip netns exec kglab-sw)
elif [ "$net" = user ]; then
	args+=(-netdev "user,id=n0,net=10.0.2.0/24,restrict=on,hostfwd=tcp:127.0.0.1:${KGQ_WEB_PORT:-18643}-10.0.2.15:9443"
	       -device "virtio-net-pci,netdev=n0,mac=52:54:00:4b:47:02,romfile=")
fi

if [ -n "${KGQ_PIDFILE:-}" ]; then
	# Background: the caller stops QEMU (kill the pid) and then runs
	# `qemu.sh --restore` to give the VIP back to lb.
	"${ns[@]}" qemu-system-x86_64 "${args[@]}" -daemonize -pidfile "$KGQ_PIDFILE"
	exit 0
fi
trap restore EXIT
echo "qemu.sh: serial console here; leave QEMU with Ctrl-a x" >&2
"${ns[@]}" qemu-system-x86_64 "${args[@]}"
