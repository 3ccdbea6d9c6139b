#!/bin/sh
# SPDX-License-Identifier: MIT
# siprec-src against sipp as the UAS (until siprecd answers): the SIP flows over UDP and TCP with
# sipp's built-in uas, then custom sipp scenarios for an SRTP answer with two streams, re-INVITE
# with --rekey, pause/resume, UPDATE of metadata, a 488 with Warning, and CANCEL. Checks the JSON
# report and counts the media datagrams that reach the answered ports. Exit 77: sipp missing.
set -u

BUILD=${BUILD:-build}
SRC=$BUILD/siprec-src
command -v sipp >/dev/null 2>&1 || { echo "SKIP: sipp not installed"; exit 77; }
command -v jq >/dev/null 2>&1 || { echo "SKIP: jq not installed"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 not installed"; exit 77; }
[ -x "$SRC" ] || { echo "FAIL: $SRC not built"; exit 1; }

TMP=$(mktemp -d)
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

fails=0
# Ports the kernel picks (asked for, then released), not derived from the PID.
free_port() {
	python3 -c 'import socket
while True:
    t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        t.close(); u.close()'
}
# wait_bound udp|tcp PORT...: polls /proc/net (read only: probing by binding could steal the
# port) until every PORT is bound (TCP: listening), instead of sleeping; 10 s at most.
wait_bound() {
	python3 - "$@" <<'PY' || echo "wait_bound: $* not bound after 10 s"
import sys, time
proto, ports = sys.argv[1], {int(p) for p in sys.argv[2:]}
end = time.time() + 10
while time.time() < end:
    seen = set()
    with open("/proc/net/" + proto) as f:
        for line in f.readlines()[1:]:
            w = line.split()
            if proto == "udp" or w[3] == "0A":
                seen.add(int(w[1].split(":")[1], 16))
    if ports <= seen:
        sys.exit(0)
    time.sleep(0.05)
sys.exit(1)
PY
}
ok() { echo "ok - $*"; }
bad() { echo "not ok - $*"; fails=$((fails + 1)); }
# check NAME JQ-EXPR FILE: the expression must be true on the JSON report.
check() {
	if jq -e "$2" "$3" >/dev/null 2>&1; then ok "$1"; else bad "$1: $2"; cat "$3"; fi
}

# Waits for sipp to exit and checks its exit status (0: all calls passed its scenario).
wait_sipp() {
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	wait "$1" 2>/dev/null
	rc=$?
	[ $rc -eq 0 ] && ok "sipp $2: scenario passed" || bad "sipp $2: exit $rc"
}

# ---- 1, 2: sipp's built-in uas over UDP and TCP (one m= line answered, plain RTP)
for t in udp tcp; do
	port=$(free_port)
	topt="-t u1"
	[ $t = tcp ] && topt="-t t1"
	sipp -sn uas $topt -i 127.0.0.1 -p $port -m 1 -nostdin >"$TMP/sipp-$t.log" 2>&1 &
	spid=$!
	PIDS="$PIDS $spid"
	wait_bound $t "$port"
	"$SRC" -q -t $t -s 127.0.0.1:$port --no-srtp --duration 1 --json >"$TMP/$t.json" 2>"$TMP/$t.err"
	rc=$?
	[ $rc -eq 0 ] && ok "$t: exit 0" || { bad "$t: exit $rc"; cat "$TMP/$t.err"; }
	check "$t: one call ok" '.totals.calls == 1 and .totals.ok == 1 and .calls[0].result == "ok"' "$TMP/$t.json"
	check "$t: 200 OK" '.calls[0].status == 200' "$TMP/$t.json"
	check "$t: stream 1 answered and sent ~1 s" '.calls[0].streams[0].port > 0 and .calls[0].streams[0].packets >= 40 and .calls[0].streams[0].bytes == .calls[0].streams[0].packets * 172' "$TMP/$t.json"
	check "$t: labels" '[.calls[0].streams[].label] == ["1","2"]' "$TMP/$t.json"
	# sipp's built-in uas counts a TCP call as failed when the client closes the connection
	# during its closing timewait, so only the UDP run checks sipp's own verdict.
	if [ $t = udp ]; then wait_sipp $spid $t; else wait $spid 2>/dev/null; fi
done

# ---- WAV input: 2 s stereo file -> exactly 100 packets on the answered stream; mono + --loop
# for 3 s -> 150; a file that is not 8 kHz 16-bit is a usage error.
AUDIO=$(dirname "$0")/../data/audio
port=$(free_port)
sipp -sn uas -i 127.0.0.1 -p $port -m 2 -nostdin >"$TMP/sipp-wav.log" 2>&1 &
spid=$!
PIDS="$PIDS $spid"
wait_bound udp "$port"
"$SRC" -q -s 127.0.0.1:$port --no-srtp --codec pcma --wav "$AUDIO/speech-stereo-8k.wav" --json >"$TMP/wav1.json" 2>"$TMP/wav1.err"
check "wav: stereo 2 s = 100 packets" '.calls[0].result == "ok" and .calls[0].streams[0].packets == 100' "$TMP/wav1.json"
"$SRC" -q -s 127.0.0.1:$port --no-srtp --wav "$AUDIO/tone-mono-8k.wav" --loop --duration 3 --json >"$TMP/wav2.json" 2>"$TMP/wav2.err"
# a call of --duration: exact but for the ticks siprec-src reports dropped (see "tls" below)
check "wav: mono looped 3 s = 150 packets" '.totals.late_ticks as $l | .calls[0].result == "ok" and .calls[0].streams[0].packets <= 150 and .calls[0].streams[0].packets >= 150 - $l' "$TMP/wav2.json"
wait_sipp $spid wav
printf 'RIFF\044\0\0\0WAVEfmt \020\0\0\0\001\0\001\0\104\254\0\0\210\130\001\0\002\0\020\0data\0\0\0\0' >"$TMP/44k.wav"
"$SRC" -q --wav "$TMP/44k.wav" >/dev/null 2>&1
[ $? -eq 1 ] && ok "wav: 44.1 kHz refused (exit 1)" || bad "wav: 44.1 kHz not refused"

# ---- custom scenarios ----
KEY=YUJjRGVmZ2hpSktMbW5vUFFSc3R1Vld4eVoxMjM0
MP1=$(free_port)
MP2=$(free_port)
answer_sdp() {
	cat <<EOF
      v=0
      o=srs 1 $1 IN IP4 127.0.0.1
      s=-
      c=IN IP4 127.0.0.1
      t=0 0
      m=audio $MP1 RTP/SAVP 0
      a=label:1
      a=$2
      a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:$KEY
      m=audio $MP2 RTP/SAVP 0
      a=label:2
      a=$2
      a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:$KEY
EOF
}
# reply200 VERSION DIRECTION: a 200 OK with the SRTP answer
reply200() {
	cat <<EOF
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:srs@[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

$(answer_sdp "$1" "$2")
    ]]>
  </send>
EOF
}
reply_plain() {
	cat <<EOF
  <send>
    <![CDATA[
      SIP/2.0 $1
      [last_Via:]
      [last_From:]
      [last_To:]$2
      [last_Call-ID:]
      [last_CSeq:]
      $3
      Content-Length: 0

    ]]>
  </send>
EOF
}
TAG=';tag=[pid]SIPpTag01[call_number]'

