#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Generates the small RTP test captures in this directory (G.711 tones as Ethernet/IPv4/UDP/RTP
# pcaps, 20 ms packets), which sipp replays with <exec play_pcap_audio=.../> and rtptool.py
# decodes to check siprec-export's output sample by sample. Deterministic: running it again
# writes byte-identical files.
#   python3 gen-tones.py [OUTDIR]
import math
import os
import struct
import sys

import rtptool


def tone(freq, n_samples, amp=8000, phase0=0):
    return [int(round(amp * math.sin(2 * math.pi * freq * (phase0 + i) / 8000)))
            for i in range(n_samples)]


def write(path, samples, pt, seq0, ts0, ssrc, ts_gap_at=None, ts_gap=0):
    enc = rtptool.lin2ulaw if pt == 0 else rtptool.lin2alaw
    pkts = []
    ts = ts0
    for i in range(0, len(samples), 160):
        if ts_gap_at is not None and i // 160 == ts_gap_at:
            ts += ts_gap
        payload = bytes(enc(s) for s in samples[i:i + 160])
        hdr = struct.pack("!BBHII", 0x80, pt | (0x80 if i == 0 else 0), (seq0 + i // 160) & 0xffff,
                          ts & 0xffffffff, ssrc)
        pkts.append(hdr + payload)
        ts += 160
    rtptool.write_pcap(path, pkts)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    # 1 s of 440 Hz for the first stream, 1 s of 660 Hz for the second.
    write(os.path.join(out, "tone440-pcmu.pcap"), tone(440, 8000), 0, 1000, 16000, 0x5151EC01)
    write(os.path.join(out, "tone660-pcmu.pcap"), tone(660, 8000), 0, 2000, 32000, 0x5151EC02)
    # The same 440 Hz source resumed after a pause: sequence and timestamp continue, the
    # timestamp jumps over 1 s of silence (as an SRC's clock runs on while on hold).
    write(os.path.join(out, "tone440-resume-pcmu.pcap"), tone(880, 8000), 0, 1050,
          16000 + 8000 + 8000, 0x5151EC01)
    # 0.4 s (20 packets) for the load test.
    write(os.path.join(out, "short-pcmu.pcap"), tone(1000, 3200), 0, 100, 800, 0x5151EC03)


if __name__ == "__main__":
    main()
