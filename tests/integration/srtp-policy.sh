#!/bin/sh
# SPDX-License-Identifier: MIT
# SDES session parameters and SRTP_POLICY=required (issue 11 item 10), against a small Python
# SRC that writes its own a=crypto lines and protects its own SRTP (RFC 3711 AES-CM + HMAC-SHA1,
# MKI): KDR=4 is refused with 488 and a Warning naming KDR (libsrtp2 derives keys once); a call
# with two MKI-tagged keys and WSH=128 records every packet under both keys (before, MKI was
# echoed but never given to libsrtp2: every packet failed authentication); under
# SRTP_POLICY=required, SDES over UDP is refused unless SRTP_ALLOW_SDES_OVER_PLAIN_SIP, and
# UNENCRYPTED_SRTP is refused, while siprec-src's SRTP over TLS records. Also: packets of a
# payload type the offer lacks are counted and kept with their type; streams.ssrcs and
# streams.stream_id (from the metadata) are filled; a re-INVITE that moves the media to another
# port latches the stream anew (the old port's packets are then dropped).
. "${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/lib.sh"
need python3 sqlite3 jq
python3 -c 'import cryptography' 2>/dev/null || skip "python3-cryptography not installed"
SRC=$BUILD/siprec-src
[ -x "$SRC" ] || { bad "siprec-src not built"; finish; }

cat >"$T/uac.py" <<'PY'
# uac.py SIP_PORT CASE: one call with a hand-written a=crypto; prints "STATUS WARNING" and, when
# answered, sends 50 SRTP packets (AES_CM_128_HMAC_SHA1_80, SSRC 1234abcd), then BYE.
import base64, hmac, hashlib, os, re, socket, struct, sys, time
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

def aes_cm(key, iv16, n):
    e = Cipher(algorithms.AES(key), modes.CTR(iv16)).encryptor()
    return e.update(b"\0" * n) + e.finalize()

def kdf(mk, ms, label, n):  # RFC 3711 §4.3.1, KDR 0
    x = bytearray(ms + b"\0\0")
    x[7] ^= label
    return aes_cm(mk, bytes(x), n)

class Ctx:
    def __init__(self, key_salt, mki=b""):
        mk, ms = key_salt[:16], key_salt[16:]
        self.k, self.a, self.s = kdf(mk, ms, 0, 16), kdf(mk, ms, 1, 20), kdf(mk, ms, 2, 14)
        self.mki = mki
    def protect(self, hdr, payload, ssrc, seq, roc=0):  # RFC 3711 §3.1, §4.1.1, §4.2
        iv = int.from_bytes(self.s + b"\0\0", "big") ^ (ssrc << 64) ^ (((roc << 16) | seq) << 16)
        enc = bytes(a ^ b for a, b in zip(payload, aes_cm(self.k, iv.to_bytes(16, "big"), len(payload))))
        auth = hdr + enc
        tag = hmac.new(self.a, auth + struct.pack("!I", roc), hashlib.sha1).digest()[:10]
        return auth + self.mki + tag

port, case = int(sys.argv[1]), sys.argv[2]
k1, k2 = os.urandom(30), os.urandom(30)
b64 = lambda k: base64.b64encode(k).decode()
lines = {
    "kdr": ["1 AES_CM_128_HMAC_SHA1_80 inline:%s KDR=4" % b64(k1)],
    "plain": ["1 AES_CM_128_HMAC_SHA1_80 inline:%s" % b64(k1)],
    "mki": ["1 AES_CM_128_HMAC_SHA1_80 inline:%s|2^20|1:4;inline:%s|2^20|2:4 WSH=128" % (b64(k1), b64(k2))],
    "unencrypted": ["1 AES_CM_128_HMAC_SHA1_80 inline:%s UNENCRYPTED_SRTP" % b64(k1)],
    "move": ["1 AES_CM_128_HMAC_SHA1_80 inline:%s" % b64(k1)],
}[case]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); s.settimeout(5)
m = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); m.bind(("127.0.0.1", 0))
m2 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); m2.bind(("127.0.0.1", 0))
lp, mp = s.getsockname()[1], m.getsockname()[1]
def mkbody(mport, ver):
    sdp = ("v=0\r\no=src 1 %d IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" % ver +
           "m=audio %d RTP/SAVP 0\r\na=sendonly\r\na=label:1\r\n" % mport +
           "".join("a=crypto:%s\r\n" % l for l in lines))
    return ("--b\r\nContent-Type: application/sdp\r\n\r\n" + sdp +
            "--b\r\nContent-Type: application/rs-metadata+xml\r\nContent-Disposition: recording-session\r\n\r\n" +
            md + "\r\n--b--\r\n")