{
	echo '<?xml version="1.0" encoding="ISO-8859-1" ?><scenario name="srs">'
	echo '<recv request="INVITE" crlf="true"/>'
	reply_plain "180 Ringing" "$TAG" ""
	reply200 1 recvonly
	echo '<recv request="ACK"/>'
	echo '<recv request="INVITE"/>'
	reply200 2 recvonly
	echo '<recv request="ACK"/>'
	echo '<recv request="INVITE"/>'
	reply200 3 inactive
	echo '<recv request="ACK"/>'
	echo '<recv request="INVITE"/>'
	reply200 4 recvonly
	echo '<recv request="ACK"/>'
	echo '<recv request="UPDATE"/>'
	reply_plain "200 OK" "" ""
	echo '<recv request="BYE"/>'
	reply_plain "200 OK" "" ""
	echo '</scenario>'
} >"$TMP/srtp.xml"

{
	echo '<?xml version="1.0" encoding="ISO-8859-1" ?><scenario name="reject">'
	echo '<recv request="INVITE"/>'
	reply_plain "488 Not Acceptable Here" "$TAG" 'Warning: 399 srs "no recording today"'
	echo '<recv request="ACK"/>'
	echo '</scenario>'
} >"$TMP/reject.xml"

{
	echo '<?xml version="1.0" encoding="ISO-8859-1" ?><scenario name="cancel">'
	echo '<recv request="INVITE"/>'
	reply_plain "180 Ringing" "$TAG" ""
	echo '<recv request="CANCEL"/>'
	reply_plain "200 OK" "" ""
	echo '<send><![CDATA['
	echo '      SIP/2.0 487 Request Terminated'
	echo '      [last_Via:]'
	echo '      [last_From:]'
	echo "      [last_To:]$TAG"
	echo '      [last_Call-ID:]'
	echo '      CSeq: [last_cseq_number] INVITE'
	echo '      Content-Length: 0'
	echo ''
	echo '    ]]></send>'
	echo '<recv request="ACK"/>'
	echo '</scenario>'
} >"$TMP/cancel.xml"

