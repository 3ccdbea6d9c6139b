#!/bin/sh
# SPDX-License-Identifier: MIT
# ktls-flow-init.sh - runs inside the kTLS VM (tests/vm/ktls-flow-test.sh boots it through
# run-in-vm.sh, busybox userland): siprecd's SIP backpressure (docs/SIP.md, "Send queues and
# backpressure") on connections whose TX and RX the kernel holds. MAX_SEND_QUEUE_MESSAGES=32
# (throttled past 16 queued, read again at 8) and small TCP buffers, so that queues form at
# the emulated VM's pace:
#  1. siprec-src places CALLS calls over TLS 1.3 and siprecd is stopped (SIGSTOP) for STOP_SECONDS
#     while they start: the INVITEs that waited are answered at once (100 Trying, or 503 past
#     the INVITE rate limit) and the connection is throttled (its multishot recv cancelled) and
#     read again (re-armed). Every call is set up or refused with a SIP status, the connection
#     is never closed, and every packet sent is in a finalized recording. The rate limit (8 at
#     once, 2/s) bounds the 200 OKs still to come for INVITEs taken, which the throttle does
#     not hold back: without it their burst passes the cap (docs/SIP.md).
#  2. sip-tls-pipeline pipelines OPTIONS over TLS 1.2 and over TLS 1.3, reading nothing until its
#     writes find the socket full (siprecd throttled, its kernel-TLS sends on a full socket),
#     then reads: every request is answered 200 on the connection that was throttled.
#  3. sip-tls-pipeline over TLS 1.3 never reads: its throttled queue takes nothing for
#     SIP_MESSAGE_TIMEOUT and siprecd closes it (send_stalled), with its address logged.
#  4. sip-tls-pipeline over TLS 1.2 and 1.3 sends 12 OPTIONS and half-closes (a close_notify
#     then FIN: the kernel reports the alert record; a FIN alone: recv returns 0): all 12 are
#     answered and siprecd then closes the connection (docs/SIP.md "Half-closed connections"),
#     its close_notify first, an alert record the kernel writes (docs/TLS.md "Closing").
# Each throttled connection is matched by its address with siprecd's "kTLS tx=kernel
# rx=kernel" line and its throttle lines say the kernel TLS recv was cancelled and re-armed.
# Exit 0 pass, 1 fail.
cd /testdir || exit 1
. ./init-lib.sh
CALLS=${CALLS:-40} RATE=${RATE:-20} DUR=${CALL_SECONDS:-1} STOP=${STOP_SECONDS:-2}
OPTS=${OPTIONS_N:-1500}
stat_of() { awk -v k="$1" '$1 == k { print $2 }' /proc/net/tls_stat; }
metric() {
	wget -qO- http://127.0.0.1:9100/metrics | awk -v k="$1" '$1 == k { print int($2) }'
}
LOG=/tmp/siprecd.log
up() { echo "-- uptime $(cut -d' ' -f1 /proc/uptime) s"; }
# check_conn PEER VERSION: siprecd's kernel took both directions of PEER's connection, and the
# connection was throttled with its kernel-TLS recv cancelled, and read again.
check_conn() {
	if grep -qE "tls: connection from $1: TLSv$2 .*kTLS tx=kernel rx=kernel" $LOG; then
		ok "$1: TLS $2 with kTLS TX and RX"
	else
		bad "$1: not TLS $2 with kTLS TX and RX"; grep "tls: connection from $1:" $LOG
	fi
	n=$(grep -c "SIP tls from $1: throttled (multishot recv cancelled), .* read by kernel TLS recv" $LOG)
	[ "$n" -ge 1 ] && ok "$1: throttled $n times with its kernel-TLS recv cancelled" ||
		bad "$1: never throttled with its kernel-TLS recv cancelled"
	n=$(grep -c "SIP tls from $1: read again, .* read by kernel TLS recv" $LOG)
	[ "$n" -ge 1 ] && ok "$1: read again $n times" || bad "$1: never read again"
}

export STATE_DIRECTORY=/tmp/state RUNTIME_DIRECTORY=/tmp/run
cat >/tmp/siprecd.conf <<CFG
SIP_LISTEN_ADDRESS=127.0.0.1
SIP_PORT=5060
TLS_PORT=5061
LOG_TARGET=stderr
LOG_LEVEL=debug
METRICS_LISTEN=127.0.0.1:9100
MAX_SEND_QUEUE_MESSAGES=32
SIP_TRYING_DELAY=0
INVITE_BURST_PER_SOURCE=8
INVITE_RATE_PER_SOURCE=2
SIP_MESSAGE_TIMEOUT=4s
FLUSH_INTERVAL=200ms
CFG
[ -r /proc/net/tls_stat ] || { echo "no /proc/net/tls_stat: tls.ko not loaded"; exit 1; }
# Socket buffers of at most 64 KiB: a peer that does not read fills them in a few hundred
# responses, which the emulated CPU answers in about a second.
echo "4096 16384 65536" >/proc/sys/net/ipv4/tcp_rmem
echo "4096 16384 65536" >/proc/sys/net/ipv4/tcp_wmem

