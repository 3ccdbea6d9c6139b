#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs siprecd's tests: every cmocka unit program (build/tests/test-*), then every integration
# test (tests/integration/*.sh) and the VM tests (tests/vm/*-test.sh). Exit status of a test:
# 0 pass, 77 skip (with the reason on its last line), anything else fail. Each test's output goes
# to tests/out/<build>/<name>.log (stale logs of the tests about to run are removed first).
#
# Skips are counted, never hidden: a cmocka program that skipped a case (cmocka prints
# "[  SKIPPED ] name" and still exits 0) is a SKIP, and each skipped case is listed; an
# integration test that passes with part of its checks left out prints "SKIP-PART ID: reason"
# (lib.sh skip_part) and each such part is listed too. With --strict-skips (CI: tools/test.sh)
# every skip must be on tests/skip-allow.txt (name, build, reason); any other skip fails the run.
# The summary's "skipped" counts every item left out (a test, a cmocka case, a part).
# A test may mark a check that shows a known defect of another area as an expected failure:
# its "XFAIL ..." lines are repeated in this output. A filter that matches no test fails. The
# last line is the summary
# "N passed, N failed, N skipped, N unexplained skips".
# --not-run FILE leaves out the tests FILE lists (lines "NAME REASON...", '#' comments): each is
# printed as NOT RUN with its reason and counted apart from passes, failures and skips (the
# sanitizer pass of tools/test.sh runs a subset this way; tests/asan-not-run.txt says which).
#   tests/run.sh [--strict-skips] [--not-run FILE] [--unit|--integration|--vm] [NAME-SUBSTRING]
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD SRCDIR=$(pwd)
what=all
strict=${SIPRECD_STRICT_SKIPS:-0}
notrun=""
while :; do
	case "${1:-}" in
	--strict-skips) strict=1; shift ;;
	--unit) what=unit; shift ;;
	--integration) what=integration; shift ;;
	--vm) what=vm; shift ;;
	--not-run)
		notrun=${2:?--not-run FILE}
		[ -f "$notrun" ] || { echo "run.sh: --not-run $notrun: no such file" >&2; exit 2; }
		shift 2
		;;
	*) break ;;
	esac
done
filter=${1:-}
out=tests/out/$(basename "$BUILD")
mkdir -p "$out"
pass=0 fail=0 skip=0 items=0 unexplained=0 failed="" notrun_n=0
allow=tests/skip-allow.txt
skips=$out/skips.txt
: >"$skips"

# allowed ITEM: is ITEM (a test name, or name:case for one skipped part) on the allow-list for
# this build? Lines: ITEM BUILD-GLOB REASON...; '#' starts a comment.
allowed() {
	[ -f "$allow" ] || return 1
	b=$(basename "$BUILD")
	while read -r item glob reason; do
		case "$item" in '' | '#'*) continue ;; esac
		[ "$item" = "$1" ] || continue
		[ -n "$reason" ] || continue # an entry without a reason allows nothing
		case "$b" in $glob) return 0 ;; esac
	done <"$allow"
	return 1
}

# note_skip ITEM REASON: records one skip; an unexplained one is shown loudly.
note_skip() {
	items=$((items + 1))
	if allowed "$1"; then
		printf '%s\tallowed\t%s\n' "$1" "$2" >>"$skips"
	else
		printf '%s\tUNEXPLAINED\t%s\n' "$1" "$2" >>"$skips"
		unexplained=$((unexplained + 1))
		printf '      UNEXPLAINED SKIP %s: %s (not on %s for %s)\n' "$1" "$2" "$allow" "$(basename "$BUILD")"
	fi
}

run_one() { # NAME CMD...
	name=$1
	shift
	case "$name" in *"$filter"*) ;; *) return ;; esac
	if [ -n "$notrun" ]; then
		why=$(awk -v n="$name" '$1 == n { $1 = ""; sub(/^ /, ""); print; exit }' "$notrun")
		if [ -n "$why" ]; then
			notrun_n=$((notrun_n + 1))
			printf 'NOT RUN %-38s %s\n' "$name" "$why"
			return
		fi
	fi
	log=$out/$name.log
	mkdir -p "$(dirname "$log")"
	rm -f "$log"
	start=$(date +%s)
	"$@" >"$log" 2>&1 </dev/null
	rc=$?
	secs=$(($(date +%s) - start))
	cases=""
	case "$name" in
	unit/*)
		# cmocka exits 0 when a case called skip(); its log says "[  SKIPPED ] case".
		cases=$(sed -n 's/^\[  SKIPPED \] \([A-Za-z0-9_]*\)$/\1/p' "$log" | sort -u)
		[ $rc -eq 0 ] && [ -n "$cases" ] && rc=77
		;;
	esac
	case $rc in
	0) pass=$((pass + 1)); printf 'PASS  %-40s %3ss\n' "$name" "$secs" ;;
	77)
		skip=$((skip + 1))
		if [ -n "$cases" ]; then
			why=$(grep -i '^skip' "$log" | tr '\n' ' ')
			printf 'SKIP  %-40s %3ss  cases: %s %s\n' "$name" "$secs" "$(echo $cases)" "$why"
			for c in $cases; do note_skip "$name:$c" "${why:-cmocka skip()}"; done
		else
			printf 'SKIP  %-40s %3ss  %s\n' "$name" "$secs" "$(tail -n 1 "$log")"
			note_skip "$name" "$(tail -n 1 "$log")"
		fi
		;;
	*)
		fail=$((fail + 1))
		failed="$failed $name"
		printf 'FAIL  %-40s %3ss  (exit %s, log %s)\n' "$name" "$secs" "$rc" "$log"
		tail -n 40 "$log" | sed 's/^/    | /'
		;;
	esac
	# Known defects a test marks as expected failures (XFAIL lines): repeated here, loudly.
	grep '^XFAIL ' "$log" | sed 's/^/      EXPECTED FAILURE: /'
	# Parts of a test left out while the rest ran: listed like skips, whatever the status.
	grep '^SKIP-PART ' "$log" | sed 's/^SKIP-PART //' | while IFS= read -r line; do
		id=${line%%:*}
		printf '%s\n' "$name:$id	${line#*: }"
	done >"$out/.parts"
	while IFS='	' read -r id why; do
		printf '      part skipped: %s (%s)\n' "$id" "$why"
		note_skip "$id" "$why"
	done <"$out/.parts"
	rm -f "$out/.parts"
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

[ $notrun_n -eq 0 ] || echo "$notrun_n test(s) not run in this pass (listed in $notrun with the reason)"
if [ $((pass + fail + skip + notrun_n)) -eq 0 ]; then
	echo "no test matches '$filter' (--$what): nothing ran"
	fail=1
	failed=" (no test matched '$filter')"
fi
if [ $unexplained -gt 0 ] && [ "$strict" = 1 ]; then
	echo "$unexplained skip(s) not on $allow: a skip must be explained there (item, build, reason)"
	failed="$failed (unexplained skips)"
fi
[ -z "$failed" ] || echo "failed:$failed"
# "skipped" counts what was left out: whole tests, skipped cmocka cases and skipped parts.
echo "$pass passed, $fail failed, $items skipped, $unexplained unexplained skips"
[ $fail -eq 0 ] || exit 1
[ $unexplained -eq 0 ] || [ "$strict" != 1 ] || exit 1
exit 0
