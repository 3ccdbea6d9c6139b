#!/bin/sh
# SPDX-License-Identifier: MIT
# siprec-export for people (issue 10 items 1, 7, 8, 10), on recordings written by the real
# writer (tests/helpers/siprec-fixture): three streams give a 3-channel WAV, --mix one mono
# channel holding all three, FLAC, --per-participant one file per sender named from the catalog;
# a frame is decoded by its own payload type (A-law inside a µ-law stream); RFC 4733 DTMF is
# silence in the audio and digits in --metadata-json; a codec without a decoder fails the WAV
# naming it, --skip-undecodable leaves it out, --pcap still exports it; a payload type that only
# the catalog's stream_formats maps is decoded through it.
. "$SRCDIR/tests/integration/lib.sh"
need python3 sqlite3

EXPORT=$BUILD/siprec-export
FIX=$BUILD/tests/helpers/siprec-fixture
[ -x "$EXPORT" ] && [ -x "$FIX" ] || { bad "siprec-export or siprec-fixture not built"; finish; }
cd "$T" || exit 1

# Stream 1: 440 Hz µ-law 1 s, DTMF '5' for 100 ms (no audio), 440 Hz µ-law 0.5 s, then 440 Hz
# as A-law frames (PT 8) 0.4 s. Streams 2 and 3: 660 and 880 Hz. Stream 4: EVS (no decoder).
"$FIX" a.siprec PCMU 0 1 sess-1 rec-a 0 pcmu:440:1000 dtmf:5:100 pcmu:440:500 pcma:440:400 &&
	"$FIX" b.siprec PCMU 0 2 sess-1 rec-b 5 pcmu:660:2000 &&
	"$FIX" c.siprec PCMU 0 3 sess-1 rec-c 0 pcmu:880:2000 &&
	"$FIX" e.siprec EVS 96 4 sess-1 rec-e 0 opaque:96:1000 &&
	"$FIX" d.siprec PCMU 0 5 sess-1 rec-d 0 pcmu:440:500 alawdyn:440:500 pcmu:440:200 ||
	{ bad "fixtures not written"; finish; }

# wavinfo FILE [CH FROM_S TO_S FREQ...]: "channels rate format" or, per FREQ, the share (%) of
# the range's energy at that frequency (Goertzel) of channel CH, then its RMS and peak.
cat >wavinfo.py <<'PY'
import math, struct, sys
d = open(sys.argv[1], 'rb').read()
assert d[:4] == b'RIFF' and d[8:12] == b'WAVE'
pos, fmt, data = 12, None, None
while pos + 8 <= len(d):
    cid, n = d[pos:pos + 4], struct.unpack('<I', d[pos + 4:pos + 8])[0]
    if cid == b'fmt ':
        fmt = struct.unpack('<HHIIHH', d[pos + 8:pos + 24])
    elif cid == b'data':
        data = d[pos + 8:pos + 8 + n]
    pos += 8 + n + (n & 1)
tag, nch, rate = fmt[0], fmt[1], fmt[2]
if len(sys.argv) == 2:
    print(nch, rate, hex(tag))
    sys.exit(0)
