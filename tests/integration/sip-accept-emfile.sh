#!/bin/sh
# SPDX-License-Identifier: MIT
# Out of descriptors at accept: siprecd runs with RLIMIT_NOFILE 40 (prlimit; it holds ~28 once
# ready), and 30 TCP connections knock at the SIP port. The accepts that fail with EMFILE make
# the listener wait 100 ms before it accepts again, counted in
# siprecd_sip_accept_deferred_total: over ~2 s that is a few tens, where a listener that
# re-armed at once spun the SIP thread through hundreds of thousands. A warning names the
# reason. A connection to the metrics listener meanwhile waits the same way. With the limit
# raised, the waiting connections are accepted and answered.
. "$SRCDIR/tests/integration/lib.sh"
need python3 prlimit
MPORT=$(free_port)
echo "METRICS_LISTEN=127.0.0.1:$MPORT" >>"$CONF"
SIPRECD_WRAPPER="prlimit --nofile=40:4096 --" start_siprecd

cat >"$T/knock.py" <<'PY'
import socket, sys, time
sip, mport, pid, phase = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]

def metric(name):
    s = socket.create_connection(("127.0.0.1", mport), timeout=10)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
    s.close()
    for line in data.decode().splitlines():
        if line.startswith(name + " "):
            return int(float(line.split()[1]))
    raise SystemExit("no %s in the metrics" % name)

def opt(i):
    return ("OPTIONS sip:srs@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKem%d\r\n"
            "From: <sip:t@x>;tag=%d\r\nTo: <sip:srs@127.0.0.1>\r\nCall-ID: em%d\r\nCSeq: 1 OPTIONS\r\n"
            "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n" % (i, i, i)).encode()

if phase == "before":
    print("deferred_before", metric("siprecd_sip_accept_deferred_total"))
    sys.exit(0)
# phase "knock": the limit is already lowered by the caller
conns = []
for i in range(30):
    s = socket.create_connection(("127.0.0.1", sip), timeout=5)
    s.sendall(opt(i))
    conns.append(s)
# and one at the metrics listener, which runs out of descriptors the same way
m = socket.create_connection(("127.0.0.1", mport), timeout=5)
m.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
time.sleep(2)
print("knocked", len(conns))
open(sys.argv[5], "w").write("ready\n")
# the caller raises the limit; then every connection is answered
deadline = time.time() + 20
answered = 0
for i, s in enumerate(conns):
    s.settimeout(max(0.1, deadline - time.time()))
    try:
        if s.recv(4096).startswith(b"SIP/2.0 200"):
            answered += 1
    except socket.timeout:
        pass
print("answered", answered)
m.settimeout(10)
try:
    print("metrics answered", m.recv(4096).split(b"\r\n")[0].decode())
except socket.timeout:
    print("metrics not answered")
print("deferred_after", metric("siprecd_sip_accept_deferred_total"))
PY

python3 "$T/knock.py" "$SIP_PORT" "$MPORT" "$DAEMON_PID" before >"$T/before.out" 2>&1
check "metrics before" grep -q '^deferred_before 0$' "$T/before.out"
python3 "$T/knock.py" "$SIP_PORT" "$MPORT" "$DAEMON_PID" knock "$T/ready" >"$T/knock.out" 2>&1 &
KPID=$!
wait_for "$T/ready" ready 15
echo "descriptors while knocked: $(ls /proc/"$DAEMON_PID"/fd | wc -l)"
prlimit --pid "$DAEMON_PID" --nofile=4096:
wait $KPID
cat "$T/knock.out"
check "the accepts ran out of descriptors and waited (logged)" grep -q 'new connections wait 100 ms' "$T/siprecd.log"
D=$(sed -n 's/^deferred_after //p' "$T/knock.out")
# ~2 s of EMFILE at one retry per 100 ms: about 20 (and one per connection accepted after); a listener re-armed at once counts
# hundreds of thousands in the same time
check "accepts deferred, not spun: 1..200 (got ${D:-none})" test "${D:-0}" -ge 1 -a "${D:-0}" -le 200
check "with room again, all 30 connections are answered" grep -q '^answered 30$' "$T/knock.out"
check "the metrics listener waited too (logged)" grep -q 'metrics: accept: .*: new connections wait 100 ms' "$T/siprecd.log"
check "...and answered its connection once there was room" grep -q '^metrics answered HTTP/1.1 200' "$T/knock.out"
stop_siprecd
check_eq "exit status" 0 "$STOP_RC"
finish
