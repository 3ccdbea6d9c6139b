#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# A minimal SIP UAS over UDP for bench/capacity.sh, standing in for siprecd's signalling when
# siprec-src's load is aimed at something else: "baseline" answers each m= line with the next
# port of recv-baseline's range; "rtpengine" hands the SRC's offer to rtpengine over its ng
# protocol (bencode over UDP: offer, answer with a plain RTP/AVP callee that never sends,
# block media, recording to pcap) and answers with rtpengine's RTP/SAVP SDP; BYE deletes.
#
# usage: sip-uas.py PORT baseline BASE_PORT STEP
#        sip-uas.py PORT rtpengine NG_PORT BLACKHOLE_PORT
import os
import re
import socket
import sys


def bencode(x):
    if isinstance(x, int):
        return b"i%de" % x
    if isinstance(x, str):
        x = x.encode()
    if isinstance(x, bytes):
        return b"%d:%s" % (len(x), x)
    if isinstance(x, list):
        return b"l" + b"".join(bencode(i) for i in x) + b"e"
    if isinstance(x, dict):
        return b"d" + b"".join(bencode(k) + bencode(v) for k, v in sorted(x.items())) + b"e"
    raise TypeError(type(x))


def bdecode(b, i=0):
    c = b[i:i + 1]
    if c == b"i":
        j = b.index(b"e", i)
        return int(b[i + 1:j]), j + 1
    if c == b"l" or c == b"d":
        i += 1
        out = []
        while b[i:i + 1] != b"e":
            v, i = bdecode(b, i)
            out.append(v)
        return (out if c == b"l" else dict(zip(out[::2], out[1::2]))), i + 1
    j = b.index(b":", i)
    n = int(b[i:j])
    return b[j + 1:j + 1 + n], j + 1 + n


class Ng:
    def __init__(self, port):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.connect(("127.0.0.1", port))
        self.s.settimeout(5)
        self.n = 0

    def __call__(self, cmd, **kw):
        self.n += 1
        cookie = b"%d_%d" % (os.getpid(), self.n)
        kw["command"] = cmd
        self.s.send(cookie + b" " + bencode(kw))
        while True:
            d = self.s.recv(65536)
            c, _, rest = d.partition(b" ")
            if c == cookie:
                r, _ = bdecode(rest)
                if r.get(b"result") not in (b"ok", b"pong"):
                    raise RuntimeError("ng %s: %r" % (cmd, r))
                return r


def header(msg, name):
    m = re.search(rb"^" + name + rb":[ \t]*(.*?)\r$", msg, re.M | re.I)
    return m.group(1) if m else b""


def offer_sdp(body):
    # the application/sdp part of the multipart body (or the body itself)
    i = body.find(b"v=0")
    if i < 0:
        return b""
    sdp = body[i:]
    j = sdp.find(b"\r\n--")
    return sdp[:j + 2] if j >= 0 else sdp


def baseline_answer(sdp, ports):
    out = [b"v=0", b"o=- 1 1 IN IP4 127.0.0.1", b"s=-", b"c=IN IP4 127.0.0.1", b"t=0 0"]
    for k, m in enumerate(re.split(rb"\r\n(?=m=)", sdp)[1:]):
        proto = m.split(b" ")[2]
        out.append(b"m=audio %d %s 0" % (ports[k], proto))
        out.append(b"a=rtpmap:0 PCMU/8000")
        lab = re.search(rb"^a=label:(\S+)", m, re.M)
        if lab:
            out.append(b"a=label:" + lab.group(1))
        out.append(b"a=recvonly")
        if b"a=rtcp-mux" in m:
            out.append(b"a=rtcp-mux")
        cr = re.search(rb"^a=crypto:(\d+) (\S+) ", m, re.M)
        if cr:
            key = __import__("base64").b64encode(os.urandom(30 if b"_128_" in cr.group(2) else 44))
            out.append(b"a=crypto:%s %s inline:%s" % (cr.group(1), cr.group(2), key))
    return b"\r\n".join(out) + b"\r\n"


