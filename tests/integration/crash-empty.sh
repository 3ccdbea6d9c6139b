#!/bin/sh
# SPDX-License-Identifier: MIT
# What a crash leaves of a recording created just before it (docs/FORMAT.md "Durability": the
# header is written when the file is created, without a sync, and the call's 200 OK does not wait
# for it): the file may exist empty (its directory entry made durable by another file's sync),
# or all zeros (its size durable, its data not), or not at all. 3 calls record (6 files); siprecd
# is killed and the files are made what such a crash leaves: one empty, one all zeros, one gone;
# a fourth gets a damaged header (a byte of its magic changed: what no crash leaves). On the next
# start the empty and the all-zero files are interrupted recordings with nothing in them: cut to
# 0 bytes, size 0 and no chunk in the catalog, the log says so, siprec-export says "empty"
# (exit 3, incomplete, not 2) and --allow-incomplete leaves them out of an export; the damaged
# header still reads as damaged (exit 2) and keeps its size; the missing file (its directory
# entry lost: its header was no more durable than the empty one's) is made again empty and is
# the same interrupted recording with nothing in it, which verify-trail does not take for a
# file deleted by hand; the untouched ones read up to their last chunk. (tests/integration/crash-final-sync.sh found
# such empty files after a volume's shutdown.)
. "$SRCDIR/tests/integration/lib.sh"
need sqlite3 python3
SRC=$BUILD/siprec-src
EXPORT=$BUILD/siprec-export
[ -x "$SRC" ] && [ -x "$EXPORT" ] || { bad "siprec-src / siprec-export not built"; finish; }
EMPTY_SHA=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

start_siprecd
"$SRC" -q -s 127.0.0.1:"$SIP_PORT" --no-srtp --wav "$SRCDIR/tests/data/audio/tone-mono-8k.wav" \
	--loop --duration 30 -n 3 -r 10 >"$T/src.out" 2>&1 &
SRC_PID=$!
BG_PIDS="$SRC_PID"
# every file holds chunk 0 (its magic at 4096) before the kill
n=$(recordings_growing "$T/state/recordings" 6)
check_eq "six recordings growing before the crash" 6 "$n"
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=""
kill "$SRC_PID" 2>/dev/null
wait "$SRC_PID" 2>/dev/null
BG_PIDS=""

