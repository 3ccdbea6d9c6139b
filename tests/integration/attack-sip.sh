#!/bin/sh
# SPDX-License-Identifier: MIT
# Findings of the red-team pass of issue 12 (docs/SECURITY.md), each as the attacker sees it:
# - a BYE naming a live dialog's Call-ID and siprecd's To tag, but with another From tag, sent
#   from another TCP connection, is 481 and the call goes on (RFC 3261 §12: a dialog is Call-ID,
#   local tag and remote tag); the SRC's own BYE ends it;
# - an SDP offer over one of the parser's limits other than the m= lines' is refused with a
#   Warning naming that limit, not MAX_STREAMS_PER_SESSION;
# - two m= lines of one offer that share a label (or whose implicit label, m<index>, another
#   line names) are refused 488 with a Warning naming it: they were two recordings of one
#   catalog stream, the first one's counters overwritten;
# - rs-metadata over one of its limits is refused 413 with a Warning naming it (element nesting),
#   not "too large";
# - a multipart body of 1,500 text/plain parts is 413 Too Many Body Parts, not 415;
# - a Session-Expires below MIN_SESSION_EXPIRES is answered "422 Session Interval Too Small";
# - with the control socket's mode widened, 64 idle connections of another user do not lock
#   root out of siprecctl: root takes the oldest one's slot, the other user is refused.
. "$SRCDIR/tests/integration/lib.sh"
need python3 setpriv sqlite3
[ -x /usr/bin/python3 ] || skip "/usr/bin/python3 (run as another user) not installed"
CTL=$BUILD/siprecctl
S=$T/run/control
start_siprecd

python3 - "$SIP_PORT" >"$T/sip.out" 2>&1 <<'PY'
import random, re, socket, sys, time
port = int(sys.argv[1])
sdp = ("v=0\r\no=src 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio 40000 RTP/AVP 0\r\na=label:1\r\na=sendonly\r\n")

def body(s):
    return "--b1\r\nContent-Type: application/sdp\r\n\r\n" + s + "--b1--\r\n"

def req(method, cid, tag, cseq, totag=None, b="", extra=""):
    m = ("%s sip:srs@127.0.0.1 SIP/2.0\r\n"
         "Via: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK%x\r\nMax-Forwards: 70\r\n"
         "From: <sip:src@127.0.0.1>;tag=%s\r\nTo: <sip:srs@127.0.0.1>%s\r\nCall-ID: %s\r\n"
         "CSeq: %d %s\r\nContact: <sip:src@127.0.0.1:5999;transport=tcp>;+sip.src\r\n%s"
         % (method, random.getrandbits(48), tag, ";tag=" + totag if totag else "", cid, cseq,
            method, extra))
    if b:
        m += "Require: siprec\r\nContent-Type: multipart/mixed;boundary=b1\r\n"
    return (m + "Content-Length: %d\r\n\r\n" % len(b) + b).encode()

def final(s, method):
    """The first final response to method on s (its head), or ''."""
    buf, end = b"", time.time() + 10
    s.settimeout(0.2)
    while time.time() < end:
        try:
            d = s.recv(65536)
        except socket.timeout:
            continue
        if not d:
            break
        buf += d
        for head in buf.split(b"\r\n\r\n"):
            h = head.decode(errors="replace")
            if (h.startswith("SIP/2.0 ") and not h.startswith("SIP/2.0 1")
                    and re.search(r"(?im)^CSeq: *\d+ %s\s*$" % method, h)):
                return h
    return ""

def status(h):
    return h.split("\r\n", 1)[0]

