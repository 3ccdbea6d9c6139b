#!/bin/sh
# SPDX-License-Identifier: MIT
# Crash recovery: a call is recording (siprec-src, plain RTP, two streams) when siprecd gets
# SIGKILL. On the next start the session is 'interrupted' (end reason 'crash'), each recording is
# checked: readable up to its last durable chunk, reported incomplete with its size, chunk and
# frame counts and sha256 in the catalog, and a recording-incomplete audit line names it;
# siprec-export says "incomplete" (exit 3) and exports the durable part with --allow-incomplete.
. "$SRCDIR/tests/integration/lib.sh"
need sqlite3 sha256sum python3
SRC=$BUILD/siprec-src
EXPORT=$BUILD/siprec-export
[ -x "$SRC" ] && [ -x "$EXPORT" ] || { bad "siprec-src / siprec-export not built"; finish; }

start_siprecd
"$SRC" -q -s 127.0.0.1:"$SIP_PORT" --no-srtp --wav "$SRCDIR/tests/data/audio/tone-mono-8k.wav" \
	--loop --duration 30 >"$T/src.out" 2>&1 &
SRC_PID=$!
BG_PIDS="$SRC_PID"

# Mid-call: both recording files hold a chunk beyond the header (FLUSH_INTERVAL=200ms). The
# size tells nothing (zeros are written ahead of the data): chunk 0's magic at 4096 does.
n=$(recordings_growing "$T/state/recordings" 2)
check_eq "two recordings growing before the crash" 2 "$n"
check_eq "session active before the crash" active "$(catalog "SELECT state FROM sessions")"
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=""
kill "$SRC_PID" 2>/dev/null
wait "$SRC_PID" 2>/dev/null
BG_PIDS=""

: >"$T/siprecd.log"
start_siprecd
# The results are queued to the catalog thread before READY; wait until they are applied.
i=0
while [ $i -lt 100 ] && [ "$(catalog "SELECT count(*) FROM recordings WHERE sha256 IS NOT NULL AND sha256 != ''")" != 2 ]; do
	sleep 0.05
	i=$((i + 1))
done
check_eq "session interrupted by the crash" "interrupted crash" "$(catalog "SELECT state || ' ' || end_reason FROM sessions")"
check_eq "no session active" 0 "$(catalog "SELECT count(*) FROM sessions WHERE state = 'active'")"
check "log: crash recovery summary" grep -q "crash recovery: 1 session marked interrupted, 2 recordings checked" "$T/siprecd.log"
for row in $(catalog "SELECT uuid || '|' || path || '|' || size || '|' || sha256 || '|' || complete || '|' || state || '|' || chunks || '|' || frames FROM recordings"); do
	IFS='|' read -r uuid path size sha complete state chunks frames <<EOF2
$row
EOF2
	check_eq "$uuid: state" interrupted "$state"
	check_eq "$uuid: not complete" 0 "$complete"
	check_eq "$uuid: size as on disk" "$(stat -c %s "$path")" "$size"
	check_eq "$uuid: sha256 as on disk" "$(sha256sum "$path" | cut -d' ' -f1)" "$sha"
	# the zeros written ahead of the data are cut off: the file ends with its last chunk's tag
	check "$uuid: ends at its last chunk, no zeros written ahead left" \
		sh -c "[ \$(tail -c 4096 '$path' | tr -d '\\000' | wc -c) -gt 0 ]"
	if [ "$chunks" -gt 0 ] && [ "$frames" -gt 0 ]; then ok "$uuid: $chunks chunks, $frames frames readable"; else bad "$uuid: chunks $chunks frames $frames"; fi
	check "$uuid: audit recording-incomplete" grep -q "SIPREC_EVENT=recording-incomplete.*SIPREC_RECORDING_ID=$uuid" "$T/siprecd.log"
	"$EXPORT" -c "$CONF" "$path" >"$T/export-$uuid.out" 2>&1
	check_eq "$uuid: siprec-export reports incomplete" 3 "$?"
	if "$EXPORT" -c "$CONF" --allow-incomplete "$path" -o "$T/$uuid.wav" >>"$T/export-$uuid.out" 2>&1; then
		got=$(python3 -c "import wave,sys; print(wave.open(sys.argv[1]).getnframes())" "$T/$uuid.wav")
		check_eq "$uuid: durable part exported ($frames frames of 160 samples)" $((frames * 160)) "$got"
	else
		bad "$uuid: siprec-export --allow-incomplete"
		cat "$T/export-$uuid.out"
	fi
done
check_eq "two recordings checked" 2 "$(catalog "SELECT count(*) FROM recordings WHERE state = 'interrupted'")"

# A second start has nothing left to recover.
stop_siprecd
check_eq "exit status after SIGTERM" 0 "$STOP_RC"
: >"$T/siprecd.log"
start_siprecd
check "second start: nothing to recover" sh -c "! grep -q 'crash recovery' '$T/siprecd.log'"
stop_siprecd
finish
