#!/bin/sh
# SPDX-License-Identifier: MIT
# Capacity benchmark: siprecd pinned to CPU 0, siprec-src on CPU 1, SRTP G.711 calls (2 streams,
# 50 packets/s each) held for a fixed time; finds the largest loss-free number of calls (loss =
# siprec-src's sent counts vs the catalog's per-stream counts vs the frames in the recordings,
# plus /proc/net/snmp Udp RcvbufErrors/InErrors). For that load it prints packets/s, siprecd CPU
# us/packet (/proc/PID/stat over the window where every call is up), RSS per call and p99
# packet->durable; then the same traffic into a bare io_uring receive baseline and into rtpengine
# (userspace, ng protocol, recording to pcap), and the SRTP micro-benchmark (ours vs Debian's).
#
# usage: bench/capacity.sh [--calls "N1 N2..."] [--hold SEC] [--rate R] [--suite SUITE]
#                          [--smoke] [--no-baseline] [--no-rtpengine] [--no-srtp-bench]
#                          [--flame SVG] [--rss-every SEC] [--no-export] [--rounds N]
# --flame SVG: perf record (DWARF call graphs) of siprecd over the window of the comparison
#   load's step, rendered to SVG by the `flamegraph` npm package (installed into
#   /var/tmp/siprecd-bench-npm on first use; FLAMEGRAPH=/path/to/flamegraph to use another).
# --rss-every SEC: prints siprecd's RSS every SEC seconds of each step's window (the soak).
# --no-export: the loss check compares siprec-src's counts with the catalog's packets and durable
#   frames only, without reading every file back with siprec-export (a 10-minute soak writes
#   ~18 GB at 1,500 calls, which this disk takes longer to verify than the soak lasts).
# --rounds N: the per-packet ratio as a distribution, not one pair of runs: at one load (--calls N,
#   no search) N rounds, each a siprecd run of every build in ROUND_BUILDS (default BUILD) and a
#   bare receive run, in A..Z, base / base, Z..A order alternately; prints each run's figures,
#   each round's ratio siprecd / bare of that round, and per build the median and range of the
#   ratios and of us/packet. The other core's load and the VM's steal time are printed per run
#   (a consecutive pair of runs of one binary moved 3.40-4.40 us/packet: RESULTS.md, 2026-12-05).
# --smoke: one step (default 20 calls, 5 s), siprecd only; exit 0 only when it is loss-free.
# BENCH_FENCE=0: leave other tasks on CPU 0 (by default, as root, bench/cpu-fence.py moves every
#   task that can move off CPU 0 for the run and gives it back at the end; not in --smoke).
# SPREAD: the calls' 20 ms packet times are spread over this many 1 ms slots (siprec-src
#   --spread; default 20): calls set up at random times reach a recorder spread over the 20 ms,
#   not in one burst per tick. SPREAD=1 sends every call's packets in one burst (runs before
#   2026-12-04 17:30 UTC did).
# SRC_EXTRA: more siprec-src options (e.g. "--tamper 50" to see the loss check fail).
# CONF_EXTRA: more siprecd.conf lines (e.g. "CHUNK_SIZE=4096"), for A/B runs of a setting.
# Exit: 0 done (smoke: zero loss), 1 loss at the smoke load or setup failure, 77 missing tools.
set -u
# The machine is shared and the kernel groups tasks per session (autogroup): a nice value only
# ranks tasks inside their own session, so the benchmark runs in a session of its own whose
# autogroup gets BENCH_NICE (default -10; BENCH_NICE=0 leaves priorities alone). The CPU the
# measured processes use is counted the same way; they are only delayed less by others' work.
if [ -z "${BENCH_SESSION:-}" ] && [ "${BENCH_NICE:--10}" != 0 ] && [ -w /proc/self/autogroup ] &&
	command -v setsid >/dev/null 2>&1; then
	BENCH_SESSION=1 exec setsid -w sh "$0" "$@"
fi
[ -n "${BENCH_SESSION:-}" ] && echo "${BENCH_NICE:--10}" >/proc/self/autogroup 2>/dev/null
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD=$SRCDIR/$BUILD ;; esac
CALLS="250 500 1000 2000 3000 4000"
HOLD=20
RATE=200
SUITE=AES_CM_128_HMAC_SHA1_80
SPREAD=${SPREAD:-20}
SMOKE=0 DO_BASE=1 DO_RTPE=1 DO_SRTP=1 FLAME="" RSS_EVERY=0 DO_EXPORT=1 ROUNDS=0
while [ $# -gt 0 ]; do
	case "$1" in
	--calls) CALLS=$2; shift ;;
	--hold) HOLD=$2; shift ;;
	--rate) RATE=$2; shift ;;
	--suite) SUITE=$2; shift ;;
	--smoke) SMOKE=1 DO_BASE=0 DO_RTPE=0 DO_SRTP=0 ;;
	--no-baseline) DO_BASE=0 ;;
	--no-rtpengine) DO_RTPE=0 ;;
	--no-srtp-bench) DO_SRTP=0 ;;
	--flame) FLAME=$2; shift ;;
	--rss-every) RSS_EVERY=$2; shift ;;
	--no-export) DO_EXPORT=0 ;;
	--rounds) ROUNDS=$2; shift ;;
	*) echo "usage: $0 [--calls LIST] [--hold S] [--rate R] [--suite S] [--smoke] [--no-*]" >&2; exit 1 ;;
	esac
	shift
