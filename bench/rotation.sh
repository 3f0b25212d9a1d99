#!/usr/bin/env bash
# Credential rotation figures for docs/performance.md: while two clients
# authenticate through the VIP without pause (one with a service ticket from
# before, one with a fresh ticket each time), the ASA password is changed in
# AD three times and staged, verified and activated with kerbgatectl.
# Prints, per rotation, the time from the AD change and from `activate` to
# the first fresh-ticket authentication after it, and each client's longest
# gap between two answers; then the failure count (the test's own check).
#
# The lab must be up and held:
#   flock /run/kglab.lock bash -c 'tests/lab/lab up && bench/rotation.sh; tests/lab/lab down'
set -uo pipefail
cd "$(dirname "$0")/.."
uptime
KG_OUT=${KG_OUT:-output} tests/integration/test_credentials.sh >/tmp/kg-rotation.$$.log 2>&1
rc=$?
grep -E "figure:|load-(old|fresh):|^(ok|not ok) |passed, " /tmp/kg-rotation.$$.log
rm -f /tmp/kg-rotation.$$.log
exit $rc
