#!/bin/sh
# SPDX-License-Identifier: MIT
# Regression test of a remote use-after-free (issue 11 item 1): one TCP segment carrying
# INVITE(Call-ID X, From tag A, branch b1), INVITE(X, tag B, b2), CANCEL(b1), ACK(b1). The
# CANCEL must reach the INVITE transaction it names (RFC 3261 §9.2: by branch, not by Call-ID),
# the second INVITE of a Call-ID still being set up is refused with 500 and Retry-After
# (RFC 3261 §14.2), the ACK then frees transaction b1 while its session still waits for its
# recording files: the session must not touch it. Expected for every round: a final response to
# both INVITEs, no transaction left in Proceeding, no session left, the daemon alive (under ASan
# a use-after-free aborts it) and a clean exit.
. "$SRCDIR/tests/integration/lib.sh"
need python3 sqlite3
MPORT=$(free_port)
echo "METRICS_LISTEN=127.0.0.1:$MPORT" >>"$CONF"
start_siprecd
# Each round holds one media port pair until its session ends: stay within the test's range.
ROUNDS=8
python3 - "$SIP_PORT" "$ROUNDS" >"$T/race.out" 2>&1 <<'PY'
import socket, sys, time
port, rounds = int(sys.argv[1]), int(sys.argv[2])
sdp = ("v=0\r\no=src 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio 40000 RTP/AVP 0\r\na=label:1\r\na=sendonly\r\n")
body = ("--b1\r\nContent-Type: application/sdp\r\n\r\n" + sdp + "--b1--\r\n")
def common(cid, tag, branch):
    return ("Via: SIP/2.0/TCP 127.0.0.1:5999;branch=%s\r\n"
            "From: <sip:src@127.0.0.1>;tag=%s\r\nTo: <sip:srs@127.0.0.1>\r\nCall-ID: %s\r\n"
            "Max-Forwards: 70\r\n" % (branch, tag, cid))
def invite(cid, tag, branch):
    return ("INVITE sip:srs@127.0.0.1 SIP/2.0\r\n" + common(cid, tag, branch) + "CSeq: 1 INVITE\r\n"
            "Contact: <sip:src@127.0.0.1:5999;transport=tcp>;+sip.src\r\nRequire: siprec\r\n"
            "Content-Type: multipart/mixed;boundary=b1\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
def simple(method, cid, tag, branch):
    return ("%s sip:srs@127.0.0.1 SIP/2.0\r\n" % method + common(cid, tag, branch) +
            "CSeq: 1 %s\r\nContent-Length: 0\r\n\r\n" % method)
s = socket.create_connection(("127.0.0.1", port))
want = {}
for r in range(rounds):
    cid = "race-%d" % r
    b1, b2 = "z9hG4bKrace%da" % r, "z9hG4bKrace%db" % r
    want[b1] = want[b2] = None
    s.sendall((invite(cid, "tagA", b1) + invite(cid, "tagB", b2) +
               simple("CANCEL", cid, "tagA", b1) + simple("ACK", cid, "tagA", b1)).encode())
buf = b""
finals, extra = {}, {}
s.settimeout(0.5)
deadline = time.time() + 15
while time.time() < deadline and len(finals) < len(want):
    try:
        d = s.recv(65536)
    except socket.timeout:
        continue
    if not d:
        break
    buf += d
    while b"\r\n\r\n" in buf:
        head, rest = buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        clen = 0
        for line in lines:
            if line.lower().startswith("content-length:"):
                clen = int(line.split(":", 1)[1])
        if len(rest) < clen:
            break
        buf = rest[clen:]
        code = int(lines[0].split()[1])
        via = [l for l in lines if l.lower().startswith("via:")][0]
        branch = via.split("branch=")[1].split(";")[0]
        cseq = [l for l in lines if l.lower().startswith("cseq:")][0].split(":", 1)[1].strip()
        print("response: %s %d %s" % (branch, code, cseq))
        if cseq.endswith("INVITE") and code >= 200:
            finals[branch] = code
            extra[branch] = [l for l in lines if l.lower().startswith("retry-after:")]
for b in sorted(want):
    print("final: %s %s %s" % (b, finals.get(b, "none"), " ".join(extra.get(b, []))))
PY
grep -v '^response' "$T/race.out"
check_eq "every INVITE got a final response" 0 "$(grep -c '^final: .* none' "$T/race.out")"
check_eq "every cancelled INVITE got 487" "$ROUNDS" "$(grep -c '^final: z9hG4bKrace[0-9]*a 487' "$T/race.out")"
check_eq "every concurrent INVITE of the same Call-ID got 500 with Retry-After" "$ROUNDS" \
	"$(grep -cE '^final: z9hG4bKrace[0-9]*b 500 Retry-After: ([0-9]|10)$' "$T/race.out")"
check "siprecd survived" kill -0 "$DAEMON_PID"
# Transactions leave Proceeding only through a final response; poll until the last ones end.
metric() {
	python3 -c 'import sys, urllib.request
for l in urllib.request.urlopen(sys.argv[1], timeout=5).read().decode().split("\n"):
    if l.startswith(sys.argv[2] + " "): print(l.split()[1])' "http://127.0.0.1:$MPORT/metrics" "$1" 2>/dev/null
}
i=0
while [ $i -lt 100 ] && [ "$(metric 'siprecd_sip_transactions{state="proceeding"}')" != 0 ]; do
	sleep 0.1
	i=$((i + 1))
done
check_eq "no transaction left in Proceeding" 0 "$(metric 'siprecd_sip_transactions{state="proceeding"}')"
i=0
while [ $i -lt 100 ] && [ "$(metric siprecd_calls_active)" != 0 ]; do
	sleep 0.1
	i=$((i + 1))
done
check_eq "no session left" 0 "$(metric siprecd_calls_active)"
i=0
while [ $i -lt 100 ] && [ "$(catalog "SELECT count(*) FROM recordings WHERE state = 'writing'")" != 0 ]; do
	sleep 0.1
	i=$((i + 1))
done
check_eq "no recording left open" 0 "$(catalog "SELECT count(*) FROM recordings WHERE state = 'writing'")"
# Cancelled before their 200 OK, with nothing recorded: their files are deleted.
check_eq "no recording file left by a cancelled INVITE" 0 "$(find "$T/state/recordings" -name '*.siprec' | wc -l)"
check_eq "every recording row says so" "$ROUNDS" "$(catalog "SELECT count(*) FROM recordings WHERE state = 'shredded'")"
stop_siprecd
check_eq "exit status" 0 "$STOP_RC"
check "no sanitizer report" sh -c "! grep -qE 'AddressSanitizer|runtime error' '$T/siprecd.log'"
finish
