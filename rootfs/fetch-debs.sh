#!/bin/bash
# fetch-debs.sh LIST DLDIR UNPACKDIR
#
# Downloads every NAME=VERSION of LIST (apt-get download, into DLDIR) and
# unpacks each package into UNPACKDIR/NAME (dpkg -x).  Nothing is taken from
# the build host's /usr: the image is made of Debian's packages, so the same
# recipe works for another architecture (DEB_ARCH=arm64 with a multiarch
# apt configuration).  A package already downloaded is not fetched again.
set -euo pipefail
list=$1 dl=$2 unpack=$3
arch=${DEB_ARCH:-$(dpkg --print-architecture)}
mkdir -p "$dl" "$unpack"
dl=$(cd "$dl" && pwd)

# NAME=VERSION lines, comments and blanks dropped.
pkgs=$(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$list" | grep -v '^$' || true)
[ -n "$pkgs" ] || { echo "fetch-debs: $list lists no package" >&2; exit 1; }

# The file name apt-get download gives NAME=VERSION (an epoch's ':' becomes
# %3a); an architecture-independent package ends in _all.deb.
deb_file() {
	local name=${1%%=*} ver=${1#*=}
	local f=$dl/${name}_${ver//:/%3a}_$arch.deb
	[ -e "$f" ] || [ ! -e "$dl/${name}_${ver//:/%3a}_all.deb" ] || f=$dl/${name}_${ver//:/%3a}_all.deb
	echo "$f"
}

missing=()
for p in $pkgs; do
	[ -s "$(deb_file "$p")" ] || missing+=("$p:$arch")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "  DEB     downloading ${#missing[@]} package(s) into $dl"
	# apt-get warns that it runs unsandboxed as root when _apt cannot write
	# here; the download itself is fine.
	if ! (cd "$dl" && apt-get download -q "${missing[@]/:$arch/}" 2>&1 | grep -v '^W: Download is performed unsandboxed'); then
		:
	fi
	for p in $pkgs; do
		[ -s "$(deb_file "$p")" ] && continue
		echo "fetch-debs: could not download $p for $arch." >&2
		echo "  Debian may have replaced that version (a security update): see which one it has with" >&2
		echo "  'apt-cache policy ${p%%=*}', rebuild the services against it, and update $list." >&2
		exit 1
	done
fi

for p in $pkgs; do
	name=${p%%=*} f=$(deb_file "$p")
	stamp=$unpack/$name/.unpacked
	if [ -e "$stamp" ] && [ "$(cat "$stamp")" = "$(basename "$f")" ]; then continue; fi
	rm -rf "${unpack:?}/$name"
	mkdir -p "$unpack/$name"
	dpkg-deb -x "$f" "$unpack/$name"
	basename "$f" >"$stamp"
done
