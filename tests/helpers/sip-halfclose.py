#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A SIP peer over TCP or TLS that sends its requests and then shuts its write side (FIN; over
TLS a close_notify then FIN, or FIN alone), still reading, as `nc -N`, scripts and an SRC that
closes its side after a BYE do. Prints one line per response read ("response CODE METHOD
CALL-ID TO-TAG"), then "eof" when siprecd closes the connection (or "timeout").

  sip-halfclose.py tcp|tls PORT options N [--close fin|notify] [--no-read] [--rcvbuf B]
  sip-halfclose.py tcp|tls PORT invite CALL-ID [--close ...]
  sip-halfclose.py tcp|tls PORT indialog CALL-ID TO-TAG METHOD... (one connection, then FIN)
  sip-halfclose.py tcp|tls PORT calls N: sets up N calls on one connection (INVITE, 200, ACK),
      prints "ready", then answers every BYE siprecd sends with 200 until it closes the
      connection; prints "byes K" and "eof".
"""
import argparse
import random
import socket
import ssl
import sys
import time


class Peer:
    def __init__(self, kind, port, rcvbuf=0):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.connect(("127.0.0.1", port))
        self.lport = self.s.getsockname()[1]
        self.tls = None
        if kind == "tls":
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self.inb, self.outb = ssl.MemoryBIO(), ssl.MemoryBIO()
            self.tls = ctx.wrap_bio(self.inb, self.outb, server_hostname="localhost")
            while True:
                try:
                    self.tls.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    self._flush()
                    d = self.s.recv(65536)
                    if not d:
                        raise SystemExit("EOF during the handshake")
                    self.inb.write(d)
            self._flush()
        self.buf = b""

    def _flush(self):
        d = self.outb.read()
        if d:
            self.s.sendall(d)

    def send(self, data):
        if self.tls:
            self.tls.write(data)
            self._flush()
        else:
            self.s.sendall(data)

    def half_close(self, how):
        if self.tls and how == "notify":
            try:
                self.tls.unwrap()  # writes close_notify; the server's is not awaited
            except ssl.SSLWantReadError:
                pass
            self._flush()
        self.s.shutdown(socket.SHUT_WR)

    def read_all(self, timeout):
        """Bytes until the server closes: (data, saw_eof)."""
        self.s.settimeout(0.5)
        end = time.time() + timeout
        while time.time() < end:
            try:
                d = self.s.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                return self.buf, "reset"
            if not d:
                return self.buf, "eof"
            if not self.tls:
                self.buf += d
                continue
            self.inb.write(d)
            while True:
                try:
                    d = self.tls.read(65536)
                except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                    break
                if not d:  # the server's close_notify (an SSLObject returns b"" after it)
                    break
                self.buf += d
        return self.buf, "timeout"


def responses(data):
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.decode(errors="replace").split("\r\n")
        hdr = {}
        for h in lines[1:]:
            k, _, v = h.partition(":")
            hdr.setdefault(k.strip().lower(), v.strip())
        n = int(hdr.get("content-length", "0"))
        body, data = rest[:n], rest[n:]
        tag = "-"
        for p in hdr.get("to", "").split(";")[1:]:
            if p.strip().startswith("tag="):
                tag = p.strip()[4:]
        out.append((lines[0], hdr.get("cseq", "? ?").split()[-1], hdr.get("call-id", "-"), tag,
                    body))
    return out


def request(kind, lport, method, call_id, cseq, to_tag=None, body=b"", ctype=None, extra=""):
    tr = kind.upper()
    to = "<sip:srs@127.0.0.1>" + (";tag=" + to_tag if to_tag else "")
    m = (f"{method} sip:srs@127.0.0.1;transport={kind} SIP/2.0\r\n"
         f"Via: SIP/2.0/{tr} 127.0.0.1:{lport};branch=z9hG4bK{random.getrandbits(48):x}\r\n"
         f"Max-Forwards: 70\r\nFrom: <sip:src@127.0.0.1>;tag=hc{call_id}\r\nTo: {to}\r\n"
         f"Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n"
         f"Contact: <sip:src@127.0.0.1:{lport};transport={kind}>;+sip.src\r\n{extra}")
    if ctype:
        m += f"Content-Type: {ctype}\r\n"
    return m.encode() + b"Content-Length: %d\r\n\r\n" % len(body) + body


def siprec_offer(call_id, media_port):
    sdp = ("v=0\r\no=src 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
           f"m=audio {media_port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=label:1\r\na=sendonly\r\n"
           f"m=audio {media_port + 2} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=label:2\r\n"
           "a=sendonly\r\n")
    md = ('<?xml version="1.0" encoding="UTF-8"?>\r\n'
          '<recording xmlns="urn:ietf:params:xml:ns:recording:1">'
          f'<datamode>complete</datamode><session session_id="s-{call_id}"/>'
          '<participant participant_id="a"><nameID aor="sip:alice@example.com"/></participant>'
          '<participant participant_id="b"><nameID aor="sip:bob@example.net"/></participant>'
          f'<stream stream_id="st1" session_id="s-{call_id}"><label>1</label></stream>'
          f'<stream stream_id="st2" session_id="s-{call_id}"><label>2</label></stream>'
          '</recording>\r\n')
    return ("--SIPRECb\r\nContent-Type: application/sdp\r\n\r\n" + sdp +
            "--SIPRECb\r\nContent-Type: application/rs-metadata+xml\r\n"
            "Content-Disposition: recording-session\r\n\r\n" + md + "--SIPRECb--\r\n").encode()


def messages(p, timeout):
    """Yields (start line, headers as (name, value) in order) of each message read."""
    p.s.settimeout(timeout)
    while True:
        while b"\r\n\r\n" in p.buf:
            head, _, rest = p.buf.partition(b"\r\n\r\n")
            lines = head.decode(errors="replace").split("\r\n")
            hdrs = [(k.strip().lower(), v.strip()) for k, _, v in
                    (h.partition(":") for h in lines[1:])]
            n = int(dict(hdrs).get("content-length", "0"))
            if len(rest) < n:
                break
            p.buf = rest[n:]
            yield lines[0], hdrs
        try:
            d = p.s.recv(65536)
        except (socket.timeout, ConnectionResetError):
            return
        if not d:
            return
        if p.tls:
            p.inb.write(d)
            while True:
                try:
                    d = p.tls.read(65536)
                except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
                    break
                if not d:  # the server's close_notify
                    break
                p.buf += d
        else:
            p.buf += d


def calls(p, kind, n, timeout):
    rd = messages(p, timeout)
    for i in range(n):
        cid = "own-%d" % i
        p.send(request(kind, p.lport, "INVITE", cid, 1, body=siprec_offer(cid, 30000),
                       ctype="multipart/mixed;boundary=SIPRECb", extra="Require: siprec\r\n"))
        for start, hdrs in rd:
            h = dict(hdrs)
            if start.startswith("SIP/2.0 200") and h.get("call-id") == cid:
                tag = h["to"].split("tag=")[1].split(";")[0]
                p.send(request(kind, p.lport, "ACK", cid, 1, to_tag=tag))
                break
        else:
            print("call %d not answered" % i)
            return 1
    print("ready", flush=True)
    byes = 0
    for start, hdrs in rd:
        if not start.startswith("BYE "):
            continue
        byes += 1
        resp = "SIP/2.0 200 OK\r\n" + "".join(
            "%s: %s\r\n" % (k, v) for k, v in hdrs
            if k in ("via", "from", "to", "call-id", "cseq")) + "Content-Length: 0\r\n\r\n"
        p.send(resp.encode())
    print("byes", byes)
    print("eof")
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["tcp", "tls"])
    ap.add_argument("port", type=int)
    ap.add_argument("what", choices=["options", "invite", "indialog", "calls"])
    ap.add_argument("args", nargs="*")
    ap.add_argument("--close", choices=["fin", "notify"], default="notify")
    ap.add_argument("--no-read", action="store_true", help="never read (hold the socket)")
    ap.add_argument("--rcvbuf", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=15)
    a = ap.parse_args()
    p = Peer(a.kind, a.port, a.rcvbuf)
    if a.what == "calls":
        return calls(p, a.kind, int(a.args[0]), a.timeout)
    if a.what == "options":
        n = int(a.args[0])
        p.send(b"".join(request(a.kind, p.lport, "OPTIONS", "hc-opt-%d" % i, 1,
                                extra="Accept: application/sdp\r\n") for i in range(n)))
    elif a.what == "invite":
        cid = a.args[0]
        p.send(request(a.kind, p.lport, "INVITE", cid, 1, body=siprec_offer(cid, 30000),
                       ctype="multipart/mixed;boundary=SIPRECb", extra="Require: siprec\r\n"))
    else:
        cid, tag = a.args[0], a.args[1]
        for i, m in enumerate(a.args[2:]):
            cseq = 1 if m == "ACK" else 2 + i
            p.send(request(a.kind, p.lport, m, cid, cseq, to_tag=tag))
    p.half_close(a.close)
    if a.no_read:
        time.sleep(a.timeout)
        print("held")
        return
    data, end = p.read_all(a.timeout)
    for start, method, cid, tag, body in responses(data):
        print("response", start.split()[1] if start.startswith("SIP/2.0 ") else start, method,
              cid, tag, "sdp" if b"m=audio" in body else "-")
    print(end)


if __name__ == "__main__":
    sys.exit(main())
