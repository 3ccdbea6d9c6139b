#!/bin/sh
# SPDX-License-Identifier: MIT
# The recording disk fills up mid-call (issue 11 items 6 and 7), on a small ext4 file system
# this test makes on a loop device: siprecd stays up; every call in progress is ended with a BYE
# carrying "Reason: SIP;cause=503" (so the SRC can fail over) and a recording-write-failed
# audit event; every file still verifies up to its last intact chunk; new calls get 503 while
# the free space is below MIN_FREE_DISK_PERCENT, and the recordings check stays degraded; once
# space is freed, calls record again and the recordings check is healthy (storage-recovered).
. "$SRCDIR/tests/integration/lib.sh"
need python3 sqlite3 losetup mkfs.ext4 mount umount fallocate
SRC=$BUILD/siprec-src
EXPORT=$BUILD/siprec-export
WAV=$SRCDIR/tests/data/audio/speech-stereo-8k.wav
[ -x "$SRC" ] && [ -x "$EXPORT" ] || { bad "siprec-src / siprec-export not built"; finish; }
[ "$(id -u)" = 0 ] || skip "needs root to mount a loop device"

DISK=$T/disk
mkdir -p "$DISK"
truncate -s 32M "$T/disk.img"
mkfs.ext4 -q -F -m 0 "$T/disk.img" >/dev/null 2>&1 || skip "mkfs.ext4 failed"
mount -o loop "$T/disk.img" "$DISK" 2>/dev/null || skip "cannot mount a loop device here (no /dev/loop* or not permitted)"
trap 'for p in $DAEMON_PID $BG_PIDS; do { kill -9 "$p" && wait "$p"; } 2>/dev/null; done; DAEMON_PID=""; BG_PIDS=""; umount -l "$DISK" 2>/dev/null; cleanup' EXIT

cat >>"$CONF" <<CFG
RECORDING_DIR=$DISK/rec
MIN_FREE_DISK_PERCENT=10
CFG
start_siprecd

# ---- four calls recording, then the disk fills up
"$SRC" -q -s 127.0.0.1:"$SIP_PORT" -t udp --no-srtp --wav "$WAV" --loop --duration 20 -n 4 -r 20 \
	--json >"$T/calls.json" 2>"$T/calls.err" &
SRCPID=$!
BG_PIDS=$SRCPID
# Every recording has chunks on disk beyond its header (FLUSH_INTERVAL=200ms).
n=$(recordings_growing "$DISK/rec" 8)
check_eq "eight recordings growing" 8 "$n"
# Fill every free block (fallocate for the bulk, then the last blocks by writing).
free=$(df -B1 --output=avail "$DISK" | tail -n 1)
fallocate -l "$free" "$DISK/filler" 2>/dev/null
dd if=/dev/zero of="$DISK/filler2" bs=4k 2>/dev/null
check_eq "the file system is full" 0 "$(df -B4096 --output=avail "$DISK" | tail -n 1 | tr -d ' ')"
wait "$SRCPID"
BG_PIDS=""
check "siprecd stays up" kill -0 "$DAEMON_PID"
check_eq "every call was ended by a BYE with Reason cause=503" 4 \
	"$(grep -o 'BYE from server (SIP;cause=503;text=\\"recording write failed\\")' "$T/calls.json" | wc -l)"
i=0
while [ $i -lt 100 ] && [ "$(catalog "SELECT count(*) FROM sessions WHERE end_reason='write-error'")" != 4 ]; do
	sleep 0.05
	i=$((i + 1))
done
check_eq "sessions ended 'failed', reason write-error" "4" "$(catalog "SELECT count(*) FROM sessions WHERE state='failed' AND end_reason='write-error'")"
check_eq "a recording-write-failed audit event per session" 4 \
	"$(grep 'SIPREC_EVENT=recording-write-failed' "$T/siprecd.log" | grep -o 'SIPREC_SESSION_ID=[0-9a-f-]*' | sort -u | wc -l)"
check_eq "no recording left open" 0 "$(catalog "SELECT count(*) FROM recordings WHERE state='writing'")"
nf=0
for f in $(find "$DISK/rec" -name '*.siprec'); do
	"$EXPORT" -c "$CONF" "$f" >"$T/verify.out" 2>&1
	rc=$?
	# 0 complete, 3 incomplete but intact up to its last chunk; 2 would be an integrity failure.
	if [ $rc = 0 ] || [ $rc = 3 ]; then nf=$((nf + 1)); else bad "$f does not verify (exit $rc): $(cat "$T/verify.out")"; fi
done
check_eq "every recording verifies up to its last intact chunk" 8 "$nf"

# ---- a new call while the disk is full: 503
"$SRC" -q -s 127.0.0.1:"$SIP_PORT" -t udp --no-srtp --duration 1 --json >"$T/full.json" 2>/dev/null
check "a new call gets 503 while the disk is full" grep -q '"status":503' "$T/full.json"
# The probe's test write passes on a full disk (it writes over a block of its own): the
# recordings check stays degraded until the free space is back above MIN_FREE_DISK_PERCENT (a
# status tick is 5 s: wait past one).
sleep 6
check "the recordings check stays degraded while the disk is full" wait_health recordings '^degraded'
check_eq "...no storage-recovered event while it is full" 0 "$(grep -c 'SIPREC_EVENT=storage-recovered' "$T/siprecd.log")"

# ---- space freed: calls record again (the free-space check is at most 1 s old)
rm -f "$DISK/filler" "$DISK/filler2"
i=0
while [ $i -lt 40 ]; do
	"$SRC" -q -s 127.0.0.1:"$SIP_PORT" -t udp --no-srtp --wav "$WAV" --duration 2 --json \
		>"$T/again.json" 2>/dev/null && break
	grep -q '"status":503' "$T/again.json" || break
	sleep 0.1
	i=$((i + 1))
done
check "a call records again once space is freed" grep -q '"result":"ok"' "$T/again.json"
check "the recordings check is healthy again once space is freed" wait_health recordings '^healthy'
check "...with a storage-recovered audit event" grep -q "SIPREC_EVENT=storage-recovered.*DIRECTORY=$DISK/rec.*WRITE_ERRORS=8" "$T/siprecd.log"
i=0
while [ $i -lt 100 ] && [ "$(catalog "SELECT count(*) FROM recordings WHERE state='final' AND complete=1")" != 2 ]; do
	sleep 0.05
	i=$((i + 1))
done
check_eq "...and its two recordings are complete" 2 "$(catalog "SELECT count(*) FROM recordings WHERE state='final' AND complete=1")"
stop_siprecd
check_eq "exit status" 0 "$STOP_RC"
# A recording ended by a write error has no SHA-256 in the trail (what reached the disk is not
# known when it is closed): verify-trail does not call its file altered.
"$BUILD/siprecctl" -c "$CONF" verify-trail >"$T/verify-trail.out" 2>&1
check_eq "verify-trail finds no problem" 0 "$?"
grep -v '^trail:' "$T/verify-trail.out" | head -3 | sed 's/^/# /'
finish
