#!/bin/sh
# SPDX-License-Identifier: MIT
# A TLS SRC that reads its responses more slowly than siprecd answers a backlog of its requests
# is throttled, not dropped (docs/SIP.md, "Send queues and backpressure"): siprec-src places
# 4,000 calls at 1,000/s over one TLS connection with the default send queue caps, and siprecd
# is stopped (SIGSTOP) for 3 s a second in, so a backlog piles up in the socket and is answered
# at once when it resumes. Every call is then set up or refused with a SIP status (503 from
# the INVITE rate limit), none is "connection lost", and siprecd never closes the connection
# (before the fix: 1,597-2,039 calls lost, "peer does not read its responses (send queue
# full)"). Then a TLS peer that never reads (4 KiB receive buffer) while it pipelines OPTIONS
# is still closed, with the peer and the reason logged, once its throttled queue takes nothing
# for SIP_MESSAGE_TIMEOUT.
. "$SRCDIR/tests/integration/lib.sh"
need python3 jq

SRC=$BUILD/siprec-src
N=4000
[ "$(ulimit -n)" -ge 8192 ] 2>/dev/null || ulimit -n 65536 2>/dev/null || ulimit -n 8192 2>/dev/null ||
	skip "cannot raise the open files limit to 8192"
RTP0=$(media_range 20000)
sed -i -e "s/^RTP_PORT_MIN=.*/RTP_PORT_MIN=$RTP0/" -e "s/^RTP_PORT_MAX=.*/RTP_PORT_MAX=$((RTP0 + 19999))/" \
	-e "s/^LOG_LEVEL=.*/LOG_LEVEL=info/" "$CONF"
MPORT=$(free_port)
cat >>"$CONF" <<CFG
MAX_SESSIONS=20000
METRICS_LISTEN=127.0.0.1:$MPORT
CFG
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
check_eq "calls reported" $N "$(jq '.calls | length' "$T/src.json")"
check_eq "calls lost with the connection" 0 \
	"$(jq '[.calls[] | select(.reason == "connection lost")] | length' "$T/src.json")"
check_eq "calls neither set up nor refused with a SIP status" 0 \
	"$(jq '[.calls[] | select(.result != "ok" and (.status < 300))] | length' "$T/src.json")"
check "some calls set up" test "$(jq '[.calls[] | select(.result == "ok")] | length' "$T/src.json")" -gt 0
check "siprec-src saw no connection error" sh -c "! grep -q 'SIP connection:' '$T/src.err'"
check "siprecd did not close the connection for its send queue" \
	sh -c "! grep -q 'does not read its responses' '$T/siprecd.log'"
python3 -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$MPORT/metrics', timeout=5).read().decode())" >"$T/metrics.txt" 2>&1
grep -E '^siprecd_sip_(throttled|refused_total\{reason="send)' "$T/metrics.txt"
stop_siprecd
check_eq "exit status" 0 "$STOP_RC"

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
finish
