#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# An independent reader of the .siprec format, written from docs/FORMAT.md and docs/KEYS.md
# alone with Python's `cryptography` (no code of siprecd's): header, chunk framing, associated
# data, deterministic nonces, AES-256-GCM / ChaCha20-Poly1305 / unencrypted tags, frames; the
# recording key is HKDF-SHA256(DEK, info "siprecd recording" || recording id) with the DEK
# unwrapped from the catalog under the KEK. Tests compare what it reads with the documented
# vectors and with siprec-export's output, so the format has a second implementation.
#
#   siprec-read.py vectors DIR
#       checks the committed test vectors against the values docs/FORMAT.md lists
#   siprec-read.py frames FILE.siprec (--key HEX | --catalog DB --kek-file FILE
#                                      [--legacy-key-file FILE])
#       prints one JSON line per frame: {"type","arrival","ssrc","seq","ts","pt","marker",
#       "payload"(hex)} and last a {"complete": bool, "chunks": N, "key_id", "key_version"}
#   siprec-read.py compare-pcap FILE.siprec PCAP (--key HEX | --catalog DB --kek-file FILE)
#       checks that the RTP packets of siprec-export --pcap (one recording) carry exactly the
#       RTP frames this reader decrypted (SSRC, sequence, timestamp, payload type, payload)
# Exit 0 when everything verified, 1 with the reason otherwise.
import hashlib
import json
import os
import sqlite3
import struct
import sys

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

BLOCK = 4096
MAGIC = b"SIPREC\x00\x01"


class FormatError(Exception):
    pass


def parse_header(blk):
    if len(blk) != BLOCK:
        raise FormatError("truncated header")
    if blk[:8] != MAGIC:
        raise FormatError("bad magic")
    version, hsize, alg, nlen, tlen, flags, csize, kver, rate, pt = struct.unpack_from(
        "<HHBBBBIIIB", blk, 8)
    if version != 1 or hsize != BLOCK:
        raise FormatError(f"version {version} header size {hsize}")
    if alg not in (0, 1, 2) or nlen != 12 or tlen != 16 or flags != 0:
        raise FormatError(f"algorithm {alg} nonce {nlen} tag {tlen} flags {flags}")
    if csize % BLOCK or not BLOCK <= csize <= 16 << 20:
        raise FormatError(f"chunk size {csize}")
    if blk[29:32] != b"\0\0\0" or blk[44:48] != b"\0\0\0\0":
        raise FormatError("reserved bytes not zero")
    created, = struct.unpack_from("<Q", blk, 32)
    prefix = blk[40:44]
    off = 48
    # The sixth string, the payload map, reads as empty in files written before it existed.
    names = ("key_id", "recording_id", "session_id", "label", "codec", "payload_map")
    limits = (63, 63, 255, 255, 31, 2048)
    h = {"algorithm": alg, "chunk_size": csize, "key_version": kver, "clock_rate": rate,
         "payload_type": pt, "created": created, "nonce_prefix": prefix}
    for name, lim in zip(names, limits):
        n, = struct.unpack_from("<H", blk, off)
        s = blk[off + 2:off + 2 + n]
        if n > lim or b"\0" in s or off + 2 + n > BLOCK:
            raise FormatError(f"string {name} malformed")
        h[name] = s.decode()
        off += 2 + n
    if any(blk[off:]):
        raise FormatError("header padding not zero")
    if alg == 0 and h["key_id"]:
        raise FormatError("unencrypted header with a key id")
    return h


def hkdf_recording_key(data_key, recording_id):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"siprecd recording" + recording_id.encode()).derive(data_key)


def unwrap_dek(db, kek, key_id, version):
    """docs/KEYS.md: wrapped = nonce(12) || ct(32) || tag(16), AES-256-GCM under the KEK,
    AAD "siprecd dek v1\\0" key_id "\\0" be32(version) kek_id."""
    c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    row = c.execute("SELECT wrapped, kek_id FROM keys WHERE key_id = ? AND version = ? "
                    "AND algorithm = 'AES-256'", (key_id, version)).fetchone()
    if not row or row[0] is None:
        raise FormatError(f"no wrapped data key {key_id} v{version} in the catalog")
    w, kek_id = row
    aad = b"siprecd dek v1\0" + key_id.encode() + b"\0" + struct.pack(">I", version) + kek_id.encode()
    return AESGCM(kek).decrypt(w[:12], w[12:], aad)


