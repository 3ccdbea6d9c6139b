# SPDX-License-Identifier: MIT
# Shared helpers for integration tests: a private state directory on a real filesystem (O_DIRECT
# needs one: not tmpfs), free loopback ports, starting siprecd with a notify socket it reports
# READY to, stopping it and checking its exit status, and assertions that count failures.
# Source it from a test: . "$SRCDIR/tests/integration/lib.sh"

set -u
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD=$SRCDIR/$BUILD ;; esac
SIPRECD=$BUILD/siprecd
T=$(mktemp -d /var/tmp/siprecd-test.XXXXXX)
fails=0
DAEMON_PID=""
NOTIFY_PID=""
BG_PIDS=""

cleanup() {
	for p in $DAEMON_PID $NOTIFY_PID $BG_PIDS; do
		{ kill -9 "$p" && wait "$p"; } 2>/dev/null
	done
	if [ $fails -eq 0 ] && [ -z "${KEEP:-}" ]; then rm -rf "$T"; else echo "(state kept in $T)"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() { echo "ok - $*"; }
bad() { echo "not ok - $*"; fails=$((fails + 1)); }
skip() { echo "SKIP: $*"; exit 77; }
# skip_part ID REASON: part of this test is left out while the rest runs; tests/run.sh lists it
# as a skip (and CI fails on it unless tests/skip-allow.txt explains it for this build).
skip_part() { echo "SKIP-PART $1: $2"; }
need() { for c in "$@"; do command -v "$c" >/dev/null 2>&1 || skip "$c not installed"; done; }
# check DESCRIPTION COMMAND...: passes when the command succeeds.
check() {
	d=$1
	shift
	if "$@" >/dev/null 2>&1; then ok "$d"; else bad "$d"; fi
}
# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() {
	if [ "$2" = "$3" ]; then ok "$1 ($3)"; else bad "$1: expected '$2', got '$3'"; fi
}
finish() {
	if [ $fails -eq 0 ]; then echo "all checks passed"; exit 0; fi
	echo "$fails check(s) failed"
	[ -f "$T/siprecd.log" ] && { echo "--- siprecd log (tail)"; tail -n 40 "$T/siprecd.log"; }
	exit 1
}

# media_range SIZE: the first port of a media range of SIZE ports of this test run's own, so
# tests never collide, below the kernel's ephemeral range (ip_local_port_range) with 1,000 ports
# to spare for tests that widen it. The SRCs' own sockets (siprec-src, sipp) bind ephemeral
# ports: one inside siprecd's range takes a port siprecd counted on, and media-ring-dry, which
# gives its calls exactly the ports they need, lost a call so now and then.
media_range() {
	eph=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
	[ "${eph:-0}" -ge $((11000 + $1)) ] || eph=32768
	echo $((10000 + ($$ % ((eph - 11000) / $1)) * $1))
}
RTP_MIN=$(media_range 20)
RTP_MAX=$((RTP_MIN + 19))

# A free port on 127.0.0.1 for TCP and UDP alike (asked of the kernel, then released). The kernel
# may hand a released port out again, so every port given to this test is written to $T/ports and
# never given twice, and none falls inside the test's media range.
free_port() {
	python3 - "$T/ports" "$RTP_MIN" "$RTP_MAX" <<'PY'
import fcntl, socket, sys
path, lo, hi = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "a+") as f:
    fcntl.flock(f, fcntl.LOCK_EX)
    f.seek(0)
    used = {int(x) for x in f.read().split()}
    while True:
        t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            if p in used or lo <= p <= hi:
                continue
            u.bind(("127.0.0.1", p))
            f.write("%d\n" % p)
            print(p)
            break
        except OSError:
            pass
        finally:
            t.close(); u.close()
PY
}

SIP_PORT=$(free_port)
TLS_PORT=$(free_port)
CONF=$T/siprecd.conf
cat >"$CONF" <<CFG
SIP_LISTEN_ADDRESS=127.0.0.1
SIP_PORT=$SIP_PORT
TLS_PORT=$TLS_PORT
RTP_PORT_MIN=$RTP_MIN
RTP_PORT_MAX=$RTP_MAX
MAX_STREAMS_PER_SESSION=8
FLUSH_INTERVAL=200ms
LOG_TARGET=stderr
LOG_LEVEL=debug
CFG
export STATE_DIRECTORY=$T/state RUNTIME_DIRECTORY=$T/run
unset NOTIFY_SOCKET LISTEN_FDS LISTEN_PID LISTEN_FDNAMES WATCHDOG_USEC JOURNAL_STREAM INVOCATION_ID

# media_ports SIZE: gives this test a media range of SIZE ports of its own (media_range) in place
# of the default 20, in $CONF and in RTP_MIN/RTP_MAX, which free_port keeps out of its answers.
media_ports() {
	RTP_MIN=$(media_range "$1")
	RTP_MAX=$((RTP_MIN + $1 - 1))
	sed -i -e "s/^RTP_PORT_MIN=.*/RTP_PORT_MIN=$RTP_MIN/" -e "s/^RTP_PORT_MAX=.*/RTP_PORT_MAX=$RTP_MAX/" "$CONF"
}

# Starts a listener on $T/notify that appends every datagram to $T/notify.log.
notify_listen() {
	[ -n "$NOTIFY_PID" ] && { kill "$NOTIFY_PID" && wait "$NOTIFY_PID"; } 2>/dev/null
	rm -f "$T/notify" "$T/notify.log"
	python3 -u - "$T/notify" "$T/notify.log" <<'PY' >/dev/null 2>&1 &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as f:
    while True:
        d = s.recv(65536)
        f.write(d.decode(errors="replace").replace("\n", "|") + "\n"); f.flush()
PY
	NOTIFY_PID=$!
	i=0
	while [ ! -S "$T/notify" ] && [ $i -lt 50 ]; do sleep 0.05; i=$((i + 1)); done
}

