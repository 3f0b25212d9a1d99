#!/usr/bin/env bash
# make demo: the most complete end-to-end path that exists today, against a
# throwaway Active Directory domain in network namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-output}
lab=tests/lab/lab

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
trap '$lab down >/dev/null 2>&1 || true' EXIT INT TERM

say "Bringing up the lab: Samba AD DC for CORP.CONTOSO.COM, client, lb, cas1, cas2"
$lab up
if [ -x tests/demo-kerbgated.sh ] && [ -x "$out/bin/kerbgated" ]; then
	tests/demo-kerbgated.sh "$out"
else
	say "Lab self-test (real kinit, curl --negotiate, S4U2Self/S4U2Proxy against the DC)"
	$lab selftest
	say "Not built yet: kerbgated (Kerberos at the VIP), the appliance image. See docs/architecture.md."
fi
say "Tearing the lab down"