done
if [ $SMOKE = 1 ]; then
	[ "$CALLS" = "250 500 1000 2000 3000 4000" ] && CALLS=20
	[ "$HOLD" = 20 ] && HOLD=5
fi
for c in taskset sqlite3 jq python3; do
	command -v $c >/dev/null 2>&1 || { echo "SKIP: $c not installed"; exit 77; }
done
[ "$(getconf _NPROCESSORS_ONLN)" -ge 2 ] || { echo "SKIP: needs 2 CPUs"; exit 77; }
for b in siprecd siprec-src siprec-export; do
	[ -x "$BUILD/$b" ] || { echo "capacity: $BUILD/$b not built"; exit 1; }
done
if [ "$ROUNDS" -gt 0 ]; then
	[ "$(echo $CALLS | wc -w)" = 1 ] || { echo "capacity: --rounds takes one load (--calls N)"; exit 1; }
	ROUND_BUILDS=${ROUND_BUILDS:-$BUILD}
	for b in $ROUND_BUILDS; do
		[ -x "$b/siprecd" ] || { echo "capacity: $b/siprecd not built"; exit 1; }
	done
	DO_RTPE=0 DO_SRTP=0 FLAME=""
fi
if [ $DO_BASE = 1 ] || [ $DO_SRTP = 1 ]; then
	if ! [ -x "$BUILD/bench/recv-baseline" ] || ! [ -x "$BUILD/bench/srtp-bench" ] || ! [ -x "$BUILD/bench/cpu-probe" ]; then
		# Only this tree's own build is made here: make with BUILD set to another tree's
		# build (an A/B's "before") would compile this tree's sources into it and relink its
		# siprecd half old, half new.
		[ "$BUILD" = "$SRCDIR/build" ] || {
			echo "capacity: $BUILD/bench/recv-baseline or srtp-bench not built: run 'make bench' in the tree $BUILD belongs to"
			exit 1
		}
		make -C "$SRCDIR" -s bench >/dev/null || exit 1
	fi
fi

# rtpengine comes from Debian's registry (bench only, not in tools/install-deps.sh); installed
# before entering the private network namespace below, which has no route out.
if [ $DO_RTPE = 1 ] && ! command -v rtpengine >/dev/null 2>&1; then
	echo "installing rtpengine-daemon for the comparison (apt-get)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends rtpengine-daemon \
		>/tmp/siprecd-bench-apt.log 2>&1 || echo "   rtpengine-daemon could not be installed (/tmp/siprecd-bench-apt.log)"