start_siprecd /tmp/siprecd.conf $LOG
grep -q 'kernel TLS available' $LOG || bad "siprecd says kernel TLS is unavailable in the kTLS VM"
TX0=$(stat_of TlsTxSw) RX0=$(stat_of TlsRxSw) DE0=$(stat_of TlsDecryptError)

up; echo "== 1: $CALLS calls over TLS 1.3, siprecd stopped $STOP s as they start"
./siprec-src -t tls --ca /tmp/state/tls/cert.pem --sni localhost --tls-version 1.3 \
	-n "$CALLS" -r "$RATE" --duration "$DUR" --json -q 127.0.0.1:5061 >/tmp/src.json 2>/tmp/src.err &
SRC=$!
i=0
while ! grep -q 'SIPREC_EVENT=session-started' $LOG; do
	i=$((i + 1)); [ $i -gt 300 ] && break; sleep 0.1
done
kill -STOP $PID
sleep "$STOP"
kill -CONT $PID
wait $SRC
rc=$?
cat /tmp/src.err
./jq -r '.calls[] | "\(.result) \(.status) \(.reason)"' /tmp/src.json | sort | uniq -c
[ "$(./jq '.calls | length' /tmp/src.json)" = "$CALLS" ] && ok "$CALLS calls reported" || bad "calls reported: $(./jq '.calls | length' /tmp/src.json)"
lost=$(./jq '[.calls[] | select(.reason == "connection lost")] | length' /tmp/src.json)
[ "$lost" = 0 ] && ok "no call lost with the connection" || bad "$lost calls lost with the connection"
nost=$(./jq '[.calls[] | select(.result != "ok" and (.status < 300))] | length' /tmp/src.json)
[ "$nost" = 0 ] && ok "every call set up or refused with a SIP status" || bad "$nost calls neither set up nor refused with a SIP status"
NOK=$(./jq '[.calls[] | select(.result == "ok")] | length' /tmp/src.json)
[ "$NOK" -gt 0 ] && ok "$NOK calls set up" || bad "no call set up"
grep -q 'SIP connection:' /tmp/src.err && bad "siprec-src saw a connection error" || ok "siprec-src saw no connection error"
peers=$(sed -n 's/.*SIP tls from \([0-9.]*:[0-9]*\): throttled.*/\1/p' $LOG | sort -u)
[ -n "$peers" ] || bad "the calls' connection was never throttled: the stop queued too little to test this"
for p in $peers; do check_conn "$p" 1.3; done
T1=$(metric siprecd_sip_throttled_total)
echo "siprecd_sip_throttled_total $T1"

for v in 1.2 1.3; do
	up; echo "== 2: $OPTS OPTIONS pipelined over TLS $v, read once the socket is full"
	./sip-tls-pipeline 5061 $v read "$OPTS" 2000 >/tmp/pl-$v.out 2>&1
	rc=$?
	cat /tmp/pl-$v.out
	peer=$(sed -n 's/^local //p' /tmp/pl-$v.out)
	[ $rc -eq 0 ] && ok "TLS $v: all $OPTS OPTIONS answered 200 on one connection" || bad "TLS $v: pipeline exit $rc"
	grep -q '^writes blocked before reading: yes' /tmp/pl-$v.out &&
		ok "TLS $v: siprecd stopped reading while its responses waited" ||
		bad "TLS $v: the writes never found the socket full: nothing throttled them"
	check_conn "$peer" $v
done
[ "$(metric siprecd_sip_throttled_connections)" = 0 ] && ok "no connection throttled now" || bad "a connection is still throttled"

up; echo "== 3: a peer that never reads, over TLS 1.3"
./sip-tls-pipeline 5061 1.3 noread >/tmp/nr.out 2>&1
rc=$?
cat /tmp/nr.out
peer=$(sed -n 's/^local //p' /tmp/nr.out)
[ $rc -eq 0 ] && ok "the non-reader was closed by siprecd" || bad "the non-reader was not closed (exit $rc)"
if grep -qE "tls: connection from $peer: TLSv1.3 .*kTLS tx=kernel rx=kernel" $LOG; then
	ok "$peer: TLS 1.3 with kTLS TX and RX"
else
	bad "$peer: not TLS 1.3 with kTLS TX and RX"
fi
grep -q "SIP tls from $peer: throttled .* read by kernel TLS recv" $LOG &&
	ok "$peer: throttled" || bad "$peer: never throttled"
