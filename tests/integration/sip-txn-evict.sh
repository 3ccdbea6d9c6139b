#!/bin/sh
# SPDX-License-Identifier: MIT
# Short calls at a steady rate fill the SIP transaction table with transactions that only wait
# for their timer (each accepted INVITE lingers 32 s after its ACK, Timer L, and each BYE over
# UDP 32 s, Timer J): 800 short calls, a few at a time, leave 1,600 of them against a table of
# MAX_SESSIONS x 4 + 1,024 = 1,224. The oldest lingering ones make room (counted by
# siprecd_sip_transactions_evicted_total), so every call is answered 200 and recorded, none gets
# `503 Transaction Limit` (the old build refused 167 of 700 against a table of 1,064).
# MAX_SESSIONS leaves room for a burst: a generator that falls behind on a busy machine sends
# the calls it owes at once (17 within 0.2 ms got `503 Session Limit Reached` with 10).
. "$SRCDIR/tests/integration/lib.sh"
need jq curl
SRC=$BUILD/siprec-src
[ -x "$SRC" ] || { bad "siprec-src not built"; finish; }
CALLS=800
MPORT=$(free_port)
cat >>"$CONF" <<CONF
METRICS_LISTEN=127.0.0.1:$MPORT
MAX_SESSIONS=50
CONF
# Each call's ports return when its recordings are final: a range wide enough for those in flight.
base=$(media_range 1000)
start_siprecd RTP_PORT_MIN=$base RTP_PORT_MAX=$((base + 999))
"$SRC" -t udp -n "$CALLS" -r 100 --duration 20ms --no-srtp --json -q 127.0.0.1:"$SIP_PORT" \
	>"$T/calls.json" 2>"$T/calls.err"
check_eq "calls answered 200" "$CALLS" "$(jq '[.calls[] | select(.status == 200)] | length' "$T/calls.json")"
check_eq "calls refused" 0 "$(jq '[.calls[] | select(.status != 200)] | length' "$T/calls.json")"
jq -r '[.calls[] | select(.status != 200) | "\(.status) \(.warning)"] | group_by(.) | map("# \(length) x \(.[0])") | .[]' \
	"$T/calls.json"
curl -sf "http://127.0.0.1:$MPORT/metrics" >"$T/metrics.txt" || bad "metrics not served"
evicted=$(awk '$1 == "siprecd_sip_transactions_evicted_total" {print $2}' "$T/metrics.txt")
echo "# evicted: $evicted; $(grep '^siprecd_sip_transactions{' "$T/metrics.txt" | tr '\n' ' ')"
check "lingering transactions were ended early to make room" test "${evicted:-0}" -gt 0
stop_siprecd
check_eq "exit status after SIGTERM" 0 "$STOP_RC"
finish