fi
# The flame graph renderer (npm's `flamegraph`, a port of the FlameGraph scripts), fetched
# before entering the namespace, which has no route out.
if [ -n "$FLAME" ]; then
	case "$FLAME" in /*) ;; *) FLAME=$(pwd)/$FLAME ;; esac
	FLAMEGRAPH=${FLAMEGRAPH:-$(command -v flamegraph || true)}
	if [ -z "$FLAMEGRAPH" ]; then
		FLAMEGRAPH=/var/tmp/siprecd-bench-npm/node_modules/.bin/flamegraph
		[ -x "$FLAMEGRAPH" ] || npm install --prefix /var/tmp/siprecd-bench-npm --no-audit \
			--no-fund flamegraph@1.3.0 >/tmp/siprecd-bench-npm.log 2>&1 ||
			echo "   the flamegraph npm package could not be installed (/tmp/siprecd-bench-npm.log)"
	fi
	export FLAMEGRAPH
fi
# A network namespace of our own: its loopback and its /proc/net/snmp counters see only this
# benchmark's traffic, not the other tests running on the machine.
if [ -z "${CAPACITY_NETNS:-}" ] && command -v unshare >/dev/null 2>&1 && command -v ip >/dev/null 2>&1 &&
	unshare -n true 2>/dev/null; then
	CAPACITY_NETNS=1 exec unshare -n sh -c 'ip link set lo up && exec sh "$0" "$@"' "$0" \
		--calls "$CALLS" --hold "$HOLD" --rate "$RATE" --suite "$SUITE" \
		$([ $SMOKE = 1 ] && echo --smoke) $([ $DO_BASE = 0 ] && echo --no-baseline) \
		$([ $DO_RTPE = 0 ] && echo --no-rtpengine) $([ $DO_SRTP = 0 ] && echo --no-srtp-bench) \
		$([ -n "$FLAME" ] && echo --flame "$FLAME") --rss-every "$RSS_EVERY" \
		$([ $DO_EXPORT = 0 ] && echo --no-export) --rounds "$ROUNDS"
fi
NETNS=host
FLAME_STEP=${COMPARE_CALLS:-1000}
# perf for io-wq punts / syscalls / LLC misses per window (set PERF= to skip)
PERF=${PERF-$(command -v perf || true)}
[ -n "$PERF" ] && ! $PERF stat -e io_uring:io_uring_queue_async_work -- true >/dev/null 2>&1 && PERF=""
[ -n "${CAPACITY_NETNS:-}" ] && NETNS="private network namespace"

OUT=$(mktemp -d /var/tmp/siprecd-bench.XXXXXX)
PIDS=""
cleanup() {
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	[ -f "$OUT/fence.json" ] && python3 "$SRCDIR/bench/cpu-fence.py" off "$OUT/fence.json"
	[ -n "${KEEP:-}" ] && echo "(results kept in $OUT)" || rm -rf "$OUT"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
ulimit -n 65536 2>/dev/null || ulimit -n 16384 2>/dev/null
# rtpengine 10.5 can crash on SIGTERM when calls are left: no core files in the caller's cwd
ulimit -c 0
cd "$OUT" || exit 1
# CPU 0 is the measured CPU: everything else that can move goes to the other CPUs for the run
# (bench/cpu-fence.py; BENCH_FENCE=0 leaves them), so others' builds and tests on the shared
# machine do not fill siprecd's (or the baseline's, or rtpengine's) core and caches.
if [ "${BENCH_FENCE:-1}" != 0 ] && [ $SMOKE = 0 ] && [ "$(id -u)" = 0 ]; then
	python3 "$SRCDIR/bench/cpu-fence.py" on 0 "$OUT/fence.json" | sed 's/^/   /'
fi
WAV=$SRCDIR/tests/data/audio/tone-mono-8k.wav
HZ=$(getconf CLK_TCK)
# ... and the processes measured also get BENCH_NICE inside it.
PRIO="nice -n ${BENCH_NICE:--10}"
# The generator runs SCHED_FIFO (SRC_PRIO, default "chrt -f 1" where allowed): at nice -10 it
# still waited on its run queue ~80% of the time on the shared machine (/proc/PID/schedstat) and
# fell behind its 20 ms pace at 35,000 packets/s; real-time, it keeps the pace (the kernel's RT
# throttling leaves others 5% of that core even if it needed all of it).
SRC_PRIO=${SRC_PRIO:-$(command -v chrt >/dev/null && chrt -f 1 true 2>/dev/null && echo "chrt -f 1" || echo "$PRIO")}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# CPUs 0 and 1 from /proc/stat, in ticks: "busy0 steal0 all0 busy1 steal1 all1" (busy: user,
# nice, system, irq, softirq; steal: time the hypervisor ran something else on that vCPU)
cpu_stat() {
	awk '$1 == "cpu0" || $1 == "cpu1" { printf "%d %d %d ", $2 + $3 + $4 + $7 + $8, $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat
}
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
snmp_udp() {
	# prints "RcvbufErrors InErrors" of the Udp line
	awk '/^Udp:/ { if (!h) { for (i = 2; i <= NF; i++) n[$i] = i; h = 1 } else print $n["RcvbufErrors"], $n["InErrors"] }' /proc/net/snmp
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
sleep_until() { # sleep_until T0_MS OFFSET_S
	_sl=$(($1 + $2 * 1000 - $(now_ms)))
	[ $_sl -gt 0 ] && sleep "$(awk "BEGIN {print $_sl / 1000}")"
	return 0
}

# load N DIR SIP_PORT PID: runs siprec-src (CPU 1) with N calls against SIP_PORT and samples
# PID's CPU and RSS over the window where all calls are up; writes DIR/window.
load() {
	n=$1 dir=$2 sport=$3 pid=$4
	ramp=$(((n + RATE - 1) / RATE))
	dur=$((ramp + HOLD))
	rss0=$(rss_kib "$pid")
	# the measured CPU's speed just before the run (bench/cpu-probe: clock, L3, memory; the VM
	# has no cycle counters): "alu_ns=A l3_ns=B mem_ns=C", empty when it is not built
	probe=""
	[ -x "$BUILD/bench/cpu-probe" ] && probe=$($PRIO taskset -c 0 "$BUILD/bench/cpu-probe" | sed 's/^probe //')
	set -- $(snmp_udp)
	e0rb=$1 e0in=$2
	t0=$(now_ms)
	# siprec-src's progress lines go through a pipe: a write to a file can stall for hundreds of
	# milliseconds in the kernel's dirty-page throttling when others write a lot on the machine,
	# and the generator would then miss its 20 ms ticks (late_ticks) for a reason of its own.
	rm -f "$dir/src.fifo"
	mkfifo "$dir/src.fifo"
	cat "$dir/src.fifo" >"$dir/src.err" &
	catpid=$!
	PIDS="$PIDS $catpid"
	$SRC_PRIO taskset -c 1 "$BUILD/siprec-src" -q -s 127.0.0.1:"$sport" --srtp "$SUITE" --rtcp-mux -n "$n" \
		-r "$RATE" --wav "$WAV" --loop --duration $dur --progress --spread "$SPREAD" ${SRC_EXTRA:-} \
		--json >"$dir/src.json" \
		2>"$dir/src.fifo" &
	spid=$!
	PIDS="$PIDS $spid"
	sleep_until $t0 $((ramp + 2))
	ta=$(now_ms) ca=$(cpu_ticks "$pid") ga=$(cpu_ticks $spid) sa=$(cpu_stat)
	# io-wq punts, syscalls, context switches and LLC misses of PID's threads over the window
	# (perf, when usable; hardware cache counters are often absent in VMs and then read
	# "<not supported>")
	ppid=""
	if [ -n "$PERF" ]; then
		$PERF stat -x, -o "$dir/perf.csv" -p "$pid" -e io_uring:io_uring_queue_async_work \
			-e raw_syscalls:sys_enter -e context-switches -e LLC-load-misses -- \
			sleep $((dur - 1 - ramp - 2)) \
			2>/dev/null &
		ppid=$!
	fi
	# the flame graph's samples: DWARF call graphs (siprecd has no frame pointers), 10 s at most
	recpid=""
	if [ -n "$FLAME" ] && [ -n "$PERF" ] && [ "${FLAME_STEP:-}" = "$n" ]; then
		$PERF record -F 499 --call-graph dwarf,8192 -o "$dir/perf.data" -p "$pid" -- \
			sleep $(((dur - 1 - ramp - 2) > 10 ? 10 : dur - 1 - ramp - 2)) >"$dir/record.log" 2>&1 &
		recpid=$!
	fi
	# RSS over a long hold (the soak): one line every RSS_EVERY seconds
	if [ "$RSS_EVERY" -gt 0 ]; then
		k=1
		while [ $((ramp + 2 + k * RSS_EVERY)) -lt $((dur - 1)) ]; do
			sleep_until $t0 $((ramp + 2 + k * RSS_EVERY))
			echo "   rss t=$((k * RSS_EVERY))s $(rss_kib "$pid") KiB ($(awk '{print $1}' /proc/loadavg) load average)"
			k=$((k + 1))
		done
	fi
	sleep_until $t0 $((dur - 1))
	tb=$(now_ms) cb=$(cpu_ticks "$pid") rss1=$(rss_kib "$pid") gb=$(cpu_ticks $spid) sb=$(cpu_stat)
	set -- $sa $sb
	cpus="b0=$(($7 - $1)) st0=$(($8 - $2)) all0=$(($9 - $3)) b1=$((${10} - $4)) st1=$((${11} - $5)) all1=$((${12} - $6))"
	if [ -n "$ppid" ]; then wait $ppid || true; fi
	if [ -n "$recpid" ]; then wait $recpid || true; fi
	wait $spid
	SRC_RC=$?
	wait $catpid
	set -- $(snmp_udp)
	echo "n=$n t0=$t0 ta=$ta tb=$tb ca=$ca cb=$cb rss0=$rss0 rss1=$rss1 rb=$(($1 - e0rb)) in=$(($2 - e0in)) src_rc=$SRC_RC gen=$((gb - ga)) $cpus" >"$dir/window"
	[ -n "$probe" ] && echo "$probe" >"$dir/probe"
}

# figures DIR KIND: prints the window's figures. Packets/s is what siprec-src really sent in the
# window (its --progress lines), which falls short of calls x 100 when the generator lags.
figures() {
	python3 - "$1" "$2" "$HZ" <<'PY'
import re, sys
d, kind, hz = sys.argv[1], sys.argv[2], int(sys.argv[3])
w = {k: int(v) for k, v in (kv.split("=") for kv in open(d + "/window").read().split())}
try:
    probe = " " + open(d + "/probe").read().strip()
except OSError:
    probe = ""
prog = [(float(t), int(p)) for t, p in re.findall(r"\[\s*([\d.]+)s\].*packets sent (\d+)",
                                                  open(d + "/src.err").read())]
a, b = (w["ta"] - w["t0"]) / 1000, (w["tb"] - w["t0"]) / 1000
inside = [x for x in prog if a - 0.5 <= x[0] <= b + 0.5]
secs = (w["tb"] - w["ta"]) / 1000
if len(inside) >= 2 and inside[-1][0] > inside[0][0]:
    pps = (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0])
else:
    pps = w["n"] * 100
us = (w["cb"] - w["ca"]) / hz * 1e6
print("%s calls=%d pps=%d (nominal %d) window_s=%.1f cpu_us_per_pkt=%.2f cpu_load=%.0f%% "
      "rss_kib_per_call=%.1f" % (kind, w["n"], pps, w["n"] * 100, secs, us / (pps * secs),
                                 100 * us / 1e6 / secs, (w["rss1"] - w["rss0"]) / w["n"]))
# an extrapolation, not a measurement: one core's second divided by this load's cost per call
# (100 packets/s a call), as if the cost per packet stayed the same at higher loads
# what else ran: CPU 0's busy share (/proc/stat's ticks, against the process's own cpu_load),
# CPU 1 besides the generator (others' work moved there by the fence), and the steal time
if "all0" in w and w["all0"] > 0 and w["all1"] > 0:
    print("%s env: cpu0_busy=%.0f%% steal0=%.2f%% cpu1_busy=%.0f%% (generator %.0f%%, other %.0f%%) "
          "steal1=%.2f%%%s" % (kind, 100 * w["b0"] / w["all0"],
                            100 * w["st0"] / w["all0"], 100 * w["b1"] / w["all1"],
                            100 * w["gen"] / w["all1"], 100 * (w["b1"] - w["gen"]) / w["all1"],
                            100 * w["st1"] / w["all1"], probe))
print("%s extrapolated_calls_per_core=%.0f (1 s / (cpu_us_per_pkt x 100 packets/s a call))"
      % (kind, 1e6 / (us / (pps * secs) * 100)))
try:
    ev = {}
    for line in open(d + "/perf.csv"):
        f = line.strip().split(",")
        if len(f) > 2 and not line.startswith("#"):
            ev[f[2]] = f[0]
    def per(name, div, fmt):
        v = ev.get(name, "")
        return fmt % (int(v) / div) if v.isdigit() else (v or "n/a")
    print("%s perf: iowq_punts_per_s=%s syscalls_per_pkt=%s context_switches_per_kpkt=%s "
          "llc_misses_per_pkt=%s" % (
        kind, per("io_uring:io_uring_queue_async_work", secs, "%.0f"),
        per("raw_syscalls:sys_enter", pps * secs, "%.3f"),
        per("context-switches", pps * secs / 1000, "%.1f"),
        per("LLC-load-misses", pps * secs, "%.2f")))
except OSError:
    pass
PY
}

# ---- siprecd at N calls: DIR/result has "ok" or "loss ..." and the figures. siprecd_step N
# [TAG [BUILD]]: the run's directory is siprecd-N (siprecd-N-TAG with a TAG), the binary BUILD's.
siprecd_step() {
	n=$1
	d=$OUT/siprecd-$n${2:+-$2}
	sbuild=${3:-$BUILD}
	mkdir -p "$d"
	sport=$(free_port)
	cat >"$d/siprecd.conf" <<CFG
SIP_LISTEN_ADDRESS=127.0.0.1
SIP_PORT=$sport
TLS_PORT=$(free_port)
RTP_PORT_MIN=10000
RTP_PORT_MAX=$((10000 + n * 4 + 200))
MEDIA_WORKERS=1
MAX_SESSIONS=$((n + 10))
INVITE_RATE_PER_SOURCE=0
LOG_TARGET=stderr
LOG_LEVEL=debug
${CONF_EXTRA:-}
CFG
	STATE_DIRECTORY=$d/state RUNTIME_DIRECTORY=$d/run $PRIO taskset -c 0 "$sbuild/siprecd" \
		--config "$d/siprecd.conf" >"$d/siprecd.log" 2>&1 &
	dpid=$!
	PIDS="$PIDS $dpid"
	i=0
	until grep -q "SIPREC_EVENT=daemon-ready\|ready" "$d/siprecd.log" 2>/dev/null || [ $i -ge 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	sleep 0.5
	load "$n" "$d" "$sport" "$dpid"
	if [ -s "$d/perf.data" ] && [ -n "$FLAME" ]; then
		# perf script names frames symbol+offset: the offsets go, so a function is one frame
		$PERF script -i "$d/perf.data" 2>/dev/null | sed 's/+0x[0-9a-f]*//' | "$FLAMEGRAPH" -t perf \
			--titletext "siprecd at $n SRTP calls ($((n * 100)) packets/s), one core, $(date -u +%F)" \
			>"$FLAME" 2>"$d/flame.err" && echo "   flame graph: $FLAME ($(grep -c '<g' "$FLAME") frames)" ||
			echo "   flame graph failed: $(head -n 3 "$d/flame.err")"
	fi
	# the last recordings are finalized after the last BYE
	i=0
	while [ $i -lt 300 ] && [ "$(sqlite3 "$d/state/catalog.db" "SELECT count(*) FROM recordings WHERE state = 'final'" 2>/dev/null)" != $((2 * n)) ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -TERM $dpid
	wait $dpid
	echo "stop_rc=$?" >>"$d/window"
	find "$d/state/recordings" -name '*.siprec' >"$d/files"
	if [ $DO_EXPORT = 1 ]; then
		xargs -n 64 "$BUILD/siprec-export" -k "$d/state/keys/master.key" \
			--catalog "$d/state/catalog.db" --metadata-json <"$d/files" \
			>"$d/export.json" 2>"$d/export.err"
	else
		: >"$d/export.json"
	fi
	sqlite3 -json "$d/state/catalog.db" "SELECT s.call_id, st.label, st.packets, st.lost,
		st.srtp_auth_failures AS auth, st.srtp_replays AS replays, r.path, r.frames, r.complete
		FROM streams st JOIN sessions s ON s.id = st.session_id
		LEFT JOIN recordings r ON r.stream_id = st.id" >"$d/catalog.json"
	python3 - "$d" $DO_EXPORT <<'PY' >"$d/result"
import json, re, statistics, sys
d, do_export = sys.argv[1], sys.argv[2] == "1"
w = dict(kv.split("=") for kv in open(d + "/window").read().split())
src = json.load(open(d + "/src.json"))
cat = json.load(open(d + "/catalog.json")) if open(d + "/catalog.json").read().strip() else []
exp, txt, i = {}, open(d + "/export.json").read(), 0
dec = json.JSONDecoder()
while True:  # one JSON array per siprec-export run of up to 64 files
    while i < len(txt) and txt[i].isspace():
        i += 1
    if i >= len(txt):
        break
    arr, i = dec.raw_decode(txt, i)
    exp.update((e["file"], e) for e in arr)
rows = {(r["call_id"], r["label"]): r for r in cat}
problems, sent_total = [], 0
for c in src["calls"]:
    if c["result"] != "ok":
        problems.append("call %s: %s %s" % (c["call_id"], c["result"], c["reason"]))
    for s in c["streams"]:
        sent = s["packets"] - s["replayed"]
        sent_total += sent
        if sent == 0:  # every stream is held for seconds: a silent one is the generator's fault
            problems.append("%s/%s: siprec-src sent no packet" % (c["call_id"], s["label"]))
        r = rows.get((c["call_id"], s["label"]))
        if not r:
            problems.append("%s/%s: not in the catalog" % (c["call_id"], s["label"]))
            continue
        e = exp.get(r["path"] or "", {})
        if not do_export:  # --no-export: the catalog's durable frames stand for the file's
            e = {"frames": r["frames"], "complete": r["complete"]}
        if r["packets"] != sent or r["frames"] != sent or e.get("frames") != sent \
                or not r["complete"] or not e.get("complete"):
            problems.append("%s/%s: sent %d, catalog %s, catalog frames %s, file frames %s, complete %s/%s"
                            % (c["call_id"], s["label"], sent, r["packets"], r["frames"],
                               e.get("frames"), r["complete"], e.get("complete")))
if int(w["rb"]) or int(w["in"]):
    problems.append("kernel UDP RcvbufErrors +%s InErrors +%s" % (w["rb"], w["in"]))
if int(w["stop_rc"]):
    problems.append("siprecd exit status %s" % w["stop_rc"])
p99 = [int(x) for x in re.findall(r"p99 packet->durable (\d+) us", open(d + "/siprecd.log").read())]
late = src["totals"].get("late_ticks", 0)
print("%s sent=%d catalog=%d files=%s late_ticks=%d p99_durable_ms(median/max of %d recordings)=%.1f/%.1f"
      % ("ok" if not problems else "LOSS", sent_total, sum(r["packets"] for r in cat),
         sum(e.get("frames", 0) for e in exp.values()) if do_export else
         "not-read(catalog_durable_frames=%d)" % sum(r["frames"] or 0 for r in cat), late, len(p99),
         statistics.median(p99) / 1000 if p99 else -1, max(p99) / 1000 if p99 else -1))
for p in problems[:10]:
    print("  " + p)
if len(problems) > 10:
    print("  ... %d more" % (len(problems) - 10))
PY
	figures "$d" siprecd >>"$d/result"
	sed 's/^/  /' "$d/result"
	head -n 1 "$d/result" | grep -q '^ok' || return 1
	# a step only counts when siprec-src really offered the load (>= 97% of calls x 100 pps)
	if ! awk '/ pps=/ { split($3, a, "="); split($5, b, ")"); exit !(a[2] >= 0.97 * b[1]) }' "$d/result"; then
		echo "  generator-limited: siprec-src sent less than 97% of the nominal packet rate"
		return 2
	fi
}

