#!/bin/sh
# SPDX-License-Identifier: MIT
# Ten real SRTP calls record while the daemon is under attack from other addresses: 50,000
# random datagrams a second at the SIP port and the whole RTP range (tests/helpers/udp-flood),
# a stream of INVITEs that are never ACKed, slow TCP clients trickling a message, TLS clients
# that never finish a handshake, and a TCP peer that pipelines OPTIONS and never reads. Every
# packet the real SRC sent is recorded, OPTIONS from the SRC's address keep being answered, the
# attackers are cut off by their limits, and the daemon's memory stays bounded (RSS printed).
. "$SRCDIR/tests/integration/lib.sh"
need python3 sqlite3 jq
FLOOD=$BUILD/tests/helpers/udp-flood
SRC=$BUILD/siprec-src
[ -x "$FLOOD" ] || skip "udp-flood helper not built (make tests)"
base=$(media_range 1000)
RTP_LO=$base
RTP_HI=$((base + 199))
cat >>"$CONF" <<CFG
MAX_SESSIONS_PER_SOURCE=20
SIP_MESSAGE_TIMEOUT=2s
TLS_HANDSHAKE_TIMEOUT=2s
MAX_SEND_QUEUE=65536
CFG
# Under ASan freed memory sits in a quarantine (256 MiB by default) that would read as growth:
# keep it small so the RSS bound means the same in both builds.
start_siprecd RTP_PORT_MIN=$RTP_LO RTP_PORT_MAX=$RTP_HI LOG_LEVEL=info \
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8"
rss() { awk '/^VmRSS/ {print $2}' "/proc/$DAEMON_PID/status"; }
RSS0=$(rss)

# The real SRC: 10 SRTP calls from 127.0.0.1, 12 s of audio each.
"$SRC" -s "127.0.0.1:$SIP_PORT" -n 10 -r 20 --wav "$SRCDIR/tests/data/audio/tone-mono-8k.wav" \
	--loop --duration 12 --json -q >"$T/src.json" 2>"$T/src.err" &
SRC_PID=$!
BG_PIDS="$SRC_PID"
# Random datagrams from 127.0.0.3 at the SIP port and every RTP port, 50,000 a second.
"$FLOOD" -s 127.0.0.3 -d 127.0.0.1 -p "$SIP_PORT" -p "$RTP_LO-$RTP_HI" -r 50000 -t 14 \
	>"$T/flood.out" 2>&1 &
FLOOD_PID=$!
BG_PIDS="$BG_PIDS $FLOOD_PID"
# The other attackers, and the OPTIONS probe of the real SRC, for the same 14 s.
SRCDIR=$SRCDIR python3 - "$SIP_PORT" "$TLS_PORT" "$DAEMON_PID" >"$T/attack.out" 2>&1 <<'PY' &
import os, random, socket, ssl, sys, threading, time
port, tls_port, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
END = time.time() + 14
out = {}
def rss():
    with open(f"/proc/{pid}/status") as f:
        return int([l for l in f if l.startswith("VmRSS")][0].split()[1])
def opt(i, tr="UDP", lport=9):
    return (f"OPTIONS sip:srs@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/{tr} 127.0.0.1:{lport};branch=z9hG4bKfl{i}\r\n"
            f"From: <sip:probe@x>;tag={i}\r\nTo: <sip:srs@127.0.0.1>\r\nCall-ID: fl{i}-{random.getrandbits(32)}\r\n"
            f"CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode()

def unacked_invites():
    # INVITEs from 127.0.0.2 that are never ACKed: each holds ports until Timer H unless a
    # per-source limit refuses it.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.2", 0)); s.setblocking(False)
    lp = s.getsockname()[1]; n = 0; codes = {}
    while time.time() < END:
        sdp = f"v=0\r\no=x 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio {20000 + n % 1000} RTP/AVP 0\r\na=label:1\r\na=sendonly\r\n"
        m = (f"INVITE sip:srs@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:{lp};branch=z9hG4bKun{n}\r\n"
             f"From: <sip:evil@x>;tag={n}\r\nTo: <sip:srs@127.0.0.1>\r\nCall-ID: unacked-{n}\r\nCSeq: 1 INVITE\r\n"
             f"Contact: <sip:evil@127.0.0.2:{lp}>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\n"
             f"Content-Length: {len(sdp)}\r\n\r\n{sdp}").encode()
        s.sendto(m, ("127.0.0.1", port)); n += 1
        t = time.time() + 0.05
        while time.time() < t:
            try:
                d = s.recv(65536)
                c = d.split(b" ", 2)[1].decode()
                if c != "100":
                    codes[c] = codes.get(c, 0) + 1
            except BlockingIOError:
                time.sleep(0.005)
    out["unacked"] = (n, codes)

def slow_tcp(i):
    try:
        c = socket.create_connection(("127.0.0.1", port)); data = opt(1000 + i, "TCP")
        t0 = time.time()
        for b in data:
            c.send(bytes([b])); time.sleep(0.2)
            if time.time() > END: break
        out[f"slowtcp{i}"] = "open"
    except (ConnectionResetError, BrokenPipeError):
        out[f"slowtcp{i}"] = "cut after %.1f s" % (time.time() - t0)

def slow_tls(i):
    # Connects to the TLS port and sends half a ClientHello, then nothing.
    c = socket.create_connection(("127.0.0.1", tls_port)); c.send(b"\x16\x03\x01\x02\x00\x01")
    c.settimeout(10); t0 = time.time()
    try:
        r = c.recv(100)
        out[f"slowtls{i}"] = "cut after %.1f s" % (time.time() - t0) if r == b"" else "data"
    except (ConnectionResetError, socket.timeout) as e:
        out[f"slowtls{i}"] = "cut after %.1f s" % (time.time() - t0) if isinstance(e, ConnectionResetError) else "open"

def non_reader():
    nr = socket.socket(); nr.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    nr.connect(("127.0.0.1", port)); nr.settimeout(3); sent = 0
    batch = b"".join(opt(5000 + i, "TCP") for i in range(100))
    try:
        while time.time() < END:
            nr.sendall(batch); sent += 100
    except (ConnectionResetError, BrokenPipeError, socket.timeout):
        pass
    out["nonreader"] = sent

def probe():
    # The real SRC's OPTIONS ping, with UDP retransmission (T1 = 500 ms, as a UAC would).
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0))
    lp = s.getsockname()[1]; asked = answered = 0
    while time.time() < END:
        m = opt(90000 + asked, "UDP", lp); asked += 1; ok = False
        for wait in (0.5, 1.0, 2.0):
            s.sendto(m, ("127.0.0.1", port)); s.settimeout(wait)
            try:
                if s.recv(4096).startswith(b"SIP/2.0 200"):
                    ok = True; break
            except socket.timeout:
                pass
        answered += ok
        time.sleep(0.2)
    out["probe"] = (asked, answered)

