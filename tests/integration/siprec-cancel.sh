#!/bin/sh
# SPDX-License-Identifier: MIT
# CANCEL before the final response (RFC 3261 §9.2): siprecd answers an INVITE with 100 Trying
# (at once here: SIP_TRYING_DELAY=0; sip-trying.sh covers the delay) and sends the 200 only once
# the recording files exist, so a CANCEL that arrives in between wins. Over TCP the INVITE and the CANCEL are written in one segment, which makes the race
# deterministic: both are framed from the same read before any worker reply is dispatched.
# Expected: 100 to the INVITE, 200 to the CANCEL, 487 to the INVITE (then our ACK), no 200 to
# the INVITE, the session ended with reason 'cancel', its recordings closed.
. "$SRCDIR/tests/integration/lib.sh"
need python3 sqlite3
start_siprecd SIP_TRYING_DELAY=0
python3 - "$SIP_PORT" >"$T/cancel.out" 2>&1 <<'PY'
import socket, sys, time
port = int(sys.argv[1])
sdp = ("v=0\r\no=src 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio 40000 RTP/AVP 0\r\na=label:1\r\na=sendonly\r\n"
       "m=audio 40002 RTP/AVP 0\r\na=label:2\r\na=sendonly\r\n")
md = ('<?xml version="1.0" encoding="UTF-8"?>\r\n<recording xmlns="urn:ietf:params:xml:ns:recording:1">'
      '<datamode>complete</datamode><session session_id="s1"/>'
      '<participant participant_id="p1"><nameID aor="sip:a@x"/></participant>'
      '<stream stream_id="st1" session_id="s1"><label>1</label></stream></recording>\r\n')
body = ("--b1\r\nContent-Type: application/sdp\r\n\r\n" + sdp +
        "--b1\r\nContent-Type: application/rs-metadata+xml\r\nContent-Disposition: recording-session\r\n\r\n" + md +
        "--b1--\r\n")
common = ("Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKcancel1\r\n"
          "From: <sip:src@127.0.0.1>;tag=f1\r\nTo: <sip:srs@127.0.0.1>\r\nCall-ID: cancel-test-1\r\n"
          "Max-Forwards: 70\r\n")
invite = ("INVITE sip:srs@127.0.0.1 SIP/2.0\r\n" + common + "CSeq: 1 INVITE\r\n"
          "Contact: <sip:src@127.0.0.1:5999;transport=tcp>;+sip.src\r\nRequire: siprec\r\n"
          "Content-Type: multipart/mixed;boundary=b1\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
cancel = ("CANCEL sip:srs@127.0.0.1 SIP/2.0\r\n" + common + "CSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n")
s = socket.create_connection(("127.0.0.1", port))
s.sendall((invite + cancel).encode())
s.settimeout(3)
buf, got = b"", []
deadline = time.time() + 3
while time.time() < deadline and not any(g.startswith("487") for g in got):
    try:
        d = s.recv(65536)
    except socket.timeout:
        break
    if not d:
        break
    buf += d
    while b"\r\n\r\n" in buf:
        head, rest = buf.split(b"\r\n\r\n", 1)
        clen = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                clen = int(line.split(b":", 1)[1])
        if len(rest) < clen:
            break
        buf = rest[clen:]
        first = head.split(b"\r\n")[0].decode()
        cseq = [l for l in head.split(b"\r\n") if l.lower().startswith(b"cseq:")][0].decode()
        code = first.split()[1]
        got.append("%s %s" % (code, cseq.split(":", 1)[1].strip()))
        if code == "487":
            to = [l for l in head.split(b"\r\n") if l.lower().startswith(b"to:")][0].decode()
            ack = ("ACK sip:srs@127.0.0.1 SIP/2.0\r\n" + common.replace("To: <sip:srs@127.0.0.1>\r\n", to + "\r\n") +
                   "CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n")
            s.sendall(ack.encode())
for g in got:
    print("response:", g)
time.sleep(0.5)
PY
cat "$T/cancel.out"
check "100 Trying to the INVITE" grep -q '^response: 100 1 INVITE' "$T/cancel.out"
check "200 to the CANCEL" grep -q '^response: 200 1 CANCEL' "$T/cancel.out"
check "487 to the INVITE" grep -q '^response: 487 1 INVITE' "$T/cancel.out"
if grep -q '^response: 200 1 INVITE' "$T/cancel.out"; then bad "the cancelled INVITE got a 200"; else ok "no 200 to the cancelled INVITE"; fi
sleep 0.3
check_eq "session ended by the CANCEL" "ended|cancel" "$(catalog "SELECT state, end_reason FROM sessions WHERE call_id='cancel-test-1'")"
check_eq "its recordings were closed" "0" "$(catalog "SELECT count(*) FROM recordings WHERE state = 'writing'")"
stop_siprecd
check_eq "exit status" 0 "$STOP_RC"
finish
