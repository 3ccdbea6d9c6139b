#!/bin/sh
# SPDX-License-Identifier: MIT
# The recording volume fails mid-call (issue 12), on file systems this test makes on loop
# devices: xfs shut down (`xfs_io -x -c shutdown`, as xfs does itself after a metadata I/O
# error: every write then fails with EIO), then ext4 mounted errors=remount-ro after an error
# (/sys/fs/ext4/DEV/trigger_fs_error: every write fails with EROFS), then ext4 on a block device
# that fails its writes (a loop device whose backing store runs out). For each: siprecd stays up;
# the calls in progress end with a BYE "Reason: SIP;cause=503" and a recording-write-failed audit
# event naming the file and the error; health (siprecctl status, GET /health, siprecd_up, the
# STATUS= line) says failing, naming the directory and the errno; new calls get 503 with a reason
# phrase that names the problem (OPTIONS too); siprecd lets go of the volume, so it can be unmounted while
# siprecd runs; once it is mounted again, health is healthy again (the recordings check too,
# with a storage-recovered audit event) and calls record again without a restart; every file
# verifies up to its last intact chunk. (Device-mapper's error and flakey targets would fail the
# block device more directly: this kernel has no device-mapper.)
. "$SRCDIR/tests/integration/lib.sh"
need python3 sqlite3 jq curl losetup mkfs.ext4 mkfs.xfs xfs_io e2fsck mount umount
SRC=$BUILD/siprec-src
EXPORT=$BUILD/siprec-export
CTL=$BUILD/siprecctl
WAV=$SRCDIR/tests/data/audio/speech-stereo-8k.wav
[ -x "$SRC" ] && [ -x "$EXPORT" ] && [ -x "$CTL" ] || { bad "tools not built"; finish; }
[ "$(id -u)" = 0 ] || skip "needs root to mount a loop device"

DISK=$T/disk
THIN=""
mkdir -p "$DISK"
trap 'for p in $DAEMON_PID $BG_PIDS; do { kill -9 "$p" && wait "$p"; } 2>/dev/null; done; DAEMON_PID=""; BG_PIDS=""; umount "$DISK" 2>/dev/null || umount -l "$DISK" 2>/dev/null; [ -n "${THIN:-}" ] && umount "$THIN" 2>/dev/null; cleanup' EXIT

MPORT=$(free_port)
cat >>"$CONF" <<CFG
RECORDING_DIR=$DISK/rec
METRICS_LISTEN=127.0.0.1:$MPORT
CFG

# The status line of siprecd's answer to an out-of-dialog OPTIONS (a load balancer's probe).
options_line() {
	python3 - "$SIP_PORT" <<'PY'
import random, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0)); s.settimeout(3)
p = s.getsockname()[1]
b = "z9hG4bK%x" % random.getrandbits(48)
s.sendto(("OPTIONS sip:srs@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=%s\r\n"
          "Max-Forwards: 70\r\nFrom: <sip:lb@127.0.0.1>;tag=1\r\nTo: <sip:srs@127.0.0.1>\r\n"
          "Call-ID: %s@lb\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n" % (p, b, b)).encode(),
         ("127.0.0.1", int(sys.argv[1])))
print(s.recv(65536).decode(errors="replace").split("\r\n")[0])
PY
}

