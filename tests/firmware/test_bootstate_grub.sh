#!/usr/bin/env bash
# GRUB's half of the boot state (firmware/bootstate/grub.cfg), run by real
# GRUB: grub-emu boots a FAT image that holds the two copies, the way the
# appliance's GRUB reads and writes them on the ESP (load_env, save_env), and
# kerbgate-bootstate reads and changes the same files between boots.
# Shows: GRUB picks the same copy and slot as the tool, counts attempts in
# both copies, abandons a slot after three attempts, skips a copy left
# half-written, and boots A without writing when no copy is whole.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${KG_OUT:-output}
tool=$PWD/$out/bin/kerbgate-bootstate
work=$(mktemp -d /tmp/kg-bootstate.XXXXXX)
trap 'rm -rf "$work"' EXIT
img=$work/esp.img
export MTOOLS_SKIP_CHECK=1
passed=0; failed=0
ok()   { echo "ok - $*"; passed=$((passed + 1)); }
nok()  { echo "not ok - $*"; failed=$((failed + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else nok "$name"; fi; }

for need in grub-emu mcopy mkfs.vfat; do
	command -v $need >/dev/null || { echo "missing $need (make deps installs it)"; echo "0 passed, 1 failed"; exit 1; }
done
[ -x "$tool" ] || { echo "missing $tool (make test-build)"; echo "0 passed, 1 failed"; exit 1; }

mkdir -p "$work/grub"
echo "(hd0) $img" >"$work/device.map"
cat >"$work/grub/grub.cfg" <<'EOF'
set root=(hd0)
set kg_dir=/kerbgate
source /kerbgate/bootstate.cfg
echo "KG_RESULT slot=$kg_slot why=$kg_why env=$kg_env"
halt
EOF

new_esp() {
	rm -rf "$img" "$work/kerbgate"
	mkfs.vfat -C "$img" 4096 >/dev/null
	"$tool" -d "$work/kerbgate" init >/dev/null || return 1
	push
	mcopy -i "$img" firmware/bootstate/grub.cfg ::/kerbgate/bootstate.cfg
}
push() { mcopy -s -o -i "$img" "$work/kerbgate" ::/ ; }
pull() { rm -rf "$work/kerbgate"; mcopy -s -n -i "$img" ::/kerbgate "$work/" && rm -f "$work/kerbgate/bootstate.cfg"; }
bs() { "$tool" -d "$work/kerbgate" -c "$work/cmdline" "$@"; }

# One boot through GRUB: sets $result to "slot=X why=Y env=Z" and pulls the
# copies back for the tool.
boot() {
	result=$(timeout 60 grub-emu -d "$work/grub" -m "$work/device.map" -r host </dev/null 2>&1 |
		tr '\r' '\n' | grep -ao 'KG_RESULT [^[:cntrl:]]*' | sed 's/^KG_RESULT //' | tail -1)
	pull
	echo "   GRUB: $result"
}
booted() { echo "rauc.slot=$1 kg.why=x" >"$work/cmdline"; }
var_in_both() { grep -qx "$1" "$work/kerbgate/env1/grubenv" && grep -qx "$1" "$work/kerbgate/env2/grubenv"; }
envblk() { { printf '# GRUB Environment Block\n'; printf '%s\n' "$@"; } | head -c 1024 >"$work/tmpblk";
	 head -c $((1024 - $(stat -c %s "$work/tmpblk"))) /dev/zero | tr '\0' '#' >>"$work/tmpblk"; cat "$work/tmpblk"; }

t_first_boot() {
	new_esp || return 1
	[ "$(bs get-primary)" = A ] || return 1
	boot
	[ "$result" = "slot=A why=primary env=1" ] && var_in_both A_TRY=1
}

t_mark_good() {
	booted A
	bs mark-good && pull_after_push && [ "$(bs get-state A)" = good ] && var_in_both A_TRY=0 || return 1
	boot
	[ "$result" = "slot=A why=primary env=1" ] && var_in_both A_TRY=1
}
pull_after_push() { push && pull; }

t_trial_abandoned() {
	bs set-primary B && push || return 1
	[ "$(bs get-primary)" = B ] || return 1
	for n in 1 2 3; do
		boot
		[ "$result" = "slot=B why=primary env=1" ] && var_in_both B_TRY=$n || return 1
	done
	[ "$(bs get-primary)" = A ] || return 1	# the tool's rule agrees before the 4th boot
	boot
	[ "$result" = "slot=A why=fallback env=1" ]
}

t_half_written_copy_skipped() {
	bs set-primary A && push || return 1
	# Copy 1 as a cut left it: lock says editing, its grubenv claims more.
	envblk KG_EDITING=1 >"$work/kerbgate/env1/lock"
	envblk KG_SEQ=999 "ORDER=B A" A_OK=1 A_TRY=0 B_OK=1 B_TRY=0 >"$work/kerbgate/env1/grubenv"
	push
	[ "$(bs get-primary)" = A ] || return 1
	boot
	[ "$result" = "slot=A why=primary env=2" ] || return 1
	# GRUB rewrote copy 1 (not in use) first and whole: both agree now.
	grep -qx KG_EDITING=0 "$work/kerbgate/env1/lock" && var_in_both A_TRY=1 &&
		! grep -q KG_SEQ=999 "$work/kerbgate/env1/grubenv"
}

t_newer_copy2_wins() {
	local seq
	seq=$(grep -o 'KG_SEQ=[0-9]*' "$work/kerbgate/env2/grubenv" | cut -d= -f2)
	envblk KG_SEQ=$((seq + 5)) "ORDER=B A" A_OK=1 A_TRY=0 B_OK=1 B_TRY=0 >"$work/kerbgate/env2/grubenv"
	push
	[ "$(bs get-primary)" = B ] || return 1
	boot
	[ "$result" = "slot=B why=primary env=2" ] && var_in_both B_TRY=1 && var_in_both "KG_SEQ=$((seq + 5))"
}

t_repair_levels_copies() {
	envblk KG_EDITING=1 >"$work/kerbgate/env2/lock"
	[ "$(bs repair)" = "kerbgate-bootstate: rewrote 1 copy of the boot state from the other" ] || return 1
	bs status | grep -q '^copy 2: *whole' && [ -z "$(bs repair)" ]
}

t_no_whole_copy() {
	envblk KG_EDITING=1 >"$work/kerbgate/env1/lock"
	envblk KG_EDITING=1 >"$work/kerbgate/env2/lock"
	push
	mcopy -n -i "$img" ::/kerbgate/env1/grubenv "$work/before1"
	boot
	[ "$result" = "slot=A why=no-state env=none" ] || return 1
	cmp -s "$work/before1" "$work/kerbgate/env1/grubenv" || return 1	# nothing written
	# The tool says the same thing in words.
	! bs get-primary 2>"$work/err" && grep -q 'neither copy of the boot state is whole' "$work/err"
}

t_tool_refuses_bad_input() {
	! bs set-primary C 2>"$work/err" && grep -q "'C' is not a slot" "$work/err" || return 1
	echo "quiet" >"$work/cmdline"
	! bs mark-good 2>"$work/err" && grep -q 'cannot tell which slot booted' "$work/err"
}

check "a new ESP: GRUB boots A as primary and counts the attempt in both copies" t_first_boot
check "mark-good resets the count; the next boot counts one again" t_mark_good
check "a slot on trial that never comes up is abandoned after 3 attempts (tool agrees)" t_trial_abandoned
check "a copy left half-written (lock=1) is not used, and GRUB rewrites it whole" t_half_written_copy_skipped
check "the copy with the higher sequence wins (GRUB and tool agree)" t_newer_copy2_wins
check "repair rewrites the copy that is not whole, and then has nothing to do" t_repair_levels_copies
check "no whole copy: GRUB boots A and writes nothing; the tool says why" t_no_whole_copy
check "the tool refuses a slot that is not A or B, and mark-good without rauc.slot=" t_tool_refuses_bad_input

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