def open_chunk(h, hhash, key, idx, raw):
    magic, flags, stored_idx, L = struct.unpack_from("<4sIQI", raw, 0)
    if magic != b"SRCK" or flags & ~1:
        raise FormatError(f"chunk {idx}: bad-header")
    if stored_idx != idx:
        raise FormatError(f"chunk {idx}: out-of-order (stored {stored_idx})")
    if L > h["chunk_size"] - 48:
        raise FormatError(f"chunk {idx}: bad-header (length {L})")
    nonce = raw[20:32]
    if nonce != h["nonce_prefix"] + struct.pack("<Q", idx):
        raise FormatError(f"chunk {idx}: auth-failed (nonce is not this file's)")
    ct, tag = raw[32:32 + L], raw[32 + L:48 + L]
    if len(tag) != 16:
        raise FormatError(f"chunk {idx}: truncated")
    if any(raw[48 + L:]):
        raise FormatError(f"chunk {idx}: bad-header (padding)")
    aad = hhash + struct.pack("<QII", idx, flags, L)
    alg = h["algorithm"]
    try:
        if alg == 1:
            pt = AESGCM(key).decrypt(nonce, ct + tag, aad)
        elif alg == 2:
            pt = ChaCha20Poly1305(key).decrypt(nonce, ct + tag, aad)
        else:
            if hashlib.sha256(aad + ct).digest()[:16] != tag:
                raise InvalidTag()
            pt = ct
    except InvalidTag:
        raise FormatError(f"chunk {idx}: auth-failed")
    return flags, pt


def parse_frames(pt, idx):
    frames, off = [], 0
    while off < len(pt):
        if len(pt) - off < 24:
            raise FormatError(f"chunk {idx}: frame header cut")
        typ, plen, arr, ssrc, seq, ts, fpt, ff = struct.unpack_from("<HHQIHIBB", pt, off)
        if typ not in (1, 2, 3) or off + 24 + plen > len(pt):
            raise FormatError(f"chunk {idx}: bad frame at {off}")
        frames.append({"type": typ, "arrival": arr, "ssrc": ssrc, "seq": seq, "ts": ts,
                       "pt": fpt, "marker": bool(ff & 1), "payload": pt[off + 24:off + 24 + plen].hex()})
        off += 24 + plen
    return frames


