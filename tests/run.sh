#!/usr/bin/env bash
# Runs every test kerbgate has and ends with one line the CI reads:
#   N passed, N failed
# Suites: unit (cmocka programs), fuzz (each libFuzzer target for a bounded
# time from its corpus), firmware (scripts in tests/firmware/ that need no
# lab: GRUB's boot-state script under grub-emu, ...), lab (the Active
# Directory lab's own checks), and integration (scripts that run kerbgated
# against the lab).  A suite that
# cannot run (not root, say) counts as failed, with the reason printed:
# a test that silently does not run is worse than one that fails.
#
# The firmware suites that boot the image in QEMU (tests/firmware/*_vm.sh)
# keep one core busy for most of their run, the lab's suites the other: the
# two run side by side, and each QEMU suite's output is shown when the lab's
# are done (make test stays under 30 minutes on two cores).
set -uo pipefail
cd "$(dirname "$0")/.."

out=output; fuzz_seconds=20; long=0; only=""
while [ $# -gt 0 ]; do
	case "$1" in
	--out) out=$2; shift ;;
	--fuzz-seconds) fuzz_seconds=$2; shift ;;
	--long) long=1 ;;
	--only) only=$2; shift ;;
	*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done

passed=0; failed=0; failures=(); skipped=()
log_dir="$out/test-logs"; mkdir -p "$log_dir"

pass() { passed=$((passed + ${2:-1})); }
fail() { failed=$((failed + ${2:-1})); failures+=("$1"); }
want() { [ -z "$only" ] || [ "$only" = "$1" ]; }

# Adds the counts from a program's "N passed, N failed" last line, or from
# cmocka's [  PASSED  ] / [  FAILED  ] summary lines.
count_output() {
	local name=$1 file=$2 rc=$3 p f line
	line=$(grep -E '^([A-Za-z]+: )?[0-9]+ passed, [0-9]+ failed' "$file" | tail -1)
	if [ -n "$line" ]; then
		p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+')
		f=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+')
	else
		p=$(awk '/^\[  PASSED  \] [0-9]+ test/ { n += $4 } END { print n + 0 }' "$file")
		f=$(awk '/^\[  FAILED  \] [0-9]+ test/ { n += $4 } END { print n + 0 }' "$file")
	fi
	p=${p:-0}; f=${f:-0}
	[ "$p" -gt 0 ] && pass "$name" "$p"
	[ "$f" -gt 0 ] && fail "$name ($f)" "$f"
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then fail "$name (exit $rc)"; fi
	# A suite that cannot run here says why on a "# SKIP:" line; it is
	# listed at the end, neither passed nor failed.
	if [ "$rc" -eq 0 ] && [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
		if grep -q '^# SKIP:' "$file"; then
			skipped+=("$name: $(grep -m1 '^# SKIP:' "$file" | sed 's/^# SKIP: *//')")
		else
			fail "$name (ran no test)"
		fi
	fi
}

# What a suite printed: its tail, its failed checks, its counts.
show_suite() {
	local name=$1 file=$2 rc=$3 took=$4
	echo "== $name"
	echo "   ($name took $took s)"
	sed 's/^/   /' "$file" | tail -40
	# The tail may be a daemon's log: name the failed checks themselves,
	# so that a CI that keeps only this output still says which failed.
	if grep -q '^not ok' "$file"; then
		echo "   -- failed checks in $name (the whole log: $file):"
		grep -A3 '^not ok' "$file" | sed 's/^/   /' | head -60
	fi
	count_output "$name" "$file" "$rc"
}

run_suite_program() {
	local name=$1; shift
	local file="$log_dir/${name//\//_}.log" rc t0=$SECONDS
	"$@" >"$file" 2>&1; rc=$?
	show_suite "$name" "$file" "$rc" $((SECONDS - t0))
}

if want unit; then
	for t in "$out"/tests/test_*; do
		[ -x "$t" ] || continue
		run_suite_program "unit/$(basename "$t")" env KG_LONG=$long "$t"
	done
fi

if want fuzz; then
	for f in "$out"/fuzz/bin/fuzz_*; do
		[ -x "$f" ] || continue
		name=$(basename "$f"); corpus="tests/fuzz/corpus/${name#fuzz_}"
		work=$(mktemp -d); cp -r "$corpus"/. "$work"/ 2>/dev/null || true
		echo "== fuzz/$name (${fuzz_seconds}s)"
		if (cd "$work" && "$OLDPWD/$f" -max_total_time="$fuzz_seconds" -print_final_stats=1 \
			-timeout=10 -rss_limit_mb=2048 . ) >"$log_dir/$name.log" 2>&1; then
			grep -E 'stat::number_of_executed_units|Done' "$log_dir/$name.log" | sed 's/^/   /'
			pass "fuzz/$name"
		else
			tail -30 "$log_dir/$name.log" | sed 's/^/   /'
			cp "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$log_dir"/ 2>/dev/null
			fail "fuzz/$name"
		fi
		rm -rf "$work"
	done
fi

vm_suites=() vm_pid=
if want firmware; then
	for s in tests/firmware/test_*.sh; do
		[ -x "$s" ] || continue
		case $s in
		*_vm.sh) vm_suites+=("$s") ;;
		*) KG_OUT="$out" KG_LONG=$long run_suite_program "firmware/$(basename "$s" .sh)" "$s" ;;
		esac
	done
