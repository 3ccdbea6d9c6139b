#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs every libFuzzer target in $BUILD/fuzz for SECONDS (default 20) each, starting from its
# seed corpus in tests/fuzz/corpus/<name>/ (copied, so new inputs stay out of the tree). A crash
# leaves the input in tests/out/fuzz/ and fails the run: turn it into a unit test.
# FUZZ_JOBS targets (default: the number of CPUs) run at once, each a single process on its own
# CPU, so every target still gets its SECONDS of one CPU; results are printed in target order.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
secs=${1:-20}
jobs=${FUZZ_JOBS:-$(nproc)}
out=tests/out/fuzz
mkdir -p "$out"
pass=0 fail=0

# start NAME: one target in the background, its exit status into $out/NAME.rc
start() {
	name=$1
	work=$(mktemp -d)
	[ -d "tests/fuzz/corpus/$name" ] && cp -r "tests/fuzz/corpus/$name/." "$work/"
	rm -f "$out/$name.rc"
	(
		"$BUILD/fuzz/fuzz-$name" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
			-artifact_prefix="$out/$name-" "$work" >"$out/$name.log" 2>&1
		echo $? >"$out/$name.rc"
		rm -rf "$work"
	) &
}
# report NAME: counts and prints a finished target
report() {
	name=$1
	if [ "$(cat "$out/$name.rc" 2>/dev/null)" = 0 ]; then
		pass=$((pass + 1))
		printf 'PASS  fuzz/%-30s %s\n' "$name" "$(grep -o 'Done [0-9]* runs' "$out/$name.log" | tail -n 1)"
	else
		fail=$((fail + 1))
		printf 'FAIL  fuzz/%-30s (log %s)\n' "$name" "$out/$name.log"
		tail -n 30 "$out/$name.log" | sed 's/^/    | /'
	fi
	rm -f "$out/$name.rc"
}

# Batches of $jobs targets: every target runs for the same SECONDS, so a batch ends together.
batch=""
n=0
for f in "$BUILD"/fuzz/fuzz-*; do
	[ -x "$f" ] || continue
	case "$f" in *.o | *.d) continue ;; esac
	name=$(basename "$f" | sed 's/^fuzz-//')
	start "$name"
	batch="$batch $name"
	n=$((n + 1))
	if [ $n -ge "$jobs" ]; then
		wait
		for b in $batch; do report "$b"; done
		batch="" n=0
	fi
done
wait
for b in $batch; do report "$b"; done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
