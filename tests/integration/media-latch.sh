#!/bin/sh
# SPDX-License-Identifier: MIT
# Media injection (issue 11 item 5): during a plain-RTP call from siprec-src, a second sender
# injects 400 RTP packets with another SSRC from another port of the same address into stream
# 1, and 100 from another address (127.0.0.2) into stream 2. With MEDIA_LATCH=sdp (the default)
# none is recorded: frames == what siprec-src sent, and the catalog, the varlink stats and the
# metrics count them as dropped. MEDIA_LATCH=off records them all (the check can fail), and
# MEDIA_MAX_STREAM_PACKETS and MEDIA_MAX_STREAM_BYTES cap what one stream records.
. "${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib.sh"
need sqlite3 jq python3

SRC=$BUILD/siprec-src
CTL=$BUILD/siprecctl
WAV=$SRCDIR/tests/data/audio/speech-stereo-8k.wav
[ -x "$SRC" ] && [ -x "$CTL" ] || { bad "siprec-src or siprecctl not built"; finish; }
python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.2", 0))' 2>/dev/null ||
	skip "cannot bind 127.0.0.2"
METRICS_PORT=$(free_port)
echo "METRICS_LISTEN=127.0.0.1:$METRICS_PORT" >>"$CONF"
export SIPRECD_CONTROL=$T/run/control

# inject PORT1 PORT2: 400 packets (SSRC 0xdeadbeef, PCMU) from 127.0.0.1:<another port> to
# PORT1, 100 from 127.0.0.2 to PORT2.
cat >"$T/inject.py" <<'PY'
import socket, struct, sys
def burst(src, port, n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    for i in range(n):
        s.sendto(struct.pack("!BBHII", 0x80, 0, 1000 + i, 160 * i, 0xdeadbeef) + b"\xff" * 160,
                 ("127.0.0.1", port))
burst("127.0.0.1", int(sys.argv[1]), 400)
burst("127.0.0.2", int(sys.argv[2]), 100)
PY

# call NAME: one 3 s plain-RTP call; once both streams receive, the injection; then waits for
# the recordings to be final. Sets UUID.
call() {
	name=$1
	timeout 60 $SRC -q -s 127.0.0.1:$SIP_PORT --no-srtp --wav "$WAV" --loop --duration 3 \
		--json >"$T/$name.json" 2>"$T/$name.err" &
	pid=$!
	UUID=""
	i=0
	while [ $i -lt 200 ]; do
		UUID=$($CTL --json sessions 2>/dev/null | jq -r '.sessions[0].id // empty')
		if [ -n "$UUID" ] &&
			$CTL --json session "$UUID" >"$T/$name.live" 2>/dev/null &&
			[ "$(jq '[.session.streams[] | select(.stats.packets > 0)] | length' "$T/$name.live")" = 2 ]; then
			break
		fi
		sleep 0.05
		i=$((i + 1))
	done
	p1=$(jq '.session.streams[] | select(.label == "1") | .port' "$T/$name.live")
	p2=$(jq '.session.streams[] | select(.label == "2") | .port' "$T/$name.live")
	python3 "$T/inject.py" "$p1" "$p2"
	# the live counters see the drops at once (varlink StreamStats)
	$CTL --json session "$UUID" >"$T/$name.live2" 2>/dev/null
	wait $pid
	RC=$?
	i=0
	while [ $i -lt 100 ] &&
		[ "$(catalog "SELECT count(*) FROM recordings r JOIN sessions s ON s.id = r.session_id WHERE s.uuid = '$UUID' AND r.state = 'final'")" != 2 ]; do
		sleep 0.1
		i=$((i + 1))
	done
}
per_stream() {
	catalog "SELECT group_concat(v, ' ') FROM (SELECT st.label || ':' || ($1) AS v FROM streams st JOIN sessions s ON s.id = st.session_id LEFT JOIN recordings r ON r.stream_id = st.id WHERE s.uuid = '$UUID' ORDER BY st.label)"
}
sent() {
	jq -r "[.calls[0].streams[] | \"\(.label):\($1)\"] | join(\" \")" "$T/$name.json"
}

start_siprecd

# ---- default MEDIA_LATCH=sdp: nothing injected is recorded
call latch
check_eq "latch: siprec-src exit" 0 $RC
check_eq "latch: injection happened during the call" "true" "$(jq '[.session.streams[] | .port > 0] | all' "$T/latch.live")"
check_eq "latch: frames recorded == packets siprec-src sent" "$(sent .packets)" "$(per_stream r.frames)"
check_eq "latch: catalog packets == sent" "$(sent .packets)" "$(per_stream st.packets)"
check_eq "latch: catalog dropped_source (400 same IP other port, 100 other IP)" "1:400 2:100" "$(per_stream st.dropped_source)"
check_eq "latch: one SSRC per stream, not the injector's" "1:1 2:1" "$(per_stream "length(st.ssrcs) = 8 AND st.ssrcs != 'deadbeef'")"
check_eq "latch: source_addr is siprec-src's" "$(sent '"127.0.0.1:\(.local_port)"')" "$(per_stream st.source_addr)"
check_eq "latch: live varlink stats count the drops" "1:400 2:100" \
	"$(jq -r '[.session.streams[] | "\(.label):\(.stats.dropped_source)"] | sort | join(" ")' "$T/latch.live2")"
check "latch: metrics count the drops" sh -c "curl -s http://127.0.0.1:$METRICS_PORT/metrics | grep -qx 'siprecd_rtp_packets_dropped_total{reason=\"source\"} 500'"
stop_siprecd

# ---- MEDIA_LATCH=off records everything: the same injection shows up (the checks above can fail)
start_siprecd MEDIA_LATCH=off
call off
# (the recordings also carry two SSRC-change event frames each)
check_eq "off: packets recorded == sent + injected" "$(sent '.packets + (if .label == "1" then 400 else 100 end)')" "$(per_stream st.packets)"
check_eq "off: nothing dropped" "1:0 2:0" "$(per_stream st.dropped_source)"
stop_siprecd

# ---- per-stream cap: 50 packets recorded at most, the rest dropped and counted
start_siprecd MEDIA_MAX_STREAM_PACKETS=50
call cap
check_eq "cap: 50 frames per stream" "1:50 2:50" "$(per_stream r.frames)"
check_eq "cap: dropped_limit == sent - 50" "$(sent '.packets - 50')" "$(per_stream st.dropped_limit)"
check "cap: logged once per stream" test "$(grep -c 'per-stream cap reached' "$T/siprecd.log")" -ge 2
stop_siprecd

# ---- the byte cap: 8000 payload bytes are 50 PCMU packets of 160 bytes; the 51st would pass it
start_siprecd MEDIA_MAX_STREAM_BYTES=8000
call bytecap
check_eq "byte cap: 50 frames per stream" "1:50 2:50" "$(per_stream r.frames)"
check_eq "byte cap: dropped_limit == sent - 50" "$(sent '.packets - 50')" "$(per_stream st.dropped_limit)"
stop_siprecd
finish
