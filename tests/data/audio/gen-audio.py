#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Generates the small test WAVs (16-bit PCM, 8 kHz) used by siprec-src and the recording tests:
#   tone-mono-8k.wav      2 s, 440 Hz sine at -12 dBFS, mono
#   speech-stereo-8k.wav  2 s, a speech-like signal per channel (glottal pulse train through
#                         three formant resonators, syllable envelope, pauses); the left channel
#                         has a 120 Hz voice, the right a 210 Hz voice, so the legs differ.
# Deterministic: running it again gives byte-identical files.
import math
import os
import random
import struct
import sys

RATE = 8000


def write_wav(path, channels):
    n = len(channels[0])
    data = bytearray()
    for i in range(n):
        for ch in channels:
            v = max(-32768, min(32767, int(round(ch[i]))))
            data += struct.pack("<h", v)
    nch = len(channels)
    hdr = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE"
    hdr += b"fmt " + struct.pack("<IHHIIHH", 16, 1, nch, RATE, RATE * 2 * nch, 2 * nch, 16)
    hdr += b"data" + struct.pack("<I", len(data))
    with open(path, "wb") as f:
        f.write(hdr + data)


def tone(seconds, freq, amp):
    return [amp * math.sin(2 * math.pi * freq * i / RATE) for i in range(int(seconds * RATE))]


def resonator(x, freq, bw):
    # Two-pole resonator (a formant): y[n] = a0 x[n] + b1 y[n-1] + b2 y[n-2]
    r = math.exp(-math.pi * bw / RATE)
    b1 = 2 * r * math.cos(2 * math.pi * freq / RATE)
    b2 = -r * r
    a0 = 1 - r
    y1 = y2 = 0.0
    out = []
    for v in x:
        y = a0 * v + b1 * y1 + b2 * y2
        out.append(y)
        y2, y1 = y1, y
    return out


def speech(seconds, pitch, seed):
    rnd = random.Random(seed)
    n = int(seconds * RATE)
    vowels = [(730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480)]
    src = []
    phase = 0.0
    for i in range(n):
        f0 = pitch * (1 + 0.08 * math.sin(2 * math.pi * 1.3 * i / RATE))
        phase += f0 / RATE
        pulse = 1.0 if phase >= 1.0 else 0.0
        if phase >= 1.0:
            phase -= 1.0
        src.append(pulse * 4000 + rnd.uniform(-60, 60))
    out = [0.0] * n
    syl = int(0.25 * RATE)
    for start in range(0, n, syl):
        seg = src[start:start + syl]
        f1, f2, f3 = vowels[(start // syl + seed) % len(vowels)]
        y = [a + b + c for a, b, c in zip(resonator(seg, f1, 90), resonator(seg, f2, 110),
                                            resonator(seg, f3, 170))]
        pause = (start // syl) % 4 == 3
        for k, v in enumerate(y):
            env = math.sin(math.pi * k / len(y)) ** 2
            out[start + k] = 0.0 if pause else v * env * 3.0
    peak = max(1.0, max(abs(v) for v in out))
    return [v * 16000 / peak for v in out]


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    write_wav(os.path.join(d, "tone-mono-8k.wav"), [tone(2.0, 440, 8192)])
    write_wav(os.path.join(d, "speech-stereo-8k.wav"), [speech(2.0, 120, 1), speech(2.0, 210, 2)])


if __name__ == "__main__":
    main()
