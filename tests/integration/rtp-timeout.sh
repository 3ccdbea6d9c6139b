#!/bin/sh
# SPDX-License-Identifier: MIT
# RTP timeout: a stream that receives nothing for RTP_TIMEOUT is only marked idle (catalog state
# 'idle', a log line) and the call goes on to its BYE; with RTP_TIMEOUT_ENDS_SESSION=true the
# session is ended by siprecd itself, which sends a BYE to the SRC (end reason rtp-timeout).
. "$SRCDIR/tests/integration/lib.sh"
need sipp sqlite3 python3
echo "RTP_TIMEOUT=1s" >>"$CONF"
start_siprecd
# sipp's built-in uac sends no media and waits 3.5 s before its BYE.
(cd "$T" && timeout 30 sipp 127.0.0.1:"$SIP_PORT" -sn uac -m 1 -d 3500 -i 127.0.0.1 -p "$(free_port)" \
	-timeout 20s -nostdin >"$T/sipp1.out" 2>&1) &
BG_PIDS=$!
# Polls the catalog: the stream turns idle RTP_TIMEOUT after the answer, well before the BYE.
poll() { # SQL VALUE: waits up to 10 s for the query to give VALUE
	i=0
	while [ "$(catalog "$1" 2>/dev/null)" != "$2" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
}
poll "SELECT state FROM streams" idle
check_eq "stream marked idle while the call is up" idle "$(catalog "SELECT state FROM streams")"
check "log says the stream is idle" grep -q 'idle (no RTP)' "$T/siprecd.log"
check_eq "session still active" active "$(catalog "SELECT state FROM sessions")"
wait "$BG_PIDS"
poll "SELECT state FROM sessions" ended
check_eq "session ended by the SRC's BYE" "ended|bye" "$(catalog "SELECT state, end_reason FROM sessions")"
stop_siprecd

sed -i 's/^RTP_TIMEOUT=.*/RTP_TIMEOUT=1s\nRTP_TIMEOUT_ENDS_SESSION=true/' "$CONF"
rm -rf "$T/state"
start_siprecd
(cd "$T" && timeout 30 sipp 127.0.0.1:"$SIP_PORT" -sn uac -m 1 -d 6000 -i 127.0.0.1 -p "$(free_port)" \
	-timeout 20s -nostdin -trace_msg >"$T/sipp2.out" 2>&1) &
BG_PIDS=$!
wait_for "$T/siprecd.log" 'ended \(rtp-timeout\)' 8 && ok "session ended by siprecd on RTP timeout" ||
	bad "session not ended on RTP timeout"
check_eq "catalog end reason" "ended|rtp-timeout" "$(catalog "SELECT state, end_reason FROM sessions")"
i=0
while ! cat "$T"/uac_*_messages.log 2>/dev/null | grep -q '^BYE sip:' && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
check "the SRC received a BYE from siprecd" grep -q '^BYE sip:' "$T"/uac_*_messages.log
check "the SRC answered that BYE (client transaction completed)" wait_for "$T/siprecd.log" "BYE for .* answered 200" 3
kill "$BG_PIDS" 2>/dev/null
stop_siprecd
check_eq "exit status" 0 "$STOP_RC"
finish