# ---- the bare receive baseline: baseline_step N [TAG] (its directory baseline or baseline-TAG)
baseline_step() {
	echo "-- baseline (io_uring multishot recvmsg, no SRTP/sealing/writing) $1 calls"
	d=$OUT/baseline${2:+-$2}
	mkdir -p "$d"
	bport=$(free_port)
	$PRIO taskset -c 0 "$BUILD/bench/recv-baseline" 10000 1 $(($1 * 2)) >"$d/count" 2>"$d/err" &
	bpid=$!
	$PRIO taskset -c 1 python3 "$SRCDIR/bench/sip-uas.py" "$bport" baseline 10000 1 >"$d/uas.log" 2>&1 &
	upid=$!
	PIDS="$PIDS $bpid $upid"
	sleep 1
	load $1 "$d" "$bport" $bpid
	kill -TERM $bpid
	wait $bpid
	kill $upid
	sent=$(jq '[.calls[].streams[].packets] | add' "$d/src.json")
	echo "   sent=$sent received: $(cat "$d/count")"
	figures "$d" baseline | sed 's/^/  /' | tee "$d/result"
	BASE_US=$(sed -n 's/.*cpu_us_per_pkt=\([0-9.]*\).*/\1/p' "$d/result")
	[ -n "${SIPRECD_US:-}" ] && awk -v a="$SIPRECD_US" -v b="$BASE_US" 'BEGIN { if (b > 0) printf "RESULT siprecd / baseline us per packet: %.2f / %.2f = %.2fx\n", a, b, a / b }'
}

