#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# RTP capture helper for the SIPREC integration tests: G.711 encode/decode (ITU-T G.711, the same
# tables spandsp uses), pcap read/write (Ethernet/IPv4/UDP), the audio a capture carries laid out
# by RTP timestamp (what siprec-export must reproduce), a sender that replays a capture's RTP to
# a port at 20 ms pacing, and a WAV comparison.
#   rtptool.py count PCAP                      number of RTP packets
#   rtptool.py answers MSGLOG                  per SDP answer in a sipp -trace_msg log: o= version,
#                                              then port/label/direction of each m= line
#   rtptool.py send HOST PORT PCAP [PCAP...]   replay the RTP payloads (UDP) at their pace
#   rtptool.py compare [--aligned] WAV CHANNEL PCAP [PCAP...]
#       exit 0 when the WAV channel equals the captures' audio sample for sample; --aligned: the
#       channel may start later and end later (a stereo export aligns streams by arrival time),
#       with nothing but silence around the audio
import struct
import sys
import time
import wave


def lin2ulaw(s):
    BIAS, CLIP = 0x84, 32635
    sign = 0x80 if s < 0 else 0
    if s < 0:
        s = -s
    s = min(s, CLIP) + BIAS
    exp = 7
    mask = 0x4000
    while exp > 0 and not (s & mask):
        exp -= 1
        mask >>= 1
    mant = (s >> (exp + 3)) & 0x0F
    return ~(sign | (exp << 4) | mant) & 0xFF


def ulaw2lin(u):
    u = ~u & 0xFF
    t = ((u & 0x0F) << 3) + 0x84
    t <<= (u & 0x70) >> 4
    return (0x84 - t) if (u & 0x80) else (t - 0x84)


def lin2alaw(s):
    if s >= 0:
        mask = 0xD5
    else:
        mask = 0x55
        s = -s - 1
    s = min(s, 32767)
    seg_end = [0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF, 0x3FFF, 0x7FFF]
    seg = 0
    while seg < 8 and s > seg_end[seg]:
        seg += 1
    if seg >= 8:
        return 0x7F ^ mask
    aval = seg << 4
    aval |= (s >> 4) & 0x0F if seg < 2 else (s >> (seg + 3)) & 0x0F
    return aval ^ mask


def alaw2lin(a):
    a ^= 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    if seg == 0:
        t += 8
    elif seg == 1:
        t += 0x108
    else:
        t = (t + 0x108) << (seg - 1)
    return t if (a & 0x80) else -t


def write_pcap(path, rtp_packets, src=("10.0.0.1", 40000), dst=("10.0.0.2", 50000)):
    def ip(a):
        return bytes(int(x) for x in a.split("."))
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, rtp in enumerate(rtp_packets):
            udp = struct.pack("!HHHH", src[1], dst[1], 8 + len(rtp), 0) + rtp
            iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xFFFF, 0, 64, 17, 0,
                              ip(src[0]), ip(dst[0]))
            csum = sum(struct.unpack("!10H", iph))
            csum = (csum & 0xFFFF) + (csum >> 16)
            csum = ~((csum & 0xFFFF) + (csum >> 16)) & 0xFFFF
            iph = iph[:10] + struct.pack("!H", csum) + iph[12:]
            frame = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00" + iph + udp
            usec = 20000 * i
            f.write(struct.pack("<IIII", 1700000000 + usec // 1000000, usec % 1000000, len(frame),
                                len(frame)))
            f.write(frame)


