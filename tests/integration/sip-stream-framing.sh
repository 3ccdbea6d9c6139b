#!/bin/sh
# SPDX-License-Identifier: MIT
# SIP over a byte stream (RFC 3261 §18.3) whatever the segmenting: an OPTIONS fed one byte per
# TCP segment (TCP_NODELAY, paced) is answered 200 once; over TLS the same OPTIONS split into
# one TLS record per byte is answered too, and two requests in one record get two answers (five
# get five, in one TLS record: the answers of one loop turn share a record); a
# CRLF CRLF keep-alive ping (RFC 5626 §3.5.1) is answered with CRLF over TCP and TLS, and the
# connection goes on to serve a request. A message that cannot be framed is answered 400/513
# naming the problem when a response can be addressed, then the connection is closed; over TLS
# siprecd sends its close_notify first, there and at a stop.
. "$SRCDIR/tests/integration/lib.sh"
need python3
start_siprecd
python3 - "$SIP_PORT" "$TLS_PORT" >"$T/framing.out" 2>&1 <<'PY'
import socket, ssl, sys, time
port, tls_port = int(sys.argv[1]), int(sys.argv[2])

def options(i, proto):
    return (f"OPTIONS sip:srs@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/{proto} 127.0.0.1:9;branch=z9hG4bKfr{i}\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:t@127.0.0.1>;tag={i}\r\nTo: <sip:srs@127.0.0.1>\r\n"
            f"Call-ID: framing-{i}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n").encode()

def responses(s, n, timeout=5.0):
    """Reads until n SIP responses (counted by their status line) or the timeout."""
    s.settimeout(timeout)
    buf, end = b"", time.time() + timeout
    while buf.count(b"SIP/2.0 200") < n and time.time() < end:
        try:
            d = s.recv(65536)
        except (socket.timeout, ssl.SSLError):
            break
        if not d:
            break
        buf += d
    return buf

def tcp():
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

def tls():
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", tls_port)))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

# One byte per segment (paced 1 ms so that the segments are not merged on the way).
s = tcp()
for b in options(1, "TCP"):
    s.sendall(bytes([b]))
    time.sleep(0.001)
r = responses(s, 1)
print("tcp bytewise:", r.count(b"SIP/2.0 200 OK"), b"Call-ID: framing-1" in r)
s.close()

# One TLS record per byte: each SSLSocket.sendall of one byte is one record.
s = tls()
for b in options(2, "TLS"):
    s.sendall(bytes([b]))
r = responses(s, 1)
print("tls records:", r.count(b"SIP/2.0 200 OK"), b"Call-ID: framing-2" in r)
# Two requests in one record: two answers.
s.sendall(options(3, "TLS") + options(4, "TLS"))
r = responses(s, 2)
print("tls two in one:", r.count(b"SIP/2.0 200 OK"), b"framing-3" in r and b"framing-4" in r)
s.close()

# Five requests in one record: their five answers come back in one TLS record (the responses
# of one loop turn are written together), counted on the wire through a memory BIO.
ctx = ssl.create_default_context()
ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
raw = socket.create_connection(("127.0.0.1", tls_port))
raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
raw.settimeout(5)
inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
obj = ctx.wrap_bio(inc, out)
def pump_out():
    d = out.read()
    if d:
        raw.sendall(d)
while True:
    try:
        obj.do_handshake()
        break
    except ssl.SSLWantReadError:
        pump_out()
        inc.write(raw.recv(65536))
pump_out()
obj.write(b"".join(options(20 + i, "TLS") for i in range(5)))
pump_out()
wire, plain, records, end = b"", b"", 0, time.time() + 5
while plain.count(b"SIP/2.0 200") < 5 and time.time() < end:
    try:
        d = raw.recv(65536)
    except socket.timeout:
        break
    if not d:
        break
    wire += d
    while len(wire) >= 5 and len(wire) >= 5 + int.from_bytes(wire[3:5], "big"):
        n = 5 + int.from_bytes(wire[3:5], "big")
        records += wire[0] == 23  # application_data (TLS 1.3 hides the inner type)
        inc.write(wire[:n])
        wire = wire[n:]
    try:
        while True:
            d = obj.read(65536)
            if not d:
                break
            plain += d
    except ssl.SSLWantReadError:
        pass
