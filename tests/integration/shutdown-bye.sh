#!/bin/sh
# SPDX-License-Identifier: MIT
# A graceful stop tells the SRC (docs/SIP.md): with calls in progress over UDP, TCP and TLS,
# SIGTERM makes siprecd send a BYE for each live session over the transport the call came in
# on, before it closes that transport. siprec-src sees "BYE from server" for every call, the
# daemon exits 0, and every recording is final and complete with end_reason 'shutdown'.
# Then an SRC that never answers its BYE: the stop waits for it no longer than
# SHUTDOWN_BYE_TIMEOUT.
. "${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib.sh"
need sqlite3 jq python3

SRC=$BUILD/siprec-src
CTL=$BUILD/siprecctl
WAV=$SRCDIR/tests/data/audio/speech-stereo-8k.wav
N=3
SRC_WRAP="timeout 60"
export SIPRECD_CONTROL=$T/run/control

# confirmed: the number of sessions the daemon holds as confirmed (ACKed).
confirmed() { $CTL --json sessions 2>/dev/null | jq '[.sessions[] | select(.state == "confirmed")] | length'; }

# calls TRANSPORT PORT [ARGS...]: $N concurrent calls from siprec-src in the background, then
# waits until the daemon holds all $N as confirmed (20 s at most).
calls() {
	tr=$1
	port=$2
	shift 2
	$SRC_WRAP $SRC -q --json -t "$tr" "$@" --no-srtp --wav "$WAV" --loop --duration 30 \
		-n "$N" -r 50 "127.0.0.1:$port" >"$T/src-$tr.json" 2>"$T/src-$tr.err" &
	SRC_PID=$!
	BG_PIDS="$BG_PIDS $SRC_PID"
	i=0
	while [ "$(confirmed)" != "$N" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
	check_eq "$tr: $N calls confirmed before the stop" "$N" "$(confirmed)"
}

# by_server TRANSPORT: the calls siprec-src reports as ended by the server's BYE.
by_server() {
	jq '[.calls[] | select(.reason | startswith("BYE from server"))] | length' "$T/src-$1.json" 2>/dev/null
}

start_siprecd
CERT=$T/state/tls/cert.pem
for tr in udp tcp tls; do
	case $tr in
	tls) calls tls "$TLS_PORT" --ca "$CERT" --sni localhost ;;
	*) calls "$tr" "$SIP_PORT" ;;
	esac
	stop_siprecd
	check_eq "$tr: siprecd exits 0 after SIGTERM" 0 "$STOP_RC"
	echo "# $tr: SIGTERM to exit with $N live calls: $STOP_MS ms (wall clock, shared machine)"
	wait "$SRC_PID"
	check_eq "$tr: siprec-src saw a BYE from the server for each call" "$N" "$(by_server "$tr")"
	check_eq "$tr: every session ended by the shutdown" "$N" \
		"$(catalog "SELECT count(*) FROM sessions WHERE state = 'ended' AND end_reason = 'shutdown'")"
	check_eq "$tr: their recordings final and complete" "$((2 * N)) 0" \
		"$(catalog "SELECT count(*) || ' ' || count(*) FILTER (WHERE r.state != 'final' OR r.complete != 1) FROM recordings r JOIN sessions s ON s.id = r.session_id WHERE s.end_reason = 'shutdown'")"
	# (the next round counts its own sessions)
	catalog "UPDATE sessions SET end_reason = 'shutdown-seen' WHERE end_reason = 'shutdown'"
	[ $tr = tls ] || start_siprecd
done

# An SRC that never answers its BYE (a UDP peer that stopped reading): the stop waits for the
# answer at most SHUTDOWN_BYE_TIMEOUT, then exits anyway with the recordings sealed.
echo "SHUTDOWN_BYE_TIMEOUT=1s" >>"$CONF"
start_siprecd
SRC_WRAP="" # SRC_PID is siprec-src itself, to stop it
calls udp "$SIP_PORT"
kill -STOP "$SRC_PID"
stop_siprecd
check_eq "silent SRC: siprecd exits 0 after SIGTERM" 0 "$STOP_RC"
echo "# silent SRC: SIGTERM to exit: $STOP_MS ms with SHUTDOWN_BYE_TIMEOUT=1s (wall clock)"
check "silent SRC: ... once the BYE timeout passed (log)" \
	grep -q "BYE.* unanswered after" "$T/siprecd.log"
kill -CONT "$SRC_PID"
kill "$SRC_PID" 2>/dev/null
wait "$SRC_PID" 2>/dev/null
check_eq "silent SRC: every session ended by the shutdown, recordings final" "$N 0" \
	"$(catalog "SELECT count(*) FILTER (WHERE end_reason = 'shutdown') || ' ' || (SELECT count(*) FROM recordings WHERE state != 'final') FROM sessions")"
finish