# run_fault FS BREAK ERRNO PHRASE: (ERRNO and PHRASE extended regexes) mounts a new FS volume, records two calls, runs BREAK
# mid-call, checks what siprecd does, then unmounts, repairs and mounts the volume again.
run_fault() {
	fs=$1 break_cmd=$2 errno=$3 phrase=$4
	echo "# ---- $fs: $break_cmd"
	img=$T/$fs.img
	[ "$fs" = ext4-thin ] && img=$THIN/$fs.img
	rm -f "$img"
	if [ "$fs" = xfs ]; then
		truncate -s 320M "$img"
		mkfs.xfs -q -f "$img" >/dev/null 2>&1 || skip "mkfs.xfs failed"
		opts=loop
	else
		truncate -s 64M "$img"
		mkfs.ext4 -q -F "$img" >/dev/null 2>&1 || skip "mkfs.ext4 failed"
		opts=loop,errors=remount-ro
	fi
	mount -o "$opts" "$img" "$DISK" 2>/dev/null || skip "cannot mount a loop device here"
	DEV=$(findmnt -n -o SOURCE "$DISK")
	start_siprecd
	check "$fs: healthy at start" wait_health disk '^healthy'

	"$SRC" -q -s 127.0.0.1:"$SIP_PORT" -t udp --no-srtp --wav "$WAV" --loop --duration 20 -n 2 \
		-r 20 --json >"$T/calls-$fs.json" 2>"$T/calls-$fs.err" &
	SRCPID=$!
	BG_PIDS=$SRCPID
	# Every recording has chunks on disk beyond its header (FLUSH_INTERVAL=200ms).
	n=$(recordings_growing "$DISK/rec" 4)
	check_eq "$fs: four recordings growing" 4 "$n"
	sleep 0.5
	# The recordings' durable bytes, to compare with what is readable after the repair.
	eval "$break_cmd"
	wait "$SRCPID"
	BG_PIDS=""
	check "$fs: siprecd stays up" kill -0 "$DAEMON_PID"
	check_eq "$fs: every call was ended by a BYE with Reason cause=503" 2 \
		"$(grep -o 'BYE from server (SIP;cause=503;text=\\"recording write failed\\")' "$T/calls-$fs.json" | wc -l)"
	# The audit event names the file and the error.
	grep 'SIPREC_EVENT=recording-write-failed' "$T/siprecd.log" >"$T/audit-$fs.log"
	check "$fs: recording-write-failed names the recording's file" grep -q "RECORDING_PATH=$DISK/rec/" "$T/audit-$fs.log"
	check "$fs: ...and the error" grep -qE "REASON=($audit_re)" "$T/audit-$fs.log"
	check "$fs: health failing, naming the directory and the errno" \
		wait_health disk "^failing: recording directory $DISK/rec: writes fail with $errno"
	check_eq "$fs: siprecd_up 0" 0 "$(metric_up)"
	check_eq "$fs: GET /health 503" 503 "$(http_health)"
	check "$fs: STATUS= names the fault" wait_for "$T/notify.log" "STATUS=.*failing \\(recording directory $DISK/rec: writes fail with $errno" 10

	# A new call while the volume fails: 503, a phrase naming the problem (the probe, not a
	# recording's write, decides now: the failed sessions have all ended).
	"$SRC" -q -s 127.0.0.1:"$SIP_PORT" -t udp --no-srtp --duration 1 --json >"$T/new-$fs.json" 2>/dev/null
	check_re "$fs: a new call gets 503 $phrase" "^503 $phrase\$" "$(jq -r '.calls[0].reason' "$T/new-$fs.json")"
	sleep 1.5
	"$SRC" -q -s 127.0.0.1:"$SIP_PORT" -t udp --no-srtp --duration 1 --json >"$T/new2-$fs.json" 2>/dev/null
	check_re "$fs: ...still, a probe later" "^503 $phrase\$" "$(jq -r '.calls[0].reason' "$T/new2-$fs.json")"
	check_re "$fs: OPTIONS gets the same 503" "^SIP/2.0 503 $phrase\$" "$(options_line)"

	# Repair: the volume can be unmounted while siprecd runs (it let go of its directories).
	i=0
	while [ $i -lt 50 ] && ! umount "$DISK" 2>"$T/umount.err"; do
		sleep 0.1
		i=$((i + 1))
	done
	check "$fs: the volume unmounts while siprecd runs" test $i -lt 50
	if [ $i -ge 50 ]; then
		cat "$T/umount.err"
		ls -l /proc/"$DAEMON_PID"/fd | grep "$DISK" | head
		umount -l "$DISK"
	fi
	[ -n "$THIN" ] && rm -f "$THIN/fill"
	[ "$fs" != xfs ] && e2fsck -fy "$img" >/dev/null 2>&1
	mount -o "$opts" "$img" "$DISK" || { bad "$fs: mount again"; finish; }
	check "$fs: healthy again once mounted (a probe's write succeeded)" wait_health disk '^healthy'
	# The recordings' write errors are cleared by the next test write and fdatasync there.
	check "$fs: the recordings check healthy again (a synced test write succeeded)" \
		wait_health recordings '^healthy'
	check_eq "$fs: siprecd_up 1 again, no restart" 1 "$(metric_up)"
	check "$fs: a storage-recovered audit event names the directory" \
		grep -q "SIPREC_EVENT=storage-recovered.*DIRECTORY=$DISK/rec" "$T/siprecd.log"
	i=0
	while [ $i -lt 40 ]; do
		"$SRC" -q -s 127.0.0.1:"$SIP_PORT" -t udp --no-srtp --wav "$WAV" --duration 2 --json \
			>"$T/again-$fs.json" 2>/dev/null && break
		grep -q '"status":503' "$T/again-$fs.json" || break
		sleep 0.1
		i=$((i + 1))
	done
	check "$fs: a call records again without a restart" grep -q '"result":"ok"' "$T/again-$fs.json"
	check_eq "$fs: OPTIONS 200 again" "SIP/2.0 200 OK" "$(options_line)"
	stop_siprecd
	check_eq "$fs: exit status" 0 "$STOP_RC"
	check_eq "$fs: the new call's two recordings are complete" 2 \
		"$(catalog "SELECT count(*) FROM recordings r JOIN sessions s ON r.session_id = s.id WHERE s.call_id = '$(jq -r '.calls[0].call_id' "$T/again-$fs.json")' AND r.state='final' AND r.complete=1")"
	nf=0
	nt=0
	for f in $(find "$DISK/rec" -name '*.siprec'); do
		nt=$((nt + 1))
		"$EXPORT" -c "$CONF" "$f" >"$T/verify.out" 2>&1
		rc=$?
		# 0 complete, 3 incomplete but intact up to its last chunk; 2 would be an integrity failure.
		if [ $rc = 0 ] || [ $rc = 3 ]; then nf=$((nf + 1)); else bad "$fs: $f does not verify (exit $rc): $(cat "$T/verify.out")"; fi
	done
	check_eq "$fs: every recording verifies up to its last intact chunk" 6/6 "$nf/$nt"
	"$CTL" -c "$CONF" verify-trail >"$T/verify-trail-$fs.out" 2>&1
	check_eq "$fs: verify-trail finds no problem (what was durable is not marked bad)" 0 "$?"
	sed 's/^/# /' "$T/verify-trail-$fs.out" | grep -v '^# trail:' | head -5
	umount "$DISK"
	rm -f "$img" "$T/state/catalog.db" "$T/state/catalog.db-wal" "$T/state/catalog.db-shm"
}

