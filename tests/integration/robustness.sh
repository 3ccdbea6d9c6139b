#!/bin/sh
# SPDX-License-Identifier: MIT
# Hostile input does not take siprecd down: 10,000 UDP datagrams (random bytes, and valid OPTIONS
# and SIPREC INVITEs with random bytes flipped, cut or inserted) and 1,000 malformed SIP
# messages over TCP (bad or missing Content-Length, junk header lines, binary, truncated
# headers, oversized bodies) from a Python sender with a fixed seed; then valid OPTIONS over UDP
# and TCP get 200 and SIGTERM still stops the daemon cleanly.
. "$SRCDIR/tests/integration/lib.sh"
need sipp python3

start_siprecd LOG_LEVEL=notice
cat >"$T/hostile.py" <<'PY'
import random, socket, sys, time

port = int(sys.argv[1])
rnd = random.Random(7866)
OPTIONS = ("OPTIONS sip:srs@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK%d\r\n"
           "From: <sip:x@127.0.0.1>;tag=1\r\nTo: <sip:srs@127.0.0.1>\r\nCall-ID: %d@x\r\n"
           "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
BODY = ("--B\r\nContent-Type: application/sdp\r\n\r\nv=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"
        "c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0 8\r\na=label:1\r\na=sendonly\r\n"
        "m=audio 7002 RTP/AVP 0\r\na=label:2\r\na=sendonly\r\n--B\r\n"
        "Content-Type: application/rs-metadata+xml\r\n\r\n<?xml version=\"1.0\"?><recording "
        "xmlns=\"urn:ietf:params:xml:ns:recording:1\"><datamode>complete</datamode><session "
        "session_id=\"s\"/><participant participant_id=\"p\"><nameID aor=\"sip:a@b\"><name>A</name>"
        "</nameID></participant><stream stream_id=\"st\" session_id=\"s\"><label>1</label></stream>"
        "<participantstreamassoc participant_id=\"p\"><send>st</send></participantstreamassoc>"
        "</recording>\r\n--B--\r\n")
INVITE = ("INVITE sip:srs@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK%d\r\n"
          "From: <sip:src@127.0.0.1>;tag=%d\r\nTo: <sip:srs@127.0.0.1>\r\nCall-ID: inv%d@x\r\n"
          "CSeq: 1 INVITE\r\nContact: <sip:src@127.0.0.1:5999>\r\nMax-Forwards: 70\r\n"
          "Content-Type: multipart/mixed;boundary=B\r\nContent-Length: %d\r\n\r\n%s")

def mutate(b):
    b = bytearray(b)
    for _ in range(rnd.randint(1, 8)):
        op = rnd.random()
        i = rnd.randrange(len(b) + 1)
        if op < 0.4 and b:
            b[min(i, len(b) - 1)] = rnd.randrange(256)
        elif op < 0.6:
            b[i:i] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 16)))
        elif op < 0.8:
            del b[i:i + rnd.randint(1, 64)]
        else:
            b = b[:i]
    return bytes(b)

def valid(n):
    if rnd.random() < 0.5:
        return (OPTIONS % (n, n)).encode()
    return (INVITE % (n, n, n, len(BODY), BODY)).encode()

u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
u.bind(("127.0.0.1", 0))
for n in range(10000):
    if n % 2:
        d = bytes(rnd.randrange(256) for _ in range(rnd.randint(0, 1400)))
    else:
        d = mutate(valid(n))
    try:
        u.sendto(d, ("127.0.0.1", port))
    except OSError:
        pass
    if n % 200 == 0:
        time.sleep(0.002)  # let the daemon drain its socket: test its parser, not the kernel's drops

def tcp_messages():
    hdr = "OPTIONS sip:srs@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKt%d\r\n"
    rest = "From: <sip:x@h>;tag=1\r\nTo: <sip:srs@h>\r\nCall-ID: t%d@x\r\nCSeq: 1 OPTIONS\r\n"
    kinds = [
        lambda n: (hdr % n + rest % n + "Content-Length: -5\r\n\r\n").encode(),
        lambda n: (hdr % n + rest % n + "Content-Length: 99999999999999999999\r\n\r\n").encode(),
        lambda n: (hdr % n + rest % n + "Content-Length: abc\r\n\r\n").encode(),
        lambda n: (hdr % n + rest % n + "Content-Length: 70000\r\n\r\n").encode() + b"x" * 70000,
        lambda n: (hdr % n + "\x00\x01garbage line without colon\r\n" + rest % n + "Content-Length: 0\r\n\r\n").encode(),
        lambda n: (hdr % n + rest % n + "Content-Length: 0\r\n" + "X-Junk: " + "a" * 9000 + "\r\n\r\n").encode(),
        lambda n: ("GARBAGE / SIP/9.9\r\n" + "H%d: v\r\n" % n * 300 + "\r\n").encode(),
        lambda n: bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 3000))),
        lambda n: mutate((INVITE % (n, n, n, len(BODY), BODY)).replace("UDP", "TCP").encode()),
        lambda n: (hdr % n + rest % n).encode(),  # headers never end: the connection idles
    ]
    for n in range(1000):
        yield kinds[n % len(kinds)](n)

sent = 0
conn = None
for n, m in enumerate(tcp_messages()):
    for attempt in range(2):
        try:
            if conn is None or (n % 10 == 0 and attempt == 0):
                if conn:
                    conn.close()
                conn = socket.create_connection(("127.0.0.1", port), timeout=2)
            conn.sendall(m)
            sent += 1
            break
        except OSError:
            conn = None  # the daemon closed it (a framing error is a reason to): reconnect
if conn:
    conn.close()
print("udp 10000, tcp %d" % sent)
PY
if python3 "$T/hostile.py" "$SIP_PORT" >"$T/hostile.out" 2>&1; then
	ok "hostile input sent: $(cat "$T/hostile.out")"
else
	bad "hostile sender failed: $(tail -n 3 "$T/hostile.out")"
fi
check "siprecd still running" kill -0 "$DAEMON_PID"
check "OPTIONS over UDP afterwards: 200" sipp_run udp -sf "$SRCDIR/tests/integration/scenarios/options.xml" -m 1 -t u1
check "OPTIONS over TCP afterwards: 200" sipp_run tcp -sf "$SRCDIR/tests/integration/scenarios/options.xml" -m 1 -t t1
check "siprecd still running after OPTIONS" kill -0 "$DAEMON_PID"
stop_siprecd
check_eq "exit status after SIGTERM" 0 "$STOP_RC"
check "no crash report in the log" sh -c "! grep -qiE 'sanitizer|assert|segv' '$T/siprecd.log'"
finish