# A counter of the datagrams that arrive on the two answered media ports.
cat >"$TMP/count.py" <<'EOF'
import socket, select, sys, time
socks = []
for p in sys.argv[2:]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", int(p)))
    socks.append(s)
counts = [0] * len(socks)
sizes = [set() for _ in socks]
end = time.time() + float(sys.argv[1])
while time.time() < end:
    r, _, _ = select.select(socks, [], [], 0.2)
    for s in r:
        d = s.recv(2048)
        i = socks.index(s)
        counts[i] += 1
        sizes[i].add(len(d))
print(" ".join(str(c) for c in counts), " ".join(",".join(map(str, sorted(x))) for x in sizes))
EOF

# ---- 3: SRTP answer, re-INVITE --rekey, pause/resume, UPDATE, tamper/replay hooks (UDP)
port=$(free_port)
sipp -sf "$TMP/srtp.xml" -i 127.0.0.1 -p $port -m 1 -nostdin >"$TMP/sipp-srtp.log" 2>&1 &
spid=$!
PIDS="$PIDS $spid"
python3 "$TMP/count.py" 8 $MP1 $MP2 >"$TMP/count.txt" &
cpid=$!
PIDS="$PIDS $cpid"
wait_bound udp "$port" "$MP1" "$MP2"
"$SRC" -q -s 127.0.0.1:$port --srtp AES_CM_128_HMAC_SHA1_80,AEAD_AES_128_GCM --labels a_leg,b_leg \
	--duration 5 --reinvite-at 1 --rekey --pause-at 2 --resume-at 3 --update-metadata-at 4 \
	--tamper 10 --replay 25 --json >"$TMP/srtp.json" 2>"$TMP/srtp.err"
rc=$?
[ $rc -eq 0 ] && ok "srtp: exit 0" || { bad "srtp: exit $rc"; cat "$TMP/srtp.err" "$TMP/srtp.json"; }
check "srtp: call ok" '.calls[0].result == "ok" and .calls[0].status == 200' "$TMP/srtp.json"
check "srtp: three re-INVITEs and an UPDATE accepted" '.calls[0].reinvites_ok == 3 and .calls[0].updates_ok == 1' "$TMP/srtp.json"
check "srtp: both streams, suite from the answer" '[.calls[0].streams[] | .suite] == ["AES_CM_128_HMAC_SHA1_80","AES_CM_128_HMAC_SHA1_80"] and [.calls[0].streams[].label] == ["a_leg","b_leg"]' "$TMP/srtp.json"
# 5 s minus about 1 s paused, at 50 packets/s, plus the replays.
check "srtp: packet counts" '[.calls[0].streams[] | .packets >= 150 and .packets <= 240] | all' "$TMP/srtp.json"
check "srtp: tamper/replay counters" '[.calls[0].streams[] | .tampered > 0 and .replayed > 0] | all' "$TMP/srtp.json"
check "srtp: SRTP sizes" '[.calls[0].streams[] | .bytes == .packets * 182] | all' "$TMP/srtp.json"
wait $cpid 2>/dev/null
read -r n1 n2 s1 s2 <"$TMP/count.txt" || true
p1=$(jq '.calls[0].streams[0].packets' "$TMP/srtp.json")
p2=$(jq '.calls[0].streams[1].packets' "$TMP/srtp.json")
[ "${n1:-0}" = "$p1" ] && [ "${n2:-0}" = "$p2" ] && ok "srtp: all $p1+$p2 datagrams arrived" ||
	bad "srtp: received ${n1:-?}/${n2:-?}, sent $p1/$p2"