check_re() {
	if printf '%s\n' "$3" | grep -qE "$2"; then ok "$1 ($3)"; else bad "$1: expected /$2/, got '$3'"; fi
}
audit_re="Input/output error"
run_fault xfs 'xfs_io -x -c shutdown "$DISK"' EIO "Recording Storage I/O Error"
audit_re="Read-only file system"
run_fault ext4 'echo disk-fault-test >/sys/fs/ext4/${DEV#/dev/}/trigger_fs_error' EROFS "Recording Storage Read-Only"
# The block device fails the writes: a loop device over a sparse file on a small tmpfs of the
# test's own, filled up (a thin-provisioned volume that runs out): the recordings' O_DIRECT
# writes fail with ENOSPC from the device (the audit event says so; statvfs still shows the
# filesystem nearly empty) and the journal's with it: ext4 aborts its journal and goes read-only.
THIN=$T/thin
mkdir -p "$THIN"
mount -t tmpfs -o size=96M tmpfs "$THIN" || skip "cannot mount a tmpfs"
# Which error siprecd sees first depends on which write fails first: a recording's O_DIRECT write
# cut short (EIO), or a full one refused (ENOSPC, not a fault by itself) and then the journal's
# abort (EROFS).
audit_re="No space left on device|Input/output error|Read-only file system"
run_fault ext4-thin 'dd if=/dev/zero of="$THIN/fill" bs=1M 2>/dev/null' "(EIO|EROFS)" \
	"Recording Storage (I/O Error|Read-Only)"
umount "$THIN"
finish