print("tls five answers:", plain.count(b"SIP/2.0 200 OK"), "records:", records)
raw.close()

# CRLF keep-alive: a double CRLF is answered with one CRLF, then a request still works.
for name, s, proto in (("tcp", tcp(), "TCP"), ("tls", tls(), "TLS")):
    s.sendall(b"\r\n\r\n")
    s.settimeout(3)
    try:
        pong = s.recv(16)
    except (socket.timeout, ssl.SSLError):
        pong = b"(nothing)"
    s.sendall(options(10 + len(name), proto))
    r = responses(s, 1)
    print(f"{name} keepalive pong: {pong!r} then answered: {r.count(b'SIP/2.0 200 OK')}")
    s.close()
PY
cat "$T/framing.out"
check "TCP: an OPTIONS fed byte by byte answered once" grep -qx 'tcp bytewise: 1 True' "$T/framing.out"
check "TLS: an OPTIONS split into one record per byte answered once" grep -qx 'tls records: 1 True' "$T/framing.out"
check "TLS: two requests in one record, two answers" grep -qx 'tls two in one: 2 True' "$T/framing.out"
check "TLS: five requests in one record, five answers in one record" grep -qx 'tls five answers: 5 records: 1' "$T/framing.out"
check "TCP: CRLF CRLF keep-alive answered with CRLF, then a request answered" grep -qx "tcp keepalive pong: b'\\\\r\\\\n' then answered: 1" "$T/framing.out"
check "TLS: CRLF CRLF keep-alive answered with CRLF, then a request answered" grep -qx "tls keepalive pong: b'\\\\r\\\\n' then answered: 1" "$T/framing.out"
check "no framing error logged" sh -c "! grep -q 'closing SIP .* connection' '$T/siprecd.log'"

# A message that cannot be framed (RFC 3261 §18.3) is answered when its request line and the
# headers a response needs could be read (400/513 with a reason naming the problem, §21.4.1,
# §21.5.14), then the connection is closed: where the next message starts is lost. Without
# those, the connection is closed with no answer. Over UDP a datagram needs no Content-Length,
# and a bad one is answered 400 by the parser (the datagram is whole).
python3 - "$SIP_PORT" "$TLS_PORT" >"$T/framing-errors.out" 2>&1 <<'PY'
import socket, ssl, sys, time
port, tls_port = int(sys.argv[1]), int(sys.argv[2])

def head(i, proto, cl="Content-Length: 0\r\n", extra=""):
    return (f"OPTIONS sip:srs@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/{proto} 127.0.0.1:9;branch=z9hG4bKfe{i}\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:t@127.0.0.1>;tag={i}\r\nTo: <sip:srs@127.0.0.1>\r\n"
            f"Call-ID: fe-{i}\r\nCSeq: 1 OPTIONS\r\n{extra}{cl}")

