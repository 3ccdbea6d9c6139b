#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs every libFuzzer target in $BUILD/fuzz for SECONDS (default 20) each, starting from its
# seed corpus in tests/fuzz/corpus/<name>/ (copied, so new inputs stay out of the tree). A crash
# leaves the input in tests/out/fuzz/ and fails the run: turn it into a unit test.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
secs=${1:-20}
out=tests/out/fuzz
mkdir -p "$out"
pass=0 fail=0
for f in "$BUILD"/fuzz/fuzz-*; do
	[ -x "$f" ] || continue
	case "$f" in *.o | *.d) continue ;; esac
	name=$(basename "$f" | sed 's/^fuzz-//')
	work=$(mktemp -d)
	[ -d "tests/fuzz/corpus/$name" ] && cp -r "tests/fuzz/corpus/$name/." "$work/"
	if "$f" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$out/$name-" \
		"$work" >"$out/$name.log" 2>&1; then
		pass=$((pass + 1))
		printf 'PASS  fuzz/%-30s %s\n' "$name" "$(grep -o 'Done [0-9]* runs' "$out/$name.log" | tail -n 1)"
	else
		fail=$((fail + 1))
		printf 'FAIL  fuzz/%-30s (log %s)\n' "$name" "$out/$name.log"
		tail -n 30 "$out/$name.log" | sed 's/^/    | /'
	fi
	rm -rf "$work"
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
