#!/bin/sh
# SPDX-License-Identifier: MIT
# A set-up that fails for want of something that comes back is overload, not a fault: with the
# media port range full (RTP_PORT_MIN..MAX of four ports: one call's two streams, RTP and RTCP),
# a second call is refused 503 with Retry-After and a Warning naming the ports (RFC 3261
# §21.5.4: the SRC retries or fails over), not 500; once the first call ends, a third call is
# recorded.
. "$SRCDIR/tests/integration/lib.sh"
need jq
SRC=$BUILD/siprec-src
[ -x "$SRC" ] || { bad "siprec-src not built"; finish; }
RTP_EVEN=$((RTP_MIN + RTP_MIN % 2))
sed -i "s/^RTP_PORT_MIN=.*/RTP_PORT_MIN=$RTP_EVEN/; s/^RTP_PORT_MAX=.*/RTP_PORT_MAX=$((RTP_EVEN + 3))/; s/^MAX_STREAMS_PER_SESSION=.*/MAX_STREAMS_PER_SESSION=2/" "$CONF"
start_siprecd

"$SRC" -t udp --duration 3 --json -q 127.0.0.1:"$SIP_PORT" >"$T/first.json" 2>"$T/first.err" &
FIRST=$!
BG_PIDS=$FIRST
wait_for "$T/siprecd.log" 'SIPREC_EVENT=session-started' 10 || bad "the first call did not start"
"$SRC" -t udp --duration 1 --json -q 127.0.0.1:"$SIP_PORT" >"$T/second.json" 2>"$T/second.err"
check_eq "second call while the ports are taken: 503" 503 "$(jq '.calls[0].status' "$T/second.json")"
check_eq "...with Retry-After" '"5"' "$(jq '.calls[0].retry_after' "$T/second.json")"
check_eq "...and a Warning naming the ports" '"399 siprecd \"no free media port\""' \
	"$(jq '.calls[0].warning' "$T/second.json")"
check "...and an src-refused audit event with 503" grep -q 'refused with 503: .*SIPREC_EVENT=src-refused' "$T/siprecd.log"
wait $FIRST
BG_PIDS=""
check_eq "the first call was recorded" '"ok"' "$(jq '.calls[0].result' "$T/first.json")"
"$SRC" -t udp --duration 1 --json -q 127.0.0.1:"$SIP_PORT" >"$T/third.json" 2>"$T/third.err"
check_eq "a call after the first ended: recorded" '"ok"' "$(jq '.calls[0].result' "$T/third.json")"
finish
