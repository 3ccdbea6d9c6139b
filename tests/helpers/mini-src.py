#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A minimal SIPREC client over UDP for interop tests: sends an INVITE read verbatim from a
template (so a test can reproduce a vendor's exact headers and body), ACKs the answer, sends a
few RTP packets of chosen payload types to every accepted stream, then sends a BYE or waits for
siprecd's. Writes what it saw into OUT: response.txt (final response to the INVITE), answer.sdp,
bye.txt (a BYE siprecd sent). Prints the final status code.

Template placeholders: {local_ip} {local_port} {server} {call_id} {tag} {branch} {media_port}.
Lines may end in LF; they are sent with CRLF. Content-Length is computed (write
"Content-Length: {len}").
"""
import argparse
import os
import random
import re
import socket
import struct
import sys
import time


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--server", required=True, help="HOST:PORT of siprecd")
    p.add_argument("--invite", required=True, help="INVITE template file")
    p.add_argument("--out", required=True)
    p.add_argument("--rtp", default="", help="comma-separated payload types to send")
    p.add_argument("--packets", type=int, default=5, help="packets per payload type")
    p.add_argument("--bye", action="store_true", help="send a BYE after the media")
    p.add_argument("--wait-bye", type=float, default=0, help="wait this long for siprecd's BYE")
    p.add_argument("--ready", help="touch this file once the call is up and media sent")
    return p.parse_args()


def crlf(text):
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def build(template, vals):
    text = crlf(template)
    head, sep, body = text.partition("\r\n\r\n")
    vals = dict(vals, len=len(body.format(**vals).encode()))
    return (head.format(**vals) + sep + body.format(**vals)).encode()


def recv_msg(sock, timeout):
    sock.settimeout(timeout)
    data, addr = sock.recvfrom(65535)
    return data.decode("utf-8", "replace"), addr


def header(msg, name):
    for line in msg.split("\r\n\r\n", 1)[0].split("\r\n")[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == name.lower():
            return v.strip()
    return None


def main():
    a = parse_args()
    host, port = a.server.rsplit(":", 1)
    server = (host, int(port))
    os.makedirs(a.out, exist_ok=True)
    sip = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sip.bind(("127.0.0.1", 0))
    media = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    media.bind(("127.0.0.1", 0))
    vals = {
        "local_ip": "127.0.0.1",
        "local_port": sip.getsockname()[1],
        "server": a.server,
        "call_id": "%08x@mini-src" % random.getrandbits(32),
        "tag": "%08x" % random.getrandbits(32),
        "branch": "z9hG4bK%08x" % random.getrandbits(32),
        "media_port": media.getsockname()[1],
    }
    with open(a.invite) as f:
        invite = build(f.read(), vals)
    sip.sendto(invite, server)
    deadline = time.time() + 10
    final = None
    while time.time() < deadline:
        try:
            msg, _ = recv_msg(sip, 0.5)
        except socket.timeout:
            sip.sendto(invite, server)  # UDP: retransmit as T1 would
            continue
        m = re.match(r"SIP/2.0 (\d+)", msg)
        if m and int(m.group(1)) >= 200:
            final = msg
            break
    if final is None:
        print("timeout")
        return 2
    with open(os.path.join(a.out, "response.txt"), "w") as f:
        f.write(final)
    code = int(final.split(" ", 2)[1])
    to = header(final, "To")
    cseq_no = header(final, "CSeq").split()[0]
    via = "SIP/2.0/UDP 127.0.0.1:%d;branch=%s" % (vals["local_port"], vals["branch"])
    ack_branch = via if code >= 300 else "SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%08x" % (
        vals["local_port"], random.getrandbits(32))
    ack = crlf(
        "ACK sip:srs@%s SIP/2.0\nVia: %s\nFrom: <sip:src@127.0.0.1>;tag=%s\nTo: %s\n"
        "Call-ID: %s\nCSeq: %s ACK\nMax-Forwards: 70\nContent-Length: 0\n\n"
        % (a.server, ack_branch, vals["tag"], to, vals["call_id"], cseq_no))
    sip.sendto(ack.encode(), server)
    print(code)
    if code != 200:
        return 0
    body = final.split("\r\n\r\n", 1)[1]
    with open(os.path.join(a.out, "answer.sdp"), "w") as f:
        f.write(body)
    ports = [int(p) for p in re.findall(r"^m=audio (\d+) ", body, re.M) if int(p)]
    pts = [int(x) for x in a.rtp.split(",") if x]
    ssrc = random.getrandbits(32)
    seq, ts = 1, 0
    for pt in pts:
        for _ in range(a.packets):
            for i, p in enumerate(ports):
                hdr = struct.pack("!BBHII", 0x80, pt, seq, ts, ssrc + i)
                media.sendto(hdr + bytes([0xd5] * 20), ("127.0.0.1", p))
            seq += 1
            ts += 160
            time.sleep(0.002)
    if a.ready:
        open(a.ready, "w").close()
    if a.bye:
        bye = crlf(
            "BYE sip:srs@%s SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%08x\n"
            "From: <sip:src@127.0.0.1>;tag=%s\nTo: %s\nCall-ID: %s\nCSeq: 2 BYE\n"
            "Max-Forwards: 70\nContent-Length: 0\n\n"
            % (a.server, vals["local_port"], random.getrandbits(32), vals["tag"], to,
               vals["call_id"]))
        sip.sendto(bye.encode(), server)
        try:
            msg, _ = recv_msg(sip, 5)
            print("bye", msg.split(" ", 2)[1])
        except socket.timeout:
            print("bye timeout")
            return 2
    if a.wait_bye:
        end = time.time() + a.wait_bye
        while time.time() < end:
            try:
                msg, addr = recv_msg(sip, max(0.05, end - time.time()))
            except socket.timeout:
                break
            if msg.startswith("BYE "):
                with open(os.path.join(a.out, "bye.txt"), "w") as f:
                    f.write(msg)
                ok = "SIP/2.0 200 OK\r\n"
                for h in ("Via", "From", "To", "Call-ID", "CSeq"):
                    ok += "%s: %s\r\n" % (h, header(msg, h))
                sip.sendto((ok + "Content-Length: 0\r\n\r\n").encode(), addr)
                print("got bye")
                break
    return 0


if __name__ == "__main__":
    sys.exit(main())