cases = [
    ("missing-cl", lambda i, p: head(i, p, cl="") + "\r\n"),
    ("negative-cl", lambda i, p: head(i, p, cl="Content-Length: -5\r\n") + "\r\n"),
    ("text-cl", lambda i, p: head(i, p, cl="Content-Length: five\r\n") + "\r\n"),
    ("conflicting-cl", lambda i, p: head(i, p, cl="Content-Length: 0\r\nl: 3\r\n") + "\r\nabc"),
    ("cl-over-limit", lambda i, p: head(i, p, cl="Content-Length: 100000\r\n") + "\r\n"),
    # exactly MAX_MESSAGE_SIZE bytes with no end of the header section: all of it is read
    ("headers-too-large", lambda i, p: (head(i, p, cl="") + "".join(f"X-Pad-{k}: {'p' * 90}\r\n" for k in range(800)))[:65535]),
    ("http", lambda i, p: "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
    ("no-call-id", lambda i, p: head(i, p, cl="").replace(f"Call-ID: fe-{i}\r\n", "") + "\r\n"),
    ("garbage-start", lambda i, p: "\x16\x03\x01garbage\r\n" + head(i, p, cl="").split("\r\n", 1)[1] + "\r\n"),
]

def tcp():
    return socket.create_connection(("127.0.0.1", port))

def tls():
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    return ctx.wrap_socket(socket.create_connection(("127.0.0.1", tls_port)))

def exchange(s, data):
    """Sends data, then reads until the peer closes: (what came back, how it closed)."""
    s.sendall(data.encode())
    s.settimeout(5)
    buf, end = b"", time.time() + 5
    while time.time() < end:
        try:
            d = s.recv(65536)
        except socket.timeout:
            return buf, "open"
        except (ssl.SSLEOFError, ConnectionResetError):
            return buf, "closed"
        if not d:
            return buf, "closed"
        buf += d
    return buf, "open"

n = 0
for proto, conn in (("TCP", tcp), ("TLS", tls)):
    for name, make in cases:
        n += 1
        s = conn()
        r, how = exchange(s, make(n, proto))
        s.close()
        line = r.split(b"\r\n", 1)[0].decode(errors="replace") if r else "(nothing)"
        echoed = b"Call-ID: fe-%d\r\n" % n in r and b"branch=z9hG4bKfe%d" % n in r
        print(f"{proto.lower()} {name}: {line} | {how} | echoed={echoed}")

u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(3)
def udp(name, data):
    u.sendto(data.encode(), ("127.0.0.1", port))
    try:
        r = u.recv(65536).split(b"\r\n", 1)[0].decode()
    except socket.timeout:
        r = "(nothing)"
    print(f"udp {name}:", r)
udp("negative-cl", head(99, "UDP", cl="Content-Length: -5\r\n") + "\r\n")

# A message that frames but whose header section fails before its headers are usable (over
# the header count, a line without a colon) is answered when the headers a response needs can
# be read; on a stream the connection goes on.
many = "".join(f"X-H{k}: 1\r\n" for k in range(200))
udp("too-many-headers", head(98, "UDP", extra=many) + "\r\n")
udp("no-colon", head(97, "UDP", extra="Bogus line\r\n") + "\r\n")
s = tcp()
r, how = exchange(s, head(96, "TCP", extra=many) + "\r\n")
print("tcp too-many-headers:", r.split(b"\r\n", 1)[0].decode() if r else "(nothing)", "|", how)
s.close()
s = tcp()
s.sendall((head(95, "TCP", extra=many) + "\r\n" + head(94, "TCP") + "\r\n").encode())
s.settimeout(3)
buf, end = b"", time.time() + 3
while buf.count(b"SIP/2.0 ") < 2 and time.time() < end:
    try:
        d = s.recv(65536)
    except socket.timeout:
        break
    if not d:
        break
    buf += d
print("tcp after too-many-headers:", b"513 Too Many Headers" in buf, b"SIP/2.0 200 OK" in buf and b"Call-ID: fe-94" in buf)
s.close()
PY
cat "$T/framing-errors.out"
for proto in tcp tls; do
	P=$(echo $proto | tr a-z A-Z)
	check "$P: no Content-Length: 400 Missing Content-Length, then closed" grep -qx "$proto missing-cl: SIP/2.0 400 Missing Content-Length | closed | echoed=True" "$T/framing-errors.out"
	check "$P: Content-Length -5: 400 Malformed Content-Length, then closed" grep -qx "$proto negative-cl: SIP/2.0 400 Malformed Content-Length | closed | echoed=True" "$T/framing-errors.out"
	check "$P: Content-Length five: 400 Malformed Content-Length, then closed" grep -qx "$proto text-cl: SIP/2.0 400 Malformed Content-Length | closed | echoed=True" "$T/framing-errors.out"
	check "$P: two different Content-Lengths: 400 Conflicting Content-Length, then closed" grep -qx "$proto conflicting-cl: SIP/2.0 400 Conflicting Content-Length | closed | echoed=True" "$T/framing-errors.out"
	check "$P: Content-Length over MAX_MESSAGE_SIZE: 513 Content-Length Over Limit, then closed" grep -qx "$proto cl-over-limit: SIP/2.0 513 Content-Length Over Limit | closed | echoed=True" "$T/framing-errors.out"
	check "$P: header section over MAX_MESSAGE_SIZE: 513 Headers Too Large, then closed" grep -qx "$proto headers-too-large: SIP/2.0 513 Headers Too Large | closed | echoed=True" "$T/framing-errors.out"
	check "$P: an HTTP request: closed, no answer" grep -qx "$proto http: (nothing) | closed | echoed=False" "$T/framing-errors.out"
	check "$P: no Call-ID: closed, no answer" grep -qx "$proto no-call-id: (nothing) | closed | echoed=False" "$T/framing-errors.out"
	check "$P: a garbage start line: closed, no answer" grep -qx "$proto garbage-start: (nothing) | closed | echoed=False" "$T/framing-errors.out"
done
check "UDP: Content-Length -5 answered 400 Malformed Content-Length" grep -qx "udp negative-cl: SIP/2.0 400 Malformed Content-Length" "$T/framing-errors.out"
check "UDP: 207 headers (over the 128 a message may have) answered 513 Too Many Headers" grep -qx "udp too-many-headers: SIP/2.0 513 Too Many Headers" "$T/framing-errors.out"
check "UDP: a header line without a colon answered 400 Malformed Header Line" grep -qx "udp no-colon: SIP/2.0 400 Malformed Header Line" "$T/framing-errors.out"
check "TCP: too many headers answered 513, the connection goes on" grep -qx "tcp after too-many-headers: True True" "$T/framing-errors.out"
check "framing errors logged with the problem and the answer" grep -q "closing SIP tcp connection from 127.0.0.1:[0-9]*: Missing Content-Length (answered 400)" "$T/siprecd.log"

# siprecd's own close_notify (RFC 8446 §6.1) ends a TLS connection it closes: after the answer
# to a message it cannot frame, and at a stop, ahead of the FIN (openssl s_client -msg shows the
# alert it reads, "<<<"; -ign_eof keeps it reading after its input ends).
if command -v openssl >/dev/null 2>&1; then
	opt() { printf 'OPTIONS sip:srs@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:9;branch=z9hG4bKcn%s\r\nMax-Forwards: 70\r\nFrom: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:srs@127.0.0.1>\r\nCall-ID: cn-%s\r\nCSeq: 1 OPTIONS\r\n%b\r\n' "$1" "$1" "$2"; }
	opt 1 "" | timeout 10 openssl s_client -connect "127.0.0.1:$TLS_PORT" -ign_eof -msg -state >"$T/cn-framing.out" 2>&1
	check "TLS: after the 400 to an unframed message, siprecd's close_notify" \
		sh -c "grep -q '^SIP/2.0 400 Missing Content-Length' '$T/cn-framing.out' && grep -q '^<<< .*Alert.*close_notify' '$T/cn-framing.out'"
	(
		opt 2 "Content-Length: 0\r\n"
		sleep 3
	) | timeout 5 openssl s_client -connect "127.0.0.1:$TLS_PORT" -ign_eof -msg -state >"$T/cn-stop.out" 2>&1 &
	CN_PID=$!
	wait_for "$T/cn-stop.out" '^SIP/2.0 200' 5 || bad "TLS: the OPTIONS before the stop not answered"
fi
stop_siprecd
check_eq "exit status" 0 "$STOP_RC"
if [ -n "${CN_PID:-}" ]; then
	wait "$CN_PID"
	check "TLS: a connection open at the stop ends with siprecd's close_notify" \
		grep -q '^<<< .*Alert.*close_notify' "$T/cn-stop.out"
fi
finish
