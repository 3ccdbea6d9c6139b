#!/bin/sh
# SPDX-License-Identifier: MIT
# A TLS SRC that reads its responses more slowly than siprecd answers a backlog of its requests
# is throttled, not dropped (docs/SIP.md, "Send queues and backpressure"): siprec-src places
# 4,000 calls at 1,000/s over one TLS connection with the default send queue caps, and siprecd
# is stopped (SIGSTOP) for 3 s a second in, so a backlog piles up in the socket and is answered
# at once when it resumes. Every call is then set up or refused with a SIP status (503 from
# the INVITE rate limit), none is "connection lost", and siprecd never closes the connection
# (before the fix: 1,597-2,039 calls lost, "peer does not read its responses (send queue
# full)"). The same with no INVITE rate limit, where the backlog's answers come later than its
# INVITEs are read (answers owed count toward the marks). Then a TLS peer that never reads (4 KiB receive buffer) while it pipelines OPTIONS
# is still closed, with the peer and the reason logged, once its throttled queue takes nothing
# for SIP_MESSAGE_TIMEOUT. Last, a TCP peer that does not read, whose INVITEs are answered
# late, is throttled by its answers owed counted in bytes, and their answers stay under
# MAX_SEND_QUEUE (before answers owed were counted in bytes: closed at the cap).
. "$SRCDIR/tests/integration/lib.sh"
need python3 jq

SRC=$BUILD/siprec-src
N=4000
[ "$(ulimit -n)" -ge 8192 ] 2>/dev/null || ulimit -n 65536 2>/dev/null || ulimit -n 8192 2>/dev/null ||
	skip "cannot raise the open files limit to 8192"
media_ports 20000
sed -i -e "s/^LOG_LEVEL=.*/LOG_LEVEL=info/" "$CONF"
MPORT=$(free_port)
cat >>"$CONF" <<CFG
MAX_SESSIONS=20000
METRICS_LISTEN=127.0.0.1:$MPORT
CFG
# slow_calls LABEL: the calls of the first part, siprecd stopped for 3 s a second in.
slow_calls() {
	start_siprecd
	"$SRC" -s "127.0.0.1:$TLS_PORT" -t tls --insecure -n $N -r 1000 --duration 200ms --json -q \
		>"$T/src.json" 2>"$T/src.err" &
	SRC_PID=$!
	BG_PIDS=$SRC_PID
	sleep 1
	kill -STOP "$DAEMON_PID"
	sleep 3
	kill -CONT "$DAEMON_PID"
	wait $SRC_PID
	echo "siprec-src exit $?"
	BG_PIDS=""
	tail -n 5 "$T/src.err"
	jq -r '.calls[] | "\(.result) \(.status) \(.reason)"' "$T/src.json" | sort | uniq -c | sort -rn | head
	check_eq "$1: calls reported" $N "$(jq '.calls | length' "$T/src.json")"
	check_eq "$1: calls lost with the connection" 0 \
		"$(jq '[.calls[] | select(.reason == "connection lost")] | length' "$T/src.json")"
	check_eq "$1: calls neither set up nor refused with a SIP status" 0 \
		"$(jq '[.calls[] | select(.result != "ok" and (.status < 300))] | length' "$T/src.json")"
	check "$1: some calls set up" test "$(jq '[.calls[] | select(.result == "ok")] | length' "$T/src.json")" -gt 0
	check "$1: siprec-src saw no connection error" sh -c "! grep -q 'SIP connection:' '$T/src.err'"
	check "$1: siprecd did not close the connection for its send queue" \
		sh -c "! grep -q 'does not read its responses' '$T/siprecd.log'"
	python3 -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$MPORT/metrics', timeout=5).read().decode())" >"$T/metrics.txt" 2>&1
	grep -E '^siprecd_sip_(throttled|refused_total\{reason="send)' "$T/metrics.txt"
	stop_siprecd
	check_eq "$1: exit status" 0 "$STOP_RC"
}
slow_calls "rate limited"
# With no INVITE rate limit (one SBC's trunk), the backlog is ~3,000 INVITEs read at once whose
# answers come later (100 Trying after SIP_TRYING_DELAY, 200 once their rows are durable): they
# count as owed toward the marks, so reading stops at half the cap before they pass it (before:
# 2,886-3,058 calls lost with the connection, "send queue full"). Calls past the open files
# limit get 503, a SIP status.
mv "$T/siprecd.log" "$T/siprecd-rate-limited.log"
echo INVITE_RATE_PER_SOURCE=0 >>"$CONF"
slow_calls "no rate limit"
sed -i '/^INVITE_RATE_PER_SOURCE=0$/d' "$CONF"

