#!/bin/sh
# SPDX-License-Identifier: MIT
# A TLS peer that reads its responses slowly (OpenSSL records, no kTLS on the host): it sends
# 20,000 OPTIONS at once with a 4 KiB receive buffer and reads nothing for a second: ~7 MB of
# answers, more than the kernel's socket buffers hold, so siprecd's writes meet a full socket
# (EAGAIN) and its queue waits for POLLOUT. With the default send queue caps (1,024 messages,
# 1 MiB), far below what the 20,000 answers take: past half a cap siprecd stops reading the
# connection (backpressure, docs/SIP.md) instead of closing it at the cap. Then the peer reads:
# every request gets its 200, the connection stays open and reading (one more request is
# answered), it was counted as throttled (metrics, siprecctl status), and none is now.
. "$SRCDIR/tests/integration/lib.sh"
need python3

MPORT=$(free_port)
echo "METRICS_LISTEN=127.0.0.1:$MPORT" >>"$CONF"
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
python3 -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$MPORT/metrics', timeout=5).read().decode())" >"$T/metrics.txt" 2>&1
grep -E '^siprecd_sip_throttled' "$T/metrics.txt"
check "the connection was throttled" grep -Eq '^siprecd_sip_throttled_total [1-9]' "$T/metrics.txt"
check "and is not any more" grep -Eq '^siprecd_sip_throttled_connections 0$' "$T/metrics.txt"
"$BUILD/siprecctl" status >"$T/status.txt" 2>&1
grep sip-transport "$T/status.txt"
check "siprecctl status shows the throttled count" \
	grep -Eq 'sip-transport .*connections \(0 throttled now, [1-9][0-9]* times\)' "$T/status.txt"
stop_siprecd
check_eq "exit status" 0 "$STOP_RC"
finish