echo "== capacity: $(date -u +%FT%TZ) $(uname -r), $(getconf _NPROCESSORS_ONLN) CPUs: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
echo "   suite $SUITE, G.711 20 ms, 2 streams/call, hold ${HOLD}s, packet times spread over $SPREAD slots of the 20 ms, ramp ${RATE} calls/s; siprecd CPU 0, siprec-src CPU 1, $NETNS"
if [ "$ROUNDS" -gt 0 ]; then
	# Each round runs every build and the bare receive once, in alternating order, so drifts of
	# the machine (frequency, the other core's load, steal, the disk) fall on both sides of a
	# ratio; the ratio is taken within a round and reported as a distribution.
	nb=0
	for b in $ROUND_BUILDS; do nb=$((nb + 1)); done
	r=1
	while [ $r -le "$ROUNDS" ]; do
		if [ $((r % 2)) = 1 ]; then order="$(seq 1 $nb) base"; else order="base $(seq $nb -1 1)"; fi
		for v in $order; do
			if [ "$v" = base ]; then
				baseline_step "$CALLS" "$r"
				continue
			fi
			vb=$(echo $ROUND_BUILDS | cut -d' ' -f"$v")
			echo "-- round $r: siprecd $CALLS calls, build $v ($vb)"
			siprecd_step "$CALLS" "$r-$v" "$vb"
		done
		r=$((r + 1))
	done
	python3 - "$OUT" "$CALLS" "$ROUNDS" "$ROUND_BUILDS" <<'PY'
