#!/bin/sh
# SPDX-License-Identifier: MIT
# CI smoke version of the benchmarks. bench/capacity.sh: 20 SRTP calls (2 streams, 50 packets/s
# each) held 5 s, then two --rounds of siprecd and the bare receive, siprecd on CPU 0 and siprec-src on CPU 1 in a private network namespace where
# possible. bench/setup-rate.sh: 20 SIPREC setups over TLS 1.3. siprec-src --ceiling: a short run
# of the generator alone. Asserts only correctness: zero loss (siprec-src's sent counts == the
# catalog's per-stream counts == the frames in the recordings, no kernel UDP receive errors,
# clean exit), every TLS setup answered and its stages timed by siprecd, the ceiling's three
# phases sent packets. The figures are printed, never asserted. Exit 77 when a tool or the second CPU is missing.
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD=$SRCDIR/$BUILD ;; esac
fail=0
out=$(sh "$SRCDIR/bench/capacity.sh" --smoke --calls "${SMOKE_CALLS:-20}" --hold "${SMOKE_HOLD:-5}" 2>&1)
rc=$?
echo "$out"
[ $rc -eq 77 ] && exit 77
if [ $rc -eq 0 ] && echo "$out" | grep -q '^RESULT siprecd largest loss-free load: '"${SMOKE_CALLS:-20}"' calls'; then
	echo "ok - zero loss at ${SMOKE_CALLS:-20} calls"
else
	echo "not ok - loss or failure at the smoke load (capacity.sh exit $rc)"
	fail=1
fi

# --rounds: siprecd and the bare receive alternated, each round's ratio and their median and range
out=$(BENCH_FENCE=0 sh "$SRCDIR/bench/capacity.sh" --calls "${SMOKE_CALLS:-20}" --hold "${SMOKE_HOLD:-5}" \
	--rounds 2 --no-export 2>&1)
rc=$?
echo "$out"
if [ $rc -eq 0 ] && [ "$(echo "$out" | grep -cE '^  round [12]: bare [0-9.]+ .*; build 1 [0-9.]+ \(.*\) [0-9.]+x$')" = 2 ] &&
	echo "$out" | grep -qE '^RESULT build 1 .*siprecd / bare: median [0-9.]+x, range [0-9.]+x-[0-9.]+x \(2\)$'; then
	echo "ok - capacity --rounds: two rounds, each with its ratio, and their median"
else
	echo "not ok - capacity --rounds (exit $rc)"
	fail=1
fi

# --dir: a smoke run checks correctness, it needs no fresh volume (nor root and a loop device)
out=$(BENCH_FENCE=0 sh "$SRCDIR/bench/setup-rate.sh" --calls 20 --rate 20 --dir "${TMPDIR:-/tmp}" 2>&1)
rc=$?
echo "$out"
if [ $rc -eq 0 ] && echo "$out" | grep -q '^RESULT setups ok 20 of 20 (failed 0)'; then
	echo "ok - 20 SIPREC setups over TLS 1.3, each with its setup latency"
else
	echo "not ok - setup-rate: not every call was set up (exit $rc)"
	fail=1
fi
# siprecd's own account of where each set-up waited (logged at exit, printed by the bench)
if echo "$out" | grep -q '^   setup stages: INVITE -> barrier queued n 20,' &&
	echo "$out" | grep -q '^      INVITE -> 200 n 20,' &&
	echo "$out" | grep -q '^   barrier batches: queued -> begin n [1-9]'; then
	echo "ok - siprecd timed the stages of the 20 setups"
else
	echo "not ok - setup-rate: no setup stages for the 20 setups"
	fail=1
fi
# the client's own account: its CPU and how late its INVITEs left against their schedule (a
# client that falls behind sends bursts: bench/RESULTS.md, setupwarm)
if echo "$out" | grep -qE '^RESULT siprec-src CPU [0-9]+ us per call \([0-9]+% of CPU 1\); INVITEs sent after their time p50 [0-9.]+  p99 [0-9.]+  max [0-9.]+ ms \(the first [0-9.]+\)$'; then
	echo "ok - the client's CPU and its INVITEs' lateness"
else
	echo "not ok - setup-rate: no client CPU and INVITE lateness"
	fail=1
fi
# the run's origin on CLOCK_MONOTONIC (siprec-src's t_run0_monotonic_us), to align a trace
if echo "$out" | grep -qE '^   run origin [1-9][0-9]* us on CLOCK_MONOTONIC$'; then
	echo "ok - the run's origin on CLOCK_MONOTONIC"
else
	echo "not ok - setup-rate: no run origin on CLOCK_MONOTONIC"
	fail=1
fi
# the catalog thread's writes (its WAL frames) per call, from /proc/PID/task/TID/io
if echo "$out" | grep -qE '^RESULT siprecd per call by thread \(KiB written / write calls / read calls\): .*siprecd-catalog [0-9.]+/[0-9.]+/[0-9.]+'; then
	echo "ok - the catalog thread's writes per call"
else
	echo "not ok - setup-rate: no writes per call for the catalog thread"
	fail=1
fi
# --volume fresh: by default the loop device does direct I/O, said in the volume's line;
# BENCH_LOOP_DIO=0 leaves it buffered, and the line says nothing of direct I/O
if [ "$(id -u)" = 0 ] && command -v mkfs.ext4 >/dev/null 2>&1 && command -v losetup >/dev/null 2>&1 &&
	[ -e /dev/loop-control ]; then
	for dio in default 0; do
		if [ $dio = default ]; then
			out=$(BENCH_FENCE=0 sh "$SRCDIR/bench/setup-rate.sh" --calls 20 --rate 20 2>&1)
		else
			out=$(BENCH_FENCE=0 BENCH_LOOP_DIO=0 sh "$SRCDIR/bench/setup-rate.sh" --calls 20 --rate 20 2>&1)
		fi
		rc=$?
		echo "$out"
		if [ $dio = default ]; then want='ext4 (loop: direct I/O), journaled'; else want='ext4, journaled'; fi
		if [ $rc -eq 0 ] && echo "$out" | grep -q '^RESULT setups ok 20 of 20 (failed 0)' &&
			echo "$out" | grep -q "loop-mounted volume: .* $want"; then
			echo "ok - setup-rate on a fresh volume, BENCH_LOOP_DIO $dio: $want"
		else
			echo "not ok - setup-rate on a fresh volume, BENCH_LOOP_DIO $dio (exit $rc; wanted '$want')"
			fail=1
		fi
	done
else
	echo "ok - # SKIP setup-rate on a fresh volume: needs root, mkfs.ext4, losetup and loop devices"
fi

out=$(taskset -c 1 "$BUILD/siprec-src" --ceiling 200ms -n 10 2>&1)
rc=$?
echo "$out"
n=$(echo "$out" | grep -cE '^ceiling: (build|protect|send) +[1-9][0-9]* packets/s')
if [ $rc -eq 0 ] && [ "$n" = 3 ]; then
	echo "ok - siprec-src --ceiling measured its three phases"
else
	echo "not ok - siprec-src --ceiling (exit $rc, $n of 3 phases with packets)"
	fail=1
fi
exit $fail
