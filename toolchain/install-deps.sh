#!/bin/sh
# Installs every Debian package listed in toolchain/debian-packages.txt that
# is not installed yet.  Needs root; says so plainly otherwise.
set -eu
list="$(dirname "$0")/debian-packages.txt"
pkgs=$(sed -e 's/#.*//' "$list" | tr -s ' \t' '\n' | grep -v '^$')

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing="$missing $p"
done
[ -z "$missing" ] && { echo "deps: all $(echo $pkgs | wc -w) packages present"; exit 0; }

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing" >&2
	echo "deps: installing them needs root: run 'sudo make deps' (or make test as root)" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
