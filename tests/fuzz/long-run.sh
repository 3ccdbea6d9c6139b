#!/bin/bash
# SPDX-License-Identifier: MIT
# The long fuzzing campaign (outside CI): every libFuzzer target for at least RUNS executions
# (default 10 million), from its seed corpus grown in tests/out/fuzz-long/<name>/, then the
# figures (executions, seconds, executions/s, coverage, corpus size, crashes) written into the
# table of docs/FUZZING.md. A crash stops that target, leaves its input in
# tests/out/fuzz-long/crash-<name>-*, and fails the run: turn it into a unit test.
#   make fuzz && tests/fuzz/long-run.sh [RUNS] [NAME...]
#   MERGE=1 tests/fuzz/long-run.sh     also merge the minimized grown corpus back into
#                                      tests/fuzz/corpus/<name>/ (libFuzzer -merge=1)
# Progress: one line per target as it finishes, libFuzzer's own log in tests/out/fuzz-long/.
# tests/fuzz/<name>.options, when present, holds extra libFuzzer flags for that target (one per
# line, '#' comments), and the result column names them. A "slow unit" (an input that took over
# 10 s, which on a loaded machine can be the machine's fault) is not a crash: it is run again
# alone and its time goes into the result; one that is still slow (> 1 s) fails the target.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
runs=${1:-10000000}
shift $(($# > 0 ? 1 : 0))
out=tests/out/fuzz-long
mkdir -p "$out"
rows=""
fail=0
started=$(date -u +%Y-%m-%d)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)

for f in "$BUILD"/fuzz/fuzz-*; do
	[ -x "$f" ] || continue
	case "$f" in *.o | *.d) continue ;; esac
	name=$(basename "$f" | sed 's/^fuzz-//')
	if [ $# -gt 0 ] && ! printf '%s\n' "$@" | grep -qx "$name"; then continue; fi
	work=$out/$name
	mkdir -p "$work"
	[ -d "tests/fuzz/corpus/$name" ] && cp -rn "tests/fuzz/corpus/$name/." "$work/"
	seeds=$(find "tests/fuzz/corpus/$name" -type f 2>/dev/null | wc -l)
	opts=()
	if [ -f "tests/fuzz/$name.options" ]; then
		mapfile -t opts < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "tests/fuzz/$name.options")
	fi
	echo "fuzz/$name: $runs executions from $seeds seeds ${opts[*]} ..."
	t0=$(date +%s)
	"$f" -runs="$runs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "${opts[@]}" \
		-artifact_prefix="$out/crash-$name-" "$work" >"$out/$name.log" 2>&1
	rc=$?
	secs=$(($(date +%s) - t0))
	done_runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out/$name.log" | grep -o '[0-9]*$' | tail -n 1)
	cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$out/$name.log" | tail -n 1)
	corpus=$(find "$work" -type f | wc -l)
	crashes=$(find "$out" -maxdepth 1 -name "crash-$name-*" ! -name "crash-$name-slow-unit-*" | wc -l)
	rate=$(( ${done_runs:-0} / (secs > 0 ? secs : 1) ))
	status=clean
	[ ${#opts[@]} -gt 0 ] && status="clean (${opts[*]})"
	for slow in "$out/crash-$name-slow-unit-"*; do
		[ -f "$slow" ] || continue
		t1=$(date +%s%N)
		"$f" "${opts[@]}" "$slow" >>"$out/$name.log" 2>&1 || crashes=$((crashes + 1))
		ms=$((($(date +%s%N) - t1) / 1000000))
		[ $ms -gt 1000 ] && crashes=$((crashes + 1))
		status="$status; a slow unit reported under load took $ms ms alone"
	done
	if [ $rc -ne 0 ] || [ "$crashes" -gt 0 ] || [ "${done_runs:-0}" -lt "$runs" ]; then
		status="FAILED (exit $rc, $crashes crash inputs, log $out/$name.log)"
		fail=$((fail + 1))
	fi
	echo "fuzz/$name: ${done_runs:-0} executions in ${secs}s (${rate}/s), $cov, corpus $corpus: $status"
	rows="$rows| \`$name\` | ${done_runs:-0} | $secs | $rate | ${cov:-?} | $seeds | $corpus | $status |
"
	if [ "${MERGE:-0}" = 1 ] && [ "$status" = clean ]; then
		mkdir -p "tests/fuzz/corpus/$name"
		"$f" -merge=1 "tests/fuzz/corpus/$name" "$work" >>"$out/$name.log" 2>&1
	fi
done

if [ -n "$rows" ]; then
	# runs of different targets may finish together: one rewrites the table at a time
	exec 9>>"$out/.table.lock"
	flock 9
	python3 - "$rows" "$started" "$commit" <<'PY'
import re, sys
rows, day, commit = sys.argv[1], sys.argv[2], sys.argv[3]
p = "docs/FUZZING.md"
s = open(p).read()
b, e = "<!-- campaign:begin -->", "<!-- campaign:end -->"
old = s[s.index(b) + len(b): s.index(e)]
# keep the rows of targets this run did not touch
byname = {m.group(1): m.group(0) for m in re.finditer(r"^\| `([^`]+)` \|.*$", old, re.M)}
for line in rows.strip().split("\n"):
    byname[re.match(r"\| `([^`]+)`", line).group(1)] = line.replace(" |", f" | {day} | {commit} |", 1)
head = "| target | date | commit | executions | seconds | exec/s | coverage (edges, features) | seed inputs | corpus after | result |\n| --- | --- | --- | ---: | ---: | ---: | --- | ---: | ---: | --- |\n"
prose = old.split("| target |")[0] if "| target |" in old else "\n"
table = prose + head + "\n".join(byname[k] for k in sorted(byname)) + "\n"
s = s[: s.index(b) + len(b)] + table + s[s.index(e):]
open(p, "w").write(s)
PY
fi
echo "$fail target(s) failed"
[ $fail -eq 0 ]
