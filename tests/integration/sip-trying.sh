#!/bin/sh
# SPDX-License-Identifier: MIT
# 100 Trying only when the answer is late (SIP_TRYING_DELAY, RFC 3261 §13.3.1.1, §17.2.1).
# With the catalog's write lock held by another connection (an operator at the sqlite3 shell),
# the INVITE's 200 cannot be sent (it waits for its catalog rows to be durable): a 100 Trying
# comes after the delay, then the 200 once the lock is released. An INVITE and its CANCEL in
# one TCP segment get 487 with no 100 before or after it (answered within the delay). With
# SIP_TRYING_DELAY=0 the first response to an INVITE is 100 Trying, sent at once.
. "$SRCDIR/tests/integration/lib.sh"
need python3 sqlite3
cat >"$T/client.py" <<'PY'
import socket, sqlite3, sys, time
port, db, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
sdp = ("v=0\r\no=src 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio 40000 RTP/AVP 0\r\na=label:1\r\na=sendonly\r\n")
md = ('<?xml version="1.0" encoding="UTF-8"?>\r\n<recording xmlns="urn:ietf:params:xml:ns:recording:1">'
      '<datamode>complete</datamode><session session_id="s1"/>'
      '<participant participant_id="p1"><nameID aor="sip:a@x"/></participant>'
      '<stream stream_id="st1" session_id="s1"><label>1</label></stream></recording>\r\n')
body = ("--b1\r\nContent-Type: application/sdp\r\n\r\n" + sdp +
        "--b1\r\nContent-Type: application/rs-metadata+xml\r\nContent-Disposition: recording-session\r\n\r\n" + md +
        "--b1--\r\n")

def common(cid, branch):
    return ("Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK%s\r\n"
            "From: <sip:src@127.0.0.1>;tag=f1\r\nTo: <sip:srs@127.0.0.1>\r\nCall-ID: %s\r\n"
            "Max-Forwards: 70\r\n" % (branch, cid))

def invite(cid):
    return ("INVITE sip:srs@127.0.0.1 SIP/2.0\r\n" + common(cid, cid) + "CSeq: 1 INVITE\r\n"
            "Contact: <sip:src@127.0.0.1:5999;transport=tcp>;+sip.src\r\nRequire: siprec\r\n"
            "Content-Type: multipart/mixed;boundary=b1\r\nContent-Length: %d\r\n\r\n" % len(body) + body)

class Conn:
    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.buf, self.got = b"", []

    def read_until(self, want, timeout=10.0):
        """Reads responses ("code METHOD", with their To header) until one is want."""
        end = time.time() + timeout
        while time.time() < end:
            while b"\r\n\r\n" in self.buf:
                head, rest = self.buf.split(b"\r\n\r\n", 1)
                clen = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        clen = int(line.split(b":", 1)[1])
                if len(rest) < clen:
                    break
                self.buf = rest[clen:]
                lines = head.decode().split("\r\n")
                cseq = [l for l in lines if l.lower().startswith("cseq:")][0].split(":", 1)[1].split()
                to = [l for l in lines if l.lower().startswith("to:")][0]
                self.got.append((lines[0].split()[1] + " " + cseq[1], to))
                if self.got[-1][0] == want:
                    return to
            self.s.settimeout(max(0.01, end - time.time()))
            try:
                d = self.s.recv(65536)
            except socket.timeout:
                break
            if not d:
                break
            self.buf += d
        return None

    def finish(self, cid, to):
        """ACK the 200 and hang up."""
        self.s.sendall(("ACK sip:srs@127.0.0.1 SIP/2.0\r\n" +
                        common(cid, cid + "a").replace("To: <sip:srs@127.0.0.1>", to) +
                        "CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n").encode())
        self.s.sendall(("BYE sip:srs@127.0.0.1 SIP/2.0\r\n" +
                        common(cid, cid + "b").replace("To: <sip:srs@127.0.0.1>", to) +
                        "CSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n").encode())
        self.read_until("200 BYE")

def show(name, c):
    print(name + ":", " ".join(g[0].replace(" ", "/") for g in c.got))

if mode == "delayed":
    # The catalog's write lock held: the 200 waits, the 100 comes after SIP_TRYING_DELAY.
    lock = sqlite3.connect(db, timeout=10, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    c = Conn()
    c.s.sendall(invite("trying-late").encode())
    c.read_until("100 INVITE")
    show("locked", c)
    lock.execute("ROLLBACK")
    to = c.read_until("200 INVITE")
    show("released", c)
    if to:
        c.finish("trying-late", to)
    # INVITE and CANCEL in one segment: 487 within the delay, no 100 then or later.
    c = Conn()
    cancel = ("CANCEL sip:srs@127.0.0.1 SIP/2.0\r\n" + common("trying-cancel", "trying-cancel") +
              "CSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n")
    c.s.sendall((invite("trying-cancel") + cancel).encode())
    to = c.read_until("487 INVITE")
    if to:
        c.s.sendall(("ACK sip:srs@127.0.0.1 SIP/2.0\r\n" +
                     common("trying-cancel", "trying-cancel").replace("To: <sip:srs@127.0.0.1>", to) +
                     "CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n").encode())
    c.read_until("none", timeout=0.6)  # anything sent after it (the delay is 100 ms)
    show("cancelled", c)
else:
    c = Conn()
    c.s.sendall(invite("trying-now").encode())
    to = c.read_until("200 INVITE")
    show("immediate", c)
    if to:
        c.finish("trying-now", to)
PY

start_siprecd
python3 "$T/client.py" "$SIP_PORT" "$T/state/catalog.db" delayed >"$T/delayed.out" 2>&1
cat "$T/delayed.out"
check "catalog locked: 100 Trying after the delay, no 200 yet" grep -qx 'locked: 100/INVITE' "$T/delayed.out"
check "lock released: then the 200" grep -qx 'released: 100/INVITE 200/INVITE' "$T/delayed.out"
check "INVITE+CANCEL: 200 to the CANCEL, 487, no 100 before or after" \
	grep -qx 'cancelled: 200/CANCEL 487/INVITE' "$T/delayed.out"
stop_siprecd
check_eq "exit status (delay 100ms)" 0 "$STOP_RC"

start_siprecd SIP_TRYING_DELAY=0
python3 "$T/client.py" "$SIP_PORT" "$T/state/catalog.db" immediate >"$T/immediate.out" 2>&1
cat "$T/immediate.out"
check "SIP_TRYING_DELAY=0: 100 Trying first, then the 200" \
	grep -qx 'immediate: 100/INVITE 200/INVITE' "$T/immediate.out"
stop_siprecd
check_eq "exit status (delay 0)" 0 "$STOP_RC"
finish
