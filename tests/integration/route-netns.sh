#!/bin/sh
# SPDX-License-Identifier: MIT
# SDP c= from the routed source (src/net/route.c) when MEDIA_ADDRESS is unset and SIP listens on
# 0.0.0.0. Two private network namespaces this test creates (nothing outside them is touched):
# siprecd's, where the route toward the SRC's subnet has "src" on a dummy interface, and the
# SRC's, joined by a veth pair. The answer's c= (and the bound media socket) must be that source;
# after `ip addr del` of it and a new one taking its place, the next call advertises the new
# address, never the vanished one, and the deletion is logged for the session still using it.
. "$SRCDIR/tests/integration/lib.sh"
need python3 ip ss
[ "$(id -u)" = 0 ] || skip "needs root to create network namespaces"
NS=siprecd-rt-$$
SRS=$NS-srs
SRC=$NS-src
ip netns add "$SRS" 2>/dev/null || skip "ip netns add failed (no CAP_SYS_ADMIN or no netns support)"
ip netns add "$SRC" || { ip netns del "$SRS"; skip "ip netns add failed"; }
route_cleanup() {
	cleanup
	ip netns del "$SRS" 2>/dev/null
	ip netns del "$SRC" 2>/dev/null
}
trap route_cleanup EXIT

srs() { ip -n "$SRS" "$@"; }
src() { ip -n "$SRC" "$@"; }
srs link set lo up && src link set lo up &&
	srs link add srs0 type veth peer name src0 netns "$SRC" &&
	srs addr add 10.77.0.1/24 dev srs0 && srs link set srs0 up &&
	src addr add 10.77.0.2/24 dev src0 && src link set src0 up &&
	src addr add 10.77.9.2/32 dev lo && src route add default via 10.77.0.1 ||
	skip "cannot build the veth pair between the test namespaces"
# The media source lives on an interface of its own (dummy; lo where the module is missing).
MIF=med0
srs link add med0 type dummy 2>/dev/null && srs link set med0 up || MIF=lo
srs addr add 10.77.1.1/32 dev $MIF
srs route add 10.77.9.0/24 via 10.77.0.2 dev srs0 src 10.77.1.1
check_eq "kernel's source toward the SRC" 10.77.1.1 \
	"$(srs route get 10.77.9.2 | sed -n 's/.* src \([0-9.]*\).*/\1/p')"

sed -i 's/^SIP_LISTEN_ADDRESS=.*/SIP_LISTEN_ADDRESS=0.0.0.0/' "$CONF"
grep -q '^MEDIA_ADDRESS' "$CONF" && sed -i '/^MEDIA_ADDRESS/d' "$CONF"
SIPRECD_WRAPPER="ip netns exec $SRS"
start_siprecd MEDIA_ADDRESS=

# The SRC: one UDP SIP dialog per call id, from 10.77.9.2 (in the SRC namespace).
cat >"$T/src.py" <<'PY'
import json, re, socket, sys
op, callid, lport, srv, port, state = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), sys.argv[6]
me = "10.77.9.2"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((me, lport))
s.settimeout(10)
def req(method, cseq, to, body=b"", ctype=None, branch="z9hG4bK" + callid):
    h = ("%s sip:srs@%s:%d SIP/2.0\r\nVia: SIP/2.0/UDP %s:%d;branch=%s-%s%d\r\n"
         "From: <sip:src@%s>;tag=src1\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %d %s\r\n"
         "Max-Forwards: 70\r\nContact: <sip:src@%s:%d>;+sip.src\r\n"
         % (method, srv, port, me, lport, branch, method, cseq, me, to, callid, cseq, method, me, lport))
    if ctype:
        h += "Require: siprec\r\nContent-Type: %s\r\n" % ctype
    h += "Content-Length: %d\r\n\r\n" % len(body)
    s.sendto(h.encode() + body, (srv, port))
def final():
    while True:
        d, _ = s.recvfrom(65536)
        code = int(d.split(b" ", 2)[1])
        if code >= 200:
            return code, d
if op == "invite":
    sdp = ("v=0\r\no=src 1 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n"
           "m=audio 40000 RTP/AVP 0\r\na=label:1\r\na=sendonly\r\n" % (me, me))
    md = ('<?xml version="1.0" encoding="UTF-8"?>\r\n<recording xmlns="urn:ietf:params:xml:ns:recording:1">'
          '<datamode>complete</datamode><session session_id="s1"/>'
          '<participant participant_id="p1"><nameID aor="sip:a@x"/></participant>'
          '<stream stream_id="st1" session_id="s1"><label>1</label></stream></recording>\r\n')
    body = ("--b1\r\nContent-Type: application/sdp\r\n\r\n" + sdp +
            "--b1\r\nContent-Type: application/rs-metadata+xml\r\nContent-Disposition: recording-session\r\n\r\n"
            + md + "--b1--\r\n").encode()
    req("INVITE", 1, "<sip:srs@%s>" % srv, body, "multipart/mixed;boundary=b1")
    code, d = final()
    to = re.search(rb"\r\nTo: *([^\r]*)", d, re.I).group(1).decode()
    req("ACK", 1, to, branch="z9hG4bKack" + callid)
    json.dump({"to": to}, open(state, "w"))
    head, _, sdp = d.partition(b"\r\n\r\n")
    c = re.search(rb"c=IN IP4 ([0-9.]+)", sdp)
    m = re.search(rb"m=audio ([0-9]+)", sdp)
    print(code, c.group(1).decode() if c else "-", m.group(1).decode() if m else "-")
else:
    to = json.load(open(state))["to"]
    req("BYE", 2, to)
    print(final()[0])
PY
call() { # OP CALLID LOCALPORT
	ip netns exec "$SRC" python3 "$T/src.py" "$1" "$2" "$3" 10.77.0.1 "$SIP_PORT" "$T/$2.json" 2>>"$T/src.err"
}
bound() { # ADDR PORT: a UDP socket of siprecd's bound exactly there
	ip netns exec "$SRS" ss -Hunl "src $1:$2" | grep -q .
}

set -- $(call invite route-call-1 5071)
check_eq "first call answered" 200 "${1:-none}"
check_eq "first answer's c= is the routed source" 10.77.1.1 "${2:-none}"
check "its media socket is bound on 10.77.1.1:${3:-0}" bound 10.77.1.1 "${3:-0}"

# The source address vanishes while call 1 still advertises it; another one replaces it.
srs addr del 10.77.1.1/32 dev $MIF
srs addr add 10.77.1.2/32 dev $MIF
srs route replace 10.77.9.0/24 via 10.77.0.2 dev srs0 src 10.77.1.2
check "the deletion is logged with the sessions advertising it" \
	wait_for "$T/siprecd.log" "10\.77\.1\.1 was deleted while 1 active session" 10

set -- $(call invite route-call-2 5072)
check_eq "second call answered" 200 "${1:-none}"
check_eq "second answer's c= is the new source (not the vanished one)" 10.77.1.2 "${2:-none}"
check "its media socket is bound on 10.77.1.2:${3:-0}" bound 10.77.1.2 "${3:-0}"
check_eq "BYE of call 1" 200 "$(call bye route-call-1 5071)"
check_eq "BYE of call 2" 200 "$(call bye route-call-2 5072)"

stop_siprecd
check_eq "siprecd exit status" 0 "$STOP_RC"
finish
