#!/bin/bash
# Up/down cycle check for the lab: LAB_CYCLES (default 2) times `lab up; lab down`,
# then two failure paths (up failing midway tears down by itself; `lab down`
# cleans a half-made lab). After each teardown nothing may be left: no kglab-*
# namespace, no /etc/netns/kglab-*, no lab dir, no samba/apache process, the
# root network namespace unchanged, nothing new in Samba's/Apache's system dirs.
# Last line: "N passed, N failed".
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB=$HERE/lab
LAB_DIR=${KGLAB_DIR:-/run/kerbgate-lab}
CYCLES=${LAB_CYCLES:-2}
# `lab up` normally takes 15-60 s (docs/performance.md). This is no speed
# check, only a bound that turns a hang into a failure that says so.
UP_HANG=${LAB_UP_HANG:-600}
SYSTEM_DIRS=(/run/samba /var/lib/samba /var/log/samba /var/cache/samba
             /run/apache2 /var/log/apache2)
PASS=0
FAIL=0
TMP=$(mktemp -d /tmp/kglab-cycle.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

[[ $(id -u) -eq 0 ]] || { echo "test-lab-cycle.sh: must run as root" >&2; exit 1; }
if ip netns list | grep -q '^kglab-' || [[ -e $LAB_DIR ]]; then
    echo "test-lab-cycle.sh: the lab is up; run '$LAB down' first" >&2
    exit 1
fi

ok()    { PASS=$((PASS + 1)); echo "ok - $*"; }
notok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }

# expect DESCRIPTION CMD...: ok when CMD succeeds.
expect() {
    local desc=$1
    shift
    if "$@"; then ok "$desc"; else notok "$desc"; fi
}

# none DESCRIPTION LEFTOVERS: ok when nothing is left, else name what is.
none() {
    if [[ -z $2 ]]; then ok "$1"; else notok "$1"; echo "#   left: $2"; fi
}

# What must look the same before the first up and after every down.
snapshot() {
    {
        echo "## links";  ip -br link | awk '{print $1}' | sort
        echo "## addrs";  ip -br addr | sort
        echo "## routes"; ip route show table all | sort
        echo "## files";  { find "${SYSTEM_DIRS[@]}" 2>/dev/null || true; } | sort
        # Default Kerberos ccaches and replay caches, had the lab leaked one.
        echo "## krb5";   compgen -G '/tmp/krb5cc_*' || true
        compgen -G '/var/tmp/krb5_*' || true
        compgen -G '/var/tmp/rc_*' || true
    } >"$1"
}

# Samba and Apache processes still alive (zombies awaiting reaping by init don't count).
live_daemons() {
    ps -eo pid=,stat=,comm= | awk '$2 !~ /^Z/ && $3 ~ /^(samba|smbd|winbindd|samba-bgqd|apache2)$/'
}

assert_clean() {
    local when=$1 left
    none "$when: no kglab-* namespace" "$(ip netns list | awk '/^kglab-/ {printf "%s ", $1}')"
    none "$when: no /etc/netns/kglab-*" "$(compgen -G '/etc/netns/kglab-*' | tr '\n' ' ' || true)"
    none "$when: no $LAB_DIR" "$(compgen -G "$LAB_DIR" || true)"
    for _ in $(seq 30); do
        left=$(live_daemons | tr '\n' ' ')
        [[ -z $left ]] && break
        sleep 0.1
    done
    none "$when: no samba/apache process" "$left"
    snapshot "$TMP/after"
    if diff -u "$TMP/before" "$TMP/after" >"$TMP/diff"; then
        ok "$when: root namespace links/addresses/routes and system dirs unchanged"
    else
        notok "$when: root namespace or system dirs changed"
        sed 's/^/#   /' "$TMP/diff"
    fi
}

snapshot "$TMP/before"

for cycle in $(seq "$CYCLES"); do
    t0=$(date +%s.%N)
    rc=0
    timeout --kill-after=10 "$UP_HANG" "$LAB" up 2>"$TMP/up.err" || rc=$?
    secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
    if [[ $rc -eq 0 ]]; then
        ok "cycle $cycle: lab up (took $secs s)"
    elif [[ $rc -eq 124 || $rc -eq 137 ]]; then
        notok "cycle $cycle: lab up hung: still running after $UP_HANG s; its last words:"
        tail -n 5 "$TMP/up.err" | sed 's/^/#   /'
        "$LAB" down 2>/dev/null || true
    else
        notok "cycle $cycle: lab up failed"
        sed 's/^/#   /' "$TMP/up.err"
    fi
    if "$LAB" status >"$TMP/status" 2>&1; then
        ok "cycle $cycle: lab status: namespaces, samba, apache, KDC all up"
    else
        notok "cycle $cycle: lab status reports a problem"
        sed 's/^/#   /' "$TMP/status"
    fi
    expect "cycle $cycle: lab down" "$LAB" down 2>/dev/null
    assert_clean "cycle $cycle"
done

expect "lab down on a down lab (idempotent)" "$LAB" down 2>/dev/null

# An up that fails late (everything running) must tear itself down.
if KGLAB_FAIL_AFTER=start "$LAB" up 2>"$TMP/up.err"; then
    notok "lab up with an injected failure succeeded"
else
    ok "lab up with an injected failure after start exits non-zero"
fi
assert_clean "failed up"

# A half-made lab (kept on purpose) must be cleaned by `lab down`.
KGLAB_KEEP_ON_FAILURE=1 KGLAB_FAIL_AFTER=accounts "$LAB" up 2>"$TMP/up.err" || true
if ip netns list | grep -q '^kglab-dc' && [[ -e $LAB_DIR ]]; then
    ok "half-made lab kept for the next check"
else
    notok "half-made lab was not kept"
fi
expect "lab down after a partial up" "$LAB" down 2>/dev/null
assert_clean "partial up + down"

echo "$PASS passed, $FAIL failed"
[[ $FAIL -eq 0 ]]
