#!/bin/sh
# SPDX-License-Identifier: MIT
# Limits a peer cannot push past: MAX_CONNECTIONS (the connection over the limit is closed at
# once while the others keep working), TCP_IDLE_TIMEOUT (a silent connection is closed by the
# server), MAX_MESSAGE_SIZE (a TCP message announcing a larger body is refused by closing the
# connection), a UDP datagram over the limit is dropped; OPTIONS still gets 200 afterwards.
. "$SRCDIR/tests/integration/lib.sh"
need python3 sipp
cat >>"$CONF" <<CFG
MAX_CONNECTIONS=5
TCP_IDLE_TIMEOUT=1s
MAX_MESSAGE_SIZE=4096
CFG
start_siprecd
python3 - "$SIP_PORT" >"$T/limits.out" 2>&1 <<'PY'
import socket, sys, time
port = int(sys.argv[1])
def opt(i):
    return ("OPTIONS sip:srs@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKlim%d\r\n"
            "From: <sip:t@x>;tag=%d\r\nTo: <sip:srs@127.0.0.1>\r\nCall-ID: lim%d\r\nCSeq: 1 OPTIONS\r\n"
            "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n" % (i, i, i)).encode()
def closed(s, wait=2.0):
    s.settimeout(wait)
    try:
        return s.recv(4096) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(5)]
time.sleep(0.2)
extra = socket.create_connection(("127.0.0.1", port))
print("over-limit closed:", closed(extra))
c = conns[0]; c.sendall(opt(1)); c.settimeout(2)
print("within-limit answered:", c.recv(4096).startswith(b"SIP/2.0 200"))
for s in conns: s.close()
time.sleep(0.3)
idle = socket.create_connection(("127.0.0.1", port))
t0 = time.time()
print("idle closed:", closed(idle, 4.0), "after %.1f s" % (time.time() - t0))
big = socket.create_connection(("127.0.0.1", port))
big.sendall(opt(2).replace(b"Content-Length: 0", b"Content-Length: 100000"))
print("oversized closed:", closed(big))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(1)
u.sendto(opt(3).replace(b"Content-Length: 0", b"Content-Length: 6000") + b"x" * 6000, ("127.0.0.1", port))
try:
    u.recv(4096); print("oversized datagram dropped: False")
except socket.timeout:
    print("oversized datagram dropped: True")
PY
cat "$T/limits.out"
check "connection over MAX_CONNECTIONS closed at once" grep -q 'over-limit closed: True' "$T/limits.out"
check "connections within the limit still answered" grep -q 'within-limit answered: True' "$T/limits.out"
check "idle connection closed by TCP_IDLE_TIMEOUT" grep -q 'idle closed: True' "$T/limits.out"
check "message over MAX_MESSAGE_SIZE closes the connection" grep -q 'oversized closed: True' "$T/limits.out"
check "datagram over MAX_MESSAGE_SIZE dropped" grep -q 'oversized datagram dropped: True' "$T/limits.out"
check "OPTIONS still answered" sipp_run after -sf "$SRCDIR/tests/integration/scenarios/options.xml" -m 3 -t t1
stop_siprecd
check_eq "exit status" 0 "$STOP_RC"
finish
