#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The interop corpus runner's SRC: plays every flow of tests/interop/flows/ against one running
# siprecd, several flows at a time, and checks what the daemon did. A flow is a directory:
#   flow.json   vendor, source, transport, steps, expectations (format: tests/interop/README.md)
#   *.sip       the vendor's messages as templates (${var} placeholders, LF line ends in the
#               file; sent with CRLF unless the flow says "line_endings": "lf")
# Each flow prints one line: PASS, FAIL (reasons follow), XFAIL (failed, listed in xfail.txt
# with the reason), XPASS (listed in xfail.txt but passed: remove the entry).
#   driver.py --srs HOST:PORT --conf CONF --catalog DB --export BIN --out DIR [--jobs N] [FLOW...]
#   driver.py --doc            print the docs/INTEROP.md table the corpus and xfail.txt give
import argparse
import concurrent.futures
import json
import os
import random
import re
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
import wave

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, HERE)
import audio as corpus_codecs  # noqa: E402

FLOWS = os.path.join(HERE, "flows")


class FlowError(Exception):
    pass


# ---------------------------------------------------------------- SIP messages

class Msg:
    def __init__(self, raw):
        self.raw = raw
        text = raw.decode("utf-8", "replace")
        head, _, self.body = text.partition("\r\n\r\n")
        if not _:
            head, _, self.body = text.partition("\n\n")
        lines = re.split(r"\r?\n", head)
        self.start = lines[0]
        self.headers = []
        for ln in lines[1:]:
            if ln[:1] in (" ", "\t") and self.headers:
                n, v = self.headers[-1]
                self.headers[-1] = (n, v + " " + ln.strip())
            elif ":" in ln:
                n, v = ln.split(":", 1)
                self.headers.append((n.strip().lower(), v.strip()))
        self.is_response = self.start.startswith("SIP/2.0 ")
        self.status = int(self.start.split()[1]) if self.is_response else 0
        self.method = None if self.is_response else self.start.split()[0]

    COMPACT = {"i": "call-id", "f": "from", "t": "to", "v": "via", "m": "contact",
               "l": "content-length", "c": "content-type"}

    def hdr(self, name):
        name = name.lower()
        for n, v in self.headers:
            if n == name or self.COMPACT.get(n) == name:
                return v
        return None

    def cseq(self):
        v = self.hdr("cseq") or "0 X"
        n, m = v.split()
        return int(n), m


class SipConn:
    """One SRC signalling socket to the SRS (UDP or TCP), with a reader thread."""

    def __init__(self, transport, srs, log):
        self.transport = transport
        self.srs = srs
        self.log = log
        self.q = []
        self.cv = threading.Condition()
        self.closed = False
        if transport == "tcp":
            self.s = socket.create_connection(srs, timeout=5)
            self.s.settimeout(None)
        else:
            v6 = ":" in srs[0]
            self.s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
            self.s.bind(("::1" if v6 else "127.0.0.1", 0))
        self.local = self.s.getsockname()
        self.t = threading.Thread(target=self._reader, daemon=True)
        self.t.start()

    def _reader(self):
        buf = b""
        while True:
            try:
                if self.transport == "tcp":
                    d = self.s.recv(65536)
                    if not d:
                        break
                    buf += d
                    while True:
                        while buf.startswith(b"\r\n"):
                            buf = buf[2:]
                        i = buf.find(b"\r\n\r\n")
                        if i < 0:
                            break
                        m = re.search(rb"(?im)^(content-length|l)\s*:\s*(\d+)", buf[:i])
                        ln = int(m.group(2)) if m else 0
                        if len(buf) < i + 4 + ln:
                            break
                        self._push(buf[:i + 4 + ln])
                        buf = buf[i + 4 + ln:]
                else:
                    d, _ = self.s.recvfrom(65536)
                    if d.strip():
                        self._push(d)
            except OSError:
                break
        with self.cv:
            self.closed = True
            self.cv.notify_all()

    def _push(self, raw):
        m = Msg(raw)
        self.log("<<< received\n" + raw.decode("utf-8", "replace"))
        if not m.is_response:
            # A request from the SRS (BYE after a timer, OPTIONS): answer 200.
            self._answer(m)
        with self.cv:
            self.q.append(m)
            self.cv.notify_all()

    def _answer(self, m):
        lines = ["SIP/2.0 200 OK"]
        for n, v in m.headers:
            if n in ("via", "v", "from", "f", "call-id", "i", "cseq"):
                lines.append("%s: %s" % (n, v))
            if n in ("to", "t"):
                lines.append("To: %s%s" % (v, "" if "tag=" in v else ";tag=srcans"))
        lines.append("Content-Length: 0")
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode())

    def send(self, data):
        self.log(">>> sent\n" + data.decode("utf-8", "replace"))
        if self.transport == "tcp":
            self.s.sendall(data)
        else:
            self.s.sendto(data, self.srs)

    def wait(self, pred, timeout):
        end = time.monotonic() + timeout
        with self.cv:
            while True:
                for i, m in enumerate(self.q):
                    if pred(m):
                        return self.q.pop(i)
                left = end - time.monotonic()
                if left <= 0 or self.closed:
                    return None
                self.cv.wait(left)

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


# ---------------------------------------------------------------- SDP

