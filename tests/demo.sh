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
say "Lab self-test (real kinit, curl --negotiate, S4U2Self/S4U2Proxy against the DC)"
$lab selftest
say "kerbgated in the lb namespace: Kerberos terminated at the VIP 10.77.0.100"
say "(clients: MIT curl --negotiate and python3-gssapi in the client namespace)"
KG_OUT=$out tests/integration/test_kerbgated.sh
say "Not built yet: constrained delegation to back-ends, credential rotation, the appliance image."
say "Tearing the lab down"