import re, statistics, sys
out, n, rounds, builds = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].split()
def fig(path):
    try:
        t = open(path).read()
    except OSError:
        return None
    m = re.search(r"cpu_us_per_pkt=([\d.]+)", t)
    e = re.search(r"steal0=([\d.]+)%.*cpu1_busy=(\d+)%.*other (-?\d+)%", t)
    p = re.search(r"alu_ns=([\d.]+) l3_ns=([\d.]+) mem_ns=([\d.]+)", t)
    return (float(m.group(1)) if m else None, t.startswith("ok") or "baseline" in t.split()[0:1],
            (e.groups() if e else ("?", "?", "?")) + (p.groups() if p else ("?", "?", "?")))
print("RESULT rounds at %s calls (us/packet; steal0 %%, CPU 1 busy %%, of it others' %%; "
      "probe before the run: ALU step ns, L3 and memory load ns):" % n)
ratios = {v: [] for v in range(1, len(builds) + 1)}
us = {v: [] for v in range(1, len(builds) + 1)}
base = []
for r in range(1, rounds + 1):
    b = fig("%s/baseline-%d/result" % (out, r))
    line = "  round %d: bare %s (steal %s%%, cpu1 %s%%/%s%%; %s %s %s)" % (
        r, "%.2f" % b[0] if b and b[0] else "n/a", *(b[2] if b else ("?",) * 6))
    if b and b[0]:
        base.append(b[0])
    for v in ratios:
        f = fig("%s/siprecd-%s-%d-%d/result" % (out, n, r, v))
        if not f or f[0] is None:
            line += "; build %d n/a" % v
            continue
        ok = "" if f[1] else " LOSS"
        line += "; build %d %.2f%s (steal %s%%, cpu1 %s%%/%s%%; %s %s %s)" % (v, f[0], ok, *f[2])
        us[v].append(f[0])
        if b and b[0] and f[1]:
            ratios[v].append(f[0] / b[0])
            line += " %.2fx" % (f[0] / b[0])
    print(line)
