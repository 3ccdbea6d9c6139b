#!/bin/sh
# SPDX-License-Identifier: MIT
# Metadata dialects real SRCs send, all into the one catalog model (docs/METADATA.md): the
# pre-RFC <recording_metadata> of BroadWorks (participants, sender of the one mixed stream, the
# BroadSoft tracking ids), with the correlation headers User-to-User, Session-ID, Call-Info and
# one named by RECORD_SIP_HEADERS; a CUCM forked leg with no body (parties in the From URI
# parameters); and a document with a stray '&' (recovered, warned about, raw body kept).
. "$SRCDIR/tests/integration/lib.sh"
need sqlite3 python3
SRC="python3 $SRCDIR/tests/helpers/mini-src.py --server 127.0.0.1:$SIP_PORT"
D=$SRCDIR/tests/data/interop
echo "RECORD_SIP_HEADERS=X-Customer-Id" >>"$CONF"
start_siprecd

# wait_ended N: until N sessions are ended in the catalog
wait_ended() {
	i=0
	until [ "$(catalog "SELECT count(*) FROM sessions WHERE state = 'ended'")" = "$1" ] ||
		[ $i -ge 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
}
# q UUID SQL: SQL with :s standing for the session's id
q() { catalog "$(echo "$2" | sed "s/:s/(SELECT id FROM sessions WHERE call_id = '$1')/g")"; }

# ---- 1: BroadWorks <recording_metadata xmlns="urn:ietf:params:xml:ns:siprec">
code=$($SRC --invite "$D/broadworks-recording-metadata.invite" --out "$T/bw" --rtp 8 --bye)
check_eq "BroadWorks: 200, BYE 200" "200
bye 200" "$code"
wait_ended 1
C1=$(sed -n 's/^Call-ID: //p' "$T/bw/response.txt" | tr -d '\r')
check_eq "BroadWorks: dialect" "recording_metadata" \
	"$(q "$C1" "SELECT metadata_dialect FROM sessions WHERE id = :s")"
check_eq "BroadWorks: participants with names and AoRs" \
	"Agent 42|sip:+15551230042@sbc.example.com;user=phone
|sip:+15559870000@sbc.example.com" \
	"$(q "$C1" "SELECT coalesce(name, ''), aor FROM participants WHERE session_id = :s ORDER BY id")"
check_eq "BroadWorks: the stream's sender" "1|Agent 42" \
	"$(q "$C1" "SELECT st.label, p.name FROM streams AS st JOIN participants AS p ON p.id = st.participant_id WHERE st.session_id = :s")"
check_eq "correlation: SIP headers kept (configured one too, others not)" \
	"sip|Call-Info|<urn:x-broadworks:call:1142208>;purpose=info
sip|Session-ID|ab30317f1a784dc48ff824d0d3715d86;remote=47755a9de7794ba387653f2099600ef2
sip|User-to-User|00FA080010C4E34B5B9E59;encoding=hex
sip|X-Customer-Id|CUST-0042" \
	"$(q "$C1" "SELECT source, name, value FROM session_context WHERE session_id = :s AND source = 'sip' ORDER BY name")"
check_eq "correlation: vendor ids from the metadata" \
	"broadworks-tracking-id|1473743407:0
vendor-call-id|1142208:1" \
	"$(q "$C1" "SELECT name, value FROM session_context WHERE session_id = :s AND source = 'metadata' ORDER BY name")"
check_eq "correlation: a recording found by its UUI" "1" \
	"$(catalog "SELECT count(*) FROM session_context WHERE name = 'User-to-User' AND value LIKE '00FA080010C4E34B5B9E59%'")"

# ---- 2: CUCM forked leg (far end's voice), no metadata body
code=$($SRC --invite "$D/cucm-farend-leg.invite" --out "$T/cucm" --rtp 0 --bye)
check_eq "CUCM leg without metadata: 200, BYE 200" "200
bye 200" "$code"
wait_ended 2
C2=$(sed -n 's/^Call-ID: //p' "$T/cucm/response.txt" | tr -d '\r')
check_eq "CUCM: dialect" "sip-headers" \
	"$(q "$C2" "SELECT metadata_dialect FROM sessions WHERE id = :s")"
check_eq "CUCM: near and far end with device names" \
	"nearend|SEPAAAABBBBCCCC|sip:2000@ucm1.example.com
farend|SEP111122223333|1000" \
	"$(q "$C2" "SELECT participant_id, name, aor FROM participants WHERE session_id = :s ORDER BY id")"
check_eq "CUCM: x-farend: the far end sends this leg's stream" "farend" \
	"$(q "$C2" "SELECT p.participant_id FROM streams AS st JOIN participants AS p ON p.id = st.participant_id WHERE st.session_id = :s")"
check_eq "CUCM: call leg ids kept" "cisco-farendrefci|25418311
cisco-refci|25418312" \
	"$(q "$C2" "SELECT name, value FROM session_context WHERE session_id = :s ORDER BY name")"

# ---- 3: not well-formed (a stray '&'): recovered, warned about, raw document kept
code=$($SRC --invite "$D/stray-ampersand.invite" --out "$T/amp" --rtp 0 --bye)
check_eq "stray '&': 200, BYE 200" "200
bye 200" "$code"
wait_ended 3
C3=$(sed -n 's/^Call-ID: //p' "$T/amp/response.txt" | tr -d '\r')
check_eq "stray '&': participants recovered" "AT&T Support|sip:support@att.example.com
Bob & Co|sip:bob@example.com" \
	"$(q "$C3" "SELECT name, aor FROM participants WHERE session_id = :s ORDER BY id")"
check "stray '&': the catalog's warning says so" \
	test "$(q "$C3" "SELECT count(*) FROM metadata_snapshots WHERE session_id = :s AND warnings LIKE '%recovered by escaping 1 stray%'")" = 1
check "stray '&': the raw document is kept as received" \
	test "$(q "$C3" "SELECT count(*) FROM metadata_snapshots WHERE session_id = :s AND instr(CAST(body AS TEXT), '<name>AT&T Support</name>') > 0")" = 1
check "stray '&': a warning in the log" grep -q "metadata warning.*recovered by escaping" "$T/siprecd.log"
stop_siprecd
check_eq "exit status" 0 "$STOP_RC"
finish
