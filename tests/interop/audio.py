#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Audio for the interop corpus: a tone per stream, encoded into RTP payloads with the codec a
# vendor's flow negotiates. G.711 is encoded here (tests/data/pcap/rtptool.py: the exact
# ITU-T tables, so the decoded audio is known sample for sample); the other codecs go through
# the Debian libraries the daemon's exporter decodes with (spandsp G.722, bcg729 G.729,
# libopus, vo-amrwbenc AMR-WB, opencore-amrnb AMR, libgsm GSM) by ctypes, so the payloads are
# what a real SRC would send. EVS has no encoder in Debian: its payloads are opaque frames of
# the right size (the export can only name the codec).
import ctypes
import ctypes.util
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "pcap"))
import rtptool  # noqa: E402


def tone(freq, n, rate, amp=8000, phase0=0):
    return [int(round(amp * math.sin(2 * math.pi * freq * (phase0 + i) / rate))) for i in range(n)]


def _lib(name):
    path = ctypes.util.find_library(name)
    if not path:
        raise RuntimeError("lib%s not installed (needed to encode the corpus audio)" % name)
    return ctypes.CDLL(path)


class Encoder:
    """One stream's encoder: frame() returns (payload, rtp timestamp increment) for 20 ms of
    the tone; samples() says which linear samples the 20 ms carried (G.711: what an exact
    decoder gives back)."""
    # name: (RTP clock rate, audio sample rate)
    RATES = {"PCMU": (8000, 8000), "PCMA": (8000, 8000), "G722": (8000, 16000),
             "G729": (8000, 8000), "opus": (48000, 48000), "AMR-WB": (16000, 16000),
             "AMR": (8000, 8000), "AMR-BE": (8000, 8000), "GSM": (8000, 8000),
             "G726-32": (8000, 8000),
             "EVS": (16000, 16000)}
    # AMR modes: speech bits per frame (3GPP TS 26.101 table 1a), by frame type 0..7.
    AMR_BITS = [95, 103, 118, 134, 148, 159, 204, 244]

    def __init__(self, codec, freq):
        if codec not in self.RATES:
            raise ValueError("codec %s not in the corpus encoders" % codec)
        self.codec = codec
        self.freq = freq
        self.clock, self.rate = self.RATES[codec]
        self.n = self.rate // 50  # samples in 20 ms
        self.pos = 0
        self._init()

    def _init(self):
        c = self.codec
        if c == "G722":
            self.lib = _lib("spandsp")
            self.lib.g722_encode_init.restype = ctypes.c_void_p
            self.lib.g722_encode_init.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
            self.lib.g722_encode.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p,
                                             ctypes.c_int]
            self.st = self.lib.g722_encode_init(None, 64000, 0)
        elif c == "G726-32":
            # One 4-bit code per byte from spandsp (no packing); packed here as RFC 3551
            # §4.5.4 says, so the exporter's packing is checked against the RFC, not itself.
            self.lib = _lib("spandsp")
            self.lib.g726_init.restype = ctypes.c_void_p
            self.lib.g726_init.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int]
            self.lib.g726_encode.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p,
                                             ctypes.c_int]
            self.st = self.lib.g726_init(None, 32000, 0, 0)
        elif c == "G729":
            self.lib = _lib("bcg729")
            self.lib.initBcg729EncoderChannel.restype = ctypes.c_void_p
            self.lib.initBcg729EncoderChannel.argtypes = [ctypes.c_uint8]
            self.lib.bcg729Encoder.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p,
                                               ctypes.POINTER(ctypes.c_uint8)]
            self.st = self.lib.initBcg729EncoderChannel(0)
        elif c == "opus":
            self.lib = _lib("opus")
            self.lib.opus_encoder_create.restype = ctypes.c_void_p
            self.lib.opus_encoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.c_int,
                                                     ctypes.POINTER(ctypes.c_int)]
            self.lib.opus_encode.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                                             ctypes.c_char_p, ctypes.c_int32]
            err = ctypes.c_int(0)
            self.st = self.lib.opus_encoder_create(48000, 1, 2048, ctypes.byref(err))
            if err.value != 0:
                raise RuntimeError("opus_encoder_create: %d" % err.value)
        elif c == "AMR-WB":
            self.lib = _lib("vo-amrwbenc")
            self.lib.E_IF_init.restype = ctypes.c_void_p
            self.lib.E_IF_encode.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p,
                                             ctypes.c_char_p, ctypes.c_int]
            self.st = self.lib.E_IF_init()
        elif c in ("AMR", "AMR-BE"):
            self.lib = _lib("opencore-amrnb")
            self.lib.Encoder_Interface_init.restype = ctypes.c_void_p
            self.lib.Encoder_Interface_init.argtypes = [ctypes.c_int]
            self.lib.Encoder_Interface_Encode.argtypes = [ctypes.c_void_p, ctypes.c_int,
                                                          ctypes.c_void_p, ctypes.c_char_p,
                                                          ctypes.c_int]
            self.st = self.lib.Encoder_Interface_init(0)
        elif c == "GSM":
            self.lib = _lib("gsm")
            self.lib.gsm_create.restype = ctypes.c_void_p
            self.lib.gsm_encode.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p]
            self.st = self.lib.gsm_create()

    def frame(self):
        pcm = tone(self.freq, self.n, self.rate, phase0=self.pos)
        self.pos += self.n
        self.last = pcm
        c = self.codec
        if c == "PCMU":
            return bytes(rtptool.lin2ulaw(s) for s in pcm), 160
        if c == "PCMA":
            return bytes(rtptool.lin2alaw(s) for s in pcm), 160
        buf = (ctypes.c_int16 * self.n)(*pcm)
        out = ctypes.create_string_buffer(1500)
        if c == "G722":
            n = self.lib.g722_encode(self.st, out, buf, self.n)
            return out.raw[:n], 160  # RFC 3551: G.722 is clocked at 8000 in RTP
        if c == "G726-32":
            n = self.lib.g726_encode(self.st, out, buf, self.n)
            codes = out.raw[:n]
            # RFC 3551 §4.5.4: the first codeword in the least significant bits of the octet.
            return bytes((codes[i] & 15) | (codes[i + 1] & 15) << 4 for i in range(0, n, 2)), 160
        if c == "G729":
            pl = b""
            ln = ctypes.c_uint8(0)
            for k in range(2):
                sub = (ctypes.c_int16 * 80)(*pcm[80 * k:80 * k + 80])
                self.lib.bcg729Encoder(self.st, sub, out, ctypes.byref(ln))
                pl += out.raw[:ln.value]
            return pl, 160
        if c == "opus":
            n = self.lib.opus_encode(self.st, buf, self.n, out, 1500)
            if n < 0:
                raise RuntimeError("opus_encode: %d" % n)
            return out.raw[:n], 960
        if c == "AMR-WB":
            # Storage-format frame: its header byte is the RFC 4867 ToC (F=0, FT, Q); with a
            # CMR byte in front it is an octet-aligned RTP payload.
            n = self.lib.E_IF_encode(self.st, 2, buf, out, 0)  # mode 2: 12.65 kbit/s
            return b"\xf0" + out.raw[:n], 320
        if c == "AMR":
            n = self.lib.Encoder_Interface_Encode(self.st, 7, buf, out, 0)  # MR122
            return b"\xf0" + out.raw[:n], 160
        if c == "AMR-BE":
            # RFC 4867 §4.3 bandwidth-efficient: CMR (4 bits), ToC (F, FT, Q: 6 bits), then the
            # speech bits, all packed without octet alignment, zero padded at the end.
            n = self.lib.Encoder_Interface_Encode(self.st, 7, buf, out, 0)
            ft = (out.raw[0] >> 3) & 0x0F
            speech = int.from_bytes(out.raw[1:n], "big") >> (8 * (n - 1) - self.AMR_BITS[ft])
            bits = (15 << 6 | ft << 1 | 1) << self.AMR_BITS[ft] | speech
            total = 10 + self.AMR_BITS[ft]
            pad = (8 - total % 8) % 8
            return (bits << pad).to_bytes((total + pad) // 8, "big"), 160
        if c == "GSM":
            self.lib.gsm_encode(self.st, buf, out)
            return out.raw[:33], 160
        if c == "EVS":
            # 13.2 kbit/s compact frame: 33 bytes of opaque data, deterministic.
            return bytes(((self.pos // self.n) * 7 + i * 13) & 0xFF for i in range(33)), 320
        raise ValueError(c)

    def exact(self):
        """True when the decoded audio is known sample for sample."""
        return self.codec in ("PCMU", "PCMA")

    def decoded(self):
        """What an exact decoder gives back for the last frame (G.711 only)."""
        if self.codec == "PCMU":
            return [rtptool.ulaw2lin(rtptool.lin2ulaw(s)) for s in self.last]
        return [rtptool.alaw2lin(rtptool.lin2alaw(s)) for s in self.last]


def goertzel_share(samples, rate, freq):
    """Share (0..1) of the signal's energy at freq: how clearly a decoded stream is the tone."""
    if not samples:
        return 0.0
    w = 2 * math.pi * freq / rate
    coeff = 2 * math.cos(w)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    total = sum(x * x for x in samples)
    if total == 0:
        return 0.0
    return min(1.0, 2 * power / (len(samples) * total))


if __name__ == "__main__":
    for name in sorted(Encoder.RATES):
        e = Encoder(name, 440)
        pl, inc = e.frame()
        print(name, len(pl), inc)