# A dialog's BYE from another connection with another From tag
src = socket.create_connection(("127.0.0.1", port))
src.sendall(req("INVITE", "atk-dialog", "srctag", 1, b=body(sdp)))
ok = final(src, "INVITE")
print("invite:", status(ok))
totag = re.search(r"(?im)^To:.*;tag=([^;\s>]+)", ok).group(1)
src.sendall(req("ACK", "atk-dialog", "srctag", 1, totag=totag))
evil = socket.create_connection(("127.0.0.1", port))
evil.sendall(req("BYE", "atk-dialog", "eviltag", 2, totag=totag))
print("spoofed bye:", status(final(evil, "BYE")))
src.sendall(req("OPTIONS", "atk-dialog", "srctag", 3, totag=totag))
print("in-dialog options after it:", status(final(src, "OPTIONS")))
src.sendall(req("BYE", "atk-dialog", "srctag", 4, totag=totag))
print("src bye:", status(final(src, "BYE")))

# SDP limits other than the m= lines'
for name, s in [("formats", sdp.replace("RTP/AVP 0", "RTP/AVP " + " ".join(["0"] * 100))),
                ("label", sdp.replace("a=label:1", "a=label:" + "x" * 1000))]:
    c = socket.create_connection(("127.0.0.1", port))
    c.sendall(req("INVITE", "atk-sdp-" + name, "t", 1, b=body(s)))
    h = final(c, "INVITE")
    w = re.search(r"(?im)^Warning: (.*)$", h)
    print("sdp %s: %s warning %s" % (name, status(h), w.group(1) if w else "none"))

# two m= lines with one label (RFC 4574: unique within a session), and an unlabelled second
# line beside one labelled "m1" (the name siprecd gives the unlabelled one)
two = sdp + "m=audio 40002 RTP/AVP 0\r\na=label:1\r\na=sendonly\r\n"
implicit = sdp.replace("a=label:1", "a=label:m1") + "m=audio 40002 RTP/AVP 0\r\na=sendonly\r\n"
for name, s in [("shared", two), ("implicit", implicit)]:
    c = socket.create_connection(("127.0.0.1", port))
    c.sendall(req("INVITE", "atk-label-" + name, "t", 1, b=body(s)))
    h = final(c, "INVITE")
    w = re.search(r"(?im)^Warning: (.*)$", h)
    print("label %s: %s warning %s" % (name, status(h), w.group(1) if w else "none"))

# rs-metadata over a limit other than its size: 100 nested elements
deep = ("<recording xmlns='urn:ietf:params:xml:ns:recording:1'>" + "<x>" * 100 + "</x>" * 100 +
        "</recording>")
c = socket.create_connection(("127.0.0.1", port))
c.sendall(req("INVITE", "atk-md-deep", "t", 1, b=body(sdp)[:-len("--b1--\r\n")] +
              "--b1\r\nContent-Type: application/rs-metadata+xml\r\n"
              "Content-Disposition: recording-session\r\n\r\n" + deep + "\r\n--b1--\r\n"))
h = final(c, "INVITE")
w = re.search(r"(?im)^Warning: (.*)$", h)
print("metadata nested 100 deep: %s warning %s" % (status(h), w.group(1) if w else "none"))

# A multipart body over its part count: 1,500 text/plain parts after the SDP (RFC 3261 §21.4.11:
# 413 names the limit; 415 would tell the SRC to drop a type, not to send fewer parts)
c = socket.create_connection(("127.0.0.1", port))
c.sendall(req("INVITE", "atk-mp-parts", "t", 1, b=body(sdp)[:-len("--b1--\r\n")] +
              "--b1\r\nContent-Type: text/plain\r\n\r\nx\r\n" * 1500 + "--b1--\r\n"))
h = final(c, "INVITE")
w = re.search(r"(?im)^Warning: (.*)$", h)
print("multipart 1500 text/plain parts: %s warning %s" % (status(h), w.group(1) if w else "none"))