# A peer that never reads: throttled at half a cap, then closed when nothing moves.
mv "$T/siprecd.log" "$T/siprecd-first.log"
echo SIP_MESSAGE_TIMEOUT=2s >>"$CONF"
start_siprecd
python3 - "$TLS_PORT" >"$T/nr.out" 2>&1 <<'PY'
import socket, ssl, sys, time
port = int(sys.argv[1])
def opt(i):
    return ("OPTIONS sip:srs@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:9;branch=z9hG4bKnr{i}\r\n"
            "From: <sip:t@x>;tag={i}\r\nTo: <sip:srs@127.0.0.1>\r\nCall-ID: nr{i}\r\n"
            "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n").format(i=i).encode()
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
raw = socket.socket()
raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
raw.connect(("127.0.0.1", port))
s = ctx.wrap_socket(raw)
local = "127.0.0.1:%d" % s.getsockname()[1]
print("local", local)
s.settimeout(5)
sent = 0
try:
    batch = b"".join(opt(i) for i in range(200))
    for _ in range(300):  # 60,000 requests, ~20 MB of answers: far past both caps
        s.sendall(batch)
        sent += 200
except (ConnectionResetError, BrokenPipeError, ssl.SSLError, socket.timeout, OSError) as e:
    print("send stopped:", type(e).__name__)
print("sent", sent)
# Now drain: the server closed the connection (EOF or reset) after what it had sent.
s.settimeout(30)
closed = False
try:
    while True:
        if s.recv(65536) == b"":
            closed = True
            break
except socket.timeout:  # an OSError too: before the others
    pass
except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError):
    closed = True
print("closed by the server:", closed)
PY
cat "$T/nr.out"
LOCAL=$(sed -n 's/^local //p' "$T/nr.out")
check "non-reading peer closed" grep -q '^closed by the server: True' "$T/nr.out"
check "logged with the peer and the reason" grep -q \
	"SIP tls from $LOCAL refused: peer does not read its responses (send queue made no progress" \
	"$T/siprecd.log"
check "not at a send queue cap" sh -c "! grep -q 'send queue full' '$T/siprecd.log'"
python3 -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$MPORT/metrics', timeout=5).read().decode())" >"$T/metrics.txt" 2>&1
grep -E '^siprecd_sip_(throttled|refused_total\{reason="send)' "$T/metrics.txt"
check "counted as throttled" grep -Eq '^siprecd_sip_throttled_total [1-9]' "$T/metrics.txt"
check "and as stalled" grep -Eq '^siprecd_sip_refused_total\{reason="send_stalled"\} 1$' "$T/metrics.txt"
check "no connection throttled now" grep -Eq '^siprecd_sip_throttled_connections 0$' "$T/metrics.txt"
stop_siprecd
check_eq "exit status" 0 "$STOP_RC"

# Answers owed count toward the byte mark at their expected size (the largest message queued on
# the connection so far, at least 1 KiB): 150 INVITEs sent while the catalog's write lock is held
# elsewhere (their 200s wait for their rows, docs/SIP.md; no message cap to speak of), then
# OPTIONS. The connection is throttled once about 32 INVITEs are owed (64 KiB cap: at 32 KiB),
# the sender blocks; the lock released, their 200s with SDP stay under the cap (a peer that
# never reads is then closed as stalled, if at all, not at the cap). Before, the 150 INVITEs
# were all taken in and their 200s passed the cap: the connection was closed there.
mv "$T/siprecd.log" "$T/siprecd-second.log"
sed -i 's/^SIP_MESSAGE_TIMEOUT=.*/SIP_MESSAGE_TIMEOUT=20s/' "$CONF"
sed -i '/^MAX_SEND_QUEUE=/d' "$CONF"
printf 'MAX_SEND_QUEUE=65536\nMAX_SEND_QUEUE_MESSAGES=1000000\nSIP_TRYING_DELAY=0\n' >>"$CONF"
start_siprecd
python3 - "$SIP_PORT" "$T/state/catalog.db" >"$T/cap.out" 2>&1 <<'PY'
import socket, sqlite3, sys, time
port, db = int(sys.argv[1]), sys.argv[2]
sdp = ("v=0\r\no=src 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio 40000 RTP/AVP 0\r\na=label:1\r\na=sendonly\r\n")
md = ('<?xml version="1.0" encoding="UTF-8"?>\r\n<recording xmlns="urn:ietf:params:xml:ns:recording:1">'
      '<datamode>complete</datamode><session session_id="s1"/>'
      '<participant participant_id="p1"><nameID aor="sip:a@x"/></participant>'
      '<stream stream_id="st1" session_id="s1"><label>1</label></stream></recording>\r\n')