[ "${s1:-}" = 182 ] && [ "${s2:-}" = 182 ] && ok "srtp: datagrams are 182-byte SRTP" ||
	bad "srtp: datagram sizes ${s1:-?} ${s2:-?}"
wait_sipp $spid srtp

# ---- 4: 488 with Warning over TCP: exit 2, status and warning reported
port=$(free_port)
sipp -sf "$TMP/reject.xml" -t t1 -i 127.0.0.1 -p $port -m 1 -nostdin >"$TMP/sipp-rej.log" 2>&1 &
spid=$!
PIDS="$PIDS $spid"
wait_bound tcp "$port"
"$SRC" -q -t tcp -s 127.0.0.1:$port --json >"$TMP/rej.json" 2>"$TMP/rej.err"
rc=$?
[ $rc -eq 2 ] && ok "reject: exit 2" || bad "reject: exit $rc"
check "reject: 488 + Warning" '.calls[0].status == 488 and .calls[0].result == "failed" and (.calls[0].warning | test("no recording today"))' "$TMP/rej.json"
wait_sipp $spid reject

# ---- 5: CANCEL after 300 ms (UDP)
port=$(free_port)
sipp -sf "$TMP/cancel.xml" -i 127.0.0.1 -p $port -m 1 -nostdin >"$TMP/sipp-can.log" 2>&1 &
spid=$!
PIDS="$PIDS $spid"
wait_bound udp "$port"
"$SRC" -q -s 127.0.0.1:$port --cancel-after 300 --json >"$TMP/can.json" 2>"$TMP/can.err"
rc=$?
[ $rc -eq 0 ] && ok "cancel: exit 0" || { bad "cancel: exit $rc"; cat "$TMP/can.json"; }
check "cancel: 487, cancelled" '.calls[0].status == 487 and .calls[0].result == "cancelled"' "$TMP/can.json"
wait_sipp $spid cancel

# ---- 6: nobody listening on TCP: the call fails (exit 2).
"$SRC" -q -t tcp -s 127.0.0.1:$(free_port) --json >"$TMP/none.json" 2>/dev/null
rc=$?
[ $rc -eq 2 ] && ok "no server: exit 2" || bad "no server: exit $rc"

# ---- TLS (this sipp has no TLS): a minimal Python SIP-over-TLS UAS, verified with --ca, refused
# with the wrong CA, accepted with --insecure, TLS 1.2 pinned.
if command -v openssl >/dev/null 2>&1; then
	cat >"$TMP/tls-uas.py" <<'PYEOF'
import socket, ssl, sys, re
cert, port = sys.argv[1], int(sys.argv[2])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, sys.argv[3])
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port)); ls.listen(1); ls.settimeout(20)
try:
    conn, _ = ls.accept()
    c = ctx.wrap_socket(conn, server_side=True)
except Exception as e:
    print("handshake:", e); sys.exit(3)
buf = b""
def msgs():
    global buf
    while True:
        while b"\r\n\r\n" in buf:
            h, rest = buf.split(b"\r\n\r\n", 1)
            m = re.search(rb"(?im)^(?:content-length|l)\s*:\s*(\d+)", h)
            n = int(m.group(1)) if m else 0
            if len(rest) < n: break
            buf = rest[n:]
            yield h.decode()
        d = c.recv(65536)
        if not d: return
        buf += d
def reply(h, code, body=""):
    lines = h.split("\r\n")
    out = ["SIP/2.0 " + code]
    for l in lines[1:]:
        k = l.split(":", 1)[0].strip().lower()
        if k in ("via", "from", "call-id", "cseq"): out.append(l)
        if k == "to": out.append(l if "tag=" in l else l + ";tag=py1")
    out.append("Contact: <sip:srs@127.0.0.1:%d;transport=tls>" % port)
    if body: out.append("Content-Type: application/sdp")
    out.append("Content-Length: %d" % len(body))
    c.sendall(("\r\n".join(out) + "\r\n\r\n" + body).encode())
