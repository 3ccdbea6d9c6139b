#!/bin/sh
# SPDX-License-Identifier: MIT
# An older catalog with data in it (tests/data/catalog-v2: schema version 2, two ended sessions
# with four legacy recordings sealed under a key file) is migrated by the current siprecd in
# place: every migration applied (user_version = the number of sql/*.sql), the old sessions,
# streams and recordings still there with their counts, the legacy key file kept as the `file`
# KEK's read-only legacy data key, a new call recorded under a data key of the hierarchy, and
# every recording, old and new, exports: siprec-export through the migrated catalog, and the
# independent reader (tests/helpers/siprec-read.py) finds the same RTP frames.
. "$SRCDIR/tests/integration/lib.sh"
need python3 sqlite3 jq
FIX=$SRCDIR/tests/data/catalog-v2
READ=$SRCDIR/tests/helpers/siprec-read.py
mkdir -p "$T/state/keys" "$T/state/recordings/2026-12-04"
cp "$FIX/catalog.db" "$T/state/catalog.db"
cp "$FIX/master.key" "$T/state/keys/master.key"
cp "$FIX"/recordings/*.siprec "$T/state/recordings/2026-12-04/"
chmod 700 "$T/state" "$T/state/keys"
chmod 600 "$T/state/keys/master.key" "$T/state/catalog.db"
# The fixture was written in another state directory: point its paths here.
catalog "UPDATE recordings SET path = replace(path, '/var/tmp/siprecd-fixture-v2/state', '$T/state')"
check_eq "fixture: schema version 2, 2 sessions, 4 final recordings" "2 2 4" \
	"$(catalog "PRAGMA user_version") $(catalog "SELECT count(*) FROM sessions") $(catalog "SELECT count(*) FROM recordings WHERE state = 'final' AND complete = 1")"

start_siprecd
nmig=$(ls "$SRCDIR"/sql/[0-9]*.sql | wc -l)
check_eq "every migration applied" "$nmig" "$(catalog "PRAGMA user_version")"
check_eq "migration 12: no IN-list CHECK left on sessions, streams, recordings" 0 \
	"$(catalog "SELECT count(*) FROM sqlite_schema WHERE name IN ('sessions', 'streams', 'recordings') AND sql LIKE '%state IN (%'")"
check_eq "migrated catalog intact" ok "$(catalog "PRAGMA integrity_check")"
check_eq "old sessions kept" "2 ended,ended" "$(catalog "SELECT count(*) || ' ' || group_concat(state) FROM sessions")"
check_eq "old streams kept with their packet counts" "50,50,50,50" "$(catalog "SELECT group_concat(packets) FROM (SELECT packets FROM streams ORDER BY id)")"
check_eq "old recordings kept under the legacy key id" "4 file:ed3777d2875af963" \
	"$(catalog "SELECT count(*) || ' ' || group_concat(DISTINCT key_id) FROM recordings")"
"$BUILD/siprec-src" -q -s 127.0.0.1:"$SIP_PORT" --srtp AEAD_AES_128_GCM \
	--wav "$SRCDIR/tests/data/audio/speech-stereo-8k.wav" --duration 1 --json >"$T/new.json" 2>"$T/new.err"
check_eq "a new call after the migration" ok "$(jq -r '.calls[0].result' "$T/new.json")"
i=0
while [ "$(catalog "SELECT count(*) FROM recordings WHERE state = 'final'")" != 6 ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
stop_siprecd
check_eq "exit status" 0 "$STOP_RC"
check_eq "the new call's recordings use a data key of the hierarchy" "dek:" \
	"$(catalog "SELECT DISTINCT substr(key_id, 1, 4) FROM recordings WHERE key_id NOT LIKE 'file:%'")"

for s in $(catalog "SELECT uuid FROM sessions ORDER BY id"); do
	if "$BUILD/siprec-export" --config "$CONF" --session "$s" --catalog "$T/state/catalog.db" -o "$T/$s.wav" >"$T/$s.export" 2>&1; then
		frames=$(python3 -c "import wave,sys; print(wave.open(sys.argv[1]).getnframes())" "$T/$s.wav")
		ok "session $s exports ($frames frames)"
		range=$(python3 "$SRCDIR/tests/helpers/expected-frames.py" "$T/state/catalog.db" "$s")
		if [ "$frames" -ge "${range% *}" ] && [ "$frames" -le "${range#* }" ]; then
			ok "session $s: $frames frames, as its catalog rows say ($range)"
		else
			bad "session $s: $frames frames, its catalog rows say $range"
		fi
	else
		bad "session $s does not export: $(tail -n 1 "$T/$s.export")"
	fi
done
n=0
for f in $(catalog "SELECT path FROM recordings ORDER BY id"); do
	n=$((n + 1))
	"$BUILD/siprec-export" --config "$CONF" "$f" --pcap "$T/r$n.pcap" >"$T/r$n.export" 2>&1 || bad "siprec-export --pcap $(basename "$f")"
	if out=$(python3 "$READ" compare-pcap "$f" "$T/r$n.pcap" --catalog "$T/state/catalog.db" \
		--kek-file "$T/state/keys/master.key" --legacy-key-file "$T/state/keys/master.key" 2>&1); then
		ok "independent reader == siprec-export: $(echo "$out" | sed 's/.*: \([0-9]* RTP frames.*\)/\1/')"
	else
		bad "independent reader: $out"
	fi
done
check_eq "six recordings compared (four old, two new)" 6 "$n"
finish
