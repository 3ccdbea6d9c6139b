#!/bin/sh
# SPDX-License-Identifier: MIT
# G.722 and opus round trips through the recorder and the exporter: a 1 kHz sine encoded by the
# codecs' own libraries (tests/helpers/codec-rtp: spandsp G.722 at 64 kbit/s, libopus at
# 64 kbit/s) is sent to siprecd in a call that offers that codec alone; siprec-export must give
# back a mono WAV at the codec's rate (16 kHz, 48 kHz) with exactly the frames the catalog's
# packet count says, holding a 1 kHz sine of the amplitude that went in (least-squares fit over
# the middle of the call: amplitude within 10 %, what is not the sine below 10 % of it).
. "$SRCDIR/tests/integration/lib.sh"
need python3 sqlite3
HELPER=$BUILD/tests/helpers/codec-rtp
[ -x "$HELPER" ] || bad "$HELPER not built (make tests)"
start_siprecd
for codec in g722 opus; do
	case $codec in
	g722) pt=9 rtpmap="G722/8000" rate=16000 ;;
	opus) pt=111 rtpmap="opus/48000/2" rate=48000 ;;
	esac
	SRCDIR=$SRCDIR python3 - "$SIP_PORT" "$codec" "$pt" "$rtpmap" "$HELPER" >"$T/$codec.out" 2>&1 <<'PY'
import os, subprocess, sys
sys.path.insert(0, os.environ["SRCDIR"] + "/tests/helpers")
from sipua import UA, Call, sdp_media, free_udp_port

port, codec, pt, rtpmap, helper = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
ua = UA(port)
sp = free_udp_port()
sdp = ("v=0\r\no=src 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       f"m=audio {sp} RTP/AVP {pt}\r\na=rtpmap:{pt} {rtpmap}\r\na=label:1\r\na=sendonly\r\n")
c = Call(ua, f"codec-{codec}")
r = c.request("INVITE", sdp)
print("status", r.status if r else "timeout")
m = sdp_media(r.body) if r and r.status == 200 else []
print("answer", " ".join(map(str, m[0]["pts"])) if m else "-")
c.ack()
if m:
    out = subprocess.run([helper, codec, pt, str(m[0]["port"]), str(sp), "4660", "2", "1000", "8000"],
                         capture_output=True, text=True)
    print("sent", out.stdout.strip(), out.stderr.strip())
r = c.request("BYE")
print("bye", r.status if r else "timeout")
PY
	cat "$T/$codec.out"
	check_eq "$codec: call answered with the codec" "status 200 answer $pt" "$(sed -n '1,2p' "$T/$codec.out" | tr '\n' ' ' | sed 's/ $//')"
	check_eq "$codec: 100 packets sent" "sent 100 " "$(grep '^sent' "$T/$codec.out")"
	uuid=$(catalog "SELECT uuid FROM sessions WHERE call_id = 'codec-$codec'")
	i=0
	while [ "$(catalog "SELECT count(*) FROM recordings r JOIN sessions s ON s.id = r.session_id WHERE s.uuid = '$uuid' AND r.state = 'final'")" != 1 ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	check_eq "$codec: all 100 packets recorded" 100 "$(catalog "SELECT st.packets FROM streams st JOIN sessions s ON s.id = st.session_id WHERE s.uuid = '$uuid'")"
	if "$BUILD/siprec-export" --config "$CONF" --session "$uuid" --catalog "$T/state/catalog.db" -o "$T/$codec.wav" >"$T/$codec.export" 2>&1; then
		ok "$codec: exported"
	else
		bad "$codec: export failed: $(tail -n 1 "$T/$codec.export")"
		continue
	fi
	range=$(python3 "$SRCDIR/tests/helpers/expected-frames.py" "$T/state/catalog.db" "$uuid" $((rate / 50)) "$rate")
	python3 - "$T/$codec.wav" 1000 8000 >"$T/$codec.fit" 2>&1 <<'PY'
import math, struct, sys, wave
w = wave.open(sys.argv[1])
hz, amp = float(sys.argv[2]), float(sys.argv[3])
rate, n = w.getframerate(), w.getnframes()
x = struct.unpack("<%dh" % (n * w.getnchannels()), w.readframes(n))[::w.getnchannels()]
# The middle second: no codec start-up, no end.
a0, a1 = n // 4, 3 * n // 4
seg = x[a0:a1]
c = [math.cos(2 * math.pi * hz * (a0 + i) / rate) for i in range(len(seg))]
s = [math.sin(2 * math.pi * hz * (a0 + i) / rate) for i in range(len(seg))]
a = 2 * sum(v * k for v, k in zip(seg, c)) / len(seg)
b = 2 * sum(v * k for v, k in zip(seg, s)) / len(seg)
fit = math.hypot(a, b)
res = math.sqrt(sum((v - a * k - b * q) ** 2 for v, k, q in zip(seg, c, s)) / len(seg))
print(f"channels {w.getnchannels()} rate {rate} frames {n} amplitude {fit:.0f} residual {res / max(fit, 1):.3f}")
PY
	cat "$T/$codec.fit"
	set -- $(cat "$T/$codec.fit")
	check_eq "$codec: mono WAV at $rate Hz" "1 $rate" "$2 $4"
	if [ "$6" -ge "${range% *}" ] 2>/dev/null && [ "$6" -le "${range#* }" ]; then
		ok "$codec: $6 frames, as the catalog's packets say ($range)"
	else
		bad "$codec: $6 frames, the catalog's packets say $range"
	fi
	awk -v a="$8" -v r="${10}" 'BEGIN { exit !(a >= 7200 && a <= 8800 && r < 0.10) }' &&
		ok "$codec: the 1 kHz sine of amplitude 8000 comes back (amplitude $8, residual ${10})" ||
		bad "$codec: the decoded audio is not the tone sent (amplitude $8, residual ${10})"
done
stop_siprecd
check_eq "exit status" 0 "$STOP_RC"
finish