def dist(x, fmt):
    return ("median " + fmt + ", range " + fmt + "-" + fmt + " (%d)") % (
        statistics.median(x), min(x), max(x), len(x)) if x else "n/a"
print("RESULT bare receive us/packet: %s" % dist(base, "%.2f"))
for v in ratios:
    print("RESULT build %d (%s) us/packet: %s; siprecd / bare: %s"
          % (v, builds[v - 1], dist(us[v], "%.2f"), dist(ratios[v], "%.2fx")))
PY
	exit 0
fi
best=0 fail=0 genlim=0
for n in $CALLS; do
	echo "-- siprecd $n calls"
	siprecd_step $n
	case $? in 0) best=$n ;; 2) fail=$n genlim=$n; break ;; *) fail=$n; break ;; esac
done
# two bisection steps between the last loss-free load and the first lossy one
if [ $SMOKE = 0 ] && [ $fail -gt 0 ] && [ $best -gt 0 ]; then
	for _ in 1 2; do
		mid=$(((best + fail) / 2 / 50 * 50))
		[ $mid -le $best ] && break
		echo "-- siprecd $mid calls"
		siprecd_step $mid
		case $? in 0) best=$mid ;; 2) fail=$mid genlim=$mid ;; *) fail=$mid ;; esac
	done