sdp = "v=0\r\no=py 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 29100 RTP/AVP 0\r\na=recvonly\r\nm=audio 29102 RTP/AVP 0\r\na=recvonly\r\n"
seen = []
for h in msgs():
    meth = h.split(" ", 1)[0]
    seen.append(meth)
    if meth == "INVITE": reply(h, "200 OK", sdp)
    elif meth == "BYE": reply(h, "200 OK"); break
print(" ".join(seen), c.version())
PYEOF
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/key.pem" -out "$TMP/cert.pem" -days 2 \
		-subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" 2>/dev/null
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/key2.pem" -out "$TMP/other.pem" -days 2 \
		-subj /CN=other 2>/dev/null
	n=0
	for mode in ca wrong insecure tls12; do
		n=$((n + 1))
		port=$(free_port)
		python3 "$TMP/tls-uas.py" "$TMP/cert.pem" $port "$TMP/key.pem" >"$TMP/tls-$mode.out" 2>&1 &
		upid=$!
		PIDS="$PIDS $upid"
		wait_bound tcp "$port"
		case $mode in
		ca) args="--ca $TMP/cert.pem --tls-version 1.3" ;;
		wrong) args="--ca $TMP/other.pem" ;;
		insecure) args="--insecure" ;;
		tls12) args="--ca $TMP/cert.pem --tls-version 1.2" ;;
		esac
		# shellcheck disable=SC2086
		"$SRC" -q -t tls -s 127.0.0.1:$port $args --no-srtp --duration 1 --json >"$TMP/tls-$mode.json" 2>"$TMP/tls-$mode.err"
		rc=$?
		wait $upid 2>/dev/null
		if [ $mode = wrong ]; then
			[ $rc -eq 2 ] && grep -q "TLS handshake failed" "$TMP/tls-$mode.err" && ok "tls: wrong CA refused" ||
				bad "tls: wrong CA: exit $rc"
			continue
		fi
		[ $rc -eq 0 ] && ok "tls $mode: exit 0" || { bad "tls $mode: exit $rc"; cat "$TMP/tls-$mode.err"; }
		# 50 packets a stream in 1 s; siprec-src drops the 20 ms ticks it falls more than 100 ms
		# behind on (a stalled generator keeps real time) and counts them in late_ticks, so the
		# count is exact but for the ticks it reports dropped (seen: 43 with 11 late ticks while
		# the machine was loaded).
		check "tls $mode: two streams sent" '.totals.late_ticks as $l | .calls[0].result == "ok" and ([.calls[0].streams[] | .packets <= 50 and .packets >= 50 - $l] | all)' "$TMP/tls-$mode.json"
		want=TLSv1.3
		[ $mode = tls12 ] && want=TLSv1.2
		grep -q "INVITE ACK BYE $want" "$TMP/tls-$mode.out" && ok "tls $mode: server saw INVITE ACK BYE over $want" ||
			bad "tls $mode: server saw $(cat "$TMP/tls-$mode.out")"
	done
else
	bad "tls: openssl not installed (tools/install-deps.sh installs it)"
fi

# ---- 7: usage errors exit 1
"$SRC" --bogus >/dev/null 2>&1
[ $? -eq 1 ] && ok "usage: exit 1" || bad "usage: exit not 1"
"$SRC" --srtp NOPE >/dev/null 2>&1
[ $? -eq 1 ] && ok "usage: unknown suite exit 1" || bad "usage: unknown suite"
# the last line names what was refused (the help above it is long)
for args in "--duration 0.5|invalid value for --duration: '0.5'" "-n x|invalid value for --calls: 'x'" \
	"127.0.0.1:99999|invalid server '127.0.0.1:99999'"; do
	last=$("$SRC" ${args%%|*} 2>&1 >/dev/null | tail -n 1)
	case "$last" in
	*"${args#*|}"*) ok "usage: '${args%%|*}' named: $last" ;;
	*) bad "usage: '${args%%|*}': last line '$last', expected '${args#*|}'" ;;
	esac
done

if [ $fails -ne 0 ]; then
	echo "FAIL: $fails check(s) failed"
	exit 1
fi
echo "PASS"
exit 0
