#!/bin/bash
# lib-packages.sh BINARY...: the Debian packages (NAME=VERSION) that hold the
# shared libraries BINARY needs, to the end of the chain, as this build host
# resolves them: the input for rootfs/packages.txt (`make rootfs-libs-update`).
# Only the host's package database is read; the image takes the files from
# the downloaded packages, never from here.
set -euo pipefail
for b in "$@"; do
	ldd "$b" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'
done | sort -u | while read -r lib; do
	pkg=$(dpkg -S "$lib" 2>/dev/null || dpkg -S "$(readlink -f "$lib")" 2>/dev/null || true)
	pkg=${pkg%%:*}
	[ -n "$pkg" ] || { echo "lib-packages: no package owns $lib" >&2; exit 1; }
	echo "$pkg=$(dpkg-query -W -f '${Version}' "$pkg")"
done | sort -u
