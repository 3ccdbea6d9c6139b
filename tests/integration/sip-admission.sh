#!/bin/sh
# SPDX-License-Identifier: MIT
# Who may start a session right now (issue 11 items 6 and 13, and draining):
# - a long Require header is answered 420 with an Unsupported header that still ends in CRLF;
# - siprecctl drain: OPTIONS and INVITE get 503 with Retry-After, the call in progress records
#   to its end; siprecctl resume: both are 200 again;
# - MIN_FREE_DISK_PERCENT above the free space: INVITE and OPTIONS get 503 with Retry-After,
#   one disk-space-low audit event for several refusals (rate-limited);
# - descriptors within a reserve of RLIMIT_NOFILE: INVITE gets 503 Too Many Open Files with
#   Retry-After (and a log line naming it) before the session takes any; 200 again with room.
. "$SRCDIR/tests/integration/lib.sh"
need python3 sqlite3
CTL=$BUILD/siprecctl
SRC=$BUILD/siprec-src
WAV=$SRCDIR/tests/data/audio/speech-stereo-8k.wav
[ -x "$CTL" ] && [ -x "$SRC" ] || { bad "siprecctl or siprec-src not built"; finish; }

# sip.py METHOD [REQUIRE]: one request over UDP, prints the status line and every header line.
cat >"$T/sip.py" <<'PY'
import socket, sys, uuid
port, method = int(sys.argv[1]), sys.argv[2]
require = sys.argv[3] if len(sys.argv) > 3 else ""
body = ""
extra = ""
if method == "INVITE":
    sdp = ("v=0\r\no=src 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
           "m=audio 40000 RTP/AVP 0\r\na=label:1\r\na=sendonly\r\n")
    body = "--b1\r\nContent-Type: application/sdp\r\n\r\n" + sdp + "--b1--\r\n"
    extra = ("Contact: <sip:src@127.0.0.1:5999>\r\nContent-Type: multipart/mixed;boundary=b1\r\n")
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
lp = s.getsockname()[1]
req = ("%s sip:srs@127.0.0.1 SIP/2.0\r\n" % method +
       "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s\r\n" % (lp, uuid.uuid4().hex) +
       "From: <sip:src@127.0.0.1>;tag=f1\r\nTo: <sip:srs@127.0.0.1>\r\n"
       "Call-ID: %s\r\nCSeq: 1 %s\r\nMax-Forwards: 70\r\n" % (uuid.uuid4().hex, method) +
       ("Require: %s\r\n" % require if require else "") + extra +
       "Content-Length: %d\r\n\r\n" % len(body) + body)
s.sendto(req.encode(), ("127.0.0.1", port))
s.settimeout(5)
while True:
    d = s.recv(65535).decode()
    status = d.split("\r\n", 1)[0]
    if " 100 " not in status:
        break
head = d.split("\r\n\r\n", 1)[0]
for line in head.split("\r\n"):
    print(line)
PY
sip() { python3 "$T/sip.py" "$SIP_PORT" "$@"; }

start_siprecd
export SIPRECD_CONTROL=$T/run/control

# ---- a long Require header
LONG=$(python3 -c 'print(",".join("x%02d%s" % (i, "y" * 40) for i in range(12)))')
sip OPTIONS "$LONG" >"$T/require.out"
check "420 to an unknown Require" grep -q '^SIP/2.0 420 ' "$T/require.out"
check "the Unsupported header is one line of tags" grep -qE '^Unsupported: x00y+(, x[0-9]{2}y+)*$' "$T/require.out"
check "Server is a header line of its own" grep -q '^Server: ' "$T/require.out"
check "no header runs into another" sh -c "! grep -vE '^(SIP/2.0 |[A-Za-z-]+: )' '$T/require.out'"

# ---- drain
"$SRC" -q -s 127.0.0.1:"$SIP_PORT" -t udp --no-srtp --wav "$WAV" --loop --duration 3 \
	--json >"$T/call.json" 2>"$T/call.err" &
SRCPID=$!
BG_PIDS="$SRCPID"
i=0
while [ $i -lt 100 ] && [ "$(catalog "SELECT count(*) FROM sessions WHERE state='active'")" != 1 ]; do
	sleep 0.05
	i=$((i + 1))
