#!/bin/sh
# SPDX-License-Identifier: MIT
# RFC 4733 telephone-events on the media path (issue 10 item 7): the corpus's Genesys flow keys
# digit 5 inside the audio stream (8 packets of one event, the end packet sent three times).
# DTMF_POLICY=record: one dtmf_events row (retransmitted ends counted once) and the packets in
# the recording with their payload type 101; events-only: the row, no packet on disk; drop:
# neither. siprec-export --metadata-json reads what is on disk.
. "${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib.sh"
need python3 sqlite3 jq

DRIVER=$SRCDIR/tests/interop/driver.py
EXPORT=$BUILD/siprec-export
FLOW=genesys-uuid-dtmf
[ -x "$EXPORT" ] || { bad "$EXPORT not built"; finish; }
[ -d "$SRCDIR/tests/interop/flows/$FLOW" ] || skip "interop flow $FLOW missing"
# the flow also checks its correlation header (as tests/integration/interop.sh configures it)
echo "RECORD_SIP_HEADERS=X-Genesys-CallUUID" >>"$CONF"

for policy in record events-only drop; do
	rm -rf "$T/state/catalog.db"* "$T/state/recordings"
	start_siprecd DTMF_POLICY=$policy
	python3 "$DRIVER" --srs "127.0.0.1:$SIP_PORT" --conf "$CONF" --catalog "$T/state/catalog.db" \
		--export "$EXPORT" --out "$T/flows-$policy" --jobs 1 $FLOW >"$T/driver-$policy.log" 2>&1
	DRV=$?
	stop_siprecd
	sid=$(catalog "SELECT id FROM sessions ORDER BY id DESC LIMIT 1")
	rows=$(catalog "SELECT st.label || ':' || d.digit || ':' || d.event || ':' || d.ended || ':' || d.payload_type || ':' || d.duration || ':' || (d.duration_ms = d.duration / 8) || ':' || d.volume FROM dtmf_events d JOIN streams st ON st.id = d.stream_id WHERE d.session_id = $sid")
	counted=$(catalog "SELECT group_concat(label || ':' || dtmf_events, ' ') FROM (SELECT label, dtmf_events FROM streams WHERE session_id = $sid ORDER BY label)")
	path=$(catalog "SELECT r.path FROM recordings r JOIN streams st ON st.id = r.stream_id WHERE st.session_id = $sid AND st.label = '1'")
	"$EXPORT" -k "$T/state/keys/master.key" --metadata-json "$path" >"$T/meta-$policy.json" 2>"$T/meta-$policy.err" ||
		bad "$policy: siprec-export --metadata-json failed: $(cat "$T/meta-$policy.err")"
	on_disk=$(jq -c '[.[0].payload_types[] | .payload_type]' "$T/meta-$policy.json")
	case $policy in
	record)
		check_eq "record: driver passes the flow (digit cataloged, clean audio)" 0 $DRV
		# 8 frames of 160: the duration of the last (end) packet
		check_eq "record: one event, ended, pt 101, 1280 units = 160 ms, volume 10" \
			"1:5:5:1:101:1280:1:10" "$rows"
		check_eq "record: streams.dtmf_events" "1:1 2:0" "$counted"
		check_eq "record: all 10 telephone-event packets on disk as pt 101 frames" "10" \
			"$(jq '.[0].payload_types[] | select(.payload_type == 101) | .frames' "$T/meta-$policy.json")"
		;;
	events-only)
		check_eq "events-only: the event is cataloged" "1:5:5:1:101:1280:1:10" "$rows"
		check_eq "events-only: no telephone-event packet on disk" "false" \
			"$(echo "$on_disk" | jq 'index(101) != null')"
		check_eq "events-only: the audio is on disk (pt 0)" "true" "$(echo "$on_disk" | jq 'index(0) != null')"
		;;
	drop)
		check_eq "drop: no event cataloged" "" "$rows"
		check_eq "drop: still counted on the stream" "1:1 2:0" "$counted"
		check_eq "drop: no telephone-event packet on disk" "false" \
			"$(echo "$on_disk" | jq 'index(101) != null')"
		;;
	esac
done
finish
