#!/bin/sh
# SPDX-License-Identifier: MIT
# A TLS peer that reads its responses slowly (OpenSSL records, no kTLS on the host): it sends
# 20,000 OPTIONS at once with a 4 KiB receive buffer and reads nothing for a second: ~7 MB of
# answers, more than the kernel's socket buffers hold, so siprecd's writes meet a full socket
# (EAGAIN) and its queue waits for POLLOUT. Then it reads: every request gets its 200 and the
# connection stays open and reading (a full socket is not a send error; the send queue caps are
# raised above what the test queues, so nothing may be dropped): one more request is answered.
. "$SRCDIR/tests/integration/lib.sh"
need python3

sed -i 's/^MAX_SEND_QUEUE=.*/MAX_SEND_QUEUE=268435456/' "$CONF"
grep -q '^MAX_SEND_QUEUE=' "$CONF" || echo MAX_SEND_QUEUE=268435456 >>"$CONF"
echo MAX_SEND_QUEUE_MESSAGES=1000000 >>"$CONF"
start_siprecd
python3 - "$TLS_PORT" "$T/state/tls/cert.pem" >"$T/bp.out" 2>&1 <<'PY'
import socket, ssl, sys, time
port, ca = int(sys.argv[1]), sys.argv[2]
N = 20000
def opt(i):
    return ("OPTIONS sip:srs@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:9;branch=z9hG4bKbp{i}\r\n"
            "From: <sip:t@x>;tag={i}\r\nTo: <sip:srs@127.0.0.1>\r\nCall-ID: bp{i}\r\n"
            "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n").format(i=i).encode()
ctx = ssl.create_default_context(cafile=ca)
raw = socket.socket()
raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
raw.connect(("127.0.0.1", port))
s = ctx.wrap_socket(raw, server_hostname="localhost")
s.sendall(b"".join(opt(i) for i in range(N)))
time.sleep(1)
s.settimeout(10)
data, end = b"", time.time() + 60
try:
    while data.count(b"SIP/2.0 200") < N and time.time() < end:
        d = s.recv(65536)
        if not d:
            print("closed by the server")
            break
        data += d
except (ConnectionResetError, BrokenPipeError, ssl.SSLError, socket.timeout) as e:
    print("read stopped:", type(e).__name__)
print("answered", data.count(b"SIP/2.0 200"), "of", N, "bytes", len(data))
# the connection still reads: one more request, answered
s.sendall(opt(N))
more = b""
try:
    while b"Call-ID: bp%d\r\n" % N not in more:
        d = s.recv(65536)
        if not d:
            break
        more += d
except (ConnectionResetError, BrokenPipeError, ssl.SSLError, socket.timeout) as e:
    print("second read stopped:", type(e).__name__)
print("later request answered:", b"Call-ID: bp%d\r\n" % N in more)
PY
cat "$T/bp.out"
check "every OPTIONS answered through a full socket" grep -q '^answered 20000 of 20000' "$T/bp.out"
check "and a later request on the same connection too" grep -q '^later request answered: True' "$T/bp.out"
check "no send error logged" sh -c "! grep -q 'does not read its responses' '$T/siprecd.log'"
stop_siprecd
check_eq "exit status" 0 "$STOP_RC"
finish