grep "SIP tls from $peer refused" $LOG
grep -q "SIP tls from $peer refused: peer does not read its responses (send queue made no progress" $LOG &&
	ok "closed for its stalled queue, logged with its address" || bad "no stalled-queue refusal logged for $peer"
grep -q 'send queue full' $LOG && bad "a connection was closed at a send queue cap" || ok "no connection closed at a cap"
wget -qO- http://127.0.0.1:9100/metrics | grep -E '^siprecd_sip_(throttled|refused_total\{reason="send)'
[ "$(metric 'siprecd_sip_refused_total{reason="send_stalled"}')" = 1 ] && ok "one connection refused as stalled" || bad "send_stalled is not 1"
[ "$(metric 'siprecd_sip_refused_total{reason="send_queue"}')" = 0 ] && ok "none refused at a cap" || bad "send_queue is not 0"
[ "$(metric siprecd_sip_throttled_connections)" = 0 ] && ok "no connection throttled at the end" || bad "a connection is still throttled at the end"

for v in 1.2 1.3; do
	for how in notify fin; do
		up; echo "== 4: 12 OPTIONS over TLS $v, then a half-close ($how)"
		./sip-tls-pipeline 5061 $v halfclose 12 $how >/tmp/hc.out 2>&1
		rc=$?
		cat /tmp/hc.out
		peer=$(sed -n 's/^local //p' /tmp/hc.out)
		[ $rc -eq 0 ] && ok "TLS $v, $how: all 12 answered after the half-close, then closed" ||
			bad "TLS $v, $how: half-close exit $rc"
		grep -qE "tls: connection from $peer: TLSv$v .*kTLS tx=kernel rx=kernel" $LOG &&
			ok "$peer: TLS $v with kTLS TX and RX" || bad "$peer: not TLS $v with kTLS TX and RX"
		# siprecd's close_notify, sent by the kernel as an alert control record (docs/TLS.md)
		grep -q 'then closed by the server (its close_notify)' /tmp/hc.out &&
			ok "TLS $v, $how: siprecd's close_notify (kernel TX) before its FIN" ||
			bad "TLS $v, $how: no close_notify from siprecd"
	done
done
n=$(grep -c 'SIP tls connection: peer closed its side' $LOG)
[ "$n" -ge 4 ] && ok "siprecd saw $n half-closes" || bad "siprecd saw $n half-closes, not 4"

up
kill -TERM $PID
wait $PID
rc=$?
[ $rc -eq 0 ] && ok "siprecd exit status 0" || bad "siprecd exit status $rc"

NCONN=8
TX1=$(stat_of TlsTxSw) RX1=$(stat_of TlsRxSw) DE1=$(stat_of TlsDecryptError)
echo "tls_stat TlsTxSw $TX0 -> $TX1, TlsRxSw $RX0 -> $RX1, TlsDecryptError $DE0 -> $DE1"
[ $((TX1 - TX0)) -eq $NCONN ] && ok "TlsTxSw grew by $NCONN" || bad "TlsTxSw grew by $((TX1 - TX0)), not $NCONN"
[ $((RX1 - RX0)) -eq $NCONN ] && ok "TlsRxSw grew by $NCONN" || bad "TlsRxSw grew by $((RX1 - RX0)), not $NCONN"
[ "$DE1" = "$DE0" ] && ok "no decrypt errors" || bad "TlsDecryptError grew"

# The calls' recordings: every packet siprec-src sent is a frame of a finalized recording.
sent=$(./jq '[.calls[] | select(.result == "ok") | .streams[].packets] | add' /tmp/src.json)
frames=$(./sqlite3 -readonly /tmp/state/catalog.db "SELECT sum(frames) FROM recordings WHERE state = 'final'")
counted=$(./sqlite3 -readonly /tmp/state/catalog.db "SELECT sum(packets) FROM streams")
nfinal=$(./sqlite3 -readonly /tmp/state/catalog.db "SELECT count(*) FROM recordings WHERE state = 'final' AND complete = 1")
echo "sent $sent packets, streams counted $counted, frames in final recordings $frames"
[ "$nfinal" -eq $((2 * NOK)) ] && ok "$nfinal recordings final and complete" || bad "$nfinal recordings final and complete, not $((2 * NOK))"
[ -n "$sent" ] && [ "$sent" -gt 0 ] && [ "$frames" = "$sent" ] && [ "$counted" = "$sent" ] &&
	ok "nothing lost: $sent packets sent = counted = frames recorded" ||
	bad "lost packets: sent $sent, counted $counted, frames recorded $frames"

if [ $fails -ne 0 ]; then
	echo "--- siprecd log"
	grep -E 'SIP tls|tls: |refused|send |closing|warning|error' $LOG | head -n 150
	echo "$fails check(s) failed"
	exit 1
fi
echo "all checks passed"
exit 0
