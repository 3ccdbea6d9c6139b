#!/bin/sh
# SPDX-License-Identifier: MIT
# SIPREC call setup rate over TLS: siprecd pinned to CPU 0, siprec-src on CPU 1 placing CALLS
# recording calls at RATE new calls/s over one TLS connection (the way an SBC keeps a long-lived
# connection to its recorder), each a full SIPREC setup (multipart SDP + RFC 7865 metadata
# INVITE, SRTP SDES answer, ACK), a short SRTP stream on both legs and a BYE. Prints setups/s
# achieved (2xx received per second of the offered span), the setup latency (INVITE sent ->
# 2xx received, per call, from siprec-src's --json) p50/p99/max, and siprecd's CPU per call.
# Nothing is asserted: this is a measurement.
#
# usage: bench/setup-rate.sh [--calls N] [--rate R] [--tls-version 1.2|1.3] [--hold DUR]
#                            [--profile]
# --hold: each call's length after the answer (default 200ms: ten packets a stream).
# --profile: perf record -g (PERF_CG="--call-graph dwarf" for user stacks without frame
#            pointers) of siprecd during the run; prints the top symbols and keeps
#            perf.data in the kept output directory (KEEP=1 keeps it).
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
CALLS=5000 RATE=1000 TLSV=1.3 HOLD=200ms PROFILE=0
while [ $# -gt 0 ]; do
	case "$1" in
	--calls) CALLS=$2; shift ;;
	--rate) RATE=$2; shift ;;
	--tls-version) TLSV=$2; shift ;;
	--hold) HOLD=$2; shift ;;
	--profile) PROFILE=1 ;;
	*) echo "usage: $0 [--calls N] [--rate R] [--tls-version V] [--hold DUR] [--profile]" >&2; exit 1 ;;
	esac
	shift
done
for c in taskset python3; do
	command -v $c >/dev/null 2>&1 || { echo "SKIP: $c not installed"; exit 77; }
done
[ "$(nproc)" -ge 2 ] || { echo "SKIP: needs 2 CPUs"; exit 77; }
for b in siprecd siprec-src; do
	[ -x "$BUILD/$b" ] || { echo "setup-rate: $BUILD/$b not built"; exit 1; }
done
# A private network namespace: its loopback carries only this benchmark's traffic.
if [ -z "${SETUP_NETNS:-}" ] && command -v unshare >/dev/null 2>&1 && unshare -n true 2>/dev/null; then
	SETUP_NETNS=1 exec unshare -n sh -c 'ip link set lo up && exec sh "$0" "$@"' "$0" \
		--calls "$CALLS" --rate "$RATE" --tls-version "$TLSV" --hold "$HOLD" \
		$([ $PROFILE = 1 ] && echo --profile)
fi
OUT=$(mktemp -d /var/tmp/siprecd-setup.XXXXXX)
DPID=""
cleanup() {
	[ -n "$DPID" ] && kill -9 "$DPID" 2>/dev/null
	[ -n "${KEEP:-}" ] && echo "(results kept in $OUT)" || rm -rf "$OUT"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
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
STATE_DIRECTORY=$OUT/state RUNTIME_DIRECTORY=$OUT/run $PRIO taskset -c 0 "$BUILD/siprecd" \
	--config siprecd.conf >siprecd.log 2>&1 &
DPID=$!
i=0
until [ -s state/tls/cert.pem ] && grep -q "ready" siprecd.log 2>/dev/null || [ $i -ge 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
[ -s state/tls/cert.pem ] || { echo "setup-rate: siprecd did not start"; tail siprecd.log; exit 1; }

echo "== setup-rate: $(date -u +%FT%TZ) $(uname -r), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "   $CALLS calls at $RATE/s over TLS $TLSV (one connection), SRTP AES_CM_128_HMAC_SHA1_80, hold $HOLD;"
echo "   siprecd CPU 0 (MEDIA_WORKERS=1), siprec-src CPU 1, private network namespace"
c0=$(cpu_ticks $DPID)
PERFPID=""
if [ $PROFILE = 1 ] && command -v perf >/dev/null 2>&1; then
	perf record -F 999 ${PERF_CG:--g} -o perf.data -p $DPID >perf.log 2>&1 &
	PERFPID=$!
fi
t0=$(date +%s%N)
$SRC_PRIO taskset -c 1 "$BUILD/siprec-src" -q -t tls -s 127.0.0.1:"$tport" --ca state/tls/cert.pem \
	--sni localhost --tls-version "$TLSV" --srtp AES_CM_128_HMAC_SHA1_80 --rtcp-mux \
	-n "$CALLS" -r "$RATE" --duration "$HOLD" --json >src.json 2>src.err
SRC_RC=$?
t1=$(date +%s%N)
c1=$(cpu_ticks $DPID)
if [ -n "$PERFPID" ]; then
	kill -INT $PERFPID
	wait $PERFPID
fi
kill -TERM $DPID
wait $DPID
STOP_RC=$?
DPID=""
python3 - "$CALLS" "$RATE" "$(((c1 - c0) * 1000000 / HZ))" "$(((t1 - t0) / 1000))" "$SRC_RC" "$STOP_RC" <<'PY'
import json, sys
calls, rate, cpu_us, wall_us, src_rc, stop_rc = map(int, sys.argv[1:])
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
print("   siprec-src exit %d, siprecd exit %d, late ticks %d, SIP errors %d" %
      (src_rc, stop_rc, d["totals"]["late_ticks"], d["totals"]["sip_errors"]))
for c in failed[:5]:
    print("   failed: %s %s %s" % (c["call_id"], c["status"], c["reason"]))
PY
if [ -f perf.data ]; then
	echo "-- siprecd profile (perf record -F 999 -g, self time, symbols >= 1.5%)"
	perf report -i perf.data --stdio --no-children --sort comm,dso,sym --percent-limit 1.5 \
		2>/dev/null | grep -E '^ +[0-9.]+%' | head -40
fi
[ $SRC_RC = 0 ] || exit 2
