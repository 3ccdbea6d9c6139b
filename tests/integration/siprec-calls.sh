#!/bin/sh
# SPDX-License-Identifier: MIT
# SIPREC calls from sipp (tests/integration/scenarios/siprec-*.xml) recorded end to end: a basic
# two-stream G.711 call, string labels, pause/resume by re-INVITE, a metadata-only UPDATE, a
# CANCEL racing the answer, an INVITE retransmission, and 413/488/420 refusals. Each call checks
# the 200 OK (in the scenario and from sipp's message log), the catalog rows, the recordings'
# sha256, and that siprec-export gives back the sent audio sample for sample (tests/data/pcap).
. "$SRCDIR/tests/integration/lib.sh"
need sipp python3 sqlite3 sha256sum

PCAPS=$SRCDIR/tests/data/pcap
SCN=$SRCDIR/tests/integration/scenarios
EXPORT=$BUILD/siprec-export
RTPTOOL="python3 $PCAPS/rtptool.py"
[ -x "$EXPORT" ] || { bad "$EXPORT not built"; finish; }

# Two m= lines with RTCP on port+1 need 4 ports a call; the default range of lib.sh is 20.
cat >>"$CONF" <<CFG
MAX_METADATA_SIZE=4096
CFG
start_siprecd

# wait_session CALLID_PATTERN: waits until the catalog has the session ended and its recordings
# finalized (the catalog thread writes behind the SIP thread); prints its uuid.
wait_session() {
	i=0
	while [ $i -lt 200 ]; do
		u=$(catalog "SELECT uuid FROM sessions WHERE call_id LIKE '$1' AND state != 'active' AND
			NOT EXISTS (SELECT 1 FROM recordings r WHERE r.session_id = sessions.id AND
			r.state != 'final') ORDER BY id DESC LIMIT 1" 2>/dev/null)
		[ -n "$u" ] && { echo "$u"; return 0; }
		sleep 0.05
		i=$((i + 1))
	done
	catalog "SELECT uuid FROM sessions WHERE call_id LIKE '$1' ORDER BY id DESC LIMIT 1"
}

# check_recordings NAME UUID: every recording complete, size and sha256 as on disk.
check_recordings() {
	n=0
	for row in $(catalog "SELECT r.path || '|' || r.size || '|' || r.sha256 || '|' || r.complete
		FROM recordings r JOIN sessions s ON s.id = r.session_id WHERE s.uuid = '$2'"); do
		n=$((n + 1))
		path=${row%%|*}
		rest=${row#*|}
		size=${rest%%|*}
		rest=${rest#*|}
		sha=${rest%%|*}
		complete=${rest#*|}
		check_eq "$1: recording $n complete" 1 "$complete"
		check_eq "$1: recording $n size" "$(stat -c %s "$path" 2>/dev/null)" "$size"
		check_eq "$1: recording $n sha256" "$(sha256sum "$path" 2>/dev/null | cut -d' ' -f1)" "$sha"
	done
	check_eq "$1: recordings" 2 "$n"
}

# export_compare NAME UUID LABEL PCAP...: the stream's recording exported alone (mono) equals the
# audio of the captures sent to it.
export_compare() {
	name=$1 uuid=$2 label=$3
	shift 3
	path=$(catalog "SELECT r.path FROM recordings r JOIN sessions s ON s.id = r.session_id
		JOIN streams st ON st.id = r.stream_id WHERE s.uuid = '$uuid' AND st.label = '$label'")
	if ! "$EXPORT" -c "$CONF" "$path" -o "$T/$name-$label.wav" \
		>"$T/$name-$label.export" 2>&1; then
		bad "$name: siprec-export of stream $label"
		cat "$T/$name-$label.export"
		return
	fi
	if $RTPTOOL compare "$T/$name-$label.wav" 0 "$@" >"$T/$name-$label.cmp"; then
		ok "$name: stream $label exported sample-exact ($(cat "$T/$name-$label.cmp"))"
	else
		bad "$name: stream $label export differs: $(cat "$T/$name-$label.cmp")"
	fi
}

# stream_packets UUID LABEL: "packets lost" of a stream.
stream_packets() {
	catalog "SELECT st.packets || ' ' || st.lost FROM streams st JOIN sessions s ON
		s.id = st.session_id WHERE s.uuid = '$1' AND st.label = '$2'"
}

n_a=$($RTPTOOL count "$PCAPS/tone440-pcmu.pcap")
n_b=$($RTPTOOL count "$PCAPS/tone660-pcmu.pcap")
n_c=$($RTPTOOL count "$PCAPS/tone440-resume-pcmu.pcap")
cp "$PCAPS/tone440-pcmu.pcap" "$T/a.pcap"
cp "$PCAPS/tone660-pcmu.pcap" "$T/b.pcap"
cp "$PCAPS/tone440-resume-pcmu.pcap" "$T/c.pcap"

# ---- basic: numeric labels 1 and 2, RFC 7865 metadata
if sipp_run basic -sf "$SCN/siprec-basic.xml" -m 1 -cid_str "basic-%u-%p@%s" -key tools "$PCAPS" \
	-trace_msg -message_file "$T/basic.msg"; then
	ok "basic: sipp scenario passed (200 OK checks: +sip.srs, a=recvonly, labels 1 and 2)"
else
	bad "basic: sipp scenario failed"
fi
u=$(wait_session 'basic-%')
check_eq "basic: session ended by BYE" "ended bye" "$(catalog "SELECT state || ' ' || end_reason FROM sessions WHERE uuid = '$u'")"
check_eq "basic: SIPREC session id from metadata" 1 "$(catalog "SELECT count(*) FROM sessions WHERE uuid = '$u' AND siprec_session_id LIKE 'sess1-%'")"
check_eq "basic: participants" "Alice sip:alice@example.com,Bob sip:bob@example.net" \
	"$(catalog "SELECT group_concat(p.name || ' ' || p.aor, ',') FROM (SELECT p.* FROM participants p JOIN sessions s ON s.id = p.session_id WHERE s.uuid = '$u' ORDER BY p.name) p")"
check_eq "basic: stream 1 sent by Alice" Alice "$(catalog "SELECT p.name FROM streams st JOIN sessions s ON s.id = st.session_id JOIN participants p ON p.id = st.participant_id WHERE s.uuid = '$u' AND st.label = '1'")"
check_eq "basic: stream 1 codec" "PCMU 8000 recvonly" "$(catalog "SELECT st.codec || ' ' || st.clock_rate || ' ' || st.direction FROM streams st JOIN sessions s ON s.id = st.session_id WHERE s.uuid = '$u' AND st.label = '1'")"
check_eq "basic: stream 1 packets, lost" "$n_a 0" "$(stream_packets "$u" 1)"
check_eq "basic: stream 2 packets, lost" "$n_b 0" "$(stream_packets "$u" 2)"
check_recordings basic "$u"
export_compare basic "$u" 1 "$PCAPS/tone440-pcmu.pcap"
export_compare basic "$u" 2 "$PCAPS/tone660-pcmu.pcap"
# The session as a whole: stereo, stream 1 left, both aligned by arrival.
if "$EXPORT" -c "$CONF" --session "$u" --catalog "$T/state/catalog.db" \
	-o "$T/basic-session.wav" >"$T/basic-session.export" 2>&1; then
	check "basic: session export, left = stream 1" $RTPTOOL compare --aligned "$T/basic-session.wav" 0 "$PCAPS/tone440-pcmu.pcap"
	check "basic: session export, right = stream 2" $RTPTOOL compare --aligned "$T/basic-session.wav" 1 "$PCAPS/tone660-pcmu.pcap"
else
	bad "basic: siprec-export --session"
	cat "$T/basic-session.export"
fi
answers=$($RTPTOOL answers "$T/basic.msg")
case "$answers" in
"1 "[0-9]*"/1/recvonly "[0-9]*"/2/recvonly") ok "basic: answer ($answers)" ;;
*) bad "basic: answer: '$answers'" ;;
esac

# ---- string labels, bare application/rs-metadata first
if sipp_run labels -sf "$SCN/siprec-labels.xml" -m 1 -cid_str "labels-%u-%p@%s" -key tools "$PCAPS" \
	-trace_msg -message_file "$T/labels.msg"; then
	ok "labels: sipp scenario passed (labels a_leg and b_leg echoed, a=recvonly)"
else
	bad "labels: sipp scenario failed"
fi
u=$(wait_session 'labels-%')
check_eq "labels: stream labels" "a_leg,b_leg" "$(catalog "SELECT group_concat(label, ',') FROM (SELECT st.label FROM streams st JOIN sessions s ON s.id = st.session_id WHERE s.uuid = '$u' ORDER BY st.label)")"
check_eq "labels: a_leg sent by the caller" "Caller +15551230000@pbx.example.net" "$(catalog "SELECT p.name || ' ' || p.aor FROM streams st JOIN sessions s ON s.id = st.session_id JOIN participants p ON p.id = st.participant_id WHERE s.uuid = '$u' AND st.label = 'a_leg'")"
check_eq "labels: a_leg packets, lost" "$n_a 0" "$(stream_packets "$u" a_leg)"
check_eq "labels: b_leg packets, lost" "$n_b 0" "$(stream_packets "$u" b_leg)"
check_recordings labels "$u"
export_compare labels "$u" a_leg "$PCAPS/tone440-pcmu.pcap"
export_compare labels "$u" b_leg "$PCAPS/tone660-pcmu.pcap"

# ---- pause (a=inactive) and resume by re-INVITE
if sipp_run pause -sf "$SCN/siprec-pause.xml" -m 1 -cid_str "pause-%u-%p@%s" -key tools "$PCAPS" \
	-trace_msg -message_file "$T/pause.msg"; then
	ok "pause: sipp scenario passed (inactive mirrored, recvonly on resume)"
else
	bad "pause: sipp scenario failed"
fi
u=$(wait_session 'pause-%')
$RTPTOOL answers "$T/pause.msg" >"$T/pause.answers"
check_eq "pause: three answers" 3 "$(wc -l <"$T/pause.answers")"
check_eq "pause: o= versions 1, 2, 3" "1 2 3" "$(cut -d' ' -f1 "$T/pause.answers" | tr '\n' ' ' | sed 's/ $//')"
check_eq "pause: directions" "recvonly recvonly,inactive inactive,recvonly recvonly" \
	"$(awk '{ split($2, a, "/"); split($3, b, "/"); printf "%s%s %s", (NR > 1 ? "," : ""), a[3], b[3] }' "$T/pause.answers")"
check_eq "pause: ports kept" 1 "$(awk '{ sub(/\/.*/, "", $2); sub(/\/.*/, "", $3); print $2, $3 }' "$T/pause.answers" | sort -u | wc -l)"
check_eq "pause: stream 1 packets, lost" "$((n_a + n_c)) 0" "$(stream_packets "$u" 1)"
check_eq "pause: stream 2 packets, lost" "$n_b 0" "$(stream_packets "$u" 2)"
check_recordings pause "$u"
export_compare pause "$u" 1 "$PCAPS/tone440-pcmu.pcap" "$PCAPS/tone440-resume-pcmu.pcap"

# ---- metadata-only UPDATE (partial)
if sipp_run update -sf "$SCN/siprec-update.xml" -m 1 -cid_str "update-%u-%p@%s" -key tools "$PCAPS" \
	-trace_msg -message_file "$T/update.msg"; then
	ok "update: sipp scenario passed (UPDATE with partial metadata answered 200)"
else
	bad "update: sipp scenario failed"
fi
u=$(wait_session 'update-%')
check_eq "update: metadata snapshots" "1 complete,2 partial" "$(catalog "SELECT group_concat(seq || ' ' || datamode, ',') FROM (SELECT m.seq, m.datamode FROM metadata_snapshots m JOIN sessions s ON s.id = m.session_id WHERE s.uuid = '$u' ORDER BY m.seq)")"
check_eq "update: Carol added to the participants" "Alice,Bob,Carol" "$(catalog "SELECT group_concat(name, ',') FROM (SELECT p.name FROM participants p JOIN sessions s ON s.id = p.session_id WHERE s.uuid = '$u' ORDER BY p.name)")"
check_eq "update: Carol's AoR" "sip:carol@example.org" "$(catalog "SELECT p.aor FROM participants p JOIN sessions s ON s.id = p.session_id WHERE s.uuid = '$u' AND p.name = 'Carol'")"
check_eq "update: stream 1 packets, lost" "$n_a 0" "$(stream_packets "$u" 1)"
check_recordings update "$u"
export_compare update "$u" 1 "$PCAPS/tone440-pcmu.pcap"
export_compare update "$u" 2 "$PCAPS/tone660-pcmu.pcap"

# ---- CANCEL racing the (immediate) answer: the CANCEL has no effect, BYE ends the call
if sipp_run cancel -sf "$SCN/siprec-cancel.xml" -m 1 -cid_str "cancel-%u-%p@%s" \
	-trace_msg -message_file "$T/cancel.msg"; then
	ok "cancel: sipp scenario passed (INVITE 200, CANCEL 200 or 481, ACK, BYE 200)"
else
	bad "cancel: sipp scenario failed"
fi
cancel_status=$(awk '/message received/ { getline; getline; st = $2 } /^CSeq: .* CANCEL/ { print st }' "$T/cancel.msg" | head -n 1)
case "$cancel_status" in
200 | 481) ok "cancel: CANCEL after the final response answered $cancel_status" ;;
*) bad "cancel: CANCEL answered '$cancel_status'" ;;
esac
check "cancel: no 487 (the INVITE was already answered)" sh -c "! grep -q '^SIP/2.0 487' '$T/cancel.msg'"
u=$(wait_session 'cancel-%')
check_eq "cancel: one session, ended by BYE" "1 ended bye" "$(catalog "SELECT count(*) || ' ' || max(state) || ' ' || max(end_reason) FROM sessions WHERE call_id LIKE 'cancel-%'")"
check_recordings cancel "$u"

# ---- INVITE retransmitted with the same branch: one session
if sipp_run retrans -sf "$SCN/siprec-retrans.xml" -m 1 -default_behaviors all,-abortunexp -cid_str "retrans-%u-%p@%s" \
	-trace_msg -message_file "$T/retrans.msg"; then
	ok "retrans: sipp scenario passed"
else
	bad "retrans: sipp scenario failed"
fi
u=$(wait_session 'retrans-%')
check_eq "retrans: INVITE sent twice" 2 "$(grep -c '^INVITE sip:' "$T/retrans.msg")"
check_eq "retrans: one session in the catalog" "1 ended" "$(catalog "SELECT count(*) || ' ' || max(state) FROM sessions WHERE call_id LIKE 'retrans-%'")"
check_eq "retrans: one pair of streams" 2 "$(catalog "SELECT count(*) FROM streams st JOIN sessions s ON s.id = st.session_id WHERE s.call_id LIKE 'retrans-%'")"

# ---- refusals: 413 oversized metadata (UDP and TCP), 488 too many streams, 420 unknown Require,
# 415 a quoted-printable SDP part (the Warning names the transfer encodings taken)
for c in 413 488 420 415; do
	if sipp_run "r$c" -sf "$SCN/siprec-$c.xml" -m 1 -cid_str "r$c-%u-%p@%s"; then
		ok "$c: sipp scenario passed (status and Warning/Unsupported checked)"
	else
		bad "$c: sipp scenario failed"
	fi
done
if sipp_run r413tcp -sf "$SCN/siprec-413.xml" -m 1 -t t1 -cid_str "r413tcp-%u-%p@%s"; then
	ok "413 over TCP: sipp scenario passed"
else
	bad "413 over TCP: sipp scenario failed"
fi
i=0
while [ "$(catalog "SELECT count(*) FROM sessions WHERE state = 'active'")" != 0 ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
check_eq "refusals: no session left active" 0 "$(catalog "SELECT count(*) FROM sessions WHERE call_id LIKE 'r4%' AND state = 'active'")"
check_eq "refusals: no recording opened" 0 "$(catalog "SELECT count(*) FROM recordings r JOIN sessions s ON s.id = r.session_id WHERE s.call_id LIKE 'r4%'")"
check_eq "all sessions ended" 0 "$(catalog "SELECT count(*) FROM sessions WHERE state = 'active'")"

stop_siprecd
check_eq "exit status after SIGTERM" 0 "$STOP_RC"
finish
