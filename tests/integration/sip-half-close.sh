#!/bin/sh
# SPDX-License-Identifier: MIT
# Peers that send their requests and then shut their write side, still reading (nc -N, scripts,
# an SRC closing its side after its BYE), over TCP and TLS (close_notify then FIN, and FIN
# alone): an OPTIONS is answered, 50 pipelined OPTIONS are all answered, an INVITE (a SIPREC
# offer) gets its 200 once its catalog rows are durable, and siprecd closes the connection once
# nothing is queued or owed on it. The call set up so is ACKed and ended by a BYE on a new
# connection (TCP), or ended by siprecd's stop with no BYE (TLS: its dialog's connection is
# gone). A half-closed peer that never reads is closed within SIP_MESSAGE_TIMEOUT.
. "$SRCDIR/tests/integration/lib.sh"
need python3 sqlite3
HC="python3 $SRCDIR/tests/helpers/sip-halfclose.py"
MPORT=$(free_port)
cat >>"$CONF" <<CFG
SIP_MESSAGE_TIMEOUT=2s
METRICS_LISTEN=127.0.0.1:$MPORT
MAX_SEND_QUEUE=67108864
MAX_SEND_QUEUE_MESSAGES=65536
CFG
metrics() {
	python3 -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$MPORT/metrics', timeout=5).read().decode())"
}
start_siprecd

for kind in tcp tls tls-fin; do
	case $kind in
	tcp) tr=tcp port=$SIP_PORT close=fin ;;
	tls) tr=tls port=$TLS_PORT close=notify ;;
	tls-fin) tr=tls port=$TLS_PORT close=fin ;;
	esac
	$HC $tr $port options 1 --close $close >"$T/opt1-$kind.out" 2>&1
	check_eq "$kind: OPTIONS then half-close: answered, then closed" "response 200 OPTIONS|eof" \
		"$(awk '{print $1 ($2 ? " " $2 " " $3 : "")}' "$T/opt1-$kind.out" | paste -sd'|')"
	$HC $tr $port options 50 --close $close >"$T/opt50-$kind.out" 2>&1
	check_eq "$kind: 50 pipelined OPTIONS then half-close: all answered" 50 \
		"$(grep -c '^response 200 OPTIONS' "$T/opt50-$kind.out")"
	check_eq "$kind: ... then closed" eof "$(tail -n 1 "$T/opt50-$kind.out")"
done

# An INVITE then half-close: its 200 (with the SDP answer) comes once the recording is ready.
for kind in tcp tls; do
	case $kind in
	tcp) port=$SIP_PORT ;;
	tls) port=$TLS_PORT ;;
	esac
	$HC $kind $port invite "hc-call-$kind" >"$T/inv-$kind.out" 2>&1
	cat "$T/inv-$kind.out"
	check "$kind: INVITE then half-close: 200 with SDP" grep -q "^response 200 INVITE hc-call-$kind [0-9a-f]* sdp" "$T/inv-$kind.out"
	check_eq "$kind: ... then closed" eof "$(tail -n 1 "$T/inv-$kind.out")"
done
# A later in-dialog request comes on a new connection: the dialog is not bound to one.
tag=$(awk '$1 == "response" && $2 == 200 && $3 == "INVITE" {print $5}' "$T/inv-tcp.out")
$HC tcp "$SIP_PORT" indialog hc-call-tcp "$tag" ACK BYE --close fin >"$T/bye-tcp.out" 2>&1
check_eq "tcp: ACK and BYE on a new connection, BYE answered 200" "response 200 BYE|eof" \
	"$(awk '{print $1 ($2 ? " " $2 " " $3 : "")}' "$T/bye-tcp.out" | paste -sd'|')"
tag=$(awk '$1 == "response" && $2 == 200 && $3 == "INVITE" {print $5}' "$T/inv-tls.out")
$HC tls "$TLS_PORT" indialog hc-call-tls "$tag" ACK >"$T/ack-tls.out" 2>&1
check_eq "tls: ACK on a new connection, then closed" eof "$(cat "$T/ack-tls.out")"

# A half-closed peer that never reads (2 KiB receive buffer) and whose answers (~5 MB) fill
# the sockets (a kernel send buffer grows to 4 MB; caps raised so that the queue stays below
# the throttle's mark): closed once its queue took nothing for SIP_MESSAGE_TIMEOUT (2 s).
$HC tcp "$SIP_PORT" options 12000 --close fin --no-read --rcvbuf 2048 --timeout 8 >"$T/noread.out" 2>&1 &
hold=$!
BG_PIDS="$BG_PIDS $hold"
check "tcp: a half-closed peer that never reads is closed within SIP_MESSAGE_TIMEOUT" \
	wait_for "$T/siprecd.log" 'SIP tcp from 127.0.0.1:[0-9]+ refused: peer does not read its responses' 6
metrics >"$T/metrics.txt"
check "... counted as stalled" grep -Eq '^siprecd_sip_refused_total\{reason="send_stalled"\} 1$' "$T/metrics.txt"
check "... and it was not throttled" grep -Eq '^siprecd_sip_throttled_total 0$' "$T/metrics.txt"
kill "$hold" 2>/dev/null
wait "$hold" 2>/dev/null

i=0
while [ "$(catalog "SELECT state FROM sessions WHERE call_id='hc-call-tcp'")" != ended ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
check_eq "tcp call ended by its BYE" "ended|bye" \
	"$(catalog "SELECT state, end_reason FROM sessions WHERE call_id='hc-call-tcp'")"
check_eq "tls call still recorded" "active" \
	"$(catalog "SELECT state FROM sessions WHERE call_id='hc-call-tls'")"
stop_siprecd
check_eq "exit status" 0 "$STOP_RC"
check_eq "tls call ended by the stop (its connection is gone: no BYE)" "ended|shutdown" \
	"$(catalog "SELECT state, end_reason FROM sessions WHERE call_id='hc-call-tls'")"
check_eq "recordings final" 4 "$(catalog "SELECT count(*) FROM recordings WHERE state='final'")"
finish
