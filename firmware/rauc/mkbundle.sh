#!/bin/sh
# mkbundle.sh ROOTFS_IMG OUT.raucb COMPATIBLE VERSION SECURITY_VERSION CERT KEY KEYRING
#
# A RAUC bundle (verity format) of one root filesystem image, signed.
# CERT and KEY may be files or PKCS#11 URLs (RAUC reads them either way).
# The bundle also carries `security-version`: the appliance's pre-install
# handler (kerbgate-antirollback) refuses a bundle whose number is lower than
# the one recorded on /data.  The bundle is verified against KEYRING after
# it is made, so that a wrong key fails here and not on the appliance.
set -eu
[ $# -eq 8 ] || { echo "usage: $0 ROOTFS_IMG OUT COMPATIBLE VERSION SECURITY_VERSION CERT KEY KEYRING" >&2; exit 2; }
rootfs=$1 out=$2 compatible=$3 version=$4 secver=$5 cert=$6 key=$7 keyring=$8
case $secver in ''|*[!0-9]*) echo "$0: security version '$secver' is not a number" >&2; exit 2 ;; esac
case $secver in ???????????????????*) echo "$0: security version '$secver' has more than 18 digits (the appliance compares at most 18)" >&2; exit 2 ;; esac
content=$(mktemp -d "${TMPDIR:-/tmp}/kg-bundle.XXXXXX")
trap 'rm -rf "$content"' EXIT
cp "$rootfs" "$content/rootfs.img"
echo "$secver" >"$content/security-version"
cat >"$content/manifest.raucm" <<MF
[update]
compatible=$compatible
version=$version

[bundle]
format=verity

[image.rootfs]
filename=rootfs.img
MF
rm -f "$out"
rauc bundle --cert "$cert" --key "$key" "$content" "$out" >/dev/null 2>&1 || { echo "$0: rauc could not make $out (run it by hand with -d to see why)" >&2; exit 1; }
rauc info --keyring "$keyring" "$out" >/dev/null 2>&1 || { rm -f "$out"; echo "$0: $out does not verify against $keyring (signed with another key? the CERT must chain to the KEYRING)" >&2; exit 1; }
echo "  BUNDLE  $out ($compatible $version, security version $secver)"
