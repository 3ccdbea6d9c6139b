#!/bin/sh
# SPDX-License-Identifier: MIT
# The whole test suite from a fresh Debian 12 machine (run as root): installs what is missing,
# builds with warnings as errors, runs unit, integration and VM tests, then the same unit and
# integration tests again under ASan/UBSan (but the few tests/asan-not-run.txt lists with their
# reasons), then every fuzzer for a short while. Stale logs are
# removed first. The last line counts passes, failures and skips; the run fails on any failure
# and on any skip not explained in tests/skip-allow.txt.
#   tools/test.sh               everything
#   FUZZ_SECONDS=60 tools/test.sh
set -u
cd "$(dirname "$0")/.."
jobs=$(nproc)
fuzz_secs=${FUZZ_SECONDS:-15}
total_pass=0 total_fail=0 total_skip=0 total_unexplained=0

# run LOGFILE CMD...: runs a step with its output on the terminal and in LOGFILE, then adds its
# "N passed, N failed[, N skipped, N unexplained skips]" line to the totals. /bin/sh has no
# pipefail: the step's own exit status travels through a file, and a step that failed without
# counting a failure (a crash, a missing summary line) counts as one failure.
run() {
	log=$1
	shift
	rm -f "$log" "$log.rc"
	{ "$@"; echo $? >"$log.rc"; } 2>&1 | tee "$log"
	rc=$(cat "$log.rc" 2>/dev/null || echo 1)
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
	p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
	f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
	s=$(echo "$line" | sed -n 's/.* \([0-9]*\) skipped.*/\1/p')
	u=$(echo "$line" | sed -n 's/.* \([0-9]*\) unexplained skips.*/\1/p')
	if [ -z "$line" ] || { [ "$rc" != 0 ] && [ "${f:-0}" = 0 ] && [ "${u:-0}" = 0 ]; }; then
		echo "(step exited $rc without counting a failure: counted as one)"
		f=$((${f:-0} + 1))
	fi
	total_pass=$((total_pass + ${p:-0}))
	total_fail=$((total_fail + ${f:-0}))
	total_skip=$((total_skip + ${s:-0}))
	total_unexplained=$((total_unexplained + ${u:-0}))
}

step() { printf '\n==== %s\n' "$*"; }

step "dependencies"
tools/install-deps.sh || exit 1

# Logs of an earlier run must not pass for this one's.
rm -rf tests/out
mkdir -p tests/out
step "build with ASan/UBSan (build-asan)"
./configure --enable-werror --enable-sanitizers >/dev/null || exit 1
make -s -j"$jobs" BUILD=build-asan tests bench || exit 1

step "build (build)"
./configure --enable-werror >/dev/null || exit 1
make -s -j"$jobs" BUILD=build tests || exit 1

step "tests"
BUILD=build run tests/out/run-build.log tests/run.sh --strict-skips

step "tests under ASan/UBSan"
export BUILD=build-asan SIPRECD_SANITIZED=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 run tests/out/run-asan-unit.log tests/run.sh --strict-skips --unit
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 run tests/out/run-asan-integration.log tests/run.sh --strict-skips --not-run tests/asan-not-run.txt --integration
unset BUILD SIPRECD_SANITIZED UBSAN_OPTIONS

step "fuzzers (${fuzz_secs}s each)"
fuzz() { make -s -j"$jobs" BUILD=build fuzz && BUILD=build tests/fuzz/run-fuzzers.sh "$fuzz_secs"; }
run tests/out/run-fuzz.log fuzz

echo
# Every skip counted above is on tests/skip-allow.txt with its reason, or it is unexplained and
# fails the run (tests/out/*/skips.txt lists them all).
echo "$total_pass passed, $total_fail failed, $total_skip skipped ($total_unexplained unexplained)"
[ $total_fail -eq 0 ] && [ $total_unexplained -eq 0 ]
