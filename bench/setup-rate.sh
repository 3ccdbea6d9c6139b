#!/bin/sh
# SPDX-License-Identifier: MIT
# SIPREC call setup rate over TLS: siprecd pinned to CPU 0, siprec-src on CPU 1 placing CALLS
# recording calls at RATE new calls/s over one TLS connection (the way an SBC keeps a long-lived
# connection to its recorder), each a full SIPREC setup (multipart SDP + RFC 7865 metadata
# INVITE, SRTP SDES answer, ACK), a short SRTP stream on both legs and a BYE. Prints setups/s
# achieved (2xx received per second of the offered span), the setup latency (INVITE sent ->
# 2xx received, per call, from siprec-src's --json) p50/p99/max, the same by tenth of the run
# (a start-up transient, a growing queue or spikes), the client's CPU per call and how late its
# INVITEs left against their schedule (a client that falls behind sends bursts), siprecd's CPU
# per call, the volume's writes and flushes, and siprecd's own account of where a set-up waited (logged at its exit: INVITE ->
# barrier queued, -> recording files created, barrier -> durable on the catalog thread, -> seen
# on the SIP thread, -> 200 OK; the catalog's barrier batches: queued -> begin, statements,
# commit, checkpoints). Nothing is asserted: this is a measurement.
#
# usage: bench/setup-rate.sh [--calls N] [--rate R] [--tls-version 1.2|1.3] [--hold DUR]
#                            [--volume fresh | --dir PATH] [--profile]
# --volume fresh (the default): siprecd's state directory (catalog and recordings) on a volume of
#            its own, made for the run: a sparse 4 GiB image in /var/tmp, mkfs.ext4 with Debian's
#            defaults (journaled), loop-mounted, unmounted and removed after. A recording server
#            keeps its recordings on a volume of their own; the host's root filesystem here is an
#            ext4 without a journal aged by days of test churn, where creating one file costs
#            hundreds of us of CPU in ext4's inode allocator (find_inode_bit, recently_deleted)
#            against ~20 us on a fresh volume: measured there, the bench measures the allocator,
#            not siprecd. Needs root, loop devices and mkfs.ext4 (e2fsprogs); skips (77) without.
# BENCH_LOOP_DIO (with --volume fresh): 1 (the default) puts the volume's loop device in direct
#            I/O (losetup --direct-io=on): a write reaches the host's disk when it is made and a
#            flush is little more than the disk's own, as on a recordings disk. 0 leaves the loop
#            device buffered, as the bench ran until 2026-12-05 (night): the image's pages are
#            written to the host's disk only when someone flushes the volume, the loop device
#            serving a flush with an fsync of the image, so each flush writes back everything
#            written since the last one (the recordings' O_DIRECT writes included) and everything
#            queued behind it waits: a flush costs 0.42-0.56 ms there against 0.21-0.29 with
#            direct I/O, and the setup p99 follows the host's writeback (bench/RESULTS.md, flushes,
#            and the lead's final runs of the night).
# --dir PATH: the state directory in a new directory under PATH, an existing filesystem (e.g.
#            --dir /var/tmp, where this bench ran before the option existed).
# Either way, before siprecd starts the bench creates (and keeps, for the run) 500 empty files in
# a new directory beside the state directory and prints the CPU per file: every result says what
# filesystem it was taken on, and how expensive a file creation is there.
# --hold: each call's length after the answer (default 200ms: ten packets a stream).
# BENCH_FENCE=0: leave other tasks on CPU 0 (by default, as root, bench/cpu-fence.py moves every
#            task that can move off CPU 0, siprecd's CPU, for the run and gives it back at the end,
#            as bench/capacity.sh does; tests/integration/bench-smoke.sh sets 0).
# --profile: perf record -g (PERF_CG="--call-graph dwarf" for user stacks without frame
#            pointers) of siprecd during the run; prints the top symbols and keeps
#            perf.data in the kept output directory (KEEP=1 keeps it). PERF_EVENTS replaces
#            the sampling (-F 999), e.g. "-c 1 -e probe_libc:malloc" counts every malloc
#            after `perf probe -x LIBC --add malloc`. PERF_HEAD=S waits S seconds for perf to
#            attach before the first call; PERF_TAIL=S records S seconds after the last one, so
#            the last calls' finalize is in (counts per call: bench/RESULTS.md, setupmedia2).
# Exit: 0 done (every call set up), 2 some call failed, 1 setup failure, 77 missing tools.
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
CALLS=5000 RATE=1000 TLSV=1.3 HOLD=200ms PROFILE=0 VOLUME=fresh DIR=""
while [ $# -gt 0 ]; do
	case "$1" in
	--calls) CALLS=$2; shift ;;
	--rate) RATE=$2; shift ;;
	--tls-version) TLSV=$2; shift ;;
	--hold) HOLD=$2; shift ;;
	--profile) PROFILE=1 ;;
	--volume)
		[ "$2" = fresh ] || { echo "setup-rate: --volume takes 'fresh' (or use --dir PATH)" >&2; exit 1; }
		VOLUME=fresh DIR=""
		shift
		;;
	--dir) VOLUME="" DIR=$2; shift ;;
	*)
		echo "usage: $0 [--calls N] [--rate R] [--tls-version V] [--hold DUR] [--volume fresh | --dir PATH] [--profile]" >&2
		exit 1
		;;
	esac
	shift
