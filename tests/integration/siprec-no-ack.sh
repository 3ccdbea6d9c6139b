#!/bin/sh
# SPDX-License-Identifier: MIT
# An SRC that never ACKs the 200 OK: siprecd retransmits the 200 over UDP on Timer G (0.5, 1,
# 2, 4, 4... s) and tears the session down at Timer H (64*T1 = 32 s) with end reason 'no-ack'.
# (Takes about 33 s: the RFC timers are not shortened for the test.)
. "$SRCDIR/tests/integration/lib.sh"
need python3 sqlite3
start_siprecd
python3 - "$SIP_PORT" >"$T/noack.out" 2>&1 <<'PY'
import socket, sys, time
port = int(sys.argv[1])
sdp = ("v=0\r\no=src 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio 40000 RTP/AVP 0\r\na=label:1\r\na=sendonly\r\n")
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", 0))
lp = u.getsockname()[1]
invite = ("INVITE sip:srs@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKnoack1\r\n"
          "From: <sip:src@127.0.0.1>;tag=f1\r\nTo: <sip:srs@127.0.0.1>\r\nCall-ID: no-ack-1\r\n"
          "CSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContact: <sip:src@127.0.0.1:%d>\r\n"
          "Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s" % (lp, lp, len(sdp), sdp))
u.sendto(invite.encode(), ("127.0.0.1", port))
u.settimeout(1)
t0, oks = time.time(), []
while time.time() - t0 < 34:
    try:
        d = u.recv(65536).decode(errors="replace")
    except socket.timeout:
        continue
    if d.startswith("SIP/2.0 200"):
        oks.append(time.time() - t0)
print("200s:", len(oks), " ".join("%.2f" % x for x in oks))
PY
cat "$T/noack.out"
n=$(sed -n 's/^200s: \([0-9]*\).*/\1/p' "$T/noack.out")
# 0, 0.5, 1.5, 3.5, 7.5, 11.5 ... 31.5 s: eleven 200s before Timer H; each retransmission is
# timed from the one before, so a late timer shifts the rest and one may fall past Timer H.
[ "${n:-0}" -ge 10 ] && ok "200 OK retransmitted on Timer G ($n times)" || bad "200 OK sent ${n:-0} times"
# Each interval is Timer G's: T1 doubling up to T2 (0.5, 1, 2, 4, 4 ... s), never shorter; a
# late timer makes one longer (0.75 s allowed; the daemon is otherwise idle).
iv=$(sed -n 's/^200s: [0-9]* //p' "$T/noack.out" | awk '{
	g = 0.5; bad = ""
	for (i = 2; i <= NF; i++) {
		d = $i - $(i - 1)
		if (d < g - 0.1 || d > g + 0.75) bad = bad sprintf(" #%d %.1fs (expected %.1f)", i - 1, d, g)
		g = (2 * g > 4) ? 4 : 2 * g
	}
	print bad
}')
[ -z "$iv" ] && ok "retransmission intervals double from T1 to T2 (0.5, 1, 2, 4, 4... s)" || bad "Timer G intervals wrong:$iv"
check_eq "session torn down by Timer H" "ended|no-ack" "$(catalog "SELECT state, end_reason FROM sessions WHERE call_id='no-ack-1'")"
# An INVITE never ACKed (a spoofed one) leaves no file behind (issue 11 item 4).
check_eq "its recording file was removed" 0 "$(find "$T/state/recordings" -name '*.siprec' | wc -l)"
check_eq "its recording row says so" "shredded" "$(catalog "SELECT state FROM recordings")"
stop_siprecd
check_eq "exit status" 0 "$STOP_RC"
finish