body = ("--b1\r\nContent-Type: application/sdp\r\n\r\n" + sdp +
        "--b1\r\nContent-Type: application/rs-metadata+xml\r\nContent-Disposition: recording-session\r\n\r\n" + md +
        "--b1--\r\n")
def common(cid):
    return ("Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK%s\r\n"
            "From: <sip:src@127.0.0.1>;tag=f1\r\nTo: <sip:srs@127.0.0.1>\r\nCall-ID: %s\r\n"
            "Max-Forwards: 70\r\n" % (cid, cid))
def invite(cid):
    return ("INVITE sip:srs@127.0.0.1 SIP/2.0\r\n" + common(cid) + "CSeq: 1 INVITE\r\n"
            "Contact: <sip:src@127.0.0.1:5999;transport=tcp>;+sip.src\r\nRequire: siprec\r\n"
            "Content-Type: multipart/mixed;boundary=b1\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
def opt(i):
    return ("OPTIONS sip:srs@127.0.0.1 SIP/2.0\r\n" + common("capopt%d" % i) +
            "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
lock = sqlite3.connect(db, timeout=10, isolation_level=None)
lock.execute("BEGIN IMMEDIATE")
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", port))
s.settimeout(3)
s.sendall("".join(invite("cap%d" % i) for i in range(150)).encode())
sent = 0
try:
    batch = "".join(opt(i) for i in range(200)).encode()
    for _ in range(300):
        s.sendall(batch)
        sent += 200
except socket.timeout:
    print("options sent until the server stopped reading")
except OSError as e:
    print("options send stopped:", type(e).__name__)
lock.execute("ROLLBACK")
# Read until every INVITE has its 200 (the OPTIONS' answers come along), the server closes, or
# nothing comes for 5 s.
s.settimeout(5)
closed, data, oks = False, b"", 0
try:
    while oks < 150:
        d = s.recv(65536)
        if d == b"":
            closed = True
            break
        data += d
        oks = sum(1 for r in data.split(b"SIP/2.0 ")[1:]
                  if r.startswith(b"200") and b"CSeq: 1 INVITE" in r.split(b"\r\n\r\n")[0])
except socket.timeout:
    pass
except OSError:
    closed = True
print("INVITEs answered 200:", oks)
print("closed by the server:", closed)
PY
cat "$T/cap.out"
check "the sender was throttled, not closed, by the OPTIONS" grep -q '^options sent until the server stopped reading' "$T/cap.out"
check_eq "every INVITE answered 200 on the connection" 150 "$(sed -n 's/^INVITEs answered 200: //p' "$T/cap.out")"
if grep -q 'refused: peer does not read its responses (send queue full)' "$T/siprecd.log"; then
	bad "closed at the cap"
else
	ok "no connection closed at the cap"
fi
python3 -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$MPORT/metrics', timeout=5).read().decode())" >"$T/metrics.txt" 2>&1
grep -E '^siprecd_sip_(throttled|refused_total\{reason="send)' "$T/metrics.txt"
check "none counted at the cap" grep -Eq '^siprecd_sip_refused_total\{reason="send_queue"\} 0$' "$T/metrics.txt"
check "throttled" grep -Eq '^siprecd_sip_throttled_total [1-9]' "$T/metrics.txt"
stop_siprecd
check_eq "exit status" 0 "$STOP_RC"
finish
