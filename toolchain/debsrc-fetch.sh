#!/bin/sh
# debsrc-fetch.sh HASHFILE DLDIR: fetch a Debian source package into DLDIR and
# check every file against the SHA-256 sums pinned in HASHFILE.
#
# HASHFILE names the package, its version and the Debian suite it comes from:
#   # source: mbedtls 3.6.6-0.1~deb13u1 trixie
#   sha256  <hex>  mbedtls_3.6.6.orig.tar.bz2
# The suite's Sources index goes into a private apt state under DLDIR, so the
# machine's own apt configuration is never changed.  Already-fetched files
# that match their pin are kept: a second run asks nothing of the network.
set -eu
hashfile=$1; dl=$2
set -- $(sed -n 's/^# source: //p' "$hashfile")
pkg=$1; version=$2; suite=$3
mkdir -p "$dl"; dl=$(cd "$dl" && pwd)

verify() {
	ok=0
	while read -r algo sum file; do
		[ "$algo" = sha256 ] || continue
		[ -f "$dl/$file" ] || return 1
		echo "$sum  $dl/$file" | sha256sum -c --status || {
			echo "debsrc-fetch: $file does not match its pinned SHA-256 in $hashfile" >&2
			rm -f "$dl/$file"; return 1; }
		ok=$((ok + 1))
	done <<-EOT
	$(grep -v '^#' "$hashfile")
	EOT
	[ "$ok" -gt 0 ]
}

verify 2>/dev/null && { echo "debsrc-fetch: $pkg $version present and verified"; exit 0; }

apt=$dl/.apt-$suite
mkdir -p "$apt/lists/partial"
echo "deb-src http://deb.debian.org/debian $suite main" >"$apt/sources.list"
opts="-o Dir::Etc::SourceList=$apt/sources.list -o Dir::Etc::SourceParts=/dev/null \
      -o Dir::State::Lists=$apt/lists -o APT::Sandbox::User=root"
echo "debsrc-fetch: fetching Debian source package $pkg $version ($suite)"
# shellcheck disable=SC2086
apt-get -qq $opts update
# shellcheck disable=SC2086
(cd "$dl" && apt-get -qq $opts source --download-only "$pkg=$version")
verify || { echo "debsrc-fetch: $pkg $version failed verification" >&2; exit 1; }
echo "debsrc-fetch: $pkg $version fetched and verified"