ths = [threading.Thread(target=f) for f in (unacked_invites, non_reader, probe)]
ths += [threading.Thread(target=slow_tcp, args=(i,)) for i in range(10)]
ths += [threading.Thread(target=slow_tls, args=(i,)) for i in range(10)]
for t in ths: t.start()
peak = 0
while any(t.is_alive() for t in ths):
    peak = max(peak, rss()); time.sleep(0.25)
print("peak_rss_kb=%d" % peak)
n, codes = out["unacked"]
print("unacked_sent=%d" % n)
print("unacked_answers=%s" % ",".join(f"{k}:{v}" for k, v in sorted(codes.items())))
print("unacked_503=%d" % codes.get("503", 0))
print("slowtcp_cut=%d" % sum(1 for i in range(10) if out[f"slowtcp{i}"].startswith("cut")))
print("slowtls_cut=%d" % sum(1 for i in range(10) if out[f"slowtls{i}"].startswith("cut")))
print("nonreader_sent=%d" % out["nonreader"])
print("probe_asked=%d" % out["probe"][0])
print("probe_answered=%d" % out["probe"][1])
PY
ATTACK_PID=$!
BG_PIDS="$BG_PIDS $ATTACK_PID"
wait "$SRC_PID"
SRC_RC=$?
wait "$FLOOD_PID"
wait "$ATTACK_PID"
BG_PIDS=""
RSS1=$(rss)
cat "$T/flood.out" "$T/attack.out"
get() { sed -n "s/^$1=//p" "$T/attack.out"; }
check_eq "siprec-src: every call answered and ended (exit status)" 0 "$SRC_RC"
# Every packet the SRC sent, per stream, is in the catalog (counters final once recordings are).
i=0
while [ $i -lt 200 ] && [ "$(catalog "SELECT count(*) FROM recordings r JOIN sessions s ON s.id = r.session_id WHERE s.call_id NOT LIKE 'unacked-%' AND r.state != 'final'")" != 0 ]; do
	sleep 0.05
	i=$((i + 1))
done
jq -r '.calls[] | .call_id as $c | .streams[] | "\($c)|\(.label)|\(.packets)"' "$T/src.json" | sort >"$T/sent.txt"
catalog "SELECT s.call_id || '|' || st.label || '|' || st.packets FROM streams st JOIN sessions s ON s.id = st.session_id WHERE s.call_id NOT LIKE 'unacked-%'" | sort >"$T/recorded.txt"
sent_total=$(awk -F'|' '{n += $3} END {print n + 0}' "$T/sent.txt")
echo "# real SRC: $(wc -l <"$T/sent.txt") streams, $sent_total packets sent"
check_eq "20 real streams" 20 "$(wc -l <"$T/sent.txt")"
check "every real packet recorded, stream by stream" cmp -s "$T/sent.txt" "$T/recorded.txt"
check_eq "no SRTP authentication failures on real streams" 0 "$(catalog "SELECT coalesce(sum(srtp_auth_failures), 0) FROM streams st JOIN sessions s ON s.id = st.session_id WHERE s.call_id NOT LIKE 'unacked-%'")"
asked=$(get probe_asked)
check_eq "every OPTIONS of the SRC answered during the flood ($asked asked)" "$asked" "$(get probe_answered)"
check "unACKed INVITEs over MAX_SESSIONS_PER_SOURCE refused with 503" test "$(get unacked_503)" -gt 0
check_eq "slow TCP clients cut by SIP_MESSAGE_TIMEOUT" 10 "$(get slowtcp_cut)"
check_eq "stalled TLS handshakes cut by TLS_HANDSHAKE_TIMEOUT" 10 "$(get slowtls_cut)"
check "non-reading peer disconnected" grep -q 'does not read its responses' "$T/siprecd.log"
echo "# daemon RSS: ${RSS0} kB at start, $(get peak_rss_kb) kB peak under attack, ${RSS1} kB after"
check "peak RSS under attack below start + 64 MiB" test "$(get peak_rss_kb)" -lt $((RSS0 + 65536))
check "OPTIONS still answered after the flood" sipp_run after -sf "$SRCDIR/tests/integration/scenarios/options.xml" -m 3 -t t1
stop_siprecd
check_eq "exit status" 0 "$STOP_RC"
finish