done
for c in taskset python3; do
	command -v $c >/dev/null 2>&1 || { echo "SKIP: $c not installed"; exit 77; }
done
NCPU=$(nproc)
[ "$NCPU" -ge 2 ] || { echo "SKIP: needs 2 CPUs"; exit 77; }
for b in siprecd siprec-src; do
	[ -x "$BUILD/$b" ] || { echo "setup-rate: $BUILD/$b not built"; exit 1; }
done
if [ -n "$VOLUME" ]; then
	[ "$(id -u)" = 0 ] || { echo "SKIP: --volume fresh needs root (loop mount); use --dir PATH"; exit 77; }
	for c in mkfs.ext4 losetup mount umount; do
		command -v $c >/dev/null 2>&1 ||
			{ echo "SKIP: --volume fresh needs $c (mkfs.ext4: e2fsprogs); use --dir PATH"; exit 77; }
	done
	[ -e /dev/loop-control ] || losetup -f >/dev/null 2>&1 ||
		{ echo "SKIP: --volume fresh needs a loop device (no /dev/loop-control); use --dir PATH"; exit 77; }
else
	[ -d "$DIR" ] && [ -w "$DIR" ] || { echo "setup-rate: --dir $DIR is not a writable directory"; exit 1; }
fi
# A private network namespace: its loopback carries only this benchmark's traffic.
if [ -z "${SETUP_NETNS:-}" ] && command -v unshare >/dev/null 2>&1 && unshare -n true 2>/dev/null; then
	if [ -n "$VOLUME" ]; then set -- --volume "$VOLUME"; else set -- --dir "$DIR"; fi
	[ $PROFILE = 1 ] && set -- "$@" --profile
	SETUP_NETNS=1 exec unshare -n sh -c 'ip link set lo up && exec sh "$0" "$@"' "$0" \
		--calls "$CALLS" --rate "$RATE" --tls-version "$TLSV" --hold "$HOLD" "$@"
