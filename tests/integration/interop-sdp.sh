#!/bin/sh
# SPDX-License-Identifier: MIT
# What real SRCs offer (docs/SDP.md "Leniencies"): an AudioCodes-style offer of G.729 (annexb=no),
# AMR-WB (octet-aligned) and telephone-event plus a video and a BFCP m= line, with no c= line
# (OpenSIPS) and an Accept without application/sdp (Intrado). Expects a 200 whose answer keeps
# every offered audio format and rejects only video/BFCP with port 0, frames of every payload
# type recorded, the payload map in the recording header and in stream_formats. Also: a 415 is
# audited as 415, and siprecd's own BYE (siprecctl stop) carries the SRC's tag once.
. "$SRCDIR/tests/integration/lib.sh"
need sqlite3 python3 jq
SRC="python3 $SRCDIR/tests/helpers/mini-src.py --server 127.0.0.1:$SIP_PORT"
D=$SRCDIR/tests/data/interop
start_siprecd

# ---- 1: G.729 + AMR-WB + DTMF, video and BFCP, no c=, Accept without SDP
code=$($SRC --invite "$D/audiocodes-g729-amrwb-video.invite" --out "$T/c1" --rtp 18,98,101 --bye)
check_eq "G.729/AMR-WB offer without c= and with Accept: rs-metadata only: 200" "200
bye 200" "$code"
A=$T/c1/answer.sdp
check_eq "answer: two audio lines keep every format, in order" "2" \
	"$(grep -c '^m=audio [1-9][0-9]* RTP/AVP 18 98 101' "$A")"
check "answer: G.729 annexb=no echoed" grep -q '^a=fmtp:18 annexb=no' "$A"
check "answer: AMR-WB octet-align echoed" grep -q '^a=fmtp:98 octet-align=1' "$A"
check "answer: telephone-event kept" grep -q '^a=rtpmap:101 telephone-event/8000' "$A"
check "answer: video rejected with port 0" grep -q '^m=video 0 RTP/AVP 96' "$A"
check "answer: BFCP rejected with port 0" grep -q '^m=application 0 UDP/BFCP' "$A"
check_eq "answer: recvonly on both audio lines" 2 "$(grep -c '^a=recvonly' "$A")"

i=0
until [ "$(catalog "SELECT count(*) FROM sessions WHERE state = 'ended'")" = 1 ] || [ $i -ge 100 ]; do
	sleep 0.05; i=$((i + 1))
done
check_eq "catalog: primary codec of each stream" "1|G729|18|8000
2|G729|18|8000" "$(catalog "SELECT label, codec, payload_type, clock_rate FROM streams ORDER BY label")"
check_eq "catalog: stream_formats of stream 1" "18|G729|8000|1|annexb=no
98|AMR-WB|16000|1|octet-align=1
101|telephone-event|8000|1|0-15" "$(catalog "SELECT f.payload_type, f.encoding, f.clock_rate, f.channels,
	f.fmtp FROM stream_formats AS f JOIN streams AS s ON s.id = f.stream_id WHERE s.label = '1'
	ORDER BY f.id")"
check_eq "catalog: participants from the metadata" "One|sip:1000@example.com
Two|sip:2000@example.com" "$(catalog "SELECT name, aor FROM participants ORDER BY participant_id")"
REC=$(catalog "SELECT r.path FROM recordings AS r JOIN streams AS s ON s.id = r.stream_id WHERE s.label = '1'")
check_eq "recording header: payload map after the codec" "G729|18 G729/8000 annexb=no
98 AMR-WB/16000 octet-align=1
101 telephone-event/8000 0-15" "$(python3 - "$REC" <<'PY'
import struct, sys
h = open(sys.argv[1], "rb").read(4096)
off, s = 48, []
for _ in range(6):
    n = struct.unpack_from("<H", h, off)[0]
    s.append(h[off + 2:off + 2 + n].decode())
    off += 2 + n
print(s[4] + "|" + s[5])
PY
)"
check_eq "recording: frames of every payload type kept (18, 98, 101)" "18 98 101" "$(
	"$BUILD/siprec-export" -c "$CONF" --pcap "$T/c1.pcap" "$REC" >/dev/null 2>&1 &&
	python3 - "$T/c1.pcap" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
off, pts = 24, []
while off + 16 <= len(d):
    incl = struct.unpack_from("<I", d, off + 8)[0]
    pkt = d[off + 16:off + 16 + incl]
    off += 16 + incl
    if len(pkt) > 28 + 12 and pkt[28] >> 6 == 2:
        pt = pkt[29] & 0x7f
        if pt not in pts:
            pts.append(pt)
print(" ".join(str(p) for p in pts))
PY
)"
check_eq "export: each payload type named by the header's map" \
	"18 G729|98 AMR-WB|101 telephone-event" \
	"$("$BUILD/siprec-export" -c "$CONF" --metadata-json "$REC" 2>/dev/null |
		jq -r '[.[0].payload_types[] | "\(.payload_type) \(.encoding)"] | join("|")')"

# ---- 2: a required body part siprecd does not understand: 415, audited as 415 (not 400)
code=$($SRC --invite "$D/415-required-part.invite" --out "$T/c2")
check_eq "required unknown part: 415" 415 "$code"
check "audit says 415" wait_for "$T/siprecd.log" 'refused with 415' 3
check "audit does not say 400" sh -c "! grep -q 'refused with 400' '$T/siprecd.log'"

# ---- 3: siprecd's own BYE (siprecctl stop) has the SRC's tag once, no other From params
$SRC --invite "$D/pcmu-display-from.invite" --out "$T/c3" --rtp 0 --ready "$T/c3.up" \
	--wait-bye 10 >"$T/c3.out" 2>&1 &
BG_PIDS=$!
i=0
while [ ! -e "$T/c3.up" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
S3=$(catalog "SELECT uuid FROM sessions WHERE state = 'active'")
check "siprecctl stop" "$BUILD/siprecctl" --socket "$T/run/control" stop "$S3"
wait "$BG_PIDS"
check "siprecd sent a BYE" test -s "$T/c3/bye.txt"
check_eq "BYE To: display, URI and the tag once" \
	"To: \"Session Recording Client\" <sip:src@127.0.0.1>;tag=$(sed -n 's/^From:.*;tag=\([^;]*\);.*/\1/p' "$T/c3/response.txt" | tr -d '\r')" \
	"$(grep '^To:' "$T/c3/bye.txt" | tr -d '\r')"
stop_siprecd
check_eq "exit status" 0 "$STOP_RC"
finish