done
check_eq "a call is recording" 1 "$(catalog "SELECT count(*) FROM sessions WHERE state='active'")"
"$CTL" drain >"$T/drain.out" 2>&1
check "siprecctl drain reports the call in progress" grep -q '^draining: .* 1 session still recording' "$T/drain.out"
sip OPTIONS >"$T/opt-drain.out"
check "OPTIONS while draining: 503" grep -q '^SIP/2.0 503 Draining' "$T/opt-drain.out"
check "OPTIONS while draining: Retry-After" grep -qE '^Retry-After: [0-9]+$' "$T/opt-drain.out"
sip INVITE >"$T/inv-drain.out"
check "INVITE while draining: 503 with Retry-After" sh -c "grep -q '^SIP/2.0 503 Draining' '$T/inv-drain.out' && grep -qE '^Retry-After: [0-9]+$' '$T/inv-drain.out'"
check "the status line says draining" grep -q 'STATUS=.*draining' "$T/notify.log"
wait "$SRCPID"
check_eq "the call in progress recorded to its end" 0 $?
BG_PIDS=""
i=0
while [ $i -lt 100 ] && [ "$(catalog "SELECT state FROM sessions")" = active ]; do
	sleep 0.05
	i=$((i + 1))
done
check_eq "its session ended by its BYE" "ended|bye" "$(catalog "SELECT state, end_reason FROM sessions")"
check_eq "its recordings are complete" "2" "$(catalog "SELECT count(*) FROM recordings WHERE state='final' AND complete=1")"
"$CTL" resume >"$T/resume.out" 2>&1
check "siprecctl resume" grep -q '^taking new sessions' "$T/resume.out"
sip OPTIONS >"$T/opt-resume.out"
check "OPTIONS after resume: 200" grep -q '^SIP/2.0 200 ' "$T/opt-resume.out"

# ---- descriptors near RLIMIT_NOFILE: a new session is refused before it takes any
if command -v prlimit >/dev/null 2>&1; then
	NFD=$(ls /proc/"$DAEMON_PID"/fd | wc -l)
	BEFORE=$(catalog "SELECT count(*) FROM sessions")
	prlimit --pid "$DAEMON_PID" --nofile=$((NFD + 20)):
	sip INVITE >"$T/inv-fd.out"
	check "INVITE with 20 descriptors left: 503 Too Many Open Files" grep -q '^SIP/2.0 503 Too Many Open Files' "$T/inv-fd.out"
	check "...with Retry-After" grep -qE '^Retry-After: [0-9]+$' "$T/inv-fd.out"
	check "the log line names the reason" grep -q 'open files near the limit' "$T/siprecd.log"
	check_eq "no session was created" "$BEFORE" "$(catalog "SELECT count(*) FROM sessions")"
	prlimit --pid "$DAEMON_PID" --nofile=4096:
	sip INVITE >"$T/inv-fd2.out"
	check "with room again, the INVITE is answered 200" grep -q '^SIP/2.0 200 ' "$T/inv-fd2.out"
else
	echo "SKIP-PART fd-limit: no prlimit"
fi
stop_siprecd
check_eq "exit status" 0 "$STOP_RC"

# ---- free disk space below MIN_FREE_DISK_PERCENT (100 %: any used block is too many)
echo "MIN_FREE_DISK_PERCENT=100" >>"$CONF"
BEFORE=$(catalog "SELECT count(*) FROM sessions")
: >"$T/siprecd.log"
start_siprecd
sip INVITE >"$T/inv-disk1.out"
sip INVITE >"$T/inv-disk2.out"
check "INVITE with the disk too full: 503" grep -q '^SIP/2.0 503 Disk Space Low' "$T/inv-disk1.out"
check "...with Retry-After" grep -qE '^Retry-After: [0-9]+$' "$T/inv-disk1.out"
check "a second one too" grep -q '^SIP/2.0 503 Disk Space Low' "$T/inv-disk2.out"
sip OPTIONS >"$T/opt-disk.out"
check "OPTIONS with the disk too full: 503" grep -q '^SIP/2.0 503 ' "$T/opt-disk.out"
check_eq "one disk-space-low audit event for two refusals" 1 "$(grep -c 'SIPREC_EVENT=disk-space-low' "$T/siprecd.log")"
check_eq "no session was created" "$BEFORE" "$(catalog "SELECT count(*) FROM sessions")"
stop_siprecd
check_eq "exit status" 0 "$STOP_RC"
finish
