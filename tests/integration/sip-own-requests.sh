#!/bin/sh
# SPDX-License-Identifier: MIT
# siprecd's own requests on a connection (its BYEs) wait for room under the send queue caps
# instead of passing them (docs/SIP.md, "Send queues and backpressure"): 40 calls set up on one
# TCP connection and on one TLS connection with MAX_SEND_QUEUE_MESSAGES=16, then a stop: every
# session's BYE is queued in one turn, more than the cap. Each peer gets and answers all 40 BYEs,
# no connection is closed at the cap, every session ends 'shutdown'. Before: the BYE past the
# cap closed the connection ("send queue full"), and the BYEs after it were never sent.
. "$SRCDIR/tests/integration/lib.sh"
need python3 sqlite3
HC="python3 $SRCDIR/tests/helpers/sip-halfclose.py"
media_ports 400
cat >>"$CONF" <<CFG
MAX_SEND_QUEUE_MESSAGES=16
SHUTDOWN_BYE_TIMEOUT=5s
CFG
start_siprecd
$HC tcp "$SIP_PORT" calls 40 --timeout 20 >"$T/tcp.out" 2>&1 &
p1=$!
$HC tls "$TLS_PORT" calls 40 --timeout 20 >"$T/tls.out" 2>&1 &
p2=$!
BG_PIDS="$p1 $p2"
check "40 calls set up over TCP" wait_for "$T/tcp.out" '^ready' 30
check "40 calls set up over TLS" wait_for "$T/tls.out" '^ready' 30
stop_siprecd
wait $p1 $p2
cat "$T/tcp.out" "$T/tls.out"
check_eq "exit status" 0 "$STOP_RC"
check_eq "TCP: every BYE sent and answered" "byes 40" "$(grep '^byes' "$T/tcp.out")"
check_eq "TLS: every BYE sent and answered" "byes 40" "$(grep '^byes' "$T/tls.out")"
if grep -q 'send queue full' "$T/siprecd.log"; then bad "a connection was closed at the cap"; else ok "no connection closed at the cap"; fi
check_eq "every session ended by the stop" 80 "$(catalog "SELECT count(*) FROM sessions WHERE state='ended' AND end_reason='shutdown'")"
check "no BYE left unanswered" sh -c "! grep -q 'BYE.*unanswered\|no response from the SRC' '$T/siprecd.log'"
finish
