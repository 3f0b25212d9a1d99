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
say "kerbgated, kcd mode: Kerberos terminated at the VIP 10.77.0.100 with the ASA keys;"
say "Apache on cas1/cas2 authenticates alice with a delegated ticket and its own keytab"
KG_OUT=$out tests/integration/test_kcd.sh
say "kerbgated, header mode: TLS, SPNEGO, Extended Protection, streaming, refusals"
KG_OUT=$out tests/integration/test_kerbgated.sh
say "Not built yet: credential rotation, the appliance image, web management."
say "Tearing the lab down"