# wait_for FILE REGEX [TIMEOUT_S]
wait_for() {
	i=0
	lim=$((${3:-10} * 20))
	while [ $i -lt $lim ]; do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}

# sclient_request OUT SECONDS [s_client args...]: sends standard input (a SIP request, CRLF line
# ends) through openssl s_client to 127.0.0.1:$TLS_PORT and writes what came back to OUT. The
# request's writer keeps s_client's input open until an answer has come or s_client has ended (a
# refused handshake), SECONDS at most; then its EOF ends s_client (-no_ign_eof). Returns 0 when
# the answer is a 200.
sclient_request() {
	_o=$1
	_lim=$(($2 * 20))
	_secs=$2
	shift 2
	rm -f "$_o" "$_o.done"
	(cat
		_i=0
		while [ $_i -lt $_lim ] && [ ! -e "$_o.done" ] && ! grep -q '^SIP/2.0 ' "$_o" 2>/dev/null; do
			sleep 0.05
			_i=$((_i + 1))
		done) |
		{
			timeout "$_secs" openssl s_client -quiet -no_ign_eof -nocommands \
				-connect "127.0.0.1:$TLS_PORT" "$@" >"$_o" 2>&1
			: >"$_o.done"
		}
	grep -q '^SIP/2.0 200' "$_o"
}

# recordings_growing DIR N [TIMEOUT_S]: waits (10 s by default) until N recording files in
# DIR/*/ have a chunk beyond their header (the "SRCK" at 4 KiB), then prints how many have.
recordings_growing() {
	_lim=$((${3:-10} * 20))
	_i=0
	while :; do
		_n=0
		for _f in "$1"/*/*.siprec; do
			[ -f "$_f" ] && [ "$(dd if="$_f" bs=4 skip=1024 count=1 2>/dev/null | tr -d '\000')" = SRCK ] &&
				_n=$((_n + 1))
		done
		[ "$_n" -ge "$2" ] || [ $_i -ge $_lim ] && break
		sleep 0.05
		_i=$((_i + 1))
	done
	echo "$_n"
}

# The health checks as an operator reads them (siprecctl status; $MPORT: METRICS_LISTEN's port).
# health_msg CHECK: its "status: message"; wait_health CHECK REGEX: up to 10 s for it to match;
# metric_up: siprecd_up; http_health: GET /health's status code.
health_msg() {
	"$BUILD/siprecctl" -c "$CONF" --json status 2>/dev/null |
		jq -r ".health.checks[] | select(.name == \"$1\") | .status + \": \" + .message"
}
wait_health() {
	_i=0
	while [ $_i -lt 100 ]; do
		health_msg "$1" | grep -qE "$2" && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	echo "# $1: $(health_msg "$1")"
	return 1
}
metric_up() { curl -s "http://127.0.0.1:$MPORT/metrics" | sed -n 's/^siprecd_up //p'; }
http_health() { curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/health"; }

# start_siprecd [extra env assignments...]: starts the daemon, waits for READY=1.
start_siprecd() {
	notify_listen
	env NOTIFY_SOCKET="$T/notify" "$@" $SIPRECD_WRAPPER "$SIPRECD" --config "$CONF" \
		>>"$T/siprecd.log" 2>&1 &
	DAEMON_PID=$!
	if wait_for "$T/notify.log" 'READY=1' 15; then return 0; fi
	bad "siprecd did not report READY=1"
	cat "$T/siprecd.log"
	finish
}
SIPRECD_WRAPPER=${SIPRECD_WRAPPER:-}

# stop_siprecd: SIGTERM, waits up to 5 s, sets STOP_RC and STOP_MS.
stop_siprecd() {
	t0=$(date +%s%N)
	kill -TERM "$DAEMON_PID"
	wait "$DAEMON_PID"
	STOP_RC=$?
	STOP_MS=$((($(date +%s%N) - t0) / 1000000))
	DAEMON_PID=""
}

catalog() { sqlite3 "$T/state/catalog.db" "$@"; }

# src_steady JSON ERR CMD...: runs CMD (a siprec-src with --json) with stdout to JSON and stderr
# to ERR; returns its exit status. A generator the machine stalls past its catch-up drops 20 ms
# ticks (totals.late_ticks) and sends fewer packets than its WAV holds: not what a test comparing
# the recording with the WAV is about, so such a call is placed again, up to three times, and
# said so.
src_steady() {
	_json=$1 _err=$2
	shift 2
	_try=0
	while :; do
		"$@" >"$_json" 2>"$_err"
		_rc=$?
		_late=$(jq '.totals.late_ticks' "$_json" 2>/dev/null)
		_try=$((_try + 1))
		[ $_rc -eq 0 ] && [ "${_late:-0}" -gt 0 ] && [ $_try -lt 3 ] || return $_rc
		echo "# siprec-src was stalled ($_late ticks dropped): placing the call again"
	done
}

# sipp_run NAME ARGS...: runs sipp against the daemon with a timeout; returns its status.
sipp_run() {
	name=$1
	shift
	(cd "$T" && timeout 60 sipp 127.0.0.1:"$SIP_PORT" -i 127.0.0.1 -p "$(free_port)" \
		-timeout 30s -timeout_error -nostdin -trace_err "$@" >"$T/sipp-$name.out" 2>&1)
	rc=$?
	[ $rc -eq 0 ] || { echo "--- sipp $name (exit $rc)"; tail -n 20 "$T/sipp-$name.out"; cat "$T"/*_errors.log 2>/dev/null | tail -n 30; }
	return $rc
}