def read_pcap(path):
    """Returns [(time_s, rtp_bytes)] of the UDP payloads of an Ethernet pcap."""
    out = []
    with open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack("<I", data[:4])
    if magic != 0xA1B2C3D4:
        raise SystemExit("%s: not a little-endian microsecond pcap" % path)
    off = 24
    while off + 16 <= len(data):
        sec, usec, incl, _ = struct.unpack("<IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if frame[12:14] != b"\x08\x00" or frame[14 + 9] != 17:
            continue
        ihl = (frame[14] & 0x0F) * 4
        out.append((sec + usec / 1e6, frame[14 + ihl + 8:]))
    return out


def rtp_fields(p):
    cc = p[0] & 0x0F
    seq, ts, ssrc = struct.unpack("!HII", p[2:12])
    return p[1] & 0x7F, seq, ts, ssrc, p[12 + 4 * cc:]


def expected_audio(pcaps):
    """The linear samples the captures carry, placed by RTP timestamp from the first packet's,
    gaps as zeros (one SSRC, no wrap: what the test captures are)."""
    pkts = [rtp_fields(p) for path in pcaps for _, p in read_pcap(path)]
    ts0 = pkts[0][2]
    end = max(ts - ts0 + len(pl) for _, _, ts, _, pl in pkts)
    out = [0] * end
    for pt, _, ts, _, pl in pkts:
        dec = ulaw2lin if pt == 0 else alaw2lin
        for i, b in enumerate(pl):
            out[ts - ts0 + i] = dec(b)
    return out


def wav_channel(path, ch):
    w = wave.open(path, "rb")
    n, nch = w.getnframes(), w.getnchannels()
    if w.getsampwidth() != 2:
        raise SystemExit("%s: not 16-bit" % path)
    raw = w.readframes(n)
    s = struct.unpack("<%dh" % (n * nch), raw)
    return list(s[ch::nch])


def cmd_compare(wav, ch, pcaps, aligned=False):
    exp = expected_audio(pcaps)
    got = wav_channel(wav, int(ch))
    if got == exp:
        print("identical: %d samples" % len(exp))
        return 0
    if aligned:
        for k in range(0, len(got) - len(exp) + 1):
            if got[k:k + len(exp)] == exp and not any(got[:k]) and not any(got[k + len(exp):]):
                print("identical: %d samples at offset %d (%d samples of silence after)" %
                      (len(exp), k, len(got) - k - len(exp)))
                return 0
    first = next((i for i in range(min(len(got), len(exp))) if got[i] != exp[i]), None)
    print("differ: wav %d samples, expected %d, first difference at %s" % (len(got), len(exp), first))
    if first is not None:
        print("  wav:      %s" % got[first:first + 8])
        print("  expected: %s" % exp[first:first + 8])
    return 1


def cmd_send(host, port, pcaps):
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    start = time.monotonic()
    n = 0
    for path in pcaps:
        pk = read_pcap(path)
        t0 = pk[0][0]
        base = time.monotonic()
        for t, p in pk:
            d = base + (t - t0) - time.monotonic()
            if d > 0:
                time.sleep(d)
            s.sendto(p, (host, int(port)))
            n += 1
    print("sent %d packets in %.2f s" % (n, time.monotonic() - start))
    return 0


def cmd_answers(path):
    """Prints one line per SDP answer (a received 200 with an SDP body) in a sipp message log."""
    text = open(path, errors="replace").read().replace("\r", "")
    import re
    for block in re.split(r"\n-{20,}[^\n]*\n", text):
        if "message received" not in block or "SIP/2.0 200" not in block or "\nv=0" not in block:
            continue
        sdp = block[block.index("\nv=0") + 1:]
        ver, media = "?", []
        for line in sdp.split("\n"):
            if line.startswith("o="):
                ver = line.split()[2]
            elif line.startswith("m="):
                media.append([line.split()[1], "-", "-"])
            elif line.startswith("a=label:") and media:
                media[-1][1] = line[8:]
            elif line[2:] in ("recvonly", "sendonly", "inactive", "sendrecv") and media:
                media[-1][2] = line[2:]
        print(ver, " ".join("/".join(m) for m in media))
    return 0


def main(argv):
    if len(argv) == 2 and argv[0] == "answers":
        return cmd_answers(argv[1])
    if len(argv) >= 2 and argv[0] == "count":
        print(len(read_pcap(argv[1])))
        return 0
    if len(argv) >= 4 and argv[0] == "send":
        return cmd_send(argv[1], argv[2], argv[3:])
    if len(argv) >= 5 and argv[0] == "compare" and argv[1] == "--aligned":
        return cmd_compare(argv[2], argv[3], argv[4:], True)
    if len(argv) >= 4 and argv[0] == "compare":
        return cmd_compare(argv[1], argv[2], argv[3:])
    print(__doc__ or "usage: rtptool.py count|send|compare ...", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
