#!/bin/sh
# SPDX-License-Identifier: MIT
# The send queue's byte cap (docs/SIP.md "Send queues and backpressure"): a peer that never
# reads while its requests keep coming (a 4 KiB receive buffer) is throttled at half of
# MAX_SEND_QUEUE and closed as stalled; the cap itself closes a connection only when answers
# owed for requests taken in before the throttle are larger than their estimate (the largest
# message sent on the connection so far, at least 1 KiB): here a burst of INVITEs whose 200s
# carry ~33 KB of SDP (32 formats, each with a long a=fmtp the answer repeats), over TCP and
# TLS. The connection is closed at the cap ("send queue full", reason="send_queue") and the
# daemon goes on serving others.
#
# The kernel's socket buffers would absorb those answers first (the send buffer grows to
# tcp_wmem's maximum, 4 MB): the test runs in a network namespace of its own whose tcp_wmem
# maximum is 16 KiB (a per-namespace sysctl), so the answers meet a full socket at once.
if [ -z "${SIP_SEND_CAP_NETNS:-}" ]; then
	if [ "$(id -u)" != 0 ] || ! unshare -n true 2>/dev/null; then
		echo "SKIP: needs root and unshare -n (a network namespace with small TCP buffers)"
		exit 77
	fi
	SIP_SEND_CAP_NETNS=1 exec unshare -n sh -c 'ip link set lo up &&
		sysctl -qw net.ipv4.tcp_wmem="4096 16384 16384" &&
		exec sh "$@"' sh "$0"
fi
. "$SRCDIR/tests/integration/lib.sh"
need python3
MPORT=$(free_port)
media_ports 200
cat >>"$CONF" <<CFG
MAX_SEND_QUEUE=65536
SIP_MESSAGE_TIMEOUT=3s
METRICS_LISTEN=127.0.0.1:$MPORT
CFG
metric() {
	python3 -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$MPORT/metrics', timeout=5).read().decode())" |
		sed -n "s/^$1 //p"
}
start_siprecd
for tr in tcp tls; do
	port=$SIP_PORT
	[ $tr = tls ] && port=$TLS_PORT
	python3 - "$tr" "$port" 40000 >"$T/cap-$tr.out" 2>&1 <<'PY'
import random, socket, ssl, sys, time
tr, port, rtp = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

def invite(i):
    sdp = ("v=0\r\no=src 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
           f"m=audio {rtp + 2 * i} RTP/AVP " + " ".join(str(pt) for pt in range(96, 128)) + "\r\n")
    for pt in range(96, 128):
        sdp += f"a=rtpmap:{pt} X-{pt}/8000\r\na=fmtp:{pt} p=" + "f" * 200 + "\r\n"
    sdp += "a=label:1\r\na=sendonly\r\n"
    return (f"INVITE sip:srs@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/{tr.upper()} 127.0.0.1:9;branch=z9hG4bKcap{tr}{i}\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:src@127.0.0.1>;tag={i}\r\nTo: <sip:srs@127.0.0.1>\r\n"
            f"Call-ID: cap-{tr}-{i}\r\nCSeq: 1 INVITE\r\nContact: <sip:src@127.0.0.1:9>\r\n"
            f"Content-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n{sdp}").encode()

raw = socket.socket()
raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
# the burst leaves in one piece (tcp_wmem's 16 KiB would trickle it out, answers in between)
raw.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
raw.connect(("127.0.0.1", port))
s = raw
if tr == "tls":
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    s = ctx.wrap_socket(raw)
s.settimeout(2)
sent = 0
try:
    s.sendall(b"".join(invite(i) for i in range(40)))
    sent = 40
except (socket.timeout, OSError, ssl.SSLError) as e:
    print("send stopped:", type(e).__name__)
print("invites sent:", sent)
time.sleep(4)  # never reads
s.close()
PY
	cat "$T/cap-$tr.out"
done
wait_for "$T/siprecd.log" 'tls from .*send queue full' 5
grep -E 'refused|send queue' "$T/siprecd.log" | head
check "tcp: the connection closed at the byte cap (send queue full)" grep -q 'SIP tcp from 127.0.0.1:[0-9]* refused: peer does not read its responses (send queue full)' "$T/siprecd.log"
check "tls: the connection closed at the byte cap (send queue full)" grep -q 'SIP tls from 127.0.0.1:[0-9]* refused: peer does not read its responses (send queue full)' "$T/siprecd.log"
check "throttled first (reading stopped at half the cap)" grep -q 'SIP tcp from 127.0.0.1:[0-9]*: throttled' "$T/siprecd.log"
check "OPTIONS still answered" sh -c "printf 'OPTIONS sip:srs@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKcapok\r\nMax-Forwards: 70\r\nFrom: <sip:t@x>;tag=1\r\nTo: <sip:srs@127.0.0.1>\r\nCall-ID: cap-ok\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n' | python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(3); s.sendto(sys.stdin.buffer.read(),(\"127.0.0.1\",$SIP_PORT)); sys.exit(0 if s.recv(4096).startswith(b\"SIP/2.0 200\") else 1)'"
check_eq "siprecd_sip_refused_total{reason=\"send_queue\"}" 2 "$(metric 'siprecd_sip_refused_total{reason="send_queue"}')"
stop_siprecd
check_eq "exit status" 0 "$STOP_RC"
finish