def sdp_media(sdp):
    """[{type, port, proto, fmts, label, dir, c}] of an SDP text."""
    out = []
    sess_c, sess_cat, sess_dir = None, None, "sendrecv"
    for ln in re.split(r"\r?\n", sdp):
        if ln.startswith("m="):
            p = ln[2:].split()
            out.append({"type": p[0], "port": int(p[1].split("/")[0]), "proto": p[2],
                        "fmts": p[3:], "label": None, "dir": None, "c": None, "cat": None,
                        "rtpmap": {}, "crypto": {}})
        elif ln.startswith("c="):
            cat, addr = ln.split()[1], ln.split()[2].split("/")[0]
            if out:
                out[-1]["c"], out[-1]["cat"] = addr, cat
            else:
                sess_c, sess_cat = addr, cat
        elif ln.startswith("a=label:") and out:
            out[-1]["label"] = ln[8:].strip()
        elif ln.startswith("a=crypto:") and out:
            f = ln[9:].split()
            if len(f) >= 3:
                out[-1]["crypto"][f[0]] = (f[1], f[2])
        elif ln.startswith("a=rtpmap:") and out:
            pt, enc = ln[9:].split(None, 1)
            out[-1]["rtpmap"][pt] = enc.strip()
        elif ln[2:].strip() in ("sendrecv", "sendonly", "recvonly", "inactive"):
            if out:
                out[-1]["dir"] = ln[2:].strip()
            else:
                sess_dir = ln[2:].strip()
    for m in out:
        if not m["c"]:
            m["c"], m["cat"] = sess_c, sess_cat
        m["dir"] = m["dir"] or sess_dir
    return out


def sdp_of(body, ctype):
    """The SDP part of a body (plain or multipart)."""
    if not body:
        return None
    if ctype and ctype.lower().startswith("application/sdp"):
        return body
    m = re.search(r"(?s)(^|\n)v=0.*?(?=\r?\n--|\Z)", body)
    if m:
        return m.group(0).lstrip("\n")
    # RFC 2045 §6.8: an SDP part sent Content-Transfer-Encoding: base64 (rfc5621-base64-parts)
    m = re.search(r"(?is)content-type:[ \t]*application/sdp[^\n]*\n((?:[^\r\n]+\r?\n)*)\r?\n(.*?)(?=\r?\n--)", body)
    if m and re.search(r"(?im)^content-transfer-encoding:[ \t]*base64", m.group(1)):
        import base64
        return base64.b64decode(re.sub(r"\s", "", m.group(2))).decode("utf-8", "replace")
    return None


# ---------------------------------------------------------------- media

class Srtp:
    """The SRC's SRTP sender for one stream (RFC 4568 SDES): the system libsrtp2 by ctypes, the
    key (and MKI) of the offer's a=crypto line the answer accepted."""
    SUITES = {
        "AES_CM_128_HMAC_SHA1_80": ("srtp_crypto_policy_set_rtp_default", "srtp_crypto_policy_set_rtp_default"),
        "AES_CM_128_HMAC_SHA1_32": ("srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32", "srtp_crypto_policy_set_rtp_default"),
        "AES_256_CM_HMAC_SHA1_80": ("srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80", "srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80"),
        "AES_256_CM_HMAC_SHA1_32": ("srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32", "srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80"),
        "AEAD_AES_128_GCM": ("srtp_crypto_policy_set_aes_gcm_128_16_auth", "srtp_crypto_policy_set_aes_gcm_128_16_auth"),
        "AEAD_AES_256_GCM": ("srtp_crypto_policy_set_aes_gcm_256_16_auth", "srtp_crypto_policy_set_aes_gcm_256_16_auth"),
    }
    lib = None
    lock = threading.Lock()

    def __init__(self, suite, params):
        import base64
        import ctypes as C

        class Crypto(C.Structure):
            _fields_ = [("cipher_type", C.c_uint32), ("cipher_key_len", C.c_int),
                        ("auth_type", C.c_uint32), ("auth_key_len", C.c_int),
                        ("auth_tag_len", C.c_int), ("sec_serv", C.c_int)]

        class MasterKey(C.Structure):
            _fields_ = [("key", C.c_char_p), ("mki_id", C.c_char_p), ("mki_size", C.c_uint)]

        class Policy(C.Structure):
            _fields_ = [("ssrc_type", C.c_int), ("ssrc_value", C.c_uint), ("rtp", Crypto),
                        ("rtcp", Crypto), ("key", C.c_char_p),
                        ("keys", C.POINTER(C.POINTER(MasterKey))), ("num_master_keys", C.c_ulong),
                        ("deprecated_ekt", C.c_void_p), ("window_size", C.c_ulong),
                        ("allow_repeat_tx", C.c_int), ("enc_xtn_hdr", C.c_void_p),
                        ("enc_xtn_hdr_count", C.c_int), ("next", C.c_void_p)]
        with Srtp.lock:
            if Srtp.lib is None:
                Srtp.lib = C.CDLL("libsrtp2.so.1", mode=os.RTLD_LOCAL | getattr(os, "RTLD_DEEPBIND", 0))
                if Srtp.lib.srtp_init() != 0:
                    raise FlowError("srtp_init failed")
        lib = Srtp.lib
        # inline:<key||salt>[|lifetime][|MKI:length], first key of the line (RFC 4568 §6.1)
        f = params.split(";")[0][len("inline:"):].split("|")
        self.keysalt = base64.b64decode(f[0] + "=" * (-len(f[0]) % 4))
        mki = next((x for x in f[1:] if ":" in x), None)
        self.mki = None
        pol = Policy()
        rtp_set, rtcp_set = Srtp.SUITES[suite]
        getattr(lib, rtp_set)(C.byref(pol.rtp))
        getattr(lib, rtcp_set)(C.byref(pol.rtcp))
        pol.ssrc_type = 3  # ssrc_any_outbound
        pol.window_size = 1024
        self._keep = [self.keysalt]
        if mki:
            v, n = (int(x) for x in mki.split(":"))
            self.mki = v.to_bytes(n, "big")
            mk = MasterKey(self.keysalt, self.mki, n)
            arr = (C.POINTER(MasterKey) * 1)(C.pointer(mk))
            pol.keys, pol.num_master_keys = arr, 1
            self._keep += [mk, arr]
        else:
            pol.key = self.keysalt
        self.ctx = C.c_void_p()
        if lib.srtp_create(C.byref(self.ctx), C.byref(pol)) != 0:
            raise FlowError("srtp_create(%s) failed" % suite)
        self.C = C

    def protect(self, pkt, rtcp=False):
        C = self.C
        buf = C.create_string_buffer(bytes(pkt), len(pkt) + 256)
        n = C.c_int(len(pkt))
        if self.mki is not None:
            fn = Srtp.lib.srtp_protect_rtcp_mki if rtcp else Srtp.lib.srtp_protect_mki
            r = fn(self.ctx, buf, C.byref(n), 1, 0)
        else:
            fn = Srtp.lib.srtp_protect_rtcp if rtcp else Srtp.lib.srtp_protect
            r = fn(self.ctx, buf, C.byref(n))
        if r != 0:
            raise FlowError("srtp_protect failed (%d)" % r)
        return buf.raw[:n.value]


