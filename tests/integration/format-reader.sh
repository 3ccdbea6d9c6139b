#!/bin/sh
# SPDX-License-Identifier: MIT
# Known answers that do not come from the code they test: tests/helpers/siprec-read.py, a reader
# of docs/FORMAT.md and docs/KEYS.md in Python `cryptography`, reads the committed vectors and
# must find exactly what docs/FORMAT.md lists (header fields, frames, SHA-256, the HKDF known
# answer; flipped bits refused). Then a real SRTP call is recorded while the data key rotates
# under it (siprecctl rotate-keys mid-call) and a second call runs under the new version: the
# first call's recordings keep version 1 to their FINAL chunk, the second's use version 2, both
# sessions export, and for every recording the independent reader (DEK unwrapped from the
# catalog with the KEK) decrypts the same RTP frames siprec-export writes to a pcap.
. "$SRCDIR/tests/integration/lib.sh"
need python3 sqlite3 jq
python3 -c 'import cryptography' 2>/dev/null || bad "python3-cryptography missing (tools/install-deps.sh installs it)"
READ=$SRCDIR/tests/helpers/siprec-read.py
EXPORT=$BUILD/siprec-export
WAV=$SRCDIR/tests/data/audio/speech-stereo-8k.wav

# ---- the committed vectors, read by the independent reader
check "vectors read as docs/FORMAT.md lists them" python3 "$READ" vectors "$SRCDIR/tests/data/vectors"
python3 "$READ" vectors "$SRCDIR/tests/data/vectors"

# ---- a data-key rotation during a live call
start_siprecd
"$BUILD/siprec-src" -q -s 127.0.0.1:"$SIP_PORT" --srtp AEAD_AES_128_GCM --wav "$WAV" --loop \
	--duration 3 --json >"$T/a.json" 2>"$T/a.err" &
A=$!
BG_PIDS=$A
writing() { catalog "SELECT count(*) FROM recordings WHERE state = 'writing'"; }
i=0
while [ "$(writing)" != 2 ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
check_eq "call A recording (2 streams writing)" 2 "$(writing)"
check "siprecctl rotate-keys during call A" "$BUILD/siprecctl" -c "$CONF" rotate-keys
check "the daemon switched to version 2" wait_for "$T/siprecd.log" "version 2 is now used for new recordings" 15
check_eq "call A still writing after the rotation" 2 "$(writing)"
"$BUILD/siprec-src" -q -s 127.0.0.1:"$SIP_PORT" --srtp AES_CM_128_HMAC_SHA1_80 --wav "$WAV" \
	--duration 1 --json >"$T/b.json" 2>"$T/b.err"
check_eq "call B ok" ok "$(jq -r '.calls[0].result' "$T/b.json")"
wait $A
check_eq "call A ok" ok "$(jq -r '.calls[0].result' "$T/a.json")"
BG_PIDS=""
stop_siprecd
check_eq "exit status" 0 "$STOP_RC"

sess() { catalog "SELECT uuid FROM sessions WHERE call_id = '$(jq -r '.calls[0].call_id' "$T/$1.json")'"; }
SA=$(sess a) SB=$(sess b)
vers() { catalog "SELECT group_concat(key_version) FROM (SELECT r.key_version FROM recordings r JOIN sessions s ON s.id = r.session_id WHERE s.uuid = '$1' ORDER BY r.id)"; }
check_eq "call A's recordings keep version 1 (started before the rotation)" "1,1" "$(vers "$SA")"
check_eq "call B's recordings use version 2" "2,2" "$(vers "$SB")"
check_eq "all four recordings final and complete" "4" "$(catalog "SELECT count(*) FROM recordings WHERE state = 'final' AND complete = 1")"
for s in "$SA" "$SB"; do
	if "$EXPORT" --config "$CONF" --session "$s" --catalog "$T/state/catalog.db" -o "$T/$s.wav" >"$T/$s.export" 2>&1; then
		ok "session $s exports to WAV ($(stat -c %s "$T/$s.wav") bytes)"
	else
		bad "session $s does not export: $(tail -n 1 "$T/$s.export")"
	fi
done

# ---- the independent reader against siprec-export, recording by recording
n=0
for f in $(catalog "SELECT path FROM recordings ORDER BY id"); do
	n=$((n + 1))
	"$EXPORT" --config "$CONF" "$f" --pcap "$T/r$n.pcap" >"$T/r$n.export" 2>&1 || bad "siprec-export --pcap $f"
	if out=$(python3 "$READ" compare-pcap "$f" "$T/r$n.pcap" --catalog "$T/state/catalog.db" \
		--kek-file "$T/state/keys/master.key" 2>&1); then
		ok "independent reader == siprec-export: $(echo "$out" | sed 's/.*: \([0-9]* RTP frames.*\)/\1/')"
	else
		bad "independent reader: $out"
	fi
done
check_eq "four recordings compared" 4 "$n"
finish