# Session-Expires below the floor
c = socket.create_connection(("127.0.0.1", port))
c.sendall(req("INVITE", "atk-se", "t", 1, b=body(sdp), extra="Session-Expires: 1\r\nSupported: timer\r\n"))
print("session-expires 1:", status(final(c, "INVITE")))
PY
cat "$T/sip.out"
check "the SRC's INVITE answered 200" grep -q '^invite: SIP/2.0 200' "$T/sip.out"
check "a BYE with another From tag from another connection: 481" \
	grep -q '^spoofed bye: SIP/2.0 481' "$T/sip.out"
check "the call goes on after it (in-dialog OPTIONS 200)" \
	grep -q '^in-dialog options after it: SIP/2.0 200' "$T/sip.out"
check "the SRC's own BYE: 200" grep -q '^src bye: SIP/2.0 200' "$T/sip.out"
check "100 formats on one m= line: 488 naming the formats" \
	grep -q '^sdp formats: SIP/2.0 488 .*too many formats in m= line' "$T/sip.out"
check "a 1000-byte a=label: 488 naming the label" \
	grep -q '^sdp label: SIP/2.0 488 .*a=label too long' "$T/sip.out"
check "neither named MAX_STREAMS_PER_SESSION" sh -c "! grep -q '^sdp .*MAX_STREAMS_PER_SESSION' '$T/sip.out'"
check "two m= lines labelled 1: 488 naming the shared label" \
	grep -q "^label shared: SIP/2.0 488 .*m= lines 1 and 2 share the label '1'" "$T/sip.out"
check "an unlabelled second m= line beside one labelled m1: 488" \
	grep -q "^label implicit: SIP/2.0 488 .*m= lines 1 and 2 share the label 'm1'" "$T/sip.out"
check "no recording row shares a stream row" \
	test "$(catalog 'select count(*) from recordings group by stream_id having count(*) > 1' | wc -l)" = 0
check "rs-metadata nested 100 deep: 413 naming the nesting, not the size" \
	grep -q '^metadata nested 100 deep: SIP/2.0 413 .*recording metadata over a limit: element nesting' "$T/sip.out"
check "1,500 text/plain parts: 413 Too Many Body Parts naming the limit, not 415" \
	grep -q '^multipart 1500 text/plain parts: SIP/2.0 413 Too Many Body Parts warning 399 siprecd "multipart body over a limit: at most 8 parts' "$T/sip.out"
check "Session-Expires: 1 answered '422 Session Interval Too Small'" \
	grep -q '^session-expires 1: SIP/2.0 422 Session Interval Too Small' "$T/sip.out"

# ---- the control socket, widened to others: their idle connections do not lock root out
chmod 755 "$T" "$T/run"
chmod 666 "$S"
setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/python3 - "$S" <<'PY' >"$T/hold.ready" 2>&1 &
import socket, sys, time
held = []
for i in range(64):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    held.append(s)
print(len(held), flush=True)
time.sleep(60)
PY
HOLD=$!
BG_PIDS="$BG_PIDS $HOLD"
wait_for "$T/hold.ready" '^64$' 10 || bad "the other user's 64 connections were not made"
sleep 0.5
setpriv --reuid=nobody --regid=nogroup --clear-groups env SIPRECD_CONTROL="$S" timeout 10 \
	"$CTL" status >/dev/null 2>&1
check "the other user's 65th connection is refused" test $? -ne 0
SIPRECD_CONTROL=$S timeout 10 "$CTL" status >"$T/status.out" 2>&1
check_eq "root's siprecctl status with 64 idle connections of another user: exit 0" 0 $?
check "the slot taken is logged with both uids" \
	grep -qE 'control: 64 connections open: closing one of uid [0-9]+ pid [0-9]+ for uid 0' "$T/siprecd.log"
kill "$HOLD" 2>/dev/null
wait "$HOLD" 2>/dev/null

check "siprecd still running" kill -0 "$DAEMON_PID"
stop_siprecd
check_eq "exit status" 0 "$STOP_RC"
check "no sanitizer report" sh -c "! grep -qiE 'sanitizer|runtime error' '$T/siprecd.log'"
finish