class Stream:
    """One recorded stream the SRC sends: its socket, RTP state and what was sent."""

    def __init__(self, idx, ip="127.0.0.1"):
        self.idx = idx
        self.sock = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((ip, 0))
        self.port = self.sock.getsockname()[1]
        self.ssrc = random.getrandbits(32)
        self.seq = random.getrandbits(16)
        self.ts = random.getrandbits(31)
        self.ts0 = None
        self.enc = None
        self.audio = {}      # rtp ts offset -> decoded samples (G.711, exact)
        self.frames = 0
        self.exact = True
        self.first = True
        self.clock = 8000
        self.span = 0        # RTP timestamp span covered, in clock units
        self.srtp = None     # Srtp when the answer took one of the offer's a=crypto lines


def rtp(pt, seq, ts, ssrc, payload, marker=False):
    return struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF,
                       ts & 0xFFFFFFFF, ssrc) + payload


# ---------------------------------------------------------------- one flow

class Flow:
    def __init__(self, name, args, xfail):
        self.name = name
        self.dir = os.path.join(FLOWS, name)
        with open(os.path.join(self.dir, "flow.json")) as f:
            self.spec = json.load(f)
        self.args = args
        self.xfail = xfail.get(name)
        self.errors = []
        self.logf = open(os.path.join(args.out, name + ".log"), "w")
        self.lock = threading.Lock()
        self.streams = {}
        self.answers = []

    def log(self, s):
        with self.lock:
            self.logf.write(s.rstrip("\n") + "\n\n")
            self.logf.flush()

    def err(self, s):
        self.errors.append(s)
        self.log("!!! " + s)

    # -- templates

    def vars(self):
        v = dict(self.v)
        for i, st in self.streams.items():
            v["mport%d" % i] = str(st.port)
        return v

    def render(self, fname, extra=None, charset="utf-8"):
        with open(os.path.join(self.dir, fname), encoding="utf-8") as f:
            t = f.read()
        v = self.vars()
        v.update({"base64": "@@B64@@", "end_base64": "@@/B64@@"})
        if extra:
            v.update(extra)

        def sub(m):
            k = m.group(1)
            if k not in v:
                raise FlowError("%s: unknown placeholder ${%s}" % (fname, k))
            return v[k]
        t = re.sub(r"\$\{([a-z0-9_]+)\}", sub, t)
        head, sep, body = t.partition("\n\n")
        eol = "\n" if self.spec.get("line_endings") == "lf" else "\r\n"
        head = head.replace("\n", eol)
        body = body.replace("\n", eol) if sep else ""
        # Lines between ${base64} and ${end_base64} go out base64-encoded (RFC 2045 §6.8:
        # 76-character lines), rendered first.
        import base64
        body = re.sub(r"@@B64@@" + re.escape(eol) + r"(.*?)@@/B64@@" + re.escape(eol),
                      lambda m: base64.encodebytes(m.group(1).encode(charset)).decode()
                      .replace("\n", eol), body, flags=re.S)
        # The template's own "Content-Length: ${len}" is replaced by the body's length.
        head = head.replace("@@LEN@@", str(len(body.encode(charset))))
        return (head + eol + eol + body).encode(charset), body

    # -- transactions

    def request(self, data, method, cseq, expect_final=True, timeout=10):
        self.sip.send(data)
        retrans = 0.5
        t_next = time.monotonic() + retrans
        end = time.monotonic() + timeout
        got_any = False
        while time.monotonic() < end:
            w = min(t_next, end) - time.monotonic()
            m = self.sip.wait(lambda r: r.is_response and r.cseq() == (cseq, method), max(w, 0.01))
            if m is not None:
                got_any = True
                if m.status >= 200 or not expect_final:
                    return m
                continue
            if self.sip.transport == "udp" and not got_any and time.monotonic() >= t_next:
                self.sip.send(data)
                retrans = min(retrans * 2, 4)
                t_next = time.monotonic() + retrans
            elif time.monotonic() >= t_next:
                t_next = time.monotonic() + retrans
        return None

    def ack(self, resp, cseq, body_file=None, body=None):
        ok2xx = 200 <= resp.status < 300
        lines = ["ACK %s SIP/2.0" % (self.ruri if ok2xx else self.first_ruri),
                 "Via: SIP/2.0/%s %s:%d;branch=%s;rport" % (self.v["transport"], self.v["local_host"],
                                                          self.sip.local[1],
                                                          self.newbranch() if ok2xx else self.v["branch"]),
                 "Max-Forwards: 70",
                 "From: %s" % self.from_hdr,
                 "To: %s" % resp.hdr("to"),
                 "Call-ID: %s" % self.v["call_id"],
                 "CSeq: %d ACK" % cseq]
        if body:
            lines += ["Content-Type: application/sdp", "Content-Length: %d" % len(body.encode())]
        else:
            lines.append("Content-Length: 0")
        self.sip.send(("\r\n".join(lines) + "\r\n\r\n" + (body or "")).encode())

    def cancel(self, want, label):
        """A CANCEL of the last INVITE (its branch, CSeq number, Request-URI and To without the
        SRS's tag, RFC 3261 §9.1), sent after its final response and before the ACK: the
        CANCEL crossed the 200 on the wire."""
        lines = ["CANCEL %s SIP/2.0" % self.inv_ruri,
                 "Via: SIP/2.0/%s %s:%d;branch=%s;rport" % (self.v["transport"], self.v["local_host"],
                                                           self.sip.local[1], self.inv_branch),
                 "Max-Forwards: 70", "From: %s" % self.from_hdr,
                 "To: %s" % self.inv_to, "Call-ID: %s" % self.call_id,
                 "CSeq: %d CANCEL" % self.inv_cseq, "Content-Length: 0"]
        r = self.request(("\r\n".join(lines) + "\r\n\r\n").encode(), "CANCEL", self.inv_cseq)
        got = r.status if r else None
        if got not in want:
            self.err("%s: CANCEL answered %s, expected one of %s" % (label, got, want))

    def newbranch(self):
        return "z9hG4bK" + "%016x" % random.getrandbits(64)

    # -- checks on an answer

    def check_answer(self, step, offer_sdp, resp, label):
        sdp = sdp_of(resp.body, resp.hdr("content-type"))
        if sdp is None:
            self.err("%s: 200 OK without SDP" % label)
            return
        offer = sdp_media(offer_sdp)
        ans = sdp_media(sdp)
        self.answers.append(ans)
        if len(ans) != len(offer):
            self.err("%s: answer has %d m= lines for %d offered" % (label, len(ans), len(offer)))
            return
        exp = step.get("answer", {})
        port0 = set(exp.get("port0", []))
        # m= lines the SRS may record or decline (port 0), e.g. video at an audio recorder.
        port_any = set(exp.get("port_any", []))
        for i, (o, a) in enumerate(zip(offer, ans)):
            # RFC 4566 §5.7: the address type names the address's family.
            if a["c"] and a["cat"] != ("IP6" if ":" in a["c"] else "IP4"):
                self.err("%s: m=%d c= IN %s %s" % (label, i, a["cat"], a["c"]))
            if a["type"] != o["type"]:
                self.err("%s: m=%d is %s, offered %s" % (label, i, a["type"], o["type"]))
            if o["label"] is not None and a["label"] != o["label"]:
                self.err("%s: m=%d label %r, offered %r" % (label, i, a["label"], o["label"]))
            want0 = o["port"] == 0 or i in port0
            if want0 and a["port"] != 0:
                self.err("%s: m=%d port %d, expected 0" % (label, i, a["port"]))
            if i in port_any and a["port"] == 0:
                continue
            if not want0 and a["port"] == 0:
                self.err("%s: m=%d (%s) refused with port 0" % (label, i, o["label"]))
            if not want0 and a["port"] != 0:
                want = "inactive" if o["dir"] in ("inactive", "recvonly") else "recvonly"
                want = exp.get("dir", {}).get(str(i), want)
                if a["dir"] != want:
                    self.err("%s: m=%d direction %s, expected %s" % (label, i, a["dir"], want))
                bad = [f for f in a["fmts"] if f not in o["fmts"]]
                if bad:
                    self.err("%s: m=%d answers formats %s not offered" % (label, i, bad))
                if not a["c"]:
                    self.err("%s: m=%d answer has no c=" % (label, i))
        for i, a in enumerate(ans):
            if i in self.streams:
                self.streams[i].dest = (a["c"] or "127.0.0.1", a["port"])
                # SDES: the SRC protects what it sends with the key of its own a=crypto line
                # whose tag the answer took (RFC 4568 §6.1); none answered: plain RTP.
                st, o = self.streams[i], offer[i]
                tag = next(iter(a["crypto"]), None)
                if tag is not None and tag in o["crypto"] and a["port"] != 0:
                    if getattr(st, "srtp_key", None) != o["crypto"][tag]:
                        st.srtp = Srtp(*o["crypto"][tag])
                        st.srtp_key = o["crypto"][tag]
                elif a["port"] != 0:
                    st.srtp, st.srtp_key = None, None

    # -- media

    def send_media(self, items):
        """Sends every listed stream at once, 20 ms a packet, in real time."""
        plan = []
        for it in items:
            st = self.streams[it["m"]]
            codec = it.get("codec", "PCMU")
            if st.enc is None or st.enc.codec != codec or st.enc.freq != it.get("tone", 440):
                st.enc = corpus_codecs.Encoder(codec, it.get("tone", 440))
                st.clock = st.enc.clock
            if not st.enc.exact():
                st.exact = False
            if it.get("ts_gap_ms"):
                st.ts += it["ts_gap_ms"] * st.clock // 1000
            if it.get("new_ssrc"):
                st.ssrc = random.getrandbits(32)
                st.ts = random.getrandbits(31)
                st.exact = False
            plan.append((st, it))
        n = max(it.get("ms", 1000) // 20 for _, it in plan)
        t0 = time.monotonic()
        for k in range(n):
            for st, it in plan:
                if k >= it.get("ms", 1000) // 20:
                    continue
                dest = getattr(st, "dest", None)
                if not dest or dest[1] == 0:
                    continue
                dtmf = it.get("dtmf")
                if dtmf and dtmf["at"] <= k < dtmf["at"] + dtmf["frames"]:
                    # RFC 4733: one event spanning several 20 ms frames, same timestamp, the
                    # last three packets with the E bit; the audio encoder is not advanced.
                    j = k - dtmf["at"]
                    if j == 0:
                        st.dtmf_ts = st.ts
                    end = j == dtmf["frames"] - 1
                    dur = (j + 1) * 160
                    ev = struct.pack("!BBH", dtmf["event"], (0x80 if end else 0) | 10, dur)
                    for _ in range(3 if end else 1):
                        pkt = rtp(dtmf["pt"], st.seq, st.dtmf_ts, st.ssrc, ev, j == 0)
                        st.sock.sendto(st.srtp.protect(pkt) if st.srtp else pkt, dest)
                        st.seq += 1
                    st.ts += 160
                    if st.ts0 is None:
                        st.ts0 = st.dtmf_ts
                    st.span = max(st.span, st.ts - st.ts0)
                    continue
                if it.get("rtcp_every") and k % it["rtcp_every"] == it["rtcp_every"] - 1:
                    # RFC 5761 §4: an RTCP sender report on the RTP port (rtcp-mux); its second
                    # byte (PT 200) must not be taken for an RTP payload type.
                    sr = struct.pack("!BBHIIIIII", 0x80, 200, 6, st.ssrc, 0, 0, st.ts & 0xFFFFFFFF,
                                     st.frames, st.frames * 160)
                    st.sock.sendto(st.srtp.protect(sr, True) if st.srtp else sr, dest)
                payload, inc = st.enc.frame()
                pkt = rtp(it.get("pt", 0), st.seq, st.ts, st.ssrc, payload, st.first)
                st.sock.sendto(st.srtp.protect(pkt) if st.srtp else pkt, dest)
                st.first = False
                if st.ts0 is None:
                    st.ts0 = st.ts
                if st.enc.exact():
                    st.audio[st.ts - st.ts0] = st.enc.decoded()
                st.seq += 1
                st.ts += inc
                st.frames += 1
                st.span = max(st.span, st.ts - st.ts0)
            d = t0 + (k + 1) * 0.02 - time.monotonic()
            if d > 0:
                time.sleep(d)

    # -- the flow

    def run(self):
        t0 = time.monotonic()
        try:
            self.play()
            if not self.errors:
                self.check_catalog()
        except FlowError as e:
            self.err(str(e))
        except Exception as e:  # a driver bug must not hide the other flows
            import traceback
            self.err("driver error: %r" % e)
            self.log(traceback.format_exc())
        finally:
            for st in self.streams.values():
                st.sock.close()
            if getattr(self, "sip", None):
                self.sip.close()
        self.secs = time.monotonic() - t0
        self.logf.close()
        return self

    def play(self):
        spec = self.spec
        transport = spec.get("transport", "udp")
        self.sip = SipConn(transport, self.args.srs, self.log)
        # An IPv6 SRS ([::1]): the SRC signals and sends media from ::1, and a host in a
        # Via or URI is a bracketed reference (${local_host}, ${srs}).
        v6 = ":" in self.args.srs[0]
        self.local_ip = local_ip = "::1" if v6 else "127.0.0.1"
        srs = ("[%s]:%d" if v6 else "%s:%d") % self.args.srs
        tag = "%08x" % random.getrandbits(32)
        self.v = {
            "srs": srs, "srs_ip": self.args.srs[0], "srs_port": str(self.args.srs[1]),
            "local_ip": local_ip, "local_host": "[::1]" if v6 else local_ip,
            "local_port": str(self.sip.local[1]),
            "transport": transport.upper(), "transport_lc": transport,
            "call_id": "%s-%08x@127.0.0.1" % (self.name, random.getrandbits(32)),
            "from_tag": tag, "to_tag": "", "len": "@@LEN@@", "media_ip": local_ip,
            "rand": "%08x" % random.getrandbits(32),
        }
        self.call_id = self.v["call_id"]
        self.first_ruri = self.ruri = "sip:srs@" + srs
        self.v["ruri"] = self.ruri
        for i in range(spec.get("streams", 2)):
            self.streams[i] = Stream(i, local_ip)
        cseq = spec.get("cseq_start", 1) - 1
        self.from_hdr = None
        for n, step in enumerate(spec["steps"]):
            label = "step %d" % (n + 1)
            if "media" in step:
                self.send_media(step["media"])
                continue
            if "rebind" in step:
                # The SRC's media moves to another address (an SBC pair's standby took over):
                # the stream sends from a new socket; its RTP state goes on.
                for i, ip in step["rebind"].items():
                    st = self.streams[int(i)]
                    st.sock.close()
                    st.sock = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_DGRAM)
                    st.sock.bind((ip, 0))
                    st.port = st.sock.getsockname()[1]
                continue
            if "sleep_ms" in step:
                time.sleep(step["sleep_ms"] / 1000)
                continue
            if "bye" in step:
                cseq += 1
                self.v["branch"] = self.newbranch()
                lines = ["BYE %s SIP/2.0" % self.ruri,
                         "Via: SIP/2.0/%s %s:%d;branch=%s;rport" % (self.v["transport"], self.v["local_host"],
                                                                   self.sip.local[1], self.v["branch"]),
                         "Max-Forwards: 70", "From: %s" % self.from_hdr,
                         "To: %s" % self.to_hdr, "Call-ID: %s" % self.call_id,
                         "CSeq: %d BYE" % cseq] + step.get("headers", []) + ["Content-Length: 0"]
                r = self.request(("\r\n".join(lines) + "\r\n\r\n").encode(), "BYE", cseq)
                want = step["bye"]
                got = r.status if r else None
                if got != want:
                    self.err("%s: BYE answered %s, expected %s" % (label, got, want))
                continue
            cseq += 1
            self.v["cseq"] = str(cseq)
            self.v["branch"] = self.newbranch()
            data, body = self.render(step["send"], charset=step.get("charset", "utf-8"))
            msg = Msg(data)
            method = msg.method
            if self.from_hdr is None:
                self.from_hdr = msg.hdr("from")
            r = self.request(data, method, int(msg.cseq()[0]))
            cseq = int(msg.cseq()[0])
            want = step.get("expect", 200)
            if r is None:
                raise FlowError("%s: %s got no final response" % (label, method))
            if method == "INVITE":
                self.inv_ruri, self.inv_branch, self.inv_cseq = msg.start.split()[1], self.v["branch"], cseq
                self.inv_to = msg.hdr("to")
                if 200 <= r.status < 300 and not self.v["to_tag"]:
                    m = re.search(r";\s*tag=([^;>\s]+)", r.hdr("to") or "")
                    self.v["to_tag"] = ";tag=" + m.group(1) if m else ""
                    self.to_hdr = r.hdr("to")
                    c = re.search(r"<([^>]+)>", r.hdr("contact") or "")
                    if c:
                        self.ruri = self.v["ruri"] = c.group(1)
                ack_body = None
                offer_sdp = sdp_of(body, msg.hdr("content-type"))
                if 200 <= r.status < 300 and offer_sdp is None and "ack_answer" in step:
                    ack_body = self.delayed_answer(step, r, label)
                if "cancel" in step:
                    self.cancel(step["cancel"], label)
                self.ack(r, cseq, body=ack_body)
            if r.status != want:
                w = r.hdr("warning")
                self.err("%s: %s answered %d %s%s, expected %d" % (
                    label, method, r.status, r.start.split(" ", 2)[2] if r.start.count(" ") >= 2 else "",
                    " (Warning: %s)" % w if w else "", want))
                raise FlowError("stopped after %s" % label)
            if 200 <= r.status < 300 and method in ("INVITE", "UPDATE"):
                offer_sdp = sdp_of(body, msg.hdr("content-type"))
                if offer_sdp:
                    self.check_answer(step, offer_sdp, r, label)

    def delayed_answer(self, step, r, label):
        """INVITE without SDP: the 200 carries the SRS's offer; the ACK answers it."""
        sdp = sdp_of(r.body, r.hdr("content-type"))
        if not sdp:
            self.err("%s: 200 OK to an offerless INVITE carries no SDP offer" % label)
            return None
        offer = sdp_media(sdp)
        want = step["ack_answer"]
        # The SRC sends "m" streams (default: as many as offered); further offered m= lines are
        # answered with port 0 (RFC 3264 §6), as a one-stream CUCM recording call does.
        used = want.get("m", len(offer))
        if len(offer) < used:
            self.err("%s: SRS offered %d m= lines, expected at least %d" % (label, len(offer), used))
        lines = ["v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0"]
        codec = want.get("codec", "PCMU")
        for i, m in enumerate(offer):
            if m["dir"] != "recvonly":
                self.err("%s: SRS offer m=%d is %s, expected recvonly" % (label, i, m["dir"]))
            pt = next((p for p in m["fmts"] if m["rtpmap"].get(p, {"0": "PCMU/8000", "8": "PCMA/8000"}.get(p, "")).upper().startswith(codec.upper())), None)
            if pt is None:
                self.err("%s: SRS offer m=%d has no %s" % (label, i, codec))
                pt = m["fmts"][0]
            if i >= used:
                lines += ["m=audio 0 RTP/AVP %s" % pt]
                if m["label"]:
                    lines.append("a=label:" + m["label"])
                continue
            if i not in self.streams:
                self.streams[i] = Stream(i, self.local_ip)
            self.streams[i].dest = (m["c"] or "127.0.0.1", m["port"])
            lines += ["m=audio %d RTP/AVP %s" % (self.streams[i].port, pt)]
            if m["label"]:
                lines.append("a=label:" + m["label"])
            lines.append("a=sendonly")
        return "\r\n".join(lines) + "\r\n"

    # -- catalog and export

    def db(self):
        c = sqlite3.connect("file:%s?mode=ro" % self.args.catalog, uri=True, timeout=10)
        return c

    def q(self, sql, params=()):
        c = self.db()
        try:
            return c.execute(sql, params).fetchall()
        finally:
            c.close()

    def check_catalog(self):
        exp = self.spec.get("catalog", {})
        end = time.monotonic() + 15
        sid = None
        while time.monotonic() < end:
            rows = self.q("""SELECT id, state, end_reason FROM sessions s WHERE call_id = ? AND
                state != 'active' AND NOT EXISTS (SELECT 1 FROM recordings r WHERE
                r.session_id = s.id AND r.state = 'writing') ORDER BY id DESC LIMIT 1""",
                          (self.call_id,))
            if rows:
                sid, state, reason = rows[0]
                break
            time.sleep(0.05)
        if sid is None:
            r = self.q("SELECT state, end_reason FROM sessions WHERE call_id = ?", (self.call_id,))
            self.err("catalog: no ended session with finalized recordings for the call (%s)" % r)
            return
        want = exp.get("state", "ended bye")
        if "%s %s" % (state, reason) != want:
            self.err("catalog: session %s %s, expected %s" % (state, reason, want))
        if "participants" in exp:
            got = sorted([[n, a] for n, a in self.q(
                "SELECT name, aor FROM participants WHERE session_id = ?", (sid,))],
                key=lambda x: (x[1] or "", x[0] or ""))
            want = sorted(exp["participants"], key=lambda x: (x[1] or "", x[0] or ""))
            if got != want:
                self.err("catalog: participants %s, expected %s" % (got, want))
        for label, s in exp.get("streams", {}).items():
            rows = self.q("""SELECT st.codec, p.name, p.aor, st.packets, st.id FROM streams st
                LEFT JOIN participants p ON p.id = st.participant_id
                WHERE st.session_id = ? AND st.label = ?""", (sid, label))
            if not rows:
                self.err("catalog: no stream labelled %r" % label)
                continue
            codec, pname, paor, packets, _ = rows[0]
            if "codec" in s and (codec or "").lower() != s["codec"].lower():
                self.err("catalog: stream %s codec %r, expected %r" % (label, codec, s["codec"]))
            if "sender" in s and paor != s["sender"]:
                self.err("catalog: stream %s sent by %r, expected %r" % (label, paor, s["sender"]))
            if s.get("packets"):
                st = self.streams.get(s["m"]) if "m" in s else None
                if st and packets < st.frames:
                    self.err("catalog: stream %s has %d packets, %d sent" % (label, packets, st.frames))
        if "streams_count" in exp:
            n = self.q("SELECT count(*) FROM streams WHERE session_id = ?", (sid,))[0][0]
            if n != exp["streams_count"]:
                self.err("catalog: %d streams, expected %d" % (n, exp["streams_count"]))
        for sql, want in exp.get("sql", []):
            try:
                rows = self.q(sql, {"sid": sid})
                got = "|".join("" if v is None else str(v) for v in rows[0]) if rows else ""
            except sqlite3.Error as e:
                got = "sqlite error: %s" % e
            if got != want:
                self.err("catalog: %s -> %r, expected %r" % (" ".join(sql.split()), got, want))
        bad = self.q("""SELECT count(*) FROM recordings WHERE session_id = ? AND
            (state != 'final' OR complete != 1)""", (sid,))[0][0]
        if bad:
            self.err("catalog: %d recording(s) not final and complete" % bad)
        for e in self.spec.get("export", []):
            self.check_export(sid, e)

    def check_export(self, sid, e):
        label = e["label"]
        rows = self.q("""SELECT r.path FROM recordings r JOIN streams st ON st.id = r.stream_id
            WHERE r.session_id = ? AND st.label = ? ORDER BY r.id""", (sid, label))
        if not rows:
            self.err("export: no recording for stream %s" % label)
            return
        st = self.streams[e["m"]]
        out = os.path.join(self.args.out, "%s-%s.wav" % (self.name, re.sub(r"\W", "_", label)))
        if e.get("undecodable"):
            # No decoder in Debian: the WAV export must refuse and name the codec; the pcap
            # export still gives the packets back.
            p = subprocess.run([self.args.export, "-c", self.args.conf, rows[-1][0], "-o", out],
                               capture_output=True, text=True)
            msg = (p.stderr + p.stdout).strip()
            if p.returncode == 0 or e["undecodable"] not in msg:
                self.err("export: WAV export of stream %s (%s) gave exit %d: %s" % (
                    label, e["undecodable"], p.returncode, msg[-200:] or "no message"))
            pc = out[:-4] + ".pcap"
            p = subprocess.run([self.args.export, "-c", self.args.conf, rows[-1][0], "--pcap", pc],
                               capture_output=True, text=True)
            if p.returncode != 0:
                self.err("export: pcap export of stream %s failed: %s" % (label, (p.stderr or p.stdout).strip()[-200:]))
            return
        p = subprocess.run([self.args.export, "-c", self.args.conf, rows[-1][0], "-o", out],
                           capture_output=True, text=True)
        if p.returncode != 0:
            self.err("export: siprec-export of stream %s failed: %s" % (label, (p.stderr or p.stdout).strip()[-300:]))
            return
        if st.span == 0:
            # Nothing sent on it (no answer gave the stream a port): an export of nothing
            # would match the nothing expected.
            self.err("export: nothing was sent on stream %s (m=%d)" % (label, e["m"]))
            return
        w = wave.open(out, "rb")
        rate, nch, n = w.getframerate(), w.getnchannels(), w.getnframes()
        raw = w.readframes(n)
        w.close()
        samples = list(struct.unpack("<%dh" % (n * nch), raw))[0::nch]
        want_ms = st.span * 1000 // st.clock
        got_ms = n * 1000 // rate
        if abs(got_ms - want_ms) > e.get("tolerance_ms", 20):
            self.err("export: stream %s is %d ms, expected %d ms" % (label, got_ms, want_ms))
        if e.get("exact") and st.exact:
            exp = []
            for off in sorted(st.audio):
                if len(exp) < off:
                    exp += [0] * (off - len(exp))
                exp += st.audio[off]
            if len(exp) < st.span:
                exp += [0] * (st.span - len(exp))
            if samples != exp:
                first = next((i for i in range(min(len(samples), len(exp))) if samples[i] != exp[i]), None)
                self.err("export: stream %s differs from the sent audio (%d samples, expected %d, "
                         "first difference at %s)" % (label, len(samples), len(exp), first))
        if "tone" in e:
            share = corpus_codecs.goertzel_share(samples[rate // 10:rate // 10 + rate // 2], rate, e["tone"])
            # Measured: a right decode is >= 0.996; G.726 with its codewords swapped in each
            # octet (the other packing) still sounds like the tone but falls to 0.88-0.94.
            if share < e.get("min_share", 0.98):
                self.err("export: stream %s is not the %d Hz tone sent (energy share %.2f)" % (label, e["tone"], share))


# ---------------------------------------------------------------- corpus

def load_xfail():
    out = {}
    with open(os.path.join(HERE, "xfail.txt")) as f:
        for ln in f:
            ln = ln.strip()
            if not ln or ln.startswith("#"):
                continue
            name, _, reason = ln.partition(" ")
            out[name] = reason.strip()
    return out


def flow_ipv6(name):
    with open(os.path.join(FLOWS, name, "flow.json")) as f:
        return bool(json.load(f).get("ipv6"))


def all_flows():
    return sorted(d for d in os.listdir(FLOWS) if os.path.isfile(os.path.join(FLOWS, d, "flow.json")))


def doc_table():
    xf = load_xfail()
    rows = ["| flow | SRC | what it exercises | shape from | expected result |",
            "| --- | --- | --- | --- | --- |"]
    for name in all_flows():
        with open(os.path.join(FLOWS, name, "flow.json")) as f:
            s = json.load(f)
        res = "records" if name not in xf else "**xfail**: " + xf[name]
        rows.append("| `%s` | %s | %s | %s | %s |" % (name, s["vendor"], s["title"], s["source"], res))
    return "\n".join(rows) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--srs")
    ap.add_argument("--conf")
    ap.add_argument("--catalog")
    ap.add_argument("--export")
    ap.add_argument("--out")
    ap.add_argument("--jobs", type=int, default=6)
    ap.add_argument("--doc", action="store_true")
    ap.add_argument("flows", nargs="*")
    a = ap.parse_args()
    if a.doc:
        sys.stdout.write(doc_table())
        return 0
    h, p = a.srs.rsplit(":", 1)
    a.srs = (h.strip("[]"), int(p))
    os.makedirs(a.out, exist_ok=True)
    xf = load_xfail()
    # Flows marked "ipv6" need an SRS on ::1 (tests/integration/interop-ipv6.sh), the others
    # one on 127.0.0.1.
    names = a.flows or [n for n in all_flows() if flow_ipv6(n) == (":" in a.srs[0])]
    unknown = [n for n in xf if n not in all_flows()]
    counts = {"PASS": 0, "FAIL": 0, "XFAIL": 0, "XPASS": 0}
    for n in unknown:
        print("FAIL  %-44s xfail.txt names a flow that is not in the corpus" % n)
        counts["FAIL"] += 1
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as ex:
        futs = [ex.submit(Flow(n, a, xf).run) for n in names]
        for fu in futs:
            f = fu.result()
            if f.errors and f.xfail:
                st = "XFAIL"
            elif f.errors:
                st = "FAIL"
            elif f.xfail:
                st = "XPASS"
            else:
                st = "PASS"
            counts[st] += 1
            extra = ""
            if st == "XFAIL":
                extra = "  (expected: %s)" % f.xfail
            elif st == "XPASS":
                extra = "  <<< listed in tests/interop/xfail.txt but passes now: remove the entry"
            print("%-5s %-44s %5.1fs%s" % (st, f.name, f.secs, extra))
            # Every failed check, also of an expected failure: one that fails for a new reason
            # besides the listed one shows here.
            for e in f.errors[:8]:
                print("      | " + e)
            sys.stdout.flush()
    print("interop: %d flows: %d passed, %d failed, %d expected failures, %d unexpected passes"
          % (len(names), counts["PASS"], counts["FAIL"], counts["XFAIL"], counts["XPASS"]))
    if counts["XFAIL"]:
        print("EXPECTED FAILURES (tests/interop/xfail.txt): %d flows still fail; see the XFAIL lines above"
              % counts["XFAIL"])
    return 1 if counts["FAIL"] or (counts["XPASS"] and os.environ.get("INTEROP_STRICT")) else 0


if __name__ == "__main__":
    sys.exit(main())