fi
if [ ${#vm_suites[@]} -gt 0 ]; then
	echo "== the QEMU suites start beside the lab's: ${vm_suites[*]}"
	# its own process group, so that an interrupted run ends all of it
	KG_OUT="$out" KG_LONG=$long setsid -w bash -c 'for s; do
		f=$0/firmware_$(basename "$s" .sh) t0=$SECONDS
		"$s" >"$f.log" 2>&1
		echo "$? $((SECONDS - t0))" >"$f.rc"
	done' "$log_dir" "${vm_suites[@]}" &
	vm_pid=$!
fi
lab_is_up=0
on_exit() {
	[ -n "$vm_pid" ] && kill -- -"$vm_pid" 2>/dev/null
	[ $lab_is_up = 1 ] && tests/lab/lab down >/dev/null 2>&1
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

lab_needed=0
want lab && lab_needed=1
want integration && lab_needed=1
if [ $lab_needed = 1 ]; then
	if [ "$(id -u)" != 0 ]; then
		fail "lab (needs root for network namespaces: run make test as root)"
	else
		if ip netns list | grep -q '^kglab-' || [ -e /run/kerbgate-lab ]; then
			echo "== a lab is still up (make demo leaves one): taking it down first"
			tests/lab/lab down >"$log_dir/lab-down-before.log" 2>&1 || fail "lab down of the lab left up"
		fi
		cycles=1; [ $long = 1 ] && cycles=10	# the real lab up below is a second
		want lab && run_suite_program "lab/cycle" env LAB_CYCLES=$cycles tests/lab/test-lab-cycle.sh
		echo "== lab up"
		lab_is_up=1
		if tests/lab/lab up >"$log_dir/lab-up.log" 2>&1; then
			want lab && run_suite_program "lab/selftest" tests/lab/lab selftest
			if want integration; then
				for s in tests/integration/test_*.sh; do
					[ -x "$s" ] || continue
					KG_OUT="$out" KG_LONG=$long run_suite_program "integration/$(basename "$s" .sh)" "$s"
				done
			fi
		else
			tail -30 "$log_dir/lab-up.log" | sed 's/^/   /'
			fail "lab up"
		fi
		tests/lab/lab down >"$log_dir/lab-down.log" 2>&1 || fail "lab down"
		lab_is_up=0
	fi
fi

if [ -n "$vm_pid" ]; then
	wait "$vm_pid"
	vm_pid=
	for s in "${vm_suites[@]}"; do
		f="$log_dir/firmware_$(basename "$s" .sh)"
		read -r rc took <"$f.rc" 2>/dev/null || { rc=1 took=?; }
		show_suite "firmware/$(basename "$s" .sh)" "$f.log" "$rc" "$took"
	done
fi

echo
if [ ${#skipped[@]} -gt 0 ]; then
	echo "Skipped:"; printf '  %s\n' "${skipped[@]}"
fi
if [ ${#failures[@]} -gt 0 ]; then
	echo "Failed:"; printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