fi
if [ $best -eq 0 ]; then
	echo "RESULT no loss-free load found (first tried: $(echo $CALLS | cut -d' ' -f1) calls)"
	[ $SMOKE = 1 ] && exit 1
	exit 0
fi
echo "RESULT siprecd largest loss-free load: $best calls ($((best * 2)) streams)"
[ $genlim -gt 0 ] && echo "RESULT (a lower bound: at $genlim calls the generator on CPU 1 could not send the nominal rate)"
sed 's/^/  /' "$OUT/siprecd-$best/result"
[ $SMOKE = 1 ] && exit 0
# The baseline and rtpengine run at the comparison load (COMPARE_CALLS, default 1000 or the best
# load if lower), where rtpengine on one core is not saturated either; siprecd's figure is the
# one measured at that load.
CMP=${COMPARE_CALLS:-1000}
[ $CMP -gt $best ] && CMP=$best
if [ ! -f "$OUT/siprecd-$CMP/result" ]; then
	echo "-- siprecd $CMP calls (comparison load)"
	siprecd_step $CMP
fi
SIPRECD_US=$(sed -n 's/.*cpu_us_per_pkt=\([0-9.]*\).*/\1/p' "$OUT/siprecd-$CMP/result")
echo "-- comparison load: $CMP calls; siprecd there:"
sed -n 2p "$OUT/siprecd-$CMP/result" | sed 's/^/  /'
best=$CMP

# ---- the bare receive baseline at the same load
if [ $DO_BASE = 1 ]; then
	baseline_step $best
fi

# ---- rtpengine, userspace, recording to pcap, media blocked (not relayed)
if [ $DO_RTPE = 1 ]; then
	echo "-- rtpengine (userspace, ng offer/answer RTP/SAVP, record call to pcap, block media) $best calls"
	if ! command -v rtpengine >/dev/null 2>&1; then
		echo "   rtpengine not installed: comparison skipped"
	else
		d=$OUT/rtpengine
		mkdir -p "$d/rec" "$d/spool"
		ng=$(free_port) rport=$(free_port) hole=$(free_port)
		$PRIO taskset -c 0 rtpengine --foreground --log-stderr --log-level=5 --table=-1 \
			--interface=127.0.0.1 --listen-ng=127.0.0.1:$ng --port-min=10000 \
			--port-max=32000 --num-threads=1 --recording-dir="$d/spool" \
			--recording-method=pcap --delete-delay=0 --no-redis-required --pidfile="$d/pid" \
			>"$d/rtpengine.log" 2>&1 &
		rpid=$!
		PIDS="$PIDS $rpid"
		sleep 2
		$PRIO taskset -c 1 python3 "$SRCDIR/bench/sip-uas.py" "$rport" rtpengine $ng $hole >"$d/uas.log" 2>&1 &
		upid=$!
		PIDS="$PIDS $upid"
		sleep 1
		if kill -0 $rpid 2>/dev/null && kill -0 $upid 2>/dev/null; then
			load $best "$d" "$rport" $rpid
			sleep 2
			kill -TERM $rpid
			wait $rpid
			kill $upid
			ok=$(jq '.totals.ok' "$d/src.json")
			sent=$(jq '[.calls[].streams[].packets] | add' "$d/src.json")
			pk=$(python3 - "$d/spool" <<'PY'
import glob, struct, sys
n = files = 0
for f in glob.glob(sys.argv[1] + "/**/*.pcap", recursive=True):
    files += 1
    b = open(f, "rb").read()
    i = 24
    while i + 16 <= len(b):
        n += 1
        i += 16 + struct.unpack("<I", b[i + 8:i + 12])[0]
print("%d packets in %d pcap files" % (n, files))
PY
)
			echo "   calls ok=$ok sent=$sent recorded: $pk"
			figures "$d" rtpengine | sed 's/^/  /' | tee "$d/result"
			RTPE_US=$(sed -n 's/.*cpu_us_per_pkt=\([0-9.]*\).*/\1/p' "$d/result")
			awk -v a="$SIPRECD_US" -v b="$RTPE_US" 'BEGIN { if (b > 0) printf "RESULT siprecd / rtpengine us per packet: %.2f / %.2f = %.2fx\n", a, b, a / b }'
		else
			echo "   rtpengine or the UAS did not start:"
			tail -n 15 "$d/rtpengine.log" "$d/uas.log" | sed 's/^/   /'
		fi
	fi
fi

if [ $DO_SRTP = 1 ]; then
	echo "-- SRTP unprotect micro-benchmark (CPU 0)"
	for s in AES_CM_128_HMAC_SHA1_80 AEAD_AES_256_GCM; do
		$PRIO taskset -c 0 "$BUILD/bench/srtp-bench" $s 1 500 4000 | sed 's/^/   /'
	done
fi