def read(path, key=None, db=None, kek=None, legacy=None):
    data = open(path, "rb").read()
    if len(data) % BLOCK:
        raise FormatError("file size is not a multiple of 4096")
    h = parse_header(data[:BLOCK])
    if h["algorithm"] and key is None and h["key_id"].startswith("file:") and legacy:
        # docs/FORMAT.md: the same HKDF over the legacy key file's key.
        key = hkdf_recording_key(legacy, h["recording_id"])
    if h["algorithm"] and key is None:
        if not h["key_id"].startswith("dek:"):
            raise FormatError(f"key id {h['key_id']}: give --key or --legacy-key-file")
        key = hkdf_recording_key(unwrap_dek(db, kek, h["key_id"], h["key_version"]),
                                 h["recording_id"])
    hhash = hashlib.sha256(data[:BLOCK]).digest()
    off, idx, frames, complete = BLOCK, 0, [], False
    while off < len(data):
        if complete:
            raise FormatError("trailing-data after the FINAL chunk")
        if len(data) - off < 48:
            raise FormatError(f"chunk {idx}: truncated")
        L, = struct.unpack_from("<I", data, off + 16)
        size = min(h["chunk_size"], -(-(48 + L) // BLOCK) * BLOCK)
        if off + size > len(data):
            raise FormatError(f"chunk {idx}: truncated")
        flags, pt = open_chunk(h, hhash, key, idx, data[off:off + size])
        frames += parse_frames(pt, idx)
        complete = bool(flags & 1)
        off += size
        idx += 1
    return h, frames, complete, idx


# The frames docs/FORMAT.md lists for the vectors.
DOC_FRAMES = [
    (1, 1700000000000000000, 0x01020304, 1000, 160000, 0, True, "fffe7f00"),
    (1, 1700000000020000000, 0x01020304, 1001, 160160, 0, False, "01020304"),
    (1, 1700000000040000000, 0x01020304, 1002, 160320, 0, False, "aabbccdd"),
    (3, 1700000000100000000, 0x01020304, 0, 0, 0, False, "01"),
]
DOC_SHA256 = {
    "v1-none.siprec": "109ffbfbe679c83a274ee5bbd0619567e0ca5f31967d96ca3fc5519be14142e8",
    "v1-aes-256-gcm.siprec": "336086dab5d08ab20c9b06420d4210086bbfe1352bda73ff6817207a16f66ace",
    "v1-chacha20-poly1305.siprec": "b6d45cfaec4992c959a45f3966dfdcb7edbbfe86b919ed97e54d75f60bb37dda",
}
DOC_CHUNK0 = bytes.fromhex(
    "0100040000002a36fe9c971704030201e803007102000001fffe7f00"
    "01000400002d5b37fe9c971704030201e903a071020000000102030401000400005a8c38fe9c97"
    "1704030201ea03407202000000aabbccdd")


def check_vectors(d):
    errs = []
    # The key derivation known answer of docs/FORMAT.md.
    kd = hkdf_recording_key(bytes(range(32)), "rec-1").hex()
    if kd != "3ce7909f5c110db5164c325d1b3f7295ec9393093af8f55d410febb055acee25":
        errs.append(f"HKDF known answer: {kd}")
    for name, alg in (("v1-none.siprec", 0), ("v1-aes-256-gcm.siprec", 1),
                      ("v1-chacha20-poly1305.siprec", 2)):
        p = f"{d}/{name}"
        data = open(p, "rb").read()
        if hashlib.sha256(data).hexdigest() != DOC_SHA256[name]:
            errs.append(f"{name}: SHA-256 differs from docs/FORMAT.md")
        if len(data) != 12288:
            errs.append(f"{name}: {len(data)} bytes, not 12288")
        try:
            h, frames, complete, chunks = read(p, key=bytes(range(32)))
        except FormatError as e:
            errs.append(f"{name}: {e}")
            continue
        want_h = {"algorithm": alg, "chunk_size": 4096, "key_version": 1, "clock_rate": 8000,
                  "payload_type": 0, "created": 1700000000000000000,
                  "nonce_prefix": bytes.fromhex("a1b2c3d4"),
                  "key_id": "" if alg == 0 else "test:vector",
                  "recording_id": "6f9619ff-8b86-d011-b42d-00c04fc964ff",
                  "session_id": "cs-0001", "label": "1", "codec": "PCMU", "payload_map": ""}
        if h != want_h:
            errs.append(f"{name}: header {h}")
        got = [(f["type"], f["arrival"], f["ssrc"], f["seq"], f["ts"], f["pt"], f["marker"],
                f["payload"]) for f in frames]
        if got != DOC_FRAMES:
            errs.append(f"{name}: frames {got}")
        if not complete or chunks != 2:
            errs.append(f"{name}: complete {complete} chunks {chunks}")
        if alg == 0 and data[BLOCK + 32:BLOCK + 32 + 84] != DOC_CHUNK0:
            errs.append(f"{name}: chunk 0 plaintext differs from docs/FORMAT.md")
        # Every single-bit change of a chunk must be refused (not only some).
        for pos in (BLOCK + 8, BLOCK + 40, BLOCK + 32 + 84, 2 * BLOCK + 33):
            bad = bytearray(data)
            bad[pos] ^= 1
            tmp = os.environ.get("TMPDIR", "/tmp") + f"/siprec-read-{os.getpid()}.siprec"
            open(tmp, "wb").write(bad)
            try:
                read(tmp, key=bytes(range(32)))
                errs.append(f"{name}: a flipped bit at {pos} was accepted")
            except FormatError:
                pass
            os.unlink(tmp)
    print(f"vectors: {'; '.join(errs) if errs else 'all three read as docs/FORMAT.md says'}")
    return not errs


def pcap_rtp(path):
    data = open(path, "rb").read()
    magic, = struct.unpack_from("<I", data, 0)
    if magic not in (0xa1b2c3d4, 0xa1b23c4d):
        raise FormatError("not a little-endian pcap")
    link, = struct.unpack_from("<I", data, 20)
    off, out = 24, []
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack_from("<IIII", data, off)
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if link == 1:  # Ethernet
            pkt = pkt[14:]
        ihl = (pkt[0] & 15) * 4
        udp = pkt[ihl + 8:]
        if len(udp) < 12 or udp[0] >> 6 != 2 or 192 <= udp[1] <= 223:
            continue  # not RTP: RTCP by its packet type (RFC 5761 §4)
        cc = udp[0] & 15
        hl = 12 + 4 * cc
        if udp[0] & 0x10:
            hl += 4 + 4 * struct.unpack_from(">H", udp, hl + 2)[0]
        end = len(udp) - (udp[-1] if udp[0] & 0x20 else 0)
        seq, ts, ssrc = struct.unpack_from(">HII", udp, 2)
        out.append((ssrc, seq, ts, udp[1] & 0x7f, udp[hl:end].hex()))
    return out


def main():
    a = sys.argv[1:]
    if len(a) == 2 and a[0] == "vectors":
        sys.exit(0 if check_vectors(a[1]) else 1)
    opts = {}
    rest = []
    i = 0
    while i < len(a):
        if a[i] in ("--key", "--catalog", "--kek-file", "--legacy-key-file"):
            opts[a[i]] = a[i + 1]
            i += 2
        else:
            rest.append(a[i])
            i += 1
    key = bytes.fromhex(opts["--key"]) if "--key" in opts else None
    kek = bytes.fromhex(open(opts["--kek-file"]).read().strip()) if "--kek-file" in opts else None
    legacy = (bytes.fromhex(open(opts["--legacy-key-file"]).read().strip())
              if "--legacy-key-file" in opts else None)
    try:
        h, frames, complete, chunks = read(rest[1], key, opts.get("--catalog"), kek, legacy)
    except (FormatError, OSError, InvalidTag) as e:
        sys.exit(f"siprec-read: {rest[1]}: {e}")
    if rest[0] == "frames":
        for f in frames:
            print(json.dumps(f))
        print(json.dumps({"complete": complete, "chunks": chunks, "key_id": h["key_id"],
                          "key_version": h["key_version"], "codec": h["codec"]}))
        sys.exit(0)
    if rest[0] == "compare-pcap":
        mine = [(f["ssrc"], f["seq"], f["ts"], f["pt"], f["payload"]) for f in frames if f["type"] == 1]
        try:
            theirs = pcap_rtp(rest[2])
        except (OSError, FormatError, struct.error) as e:
            sys.exit(f"siprec-read: {rest[2]}: {e}")
        if not complete:
            sys.exit(f"siprec-read: {rest[1]}: incomplete (no FINAL chunk)")
        if mine != theirs:
            n = next((k for k in range(min(len(mine), len(theirs))) if mine[k] != theirs[k]),
                     min(len(mine), len(theirs)))
            sys.exit(f"siprec-read: {len(mine)} RTP frames here, {len(theirs)} in the pcap; "
                     f"first difference at packet {n}")
        print(f"{rest[1]}: {len(mine)} RTP frames in {chunks} chunks, key {h['key_id']} "
              f"v{h['key_version']}: identical to siprec-export's pcap")
        sys.exit(0)
    sys.exit("usage: see the header of tests/helpers/siprec-read.py")


if __name__ == "__main__":
    main()
