#!/bin/sh
# SPDX-License-Identifier: MIT
# The whole test suite from a fresh Debian 12 machine (run as root): installs what is missing,
# builds with warnings as errors, runs unit, integration and VM tests, then the same unit and
# integration tests again under ASan/UBSan, then every fuzzer for a short while.
#   tools/test.sh               everything
#   FUZZ_SECONDS=60 tools/test.sh
set -u
cd "$(dirname "$0")/.."
jobs=$(nproc)
fuzz_secs=${FUZZ_SECONDS:-15}
total_pass=0 total_fail=0 total_skip=0

tally() { # LOGFILE: adds the "N passed, N failed[, N skipped]" line of a run
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
	p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
	f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
	s=$(echo "$line" | sed -n 's/.* \([0-9]*\) skipped.*/\1/p')
	[ -n "$line" ] || f=1
	total_pass=$((total_pass + ${p:-0}))
	total_fail=$((total_fail + ${f:-0}))
	total_skip=$((total_skip + ${s:-0}))
}

step() { printf '\n==== %s\n' "$*"; }

step "dependencies"
tools/install-deps.sh || exit 1

mkdir -p tests/out
step "build with ASan/UBSan (build-asan)"
./configure --enable-werror --enable-sanitizers >/dev/null || exit 1
make -s -j"$jobs" BUILD=build-asan tests || exit 1

step "build (build)"
./configure --enable-werror >/dev/null || exit 1
make -s -j"$jobs" BUILD=build tests || exit 1

step "tests"
BUILD=build tests/run.sh | tee tests/out/run-build.log
tally tests/out/run-build.log

step "tests under ASan/UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	BUILD=build-asan SIPRECD_SANITIZED=1 tests/run.sh --unit | tee tests/out/run-asan-unit.log
tally tests/out/run-asan-unit.log
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	BUILD=build-asan SIPRECD_SANITIZED=1 tests/run.sh --integration | tee tests/out/run-asan-integration.log
tally tests/out/run-asan-integration.log

step "fuzzers (${fuzz_secs}s each)"
make -s -j"$jobs" BUILD=build fuzz && BUILD=build tests/fuzz/run-fuzzers.sh "$fuzz_secs" | tee tests/out/run-fuzz.log
tally tests/out/run-fuzz.log

echo
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
[ $total_fail -eq 0 ]
