#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs siprecd's tests: every cmocka unit program (build/tests/test-*), then every integration
# test (tests/integration/*.sh) and the VM tests (tests/vm/*-test.sh). Exit status of a test:
# 0 pass, 77 skip (with the reason on its last line), anything else fail. Each test's output goes
# to tests/out/<build>/<name>.log. The last line is the summary "N passed, N failed, N skipped".
#   tests/run.sh [--unit|--integration|--vm] [NAME-SUBSTRING]
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD SRCDIR=$(pwd)
what=all
case "${1:-}" in
--unit) what=unit; shift ;;
--integration) what=integration; shift ;;
--vm) what=vm; shift ;;
esac
filter=${1:-}
out=tests/out/$(basename "$BUILD")
mkdir -p "$out"
pass=0 fail=0 skip=0 failed=""

run_one() { # NAME CMD...
	name=$1
	shift
	case "$name" in *"$filter"*) ;; *) return ;; esac
	log=$out/$name.log
	mkdir -p "$(dirname "$log")"
	start=$(date +%s)
	"$@" >"$log" 2>&1 </dev/null
	rc=$?
	secs=$(($(date +%s) - start))
	case $rc in
	0) pass=$((pass + 1)); printf 'PASS  %-40s %3ss\n' "$name" "$secs" ;;
	77) skip=$((skip + 1)); printf 'SKIP  %-40s %3ss  %s\n' "$name" "$secs" "$(tail -n 1 "$log")" ;;
	*)
		fail=$((fail + 1))
		failed="$failed $name"
		printf 'FAIL  %-40s %3ss  (exit %s, log %s)\n' "$name" "$secs" "$rc" "$log"
		tail -n 40 "$log" | sed 's/^/    | /'
		;;
	esac
}

if [ $what = all ] || [ $what = unit ]; then
	for t in "$BUILD"/tests/test-*; do
		[ -x "$t" ] || continue
		case "$t" in *.o | *.d) continue ;; esac
		run_one "unit/$(basename "$t")" timeout 300 "$t"
	done
fi
if [ $what = all ] || [ $what = integration ]; then
	for t in tests/integration/*.sh; do
		[ -f "$t" ] || continue
		[ "$(basename "$t")" = lib.sh ] && continue
		run_one "integration/$(basename "$t" .sh)" timeout 600 bash "$t"
	done
fi
if [ $what = all ] || [ $what = vm ]; then
	for t in tests/vm/*-test.sh; do
		[ -f "$t" ] || continue
		run_one "vm/$(basename "$t" .sh)" timeout 900 bash "$t"
	done
fi

[ -z "$failed" ] || echo "failed:$failed"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