md = ("<?xml version='1.0'?><recording xmlns='urn:ietf:params:xml:ns:recording:1'>"
      "<datamode>complete</datamode><session session_id='c2Vzc2lvbjEyMzQ1Ng=='/>"
      "<participant participant_id='cGFydGljaXBhbnQxMjM0'><nameID aor='sip:a@example.com'/></participant>"
      "<stream stream_id='c3RyZWFtMTIzNDU2Nzg=' session_id='c2Vzc2lvbjEyMzQ1Ng=='><label>1</label></stream>"
      "<participantstreamassoc participant_id='cGFydGljaXBhbnQxMjM0'><send>c3RyZWFtMTIzNDU2Nzg=</send></participantstreamassoc>"
      "</recording>")
body = mkbody(mp, 1)
cid, tag = "%s-%s@uac" % (case, os.urandom(4).hex()), os.urandom(4).hex()
def req(method, cseq, to="", extra="", body=""):
    return ("%s sip:srs@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:src@127.0.0.1>;tag=%s\r\nTo: <sip:srs@127.0.0.1>%s\r\n"
            "Call-ID: %s\r\nCSeq: %d %s\r\nContact: <sip:src@127.0.0.1:%d>;+sip.src\r\n%s"
            "Content-Length: %d\r\n\r\n%s" % (method, port, lp, os.urandom(6).hex(), tag, to, cid,
                                             cseq, method, lp, extra, len(body.encode()), body)).encode()
s.sendto(req("INVITE", 1, extra="Require: siprec\r\nContent-Type: multipart/mixed;boundary=b\r\n", body=body),
         ("127.0.0.1", port))
while True:
    r = s.recv(65535).decode(errors="replace")
    code = int(r.split(" ", 2)[1])
    if code >= 200:
        break
w = re.search(r"^Warning: *(.*)$", r, re.M | re.I)
print(code, w.group(1).strip() if w else "-")
if code != 200:
    s.sendto(req("ACK", 1), ("127.0.0.1", port)); sys.exit(0)
totag = re.search(r"^To:.*(;tag=[^;\r\n]+)", r, re.M | re.I).group(1)
rport = int(re.search(r"^m=audio (\d+)", r, re.M).group(1))
s.sendto(req("ACK", 1, to=totag), ("127.0.0.1", port))
ssrc = 0x1234abcd
def final(sock):
    while True:
        r = sock.recv(65535).decode(errors="replace")
        if int(r.split(" ", 2)[1]) >= 200:
            return r
def rtp(sock, i):
    hdr = struct.pack("!BBHII", 0x80, 0, 100 + i, 160 * i, ssrc)
    sock.sendto(Ctx(k1).protect(hdr, bytes([0xff]) * 160, ssrc, 100 + i), ("127.0.0.1", rport))
    time.sleep(0.002)
if case == "move":
    # 10 packets, then a re-INVITE moving the media to another port: 10 from the new port are
    # recorded (latched anew), 5 more from the old one are not.
    for i in range(10):
        rtp(m, i)
    s.sendto(req("INVITE", 2, to=totag, extra="Content-Type: multipart/mixed;boundary=b\r\n",
                 body=mkbody(m2.getsockname()[1], 2)), ("127.0.0.1", port))
    print("reinvite", final(s).split(" ", 2)[1])
    s.sendto(req("ACK", 2, to=totag), ("127.0.0.1", port))
    for i in range(10, 20):
        rtp(m2, i)
    for i in range(20, 25):
        rtp(m, i)
    s.sendto(req("BYE", 3, to=totag), ("127.0.0.1", port))
    final(s)
    sys.exit(0)
for i in range(50):
    if case == "mki":
        c = Ctx(k1, b"\0\0\0\1") if i < 25 else Ctx(k2, b"\0\0\0\2")
    else:
        c = Ctx(k1)
    # five packets of a payload type the offer does not have (PCMA): counted, kept as pt 8
    pt = 8 if case == "plain" and 40 <= i < 45 else 0
    hdr = struct.pack("!BBHII", 0x80, pt, 100 + i, 160 * i, ssrc)
    m.sendto(c.protect(hdr, bytes([0xff]) * 160, ssrc, 100 + i), ("127.0.0.1", rport))
    time.sleep(0.002)
