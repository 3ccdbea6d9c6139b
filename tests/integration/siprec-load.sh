#!/bin/sh
# SPDX-License-Identifier: MIT
# 200 SIPREC calls from sipp (siprec-load.xml: 50 new calls a second, up to 200 at once, each
# playing a 20-packet G.711 capture): every call answered, every session in the catalog ended by
# BYE, every first stream with exactly the packets sipp sent and none lost, every recording
# complete with the sha256 of its file. Prints the figures it measured.
. "$SRCDIR/tests/integration/lib.sh"
need sipp python3 sqlite3 sha256sum

CALLS=${SIPREC_LOAD_CALLS:-200}
PCAPS=$SRCDIR/tests/data/pcap
cp "$PCAPS/short-pcmu.pcap" "$T/a.pcap"
sent=$(python3 "$PCAPS/rtptool.py" count "$T/a.pcap")
# 2 streams a call, RTCP on port+1: a range of its own, wide enough for every call at once.
base=$(media_range 1000)
start_siprecd RTP_PORT_MIN=$base RTP_PORT_MAX=$((base + 999)) LOG_LEVEL=info

t0=$(date +%s%N)
if sipp_run load -sf "$SRCDIR/tests/integration/scenarios/siprec-load.xml" -r 50 -m "$CALLS" \
	-l "$CALLS" -cid_str "load-%u-%p@%s" -key tools "$PCAPS"; then
	ok "sipp: $CALLS calls passed (200 OK checked in each)"
else
	bad "sipp: some calls failed"
fi
echo "# sipp: $CALLS calls in $((($(date +%s%N) - t0) / 1000000)) ms"
grep -E "Successful call|Failed call|Retransmissions" "$T/sipp-load.out" | tail -n 3 | sed 's/^/# /'

# The catalog thread writes behind the calls: wait until every recording is final.
i=0
while [ $i -lt 400 ]; do
	left=$(catalog "SELECT count(*) FROM recordings WHERE state != 'final'")
	[ "$left" = 0 ] && [ "$(catalog "SELECT count(*) FROM sessions WHERE state = 'ended'")" = "$CALLS" ] && break
	sleep 0.05
	i=$((i + 1))
done
check_eq "sessions ended by BYE" "$CALLS" "$(catalog "SELECT count(*) FROM sessions WHERE state = 'ended' AND end_reason = 'bye' AND call_id LIKE 'load-%'")"
check_eq "first streams with all $sent packets, none lost" "$CALLS" "$(catalog "SELECT count(*) FROM streams WHERE label = '1' AND packets = $sent AND lost = 0")"
check_eq "streams with a loss" 0 "$(catalog "SELECT count(*) FROM streams WHERE lost != 0")"
check_eq "packets recorded in all" $((CALLS * sent)) "$(catalog "SELECT sum(packets) FROM streams")"
check_eq "recordings complete" $((CALLS * 2)) "$(catalog "SELECT count(*) FROM recordings WHERE complete = 1 AND state = 'final'")"
check_eq "frames recorded in all" $((CALLS * sent)) "$(catalog "SELECT sum(frames) FROM recordings")"
badsha=0
for row in $(catalog "SELECT path || '|' || sha256 FROM recordings"); do
	[ "$(sha256sum "${row%%|*}" | cut -d' ' -f1)" = "${row#*|}" ] || badsha=$((badsha + 1))
done
check_eq "recordings whose sha256 differs from the file" 0 "$badsha"
echo "# catalog: $(catalog "SELECT count(*) || ' sessions, ' || (SELECT count(*) FROM recordings) || ' recordings, ' || (SELECT sum(size) FROM recordings) || ' bytes' FROM sessions")"
stop_siprecd
check_eq "exit status after SIGTERM" 0 "$STOP_RC"
finish