set -- $(catalog "SELECT uuid || '|' || path FROM recordings ORDER BY uuid")
[ $# -eq 6 ] || { bad "6 recordings in the catalog, got $#"; finish; }
empty_id=${1%%|*} empty=${1#*|}
zero_id=${2%%|*} zero=${2#*|}
gone_id=${3%%|*} gone=${3#*|}
damaged_id=${4%%|*} damaged=${4#*|}
kept_id=${5%%|*} kept=${5#*|}
: >"$empty"
python3 -c 'import os, sys; n = os.path.getsize(sys.argv[1]); open(sys.argv[1], "r+b").write(bytes(n))' "$zero"
rm -f "$gone"
printf X | dd of="$damaged" bs=1 seek=0 conv=notrunc 2>/dev/null
damaged_size=$(stat -c %s "$damaged")

: >"$T/siprecd.log"
start_siprecd
i=0
while [ $i -lt 100 ] && [ "$(catalog "SELECT count(*) FROM recordings WHERE state = 'writing'")" != 0 ]; do
	sleep 0.05
	i=$((i + 1))
done
# (the last row is written after the others: wait for it too)
while [ $i -lt 100 ] && [ "$(catalog "SELECT count(*) FROM recordings WHERE sha256 IS NULL OR sha256 = ''")" != 0 ]; do
	sleep 0.05
	i=$((i + 1))
done
check "log: crash recovery summary names the empty files" \
	grep -q "crash recovery: 3 sessions marked interrupted, 6 recordings checked, 3 empty" "$T/siprecd.log"

for id in $empty_id $zero_id; do
	row=$(catalog "SELECT state || ' ' || complete || ' ' || size || ' ' || chunks || ' ' || frames || ' ' || sha256 FROM recordings WHERE uuid = '$id'")
	check_eq "$id: interrupted with nothing in it (state complete size chunks frames sha256)" \
		"interrupted 0 0 0 0 $EMPTY_SHA" "$row"
	path=$(catalog "SELECT path FROM recordings WHERE uuid = '$id'")
	check_eq "$id: the file cut to 0 bytes" 0 "$(stat -c %s "$path")"
	check "$id: audit recording-incomplete says nothing reached the disk" \
		grep -q "interrupted by a crash before anything of it reached the disk.*SIPREC_EVENT=recording-incomplete.*SIPREC_RECORDING_ID=$id" "$T/siprecd.log"
	"$EXPORT" -c "$CONF" "$path" >"$T/export.out" 2>&1
	check_eq "$id: siprec-export: incomplete, not damaged" 3 "$?"
	check "$id: siprec-export says it is empty" grep -q "empty: nothing of the recording reached the disk" "$T/export.out"
	"$EXPORT" -c "$CONF" --allow-incomplete "$path" -o "$T/$id.wav" >"$T/export.out" 2>&1
	check_eq "$id: siprec-export --allow-incomplete: nothing to export" 3 "$?"
done
# beside a readable stream, --allow-incomplete leaves the empty one out
"$EXPORT" -c "$CONF" --allow-incomplete "$empty" "$kept" -o "$T/both.wav" >"$T/export.out" 2>&1
check_eq "siprec-export --allow-incomplete of an empty and a readable file" 0 "$?"
check "the empty one is named as left out" grep -q "$empty: warning: nothing to export from it, left out" "$T/export.out"
check_eq "the export holds the readable stream alone" 1 \
	"$(python3 -c 'import wave, sys; print(wave.open(sys.argv[1]).getnchannels())' "$T/both.wav" 2>/dev/null)"

check_eq "$damaged_id: a damaged header is interrupted and keeps its size (state complete size chunks)" \
	"interrupted 0 $damaged_size 0" \
	"$(catalog "SELECT state || ' ' || complete || ' ' || size || ' ' || chunks FROM recordings WHERE uuid = '$damaged_id'")"
check "$damaged_id: audit says damaged header" \
	grep -q "interrupted by a crash and unreadable: .*: damaged header.*SIPREC_RECORDING_ID=$damaged_id" "$T/siprecd.log"
"$EXPORT" -c "$CONF" --allow-incomplete "$damaged" >"$T/export.out" 2>&1
check_eq "$damaged_id: siprec-export: integrity failure" 2 "$?"
check "$damaged_id: siprec-export says damaged header" grep -q "not a siprec recording or a damaged header" "$T/export.out"

check "$gone_id: audit says the file's entry was lost, made again empty" \
	grep -q "before its file's directory entry reached the disk: $gone did not exist: made again, empty.*SIPREC_RECORDING_ID=$gone_id" "$T/siprecd.log"
check_eq "$gone_id: interrupted with nothing in it, as an empty file (state complete size chunks frames sha256)" \
	"interrupted 0 0 0 0 $EMPTY_SHA" \
	"$(catalog "SELECT state || ' ' || complete || ' ' || size || ' ' || chunks || ' ' || frames || ' ' || sha256 FROM recordings WHERE uuid = '$gone_id'")"
check_eq "$gone_id: the file is there again, empty" 0 "$(stat -c %s "$gone" 2>&1)"
"$EXPORT" -c "$CONF" "$gone" >"$T/export.out" 2>&1
check_eq "$gone_id: siprec-export: incomplete (empty), not damaged" 3 "$?"

"$EXPORT" -c "$CONF" "$kept" >"$T/export.out" 2>&1
check_eq "$kept_id: untouched: incomplete, readable" 3 "$?"
check "$kept_id: readable up to a chunk" grep -q "incomplete: readable up to chunk" "$T/export.out"
check_eq "no recording left writing" 0 "$(catalog "SELECT count(*) FROM recordings WHERE state = 'writing'")"
# The trail does not take a file the crash lost for one deleted by hand.
$BUILD/siprecctl -c "$CONF" verify-trail >"$T/verify-trail.out" 2>&1
check "verify-trail: no problem with the recording whose entry was lost" sh -c "! grep -q '$gone_id' '$T/verify-trail.out'"
stop_siprecd
check_eq "exit status after SIGTERM" 0 "$STOP_RC"
finish