s.sendto(req("BYE", 2, to=totag), ("127.0.0.1", port))
while int(s.recv(65535).decode(errors="replace").split(" ", 2)[1]) < 200:
    pass
PY

uac() { timeout 30 python3 "$T/uac.py" "$SIP_PORT" "$1"; }
# stats CALL-ID-PREFIX: "packets auth_failures frames unnegotiated_pt ssrcs stream_id" of the
# last such call's stream, once final
stats() {
	i=0
	while [ $i -lt 100 ]; do
		r=$(catalog "SELECT st.packets || ' ' || st.srtp_auth_failures || ' ' || r.frames || ' ' || st.unnegotiated_pt || ' ' || coalesce(st.ssrcs, '-') || ' ' || coalesce(st.stream_id, '-') FROM streams st JOIN sessions s ON s.id = st.session_id JOIN recordings r ON r.stream_id = st.id WHERE s.call_id LIKE '$1-%' AND r.state = 'final' ORDER BY s.id DESC LIMIT 1")
		[ -n "$r" ] && break
		sleep 0.1
		i=$((i + 1))
	done
	echo "$r"
}

start_siprecd
out=$(uac kdr)
check_eq "KDR=4: 488" 488 "${out%% *}"
check "KDR=4: the Warning names KDR" sh -c "echo '$out' | grep -q 'KDR'"
out=$(uac plain)
check_eq "one key: 200" 200 "${out%% *}"
check_eq "one key: 50 packets recorded, none failed (the Python SRTP is right), 5 of an unoffered payload type, SSRC and metadata stream_id in the catalog" \
	"50 0 50 5 1234abcd c3RyZWFtMTIzNDU2Nzg=" "$(stats plain)"
path=$(catalog "SELECT r.path FROM recordings r JOIN sessions s ON s.id = r.session_id WHERE s.call_id LIKE 'plain-%'")
$BUILD/siprec-export -k "$T/state/keys/master.key" --metadata-json "$path" >"$T/plain-meta.json" 2>&1
check_eq "one key: the recording keeps each frame's payload type (45 pt 0, 5 pt 8)" "0:45 8:5" \
	"$(jq -r '[.[0].payload_types[] | "\(.payload_type):\(.frames)"] | join(" ")' "$T/plain-meta.json")"
out=$(uac move)
check_eq "re-INVITE moving the media port: 200 twice" "200 reinvite 200" "$(echo $out | cut -d' ' -f1,3,4)"
stats move >/dev/null # waits for the recording to be final
check_eq "moved media: the 20 packets of the SRC recorded, the 5 from its old port dropped" "20 5" \
	"$(catalog "SELECT st.packets || ' ' || st.dropped_source FROM streams st JOIN sessions s ON s.id = st.session_id WHERE s.call_id LIKE 'move-%'")"
out=$(uac mki)
check_eq "two MKI keys, WSH=128: 200" 200 "${out%% *}"
check_eq "two MKI keys: 50 packets under both keys recorded, none failed" "50 0 50" "$(stats mki | cut -d' ' -f1-3)"
stop_siprecd

start_siprecd SRTP_POLICY=required
out=$(uac plain)
check_eq "required, SDES over UDP: 488" 488 "${out%% *}"
check "required, SDES over UDP: the Warning names the opt-out key" sh -c "echo '$out' | grep -q 'SRTP_ALLOW_SDES_OVER_PLAIN_SIP'"
timeout 60 $SRC -q -s 127.0.0.1:$TLS_PORT -t tls --insecure --srtp AES_CM_128_HMAC_SHA1_80 \
	--duration 1 --json >"$T/tls.json" 2>"$T/tls.err"
check_eq "required, SDES over TLS: recorded" "200" "$(jq '.calls[0].status' "$T/tls.json")"
stop_siprecd

start_siprecd SRTP_POLICY=required SRTP_ALLOW_SDES_OVER_PLAIN_SIP=true
out=$(uac unencrypted)
check_eq "required, UNENCRYPTED_SRTP: 488" 488 "${out%% *}"
check "required, UNENCRYPTED_SRTP: the Warning names it" sh -c "echo '$out' | grep -q 'UNENCRYPTED_SRTP'"
out=$(uac plain)
check_eq "required + SRTP_ALLOW_SDES_OVER_PLAIN_SIP: SDES over UDP accepted" 200 "${out%% *}"
stop_siprecd
finish