ch, a, b = int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
s = struct.unpack('<%dh' % (len(data) // 2), data)[ch::nch][int(a * rate):int(b * rate)]
e = sum(x * x for x in s) or 1
out = []
for f in sys.argv[5:]:
    c = 2 * math.cos(2 * math.pi * float(f) / rate)
    s1 = s2 = 0.0
    for x in s:
        s1, s2 = x + c * s1 - s2, s1
    out.append('%d' % round(100 * 2 * (s1 * s1 + s2 * s2 - c * s1 * s2) / (len(s) * e)))
out.append('%d' % round(math.sqrt(e / max(len(s), 1))))
out.append('%d' % max((abs(x) for x in s), default=0))
print(' '.join(out))
PY
W="python3 wavinfo.py"

# ---- three streams: three channels, each its own tone
if "$EXPORT" a.siprec b.siprec c.siprec -o three.wav 2>three.err; then
	check_eq "3 streams: WAV channels, rate, WAVE_FORMAT_EXTENSIBLE" "3 8000 0xfffe" "$($W three.wav)"
	for c in "0 440" "1 660" "2 880"; do
		set -- $c
		share=$($W three.wav "$1" 0.2 0.9 "$2" | cut -d' ' -f1)
		[ "$share" -ge 90 ] && ok "channel $1: ${share}% of its energy at $2 Hz" ||
			bad "channel $1: only ${share}% at $2 Hz"
	done
	# RFC 4733: the DTMF event (1.0-1.1 s) is silence, not clicks.
	check_eq "DTMF time is silence in the audio (RMS, peak)" "0 0" "$($W three.wav 0 1.0 1.1 | cut -d' ' -f1,2)"
	# Item 8: the A-law frames (PT 8) in the µ-law stream decode to the same tone at the same
	# level as the µ-law frames (A-law read as µ-law would not).
	ulaw=$($W three.wav 0 1.2 1.5 440 | cut -d' ' -f2)
	alaw=$($W three.wav 0 1.65 1.95 440)
	share=${alaw%% *}
	rms=$(echo "$alaw" | cut -d' ' -f2)
	if [ "$share" -ge 90 ] && [ $((rms * 100 / ulaw)) -ge 95 ] && [ $((rms * 100 / ulaw)) -le 105 ]; then
		ok "A-law frames in a µ-law stream decoded as A-law (440 Hz ${share}%, RMS $rms vs $ulaw)"
	else
		bad "A-law frames: 440 Hz ${share}%, RMS $rms vs µ-law $ulaw"
	fi
else
	bad "3-stream WAV export: $(cat three.err)"
fi

# ---- --mix: one channel, all three voices
if "$EXPORT" a.siprec b.siprec c.siprec -o mix.wav --mix 2>mix.err; then
	check_eq "--mix: mono" "1 8000 0x1" "$($W mix.wav)"
	shares=$($W mix.wav 0 0.2 0.9 440 660 880)
	set -- $shares
	[ "$1" -ge 25 ] && [ "$2" -ge 25 ] && [ "$3" -ge 25 ] &&
		ok "--mix: 440/660/880 Hz each hold a third ($1% $2% $3%)" ||
		bad "--mix: shares $shares"
else
	bad "--mix export: $(cat mix.err)"
fi

# ---- FLAC
if "$EXPORT" a.siprec b.siprec c.siprec -o three.flac 2>flac.err; then
	check_eq "FLAC: stream marker" fLaC "$(head -c 4 three.flac)"
	fs=$(stat -c %s three.flac)
	ws=$(stat -c %s three.wav)
	[ "$fs" -lt "$ws" ] && ok "FLAC smaller than WAV ($fs < $ws bytes)" || bad "FLAC $fs bytes, WAV $ws"
else
	bad "FLAC export: $(cat flac.err)"
fi

# ---- --per-participant: senders from the catalog (streams.participant_id)
sqlite3 cat.db "CREATE TABLE participants (id INTEGER PRIMARY KEY, participant_id TEXT, name TEXT, aor TEXT);
CREATE TABLE streams (id INTEGER PRIMARY KEY, participant_id INTEGER);
CREATE TABLE recordings (id INTEGER PRIMARY KEY, uuid TEXT, stream_id INTEGER);
INSERT INTO participants VALUES (1, 'p-alice', 'Alice Smith', 'sip:alice@example.com'), (2, 'p-bob', NULL, 'sip:bob@example.net');
INSERT INTO streams VALUES (1, 1), (2, 1), (3, 2);
INSERT INTO recordings VALUES (1, 'rec-a', 1), (2, 'rec-b', 2), (3, 'rec-c', 3);"
if "$EXPORT" --catalog cat.db a.siprec b.siprec c.siprec --per-participant people >people.out 2>people.err; then
	check_eq "--per-participant: files" "01-Alice_Smith.wav 02-sip_bob@example.net.wav" "$(ls people | tr '\n' ' ' | sed 's/ $//')"
	check_eq "--per-participant: Alice sent streams 1 and 2" 1 "$(grep -c 'people/01-Alice_Smith.wav	participant=p-alice	name=Alice Smith	aor=sip:alice@example.com	streams=1,2' people.out)"
	set -- $($W people/01-Alice_Smith.wav 0 0.2 0.9 440 660 880)
	[ "$1" -ge 40 ] && [ "$2" -ge 40 ] && [ "$3" -le 2 ] &&
		ok "Alice's file: her two streams (440 $1%, 660 $2%), not Bob's (880 $3%)" ||
		bad "Alice's file: 440 $1% 660 $2% 880 $3%"
	set -- $($W people/02-sip_bob@example.net.wav 0 0.2 0.9 880)
	[ "$1" -ge 90 ] && ok "Bob's file: 880 Hz ($1%)" || bad "Bob's file: 880 Hz $1%"
else
	bad "--per-participant: $(cat people.err)"
fi

# ---- a payload type only the catalog knows (a re-offer added A-law on PT 97: stream_formats)
if "$EXPORT" d.siprec -o dyn-nocat.wav 2>dyn-nocat.err; then
	check_eq "PT 97 without a catalog: named, exported as silence" 1 "$(grep -c '25 frames of payload type 97 (not negotiated) have no decoder' dyn-nocat.err)"
	check_eq "PT 97 without a catalog: silence" "0 0" "$($W dyn-nocat.wav 0 0.55 0.95 | cut -d' ' -f1,2)"
else
	bad "PT 97 without a catalog: $(cat dyn-nocat.err)"
fi
sqlite3 cat.db "CREATE TABLE stream_formats (stream_id INTEGER, payload_type INTEGER, encoding TEXT, clock_rate INTEGER, fmtp TEXT);
INSERT INTO streams VALUES (5, 2); INSERT INTO recordings VALUES (5, 'rec-d', 5);
INSERT INTO stream_formats VALUES (5, 0, 'PCMU', 8000, NULL), (5, 97, 'PCMA', 8000, NULL);"
if "$EXPORT" --catalog cat.db d.siprec -o dyn-cat.wav 2>dyn-cat.err; then
	set -- $($W dyn-cat.wav 0 0.55 0.95 440)
	[ "$1" -ge 90 ] && [ "$2" -ge 5000 ] && ok "PT 97 mapped by the catalog's stream_formats: A-law 440 Hz ($1%, RMS $2)" ||
		bad "PT 97 with the catalog: 440 Hz $1%, RMS $2"
else
	bad "PT 97 with the catalog: $(cat dyn-cat.err)"
fi

# ---- DTMF digits in --metadata-json
"$EXPORT" --metadata-json a.siprec b.siprec >meta.json 2>meta.err || bad "--metadata-json: $(cat meta.err)"
check_eq "--metadata-json: digits (digit stream start duration ended)" "5 1 1.0 0.1 True" \
	"$(python3 -c 'import json,sys; print(" ".join("%s %s %s %s %s" % (d["digit"], d["stream"], d["start"], d["duration"], d["ended"]) for f in json.load(open("meta.json")) for d in f["dtmf"]))')"
check_eq "--metadata-json: payload types of stream 1" "0:PCMU:75:decoded 8:PCMA:20:decoded 101:telephone-event:7:dtmf" \
	"$(python3 -c 'import json; print(" ".join("%d:%s:%d:%s" % (p["payload_type"], p["encoding"], p["frames"], p["export"]) for p in json.load(open("meta.json"))[0]["payload_types"]))')"

# ---- a codec without a decoder
if "$EXPORT" a.siprec e.siprec -o evs.wav 2>evs.err; then
	bad "WAV export of an EVS stream succeeded"
else
	check_eq "EVS: WAV export names the codec" 1 "$(grep -c 'stream "4": cannot decode codec EVS (payload type 96)' evs.err)"
	[ -e evs.wav ] && bad "EVS: a WAV was left behind" || ok "EVS: no WAV written"
fi
if "$EXPORT" a.siprec e.siprec -o skip.wav --skip-undecodable 2>skip.err; then
	check_eq "--skip-undecodable: the other stream written (mono)" "1 8000 0x1" "$($W skip.wav)"
	check_eq "--skip-undecodable: says which stream" 1 "$(grep -c 'stream "4" left out of the audio' skip.err)"
else
	bad "--skip-undecodable: $(cat skip.err)"
fi
check "EVS: --pcap still exports it" "$EXPORT" e.siprec --pcap evs.pcap
finish
