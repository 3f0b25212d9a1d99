#!/bin/bash
# elf-libs.sh: the shared libraries of the image, resolved from the ELF files'
# own NEEDED entries.
#
#   elf-libs.sh copy TARGET PKGROOT... [-- EXTRA-SONAME...]
#       For every ELF file in TARGET, find each NEEDED library (and theirs, to
#       the end) in the unpacked Debian packages PKGROOT/* and copy it into
#       TARGET at the same path, symlinks included.  EXTRA-SONAMEs are
#       libraries loaded with dlopen() that no NEEDED entry names.
#       Prints "PACKAGE PATH" for each file copied.
#   elf-libs.sh check TARGET
#       Every ELF file in TARGET has its interpreter and every NEEDED library
#       inside TARGET (search path: its RUNPATH/RPATH, then the multiarch and
#       plain lib directories).  Exits 1, naming each miss, otherwise.
#
# Only readelf runs on the build host's side; nothing is loaded or executed.
set -euo pipefail
TRIPLET=${TRIPLET:-x86_64-linux-gnu}
DEFAULT_DIRS="/lib/$TRIPLET /usr/lib/$TRIPLET /lib /usr/lib /lib64"

is_elf() { [ -f "$1" ] && [ ! -L "$1" ] && [ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = '177ELF' ]; }
elf_files() { find "$1" -type f | while read -r f; do is_elf "$f" && echo "$f"; done; }
needed() { readelf -d "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
interp() { readelf -l "$1" 2>/dev/null | sed -n 's/.*\[Requesting program interpreter: \(.*\)\]/\1/p'; }
# The directories an ELF file at image path $2 searches, in order.
search_dirs() {
	local f=$1 img=$2 rp d
	rp=$(readelf -d "$f" 2>/dev/null | sed -n 's/.*(R\(UN\)\{0,1\}PATH).*\[\(.*\)\]/\2/p' | tr ':' ' ')
	for d in $rp; do echo "${d//\$ORIGIN/$(dirname "$img")}"; done
	for d in $DEFAULT_DIRS; do echo "$d"; done
}

# Resolve SONAME for the ELF file $1 (image path $2) inside root $3: prints the image path.
find_in_root() {
	local f=$1 img=$2 root=$3 soname=$4 d
	for d in $(search_dirs "$f" "$img"); do
		if [ -e "$root$d/$soname" ]; then echo "$d/$soname"; return 0; fi
	done
	return 1
}

# Copy image path $2 (a file or a chain of symlinks) from root $1 into $3.
copy_path() {
	local src=$1 path=$2 dst=$3 link
	while :; do
		mkdir -p "$dst$(dirname "$path")"
		if [ -L "$src$path" ]; then
			link=$(readlink "$src$path")
			ln -sfn "$link" "$dst$path"
			case $link in /*) path=$link ;; *) path=$(dirname "$path")/$link ;; esac
		else
			cp -p "$src$path" "$dst$path"
			return 0
		fi
	done
}

# The program interpreter of $2 (the dynamic loader), from the first root that has it.
copy_interp() {
	local target=$1 f=$2 ip r; shift 2
	ip=$(interp "$f")
	[ -n "$ip" ] && [ ! -e "$target$ip" ] || return 0
	for r in "$@"; do
		if [ -e "$r$ip" ]; then copy_path "$r" "$ip" "$target"; echo "$(basename "$r") $ip"; return 0; fi
	done
	echo "elf-libs: no package has the interpreter $ip of ${f#"$target"}" >&2
	exit 1
}

cmd_copy() {
	local target=$1; shift
	local roots=() extras=() queue=() seen=" " f img so r p found
	while [ $# -gt 0 ] && [ "$1" != -- ]; do roots+=("$1"); shift; done
	[ "${1:-}" = -- ] && { shift; extras=("$@"); }
	mapfile -t queue < <(elf_files "$target")
	# dlopen()ed libraries: resolved as if the first ELF file needed them.
	local pending=()
	for so in "${extras[@]}"; do pending+=("${queue[0]}|$so"); done
	for f in "${queue[@]}"; do
		for so in $(needed "$f"); do pending+=("$f|$so"); done
		copy_interp "$target" "$f" "${roots[@]}"
	done
	while [ ${#pending[@]} -gt 0 ]; do
		f=${pending[0]%%|*} so=${pending[0]#*|}
		pending=("${pending[@]:1}")
		img=${f#"$target"}
		[[ $seen == *" $so "* ]] && continue
		if find_in_root "$f" "$img" "$target" "$so" >/dev/null; then seen+="$so "; continue; fi
		found=""
		for r in "${roots[@]}"; do
			if p=$(find_in_root "$f" "$img" "$r" "$so"); then found=$r; break; fi
		done
		if [ -z "$found" ]; then
			echo "elf-libs: $img needs $so, which no package in ${roots[*]} has:" >&2
			echo "  add its package to rootfs/packages.txt (make rootfs-libs-update lists them)" >&2
			exit 1
		fi
		copy_path "$found" "$p" "$target"
		echo "$(basename "$found") $p"
		seen+="$so "
		local real
		real=$(readlink -f "$target$p")
		for so in $(needed "$real"); do pending+=("$real|$so"); done
	done
}

cmd_check() {
	local target=$1 f img so bad=0 ip n=0
	while read -r f; do
		img=${f#"$target"}
		n=$((n + 1))
		ip=$(interp "$f")
		if [ -n "$ip" ] && [ ! -e "$target$ip" ]; then
			echo "elf-libs: $img: its interpreter $ip is not in the image" >&2; bad=1
		fi
		for so in $(needed "$f"); do
			find_in_root "$f" "$img" "$target" "$so" >/dev/null && continue
			echo "elf-libs: $img needs $so, which is not in the image" >&2; bad=1
		done
	done < <(elf_files "$target")
	[ $bad = 0 ] || { echo "elf-libs: the image in $target is incomplete (see above)" >&2; exit 1; }
	echo "  CHECK   $n ELF files in $target resolve all their libraries inside it"
}

case ${1:-} in
copy) shift; cmd_copy "$@" ;;
check) shift; cmd_check "$@" ;;
*) echo "usage: elf-libs.sh copy TARGET PKGROOT... [-- SONAME...] | check TARGET" >&2; exit 2 ;;
esac
