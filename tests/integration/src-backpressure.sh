#!/bin/sh
# SPDX-License-Identifier: MIT
# siprec-src keeps reading while a send waits for room (tools/siprec-src/transport.c), so it
# cannot deadlock with a server that stops reading until its responses are taken (siprecd's
# backpressure, docs/SIP.md). The server here is a stand-in over TCP: a 4 KiB receive buffer,
# and it reads nothing while it writes 16 MB of responses of no call (ignored by the client) at
# about 3 MB/s, blocking when the client does not take them; only then does it read, answering
# every INVITE 503. The client's INVITEs (3 KB each, 2,000/s) fill the 4 KiB buffer and its own
# socket within a second, so its sends wait for room: a client that stops reading then leaves
# the server stuck in its write (siprec-src's send gave up after 50 s, a send error). Here every
# call must be answered 503 with no send error (before: 991 calls timed out, 5,009 never sent
# and 2 send errors when timeout(1) ended the client after 60 s).
. "$SRCDIR/tests/integration/lib.sh"
need python3 jq

SRC=$BUILD/siprec-src
N=6000
PORT=$(free_port)
python3 - "$PORT" >"$T/server.out" 2>&1 <<'PY' &
import re, socket, sys, threading, time
port = int(sys.argv[1])
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
ls.bind(("127.0.0.1", port))
ls.listen(1)
print("listening", flush=True)
c, _ = ls.accept()
junk = (b"SIP/2.0 100 Trying\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKjunk\r\n"
        b"Call-ID: no-such-call\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n") * 1000
sent = 0
for _ in range(125):  # 16 MB at ~3 MB/s, which the client reads with ease when it reads
    c.sendall(junk)
    sent += len(junk)
    time.sleep(0.04)
print("junk sent", sent, flush=True)
buf, answered, total = b"", 0, 0
c.settimeout(30)
try:
    while True:
        d = c.recv(65536)
        if not d:
            break
        buf += d
        total += len(d)
        while True:
            h = buf.find(b"\r\n\r\n")
            if h < 0:
                break
            head = buf[:h + 4]
            m = re.search(rb"\r\nContent-Length:\s*(\d+)", head, re.I)
            n = h + 4 + (int(m.group(1)) if m else 0)
            if len(buf) < n:
                break
            msg, buf = buf[:n], buf[n:]
            if not msg.startswith(b"INVITE "):
                continue
            hdrs = [l for l in head.split(b"\r\n")[1:] if re.match(rb"(Via|From|To|Call-ID|CSeq):", l, re.I)]
            c.sendall(b"SIP/2.0 503 Service Unavailable\r\n" + b"\r\n".join(hdrs) +
                      b"\r\nContent-Length: 0\r\n\r\n")
            answered += 1
except socket.timeout:
    pass
print("answered", answered, "bytes", total, flush=True)
PY
BG_PIDS=$!
wait_for "$T/server.out" "^listening" 10
timeout 60 ${SRC_WRAP:-} "$SRC" -s "127.0.0.1:$PORT" -t tcp -n $N -r 2000 --duration 200ms --json -q \
	>"$T/src.json" 2>"$T/src.err"
echo "siprec-src exit $?"
tail -n 3 "$T/src.err"
cat "$T/server.out"
jq -r '.calls[] | "\(.result) \(.status) \(.reason)"' "$T/src.json" | sort | uniq -c | sort -rn | head
check_eq "every call answered 503" $N \
	"$(jq '[.calls[] | select(.status == 503)] | length' "$T/src.json" 2>/dev/null)"
check_eq "send errors" 0 "$(jq '.totals.sip_errors' "$T/src.json" 2>/dev/null)"
check "the server wrote while the client sent" grep -q '^junk sent 16125000' "$T/server.out"
finish