fi
OUT=$(mktemp -d /var/tmp/siprecd-setup.XXXXXX)
DPID="" MNT="" DATA=""
cleanup() {
	[ -n "$DPID" ] && kill -9 "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	[ -f "$OUT/fence.json" ] && python3 "$SRCDIR/bench/cpu-fence.py" off "$OUT/fence.json" >/dev/null
	if [ -n "$MNT" ]; then
		# mount -o loop set the device to detach itself on the last umount (autoclear)
		umount "$MNT" 2>/dev/null || { sleep 1; umount "$MNT"; }
		rmdir "$MNT"
		rm -f "$OUT/volume.img"
	elif [ -n "$DATA" ]; then
		rm -rf "$DATA"
	fi
	[ -n "${KEEP:-}" ] && echo "(results kept in $OUT)" || rm -rf "$OUT"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
# The state directory's filesystem (see --volume and --dir above).
if [ -n "$VOLUME" ]; then
	MNT=$(mktemp -d /tmp/siprecd-setup-vol.XXXXXX)
	if ! truncate -s 4G "$OUT/volume.img" || ! mkfs.ext4 -q -F "$OUT/volume.img" ||
		! mount -o loop "$OUT/volume.img" "$MNT"; then
		rmdir "$MNT"
		MNT=""
		echo "SKIP: could not make and loop-mount an ext4 volume in $OUT; use --dir PATH"
		exit 77
	fi
	DATA=$MNT
	if [ "${BENCH_LOOP_DIO:-1}" = 1 ] &&
		! losetup --direct-io=on "$(findmnt -n -o SOURCE -T "$MNT")"; then
		echo "setup-rate: losetup --direct-io=on failed (BENCH_LOOP_DIO=0 for a buffered loop device)"
		exit 1
	fi
else
	DATA=$(mktemp -d "$DIR/siprecd-setup-data.XXXXXX") || exit 1
fi
mkdir "$DATA/state" || exit 1
# CPU per file creation there: 500 empty files created and kept in a new directory (python's
# loop adds a few us a file; the directory is new, as siprecd's per-day recordings directory is).
FILE_US=$(python3 - "$DATA/fsprobe" 500 <<'PY'
import os, sys, time
d, n = sys.argv[1], int(sys.argv[2])
os.mkdir(d)
t0 = time.process_time()
for i in range(n):
    os.close(os.open(os.path.join(d, "f%05d" % i), os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600))
print("%.0f" % ((time.process_time() - t0) * 1e6 / n))
PY
)
FS=$(findmnt -n -o SOURCE,FSTYPE -T "$DATA" | tr -s ' ')
JOURNAL=""
if [ -n "$VOLUME" ]; then
	ldev=$(basename "$(findmnt -n -o SOURCE -T "$DATA")")
	[ "$(cat "/sys/block/$ldev/loop/dio" 2>/dev/null)" = 1 ] && FS="$FS (loop: direct I/O)"
fi
if [ "$(stat -f -c %T "$DATA")" = ext2/ext3 ]; then
	dev=$(basename "$(findmnt -n -o SOURCE -T "$DATA" | sed 's/\[.*//')")
	# the journal thread's pid, or "<none>" (or empty) for an ext4 without a journal
	case "$(cat "/sys/fs/ext4/$dev/journal_task" 2>/dev/null || echo "?")" in
	"?") ;;
	[0-9]*) JOURNAL=", journaled" ;;
	*) JOURNAL=", no journal" ;;
	esac
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null
cd "$OUT" || exit 1
HZ=$(getconf CLK_TCK)
# ... and the processes measured also get BENCH_NICE inside it.
PRIO="nice -n ${BENCH_NICE:--10}"
# The client runs SCHED_FIFO where allowed (SRC_PRIO; see bench/capacity.sh for why).
SRC_PRIO=${SRC_PRIO:-$(command -v chrt >/dev/null && chrt -f 1 true 2>/dev/null && echo "chrt -f 1" || echo "$PRIO")}
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# CPU of this shell's children that have been waited for (cutime + cstime): around siprec-src's
# run, its own CPU.
child_ticks() { awk '{print $16 + $17}' "/proc/$$/stat"; }
# CPU 0's time by kind (/proc/stat: user nice system idle iowait irq softirq steal): what runs
# there besides siprecd (kworkers, the loop device's writes, softirqs) shares its one core.
cpu0_ticks() { awk '$1 == "cpu0" {print $2 + $3 + $4 + $7 + $8 + $9, $8}' /proc/stat; }
# Per thread of siprecd: tid, name, CPU ticks (user + system), minor page faults, voluntary
# context switches (each a sleep, i.e. a wake-up by another thread or the kernel), then from
# /proc/PID/task/TID/io the bytes written and the write and read system calls (wchar, syscw,
# syscr: the catalog's WAL frames are two pwrites each, its page reads preads; 0 0 0 where io is
# not readable).
threads() {
	for t in /proc/"$1"/task/*; do
		awk '{printf "%s %s %d %d ", $1, $2, $14 + $15, $10}' "$t/stat" 2>/dev/null &&
			awk '/^voluntary_ctxt_switches/ {printf "%s ", $2}' "$t/status" 2>/dev/null &&
			{ awk '/^wchar/ {w = $2} /^syscw/ {sw = $2} /^syscr/ {sr = $2}
				END {print w + 0, sw + 0, sr + 0}' "$t/io" 2>/dev/null || echo 0 0 0; }
	done
}

sport=$(free_port)
tport=$(free_port)
while [ "$tport" = "$sport" ]; do tport=$(free_port); done
# Calls overlap for about RATE x (hold + a setup): the session and port limits leave room.
cat >siprecd.conf <<CFG
SIP_LISTEN_ADDRESS=127.0.0.1
SIP_PORT=$sport
TLS_PORT=$tport
RTP_PORT_MIN=20000
RTP_PORT_MAX=60000
MEDIA_WORKERS=1
MAX_SESSIONS=$((CALLS + 10))
INVITE_RATE_PER_SOURCE=0
MAX_CONNECTIONS_PER_SOURCE=0
MAX_HANDSHAKES_PER_SOURCE=0
LOG_TARGET=stderr
LOG_LEVEL=info
CFG
# CPU 0 is siprecd's: everything else that can move goes to the other CPUs for the run, so
# others' builds on the shared machine do not fill siprecd's core (siprec-src shares CPU 1 with
# them; it runs real-time where allowed).
FENCED="not fenced (BENCH_FENCE=0 or not root)"
if [ "${BENCH_FENCE:-1}" != 0 ] && [ "$(id -u)" = 0 ]; then
	python3 "$SRCDIR/bench/cpu-fence.py" on 0 "$OUT/fence.json" >fence.log 2>&1 &&
		FENCED="fenced (bench/cpu-fence.py: other tasks moved off)"
fi
STATE_DIRECTORY=$DATA/state RUNTIME_DIRECTORY=$OUT/run $PRIO taskset -c 0 "$BUILD/siprecd" \
	--config siprecd.conf >siprecd.log 2>&1 &
DPID=$!
i=0
until [ -s "$DATA/state/tls/cert.pem" ] && grep -q "ready" siprecd.log 2>/dev/null || [ $i -ge 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
[ -s "$DATA/state/tls/cert.pem" ] || { echo "setup-rate: siprecd did not start"; tail siprecd.log; exit 1; }

echo "== setup-rate: $(date -u +%FT%TZ) $(uname -r), $NCPU CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "   $CALLS calls at $RATE/s over TLS $TLSV (one connection), SRTP AES_CM_128_HMAC_SHA1_80, hold $HOLD;"
echo "   siprecd CPU 0 (MEDIA_WORKERS=1; CPU 0 $FENCED), siprec-src CPU 1, private network namespace"
echo "   state directory on $([ -n "$VOLUME" ] && echo "a fresh 4 GiB loop-mounted volume" || echo "$DIR"): $FS$JOURNAL;"
echo "   file creation there: $FILE_US us of CPU per file (500 created in a new directory)"
# The volume's block device counters (writes, flushes and the time they took), if it is one.
BDEV=$(basename "$(findmnt -n -o SOURCE -T "$DATA" | sed 's/\[.*//')")
bdev_stat() { cat "/sys/class/block/$BDEV/stat" 2>/dev/null; }
c0=$(cpu_ticks $DPID)
z0=$(cpu0_ticks)
threads $DPID >threads.0
bdev_stat >bdev.0
PERFPID=""
if [ $PROFILE = 1 ] && command -v perf >/dev/null 2>&1; then
	perf record ${PERF_EVENTS:--F 999} ${PERF_CG:--g} -o perf.data -p $DPID >perf.log 2>&1 &
	PERFPID=$!
	sleep "${PERF_HEAD:-0}"
fi
s0=$(child_ticks)
t0=$(date +%s%N)
$SRC_PRIO taskset -c 1 "$BUILD/siprec-src" -q -t tls -s 127.0.0.1:"$tport" --ca "$DATA/state/tls/cert.pem" \
	--sni localhost --tls-version "$TLSV" --srtp AES_CM_128_HMAC_SHA1_80 --rtcp-mux \
	-n "$CALLS" -r "$RATE" --duration "$HOLD" --json >src.json 2>src.err
SRC_RC=$?
t1=$(date +%s%N)
s1=$(child_ticks)
c1=$(cpu_ticks $DPID)
z1=$(cpu0_ticks)
threads $DPID >threads.1
bdev_stat >bdev.1
if [ -n "$PERFPID" ]; then
	sleep "${PERF_TAIL:-0}"
	kill -INT $PERFPID
	wait $PERFPID
fi
kill -TERM $DPID
wait $DPID
STOP_RC=$?
DPID=""
python3 - "$CALLS" "$RATE" "$(((c1 - c0) * 1000000 / HZ))" "$(((t1 - t0) / 1000))" "$SRC_RC" "$STOP_RC" "$HZ" \
	"$(((${z1% *} - ${z0% *}) * 1000000 / HZ))" "$(((${z1#* } - ${z0#* }) * 1000000 / HZ))" \
	"$(((s1 - s0) * 1000000 / HZ))" <<'PY'
import json, sys
calls, rate, cpu_us, wall_us, src_rc, stop_rc, hz, cpu0_us, cpu0_softirq_us, src_cpu_us = \
    map(int, sys.argv[1:])
d = json.load(open("src.json"))
ok = [c for c in d["calls"] if c["result"] == "ok" and c["setup_us"] > 0]
failed = [c for c in d["calls"] if c["result"] != "ok"]
lat = sorted(c["setup_us"] for c in ok)
def pct(p):
    return lat[min(len(lat) - 1, int(p / 100 * len(lat)))] / 1000 if lat else float("nan")
if ok:
    first = min(c["invite_at_us"] for c in ok)
    last = max(c["invite_at_us"] + c["setup_us"] for c in ok)
    achieved = len(ok) / ((last - first) / 1e6) if last > first else float("nan")
else:
    achieved = 0
print("RESULT setups ok %d of %d (failed %d), offered %d/s, achieved %.0f setups/s" %
      (len(ok), calls, len(failed), rate, achieved))
print("RESULT setup latency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f" %
      (pct(50), pct(90), pct(99), lat[-1] / 1000 if lat else float("nan")))
print("RESULT siprecd CPU %.0f us per call (setup + media + BYE + finalize; whole run, %.1f s wall)"
      % (cpu_us / max(1, calls), wall_us / 1e6))
print("RESULT CPU 0 busy %.0f%% of the run, %.0f us per call (softirq %.0f); siprecd's threads %.0f"
      % (100 * cpu0_us / max(1, wall_us), cpu0_us / max(1, calls), cpu0_softirq_us / max(1, calls),
         cpu_us / max(1, calls)))
def snap(name):
    t = {}
    for line in open(name):
        f = line.split()
        if len(f) == 8:
            # io_uring's workers are named by their own tid: one line for all of them
            comm = "iou-wrk" if f[1].startswith("(iou-wrk-") else f[1].strip("()")
            t[f[0]] = (comm, *map(int, f[2:8]))
    return t
t0, t1 = snap("threads.0"), snap("threads.1")
per = {}
for tid, (comm, *v1) in t1.items():
    v0 = t0.get(tid, (comm, 0, 0, 0, 0, 0, 0))[1:]
    c = per.setdefault(comm, [0] * 6)
    for i in range(6):
        c[i] += v1[i] - v0[i]
n = max(1, calls)
# The client's side: its CPU, and how late each INVITE left against its schedule (call i due
# i / rate after the first; invite_at_us counts from the schedule's start). A late INVITE's wait
# is not in its setup latency, but INVITEs sent late are sent together: a burst siprecd queues.
sent = [c["invite_at_us"] - i * 1e6 / rate for i, c in enumerate(d["calls"])
        if c["invite_at_us"] > 0 or i == 0]
late = sorted(max(0, x) for x in sent)
def lpct(p):
    return late[min(len(late) - 1, int(p / 100 * len(late)))] / 1000 if late else float("nan")
print("RESULT siprec-src CPU %.0f us per call (%.0f%% of CPU 1); INVITEs sent after their time "
      "p50 %.2f  p99 %.2f  max %.2f ms (the first %.2f)" %
      (src_cpu_us / max(1, calls), 100 * src_cpu_us / max(1, wall_us), lpct(50), lpct(99),
       lpct(100), max(0, sent[0]) / 1000 if sent else float("nan")))
print("RESULT siprecd per call by thread (CPU us / minor faults / sleeps): " + ", ".join(
    "%s %.0f/%.1f/%.1f" % (k, v[0] * 1e6 / hz / n, v[1] / n, v[2] / n) for k, v in
    sorted(per.items(), key=lambda kv: -kv[1][0]) if v[0] or v[2]))
# write(2)-family bytes and calls, read calls: the catalog's WAL (two pwrites a frame) and the
# checkpointer's copy show here; the media worker's io_uring writes do not (they do not pass
# through write(2), which keeps these counts).
print("RESULT siprecd per call by thread (KiB written / write calls / read calls): " + ", ".join(
    "%s %.1f/%.1f/%.2f" % (k, v[3] / 1024 / n, v[4] / n, v[5] / n) for k, v in
    sorted(per.items(), key=lambda kv: -kv[1][3]) if v[3] >= 1024 * n / 10))
# /sys/class/block/DEV/stat, fields from 0: writes completed (4), busy ms (9), flushes
# completed (15) and the ms they took (16).
try:
    b0 = [int(x) for x in open("bdev.0").read().split()]
    b1 = [int(x) for x in open("bdev.1").read().split()]
    dv = [y - x for x, y in zip(b0, b1)]
    if len(dv) >= 17:
        print("RESULT volume per call: %.2f writes, %.2f flushes (%.2f ms each), device busy %.0f%% of the run"
              % (dv[4] / n, dv[15] / n, dv[16] / max(1, dv[15]), 100 * dv[9] / (wall_us / 1000)))
except (OSError, ValueError):
    pass
# How the latency evolves over the run (a start-up transient, a growing queue, or spikes): the
# calls by when their INVITE was sent, in tenths of the run.
if ok:
    span = max(c["invite_at_us"] for c in ok) - first
    w = max(1, span // 10 + 1)
    parts = []
    for i in range(10):
        v = sorted(c["setup_us"] for c in ok if (c["invite_at_us"] - first) // w == i)
        if v:
            parts.append("%.1f/%.0f" % (v[len(v) // 2] / 1000, v[min(len(v) - 1, int(0.99 * len(v)))] / 1000))
    print("RESULT p50/p99 ms by tenth of the run (%.2f s each): %s" % (w / 1e6, " ".join(parts)))
print("   siprec-src exit %d, siprecd exit %d, late ticks %d, SIP errors %d" %
      (src_rc, stop_rc, d["totals"]["late_ticks"], d["totals"]["sip_errors"]))
# call i's INVITE left at this + its invite_at_us: set it against a trace's CLOCK_MONOTONIC
# timestamps (bpftrace's nsecs, perf's default clock) to see what siprecd did meanwhile
print("   run origin %d us on CLOCK_MONOTONIC" % d["totals"].get("t_run0_monotonic_us", 0))
for c in failed[:5]:
    print("   failed: %s %s %s" % (c["call_id"], c["status"], c["reason"]))
PY
grep -o 'catalog: [0-9]* operations applied in [0-9]* transactions' siprecd.log | sed 's/^/   /'
# siprecd's own account of where a set-up waited (logged at exit): each stage's n, p50, p99, max
sed -n 's/.*\(setup stages: .*\)/\1/p; s/.*catalog: \(barrier batches: .*\)/\1/p' siprecd.log |
	sed 's/; /\n      /g; s/^/   /'
if [ -f perf.data ]; then
	echo "-- siprecd profile (perf record -F 999 -g, self time, symbols >= 1.5%)"
	perf report -i perf.data --stdio --no-children --sort comm,dso,sym --percent-limit 1.5 \
		2>/dev/null | grep -E '^ +[0-9.]+%' | head -40
fi
[ $SRC_RC = 0 ] || exit 2
