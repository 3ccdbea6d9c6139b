#!/bin/sh
# SPDX-License-Identifier: MIT
# siprec-src -> siprecd end to end: over UDP, TCP and TLS (verified against the daemon's
# self-signed certificate) with each SDES suite and plain RTP, one call of the first 0.5 s of a
# stereo WAV each (25 packets per stream: the checks need no longer media, and the 15 calls are
# played in real time). Checks the 200 OK, the packets sent vs the catalog's per-stream counts and
# suites, complete recordings, and that siprec-export's WAV equals the source's first 0.5 s passed
# through G.711 sample-exactly.
. "${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib.sh"
need sqlite3 jq python3

SRC=$BUILD/siprec-src
EXPORT=$BUILD/siprec-export
WAV=$SRCDIR/tests/data/audio/speech-stereo-8k.wav
[ -x "$SRC" ] && [ -x "$EXPORT" ] || { bad "siprec-src or siprec-export not built"; finish; }

# g711_equal EXPORT.wav SOURCE.wav pcmu|pcma FRAMES: the export equals the source's first FRAMES
# frames encoded with G.711 exactly as siprec-src does (spandsp's tables) and decoded again,
# sample for sample.
g711_equal() {
	python3 - "$@" <<'PY'
import struct, sys, wave

def top_bit(x):
    return x.bit_length() - 1

def lin2ulaw(v):  # spandsp linear_to_ulaw: bias 0x84, no "-linear - 1" for negatives
    v, mask = (0x84 + v, 0xFF) if v >= 0 else (0x84 - v, 0x7F)
    seg = top_bit(v | 0xFF) - 7
    return (0x7F ^ mask) if seg >= 8 else (((seg << 4) | ((v >> (seg + 3)) & 0xF)) ^ mask)

def ulaw2lin(u):
    u = ~u & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return 0x84 - t if u & 0x80 else t - 0x84

def lin2alaw(v):
    mask = 0xD5
    if v < 0:
        mask, v = 0x55, -v - 1
    seg = top_bit(v | 0xFF) - 7
    if seg >= 8:
        return 0x7F ^ mask
    return ((seg << 4) | ((v >> (seg + 3 if seg else 4)) & 0x0F)) ^ mask

def alaw2lin(a):
    a ^= 0x55
    i, seg = (a & 0x0F) << 4, (a & 0x70) >> 4
    i = (i + 0x108) << (seg - 1) if seg else i + 8
    return i if a & 0x80 else -i

def read(p):
    w = wave.open(p)
    d = w.readframes(w.getnframes())
    return w.getnchannels(), w.getframerate(), struct.unpack("<%dh" % (len(d) // 2), d)

enc, dec = (lin2ulaw, ulaw2lin) if sys.argv[3] == "pcmu" else (lin2alaw, alaw2lin)
ce, re_, e = read(sys.argv[1])
cs, rs, s = read(sys.argv[2])
frames = int(sys.argv[4])
if len(s) < frames * cs:
    sys.exit("the source has fewer than %d frames" % frames)
x = [dec(enc(v)) for v in s[:frames * cs]]
if (ce, re_) != (cs, rs) or len(e) != len(x):
    sys.exit("format or length differs: export %d ch %d Hz %d samples, source %d ch %d Hz %d"
             % (ce, re_, len(e), cs, rs, len(x)))
diff = [i for i in range(len(e)) if e[i] != x[i]]
if diff:
    sys.exit("%d samples differ, first at %d: %d != %d" % (len(diff), diff[0], e[diff[0]], x[diff[0]]))
PY
}

start_siprecd
n=0
for tr in udp tcp tls; do
	for suite in AES_CM_128_HMAC_SHA1_80 AES_CM_128_HMAC_SHA1_32 AEAD_AES_128_GCM \
		AEAD_AES_256_GCM none; do
		n=$((n + 1))
		name=$tr-$suite
		port=$SIP_PORT
		set --
		[ $tr = tls ] && { port=$TLS_PORT; set -- --ca "$T/state/tls/cert.pem"; }
		if [ $suite = none ]; then set -- "$@" --no-srtp; else set -- "$@" --srtp $suite; fi
		# plain RTP over TLS uses A-law, so both G.711 laws are covered
		law=pcmu
		[ $name = tls-none ] && law=pcma
		src_steady "$T/$name.json" "$T/$name.err" timeout 60 "$SRC" -q -t $tr \
			-s 127.0.0.1:$port "$@" --codec $law --wav "$WAV" --duration 500ms --json
		rc=$?
		# a call placed again (src_steady) is a session of its own
		n=$((n + _try - 1))
		check_eq "$name: siprec-src exit" 0 $rc
		[ $rc -eq 0 ] || cat "$T/$name.err"
		check_eq "$name: 200 OK, 25 packets per stream" "200 25 25" \
			"$(jq -r '[.calls[0].status, .calls[0].streams[].packets] | map(tostring) | join(" ")' "$T/$name.json")"
		call_id=$(jq -r '.calls[0].call_id' "$T/$name.json")
		uuid=$(catalog "SELECT uuid FROM sessions WHERE call_id = '$call_id'")
		[ -n "$uuid" ] || { bad "$name: no session in the catalog"; continue; }
		# the catalog's final rows are written after BYE by the catalog thread
		i=0
		while [ $i -lt 50 ] && [ "$(catalog "SELECT count(*) FROM recordings r JOIN sessions s ON s.id = r.session_id WHERE s.uuid = '$uuid' AND r.state = 'final'")" != 2 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		sent=$(jq -r '[.calls[0].streams[] | "\(.label):\(.packets)"] | join(" ")' "$T/$name.json")
		got=$(catalog "SELECT group_concat(label || ':' || packets, ' ') FROM (SELECT st.label, st.packets FROM streams st JOIN sessions s ON s.id = st.session_id WHERE s.uuid = '$uuid' ORDER BY st.label)")
		check_eq "$name: catalog packets per stream == sent" "$sent" "$got"
		want_suite=$suite
		[ $suite = none ] && want_suite=
		check_eq "$name: suite, transport, no SRTP errors" "$want_suite $want_suite|$tr|0" \
			"$(catalog "SELECT group_concat(coalesce(st.srtp_suite, ''), ' ') || '|' || s.transport || '|' || sum(st.srtp_auth_failures + st.srtp_replays + st.lost) FROM streams st JOIN sessions s ON s.id = st.session_id WHERE s.uuid = '$uuid'")"
		check_eq "$name: 2 recordings final and complete, 25 frames each" "2|50" \
			"$(catalog "SELECT sum(r.complete), sum(r.frames) FROM recordings r JOIN sessions s ON s.id = r.session_id WHERE s.uuid = '$uuid' AND r.state = 'final'")"
		"$EXPORT" -k "$T/state/keys/master.key" --session "$uuid" --catalog "$T/state/catalog.db" \
			-o "$T/$name.wav" >"$T/$name.export" 2>&1
		rc=$?
		check_eq "$name: siprec-export exit" 0 $rc
		[ $rc -eq 0 ] || cat "$T/$name.export"
		if out=$(g711_equal "$T/$name.wav" "$WAV" $law 4000 2>&1); then
			ok "$name: exported WAV == source through G.711 ($law), sample-exact"
		else
			bad "$name: exported WAV differs: $out"
		fi
	done
done
check_eq "sessions in the catalog" $n "$(catalog 'SELECT count(*) FROM sessions')"
stop_siprecd
check_eq "siprecd exit status" 0 "$STOP_RC"
check "no SRTP failure logged" sh -c "! grep -q 'SRTP.*authentication failed' '$T/siprecd.log'"
finish