def main():
    port, mode = int(sys.argv[1]), sys.argv[2]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(("127.0.0.1", port))
    answers, nxt = {}, 0
    if mode == "baseline":
        base, step = int(sys.argv[3]), int(sys.argv[4])
    else:
        ng = Ng(int(sys.argv[3]))
        blackhole = int(sys.argv[4])
        ng("ping")

    def make_answer(cid, ftag, totag, body):
        nonlocal nxt
        sdp = offer_sdp(body)
        if mode == "baseline":
            n = len(re.findall(rb"^m=", sdp, re.M))
            ports = [base + step * (nxt + k) for k in range(n)]
            nxt += n
            return baseline_answer(sdp, ports)
        else:
            r = ng("offer", **{"call-id": cid, "from-tag": ftag, "sdp": sdp,
                               "transport-protocol": "RTP/AVP",
                               "record-call": "yes", "flags": ["record call"],
                               "replace": ["origin", "session-connection"]})
            # the callee leg: plain RTP to a port where nothing answers
            callee = (b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
                      b"t=0 0\r\n")
            for m in re.findall(rb"^m=audio \d+ \S+ .*$", r[b"sdp"], re.M):
                callee += (b"m=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
                           b"a=sendrecv\r\n" % blackhole)
            r = ng("answer", **{"call-id": cid, "from-tag": ftag, "to-tag": totag,
                                "sdp": callee, "flags": ["record call"]})
            ng("block media", **{"call-id": cid, "from-tag": ftag})
            ng("block media", **{"call-id": cid, "from-tag": totag})
            return r[b"sdp"]

    print("sip-uas ready", flush=True)
    while True:
        d, peer = s.recvfrom(65536)
        head, _, body = d.partition(b"\r\n\r\n")
        first = head.split(b"\r\n", 1)[0]
        method = first.split(b" ", 1)[0]
        if method in (b"ACK", b"SIP/2.0"):
            continue
        cid = header(head, b"(?:Call-ID|i)")
        ftag = re.search(rb";tag=([^;>\s]+)", header(head, b"(?:From|f)"))
        ftag = ftag.group(1) if ftag else b"x"
        totag = b"uas" + cid[:8]
        ctype, rbody = b"", b""
        status = b"200 OK"
        if method == b"INVITE":
            try:
                if cid not in answers:
                    answers[cid] = make_answer(cid, ftag, totag, body)
                ctype, rbody = b"application/sdp", answers[cid]
            except Exception as e:  # noqa: BLE001 - refuse this call, keep serving
                print("sip-uas: INVITE %s: %s" % (cid.decode(errors="replace"), e), flush=True)
                status = b"503 Service Unavailable"
        elif method == b"BYE":
            if mode == "rtpengine" and cid in answers:
                try:
                    ng("delete", **{"call-id": cid, "from-tag": ftag, "delete-delay": 0})
                except Exception as e:  # noqa: BLE001 - report and keep serving
                    print("sip-uas: delete:", e, flush=True)
            answers.pop(cid, None)
        hdrs = [b"SIP/2.0 " + status]
        hdrs += [l for l in head.split(b"\r\n")[1:] if re.match(rb"(?i)(via|v):", l)]
        hdrs += [b"From: " + header(head, b"(?:From|f)"),
                 b"To: " + header(head, b"(?:To|t)") + (b";tag=" + totag if b"tag=" not in header(head, b"(?:To|t)") else b""),
                 b"Call-ID: " + cid, b"CSeq: " + header(head, b"CSeq"),
                 b"Contact: <sip:uas@127.0.0.1:%d>" % port]
        if rbody and status.startswith(b"200"):
            hdrs.append(b"Content-Type: " + ctype)
        hdrs.append(b"Content-Length: %d" % len(rbody))
        s.sendto(b"\r\n".join(hdrs) + b"\r\n\r\n" + rbody, peer)


if __name__ == "__main__":
    main()
