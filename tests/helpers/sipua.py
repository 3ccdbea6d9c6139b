# SPDX-License-Identifier: MIT
# A small SIP user agent over UDP for integration tests that need call flows sipp cannot express
# easily (offers in ACKs, session timers, re-offers): sends requests, answers the daemon's own
# requests (BYE) with 200, returns responses, parses SDP, sends RTP. Import it from a test's
# python block: sys.path.insert(0, os.environ["SRCDIR"] + "/tests/helpers").
import random
import re
import socket
import struct
import time


def sdp_media(body):
    """[{port, proto, pts, label, dir, crypto, rtpmap{pt:name}}] of an SDP body."""
    out = []
    for line in body.replace("\r\n", "\n").split("\n"):
        if line.startswith("m="):
            f = line[2:].split()
            out.append({"port": int(f[1]), "proto": f[2], "pts": [int(x) for x in f[3:]],
                        "label": None, "dir": "sendrecv", "crypto": [], "rtpmap": {}})
        elif out and line.startswith("a=label:"):
            out[-1]["label"] = line[8:]
        elif out and line[2:] in ("sendonly", "recvonly", "inactive", "sendrecv"):
            out[-1]["dir"] = line[2:]
        elif out and line.startswith("a=crypto:"):
            out[-1]["crypto"].append(line[9:])
        elif out and line.startswith("a=rtpmap:"):
            pt, name = line[9:].split(" ", 1)
            out[-1]["rtpmap"][int(pt)] = name
    return out


class Response:
    def __init__(self, raw):
        head, _, self.body = raw.partition("\r\n\r\n")
        lines = head.split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = []
        for h in lines[1:]:
            k, _, v = h.partition(":")
            self.headers.append((k.strip().lower(), v.strip()))

    def header(self, name):
        for k, v in self.headers:
            if k == name.lower():
                return v
        return None


class UA:
    def __init__(self, port, host="127.0.0.1"):
        self.dst = (host, port)
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind((host, 0))
        self.s.settimeout(0.2)
        self.lport = self.s.getsockname()[1]
        self.requests = []  # requests the daemon sent us (BYE), answered 200

    def _answer(self, raw):
        head = raw.split("\r\n\r\n", 1)[0].split("\r\n")
        keep = [h for h in head[1:] if re.match(r"(?i)(via|from|to|call-id|cseq)\s*:", h)]
        self.s.sendto(("SIP/2.0 200 OK\r\n" + "\r\n".join(keep) +
                       "\r\nContent-Length: 0\r\n\r\n").encode(), self.dst)
        self.requests.append(raw)

    def recv(self, timeout):
        """The next response (answering requests on the way), or None after timeout s."""
        end = time.time() + timeout
        while time.time() < end:
            try:
                d = self.s.recv(65536).decode(errors="replace")
            except socket.timeout:
                continue
            if d.startswith("SIP/2.0"):
                return Response(d)
            self._answer(d)
        return None

    def wait_request(self, method, timeout):
        end = time.time() + timeout
        while time.time() < end:
            if any(r.startswith(method + " ") for r in self.requests):
                return True
            self.recv(0.2)
        return any(r.startswith(method + " ") for r in self.requests)


class Call:
    """One dialog from the SRC side."""

    def __init__(self, ua, call_id=None):
        self.ua = ua
        self.call_id = call_id or "%x@sipua" % random.getrandbits(64)
        self.tag = "%x" % random.getrandbits(32)
        self.to_tag = None
        self.cseq = 0

    def request(self, method, body=b"", ctype="application/sdp", extra="", cseq=None,
                timeout=5.0, branch=None):
        """Sends method, returns the final response (None on timeout). ACK returns None."""
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        branch = branch or "z9hG4bK%x" % random.getrandbits(48)
        to = "<sip:srs@127.0.0.1>" + (";tag=" + self.to_tag if self.to_tag else "")
        if isinstance(body, str):
            body = body.encode()
        msg = (f"{method} sip:srs@{self.ua.dst[0]}:{self.ua.dst[1]} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP 127.0.0.1:{self.ua.lport};branch={branch};rport\r\n"
               f"Max-Forwards: 70\r\n"
               f"From: <sip:src@127.0.0.1>;tag={self.tag}\r\nTo: {to}\r\n"
               f"Call-ID: {self.call_id}\r\nCSeq: {cseq} {method}\r\n"
               f"Contact: <sip:src@127.0.0.1:{self.ua.lport}>\r\n{extra}")
        if body:
            msg += f"Content-Type: {ctype}\r\n"
        msg = msg.encode() + b"Content-Length: %d\r\n\r\n" % len(body) + body
        self.ua.s.sendto(msg, self.ua.dst)
        if method == "ACK":
            return None
        end = time.time() + timeout
        while time.time() < end:
            r = self.ua.recv(end - time.time())
            if r is None:
                break
            # RFC 3261 §17.1.3: a response belongs to the transaction of its top Via's branch;
            # a retransmitted final answer of an earlier request (the daemon repeats a
            # non-2xx until it is ACKed) is not this request's.
            if (r.status >= 200 and (r.header("cseq") or "").split()[-1] == method
                    and ("branch=" + branch) in (r.header("via") or "")):
                tt = re.search(r";\s*tag=([^;>\s]+)", r.header("to") or "")
                if tt and method == "INVITE" and r.status < 300:
                    self.to_tag = tt.group(1)
                if method == "INVITE":
                    # §17.1.1.3: the ACK of a non-2xx is part of the INVITE's transaction
                    self.request("ACK", cseq=cseq, branch=branch) if r.status >= 300 else None
                return r
        return None

    def ack(self, body=b""):
        self.request("ACK", body=body, cseq=self.cseq)


def offer(streams, ip="127.0.0.1", proto="RTP/AVP", extra=""):
    """An SDP offer, one m= per (port, label, pts, direction) tuple; pts from the static table."""
    names = {0: "PCMU/8000", 8: "PCMA/8000", 9: "G722/8000", 18: "G729/8000",
             101: "telephone-event/8000"}
    sdp = f"v=0\r\no=src 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
    for port, label, pts, d in streams:
        sdp += f"m=audio {port} {proto} {' '.join(map(str, pts))}\r\n"
        for pt in pts:
            if pt in names:
                sdp += f"a=rtpmap:{pt} {names[pt]}\r\n"
        sdp += f"a=label:{label}\r\na={d}\r\n" + extra
    return sdp


def free_udp_port(ip="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((ip, 0))
    p = s.getsockname()[1]
    s.close()
    return p


def send_rtp(port, pt, count, ssrc=None, payload_len=160, ip="127.0.0.1", interval=0.0,
             src_port=0):
    """count RTP packets of payload type pt to port, from one socket (one source: src_port,
    the port the SRC's SDP names, so a recorder that latches to the SDP address accepts it)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((ip, src_port))
    ssrc = ssrc if ssrc is not None else random.getrandbits(32)
    seq, ts = random.getrandbits(16), random.getrandbits(32)
    fill = 0xD5 if pt == 8 else 0xFF
    for i in range(count):
        hdr = struct.pack("!BBHII", 0x80, pt, (seq + i) & 0xFFFF, (ts + 160 * i) & 0xFFFFFFFF,
                          ssrc)
        s.sendto(hdr + bytes([fill]) * payload_len, (ip, port))
        if interval:
            time.sleep(interval)
    s.close()
