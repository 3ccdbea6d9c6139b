#!/bin/sh
# SPDX-License-Identifier: MIT
# The metrics/health HTTP listener under slow-loris: 40 connections that never send a byte do
# not keep GET /health out (the oldest idle one is dropped for a newcomer); a silent client and
# one that sends its request a byte at a time are closed by the server after
# METRICS_REQUEST_TIMEOUT (the client sees EOF, not its own timeout); /health says only the
# state. Then a SIGHUP moves METRICS_LISTEN to another port: the new one serves, the old one is
# closed.
. "$SRCDIR/tests/integration/lib.sh"
need python3

MPORT=$(free_port)
MPORT2=$(free_port)
echo "METRICS_LISTEN=127.0.0.1:$MPORT" >>"$CONF"
echo "METRICS_REQUEST_TIMEOUT=1s" >>"$CONF"
start_siprecd

cat >"$T/loris.py" <<'PY'
import socket, sys, time

port = int(sys.argv[2])

def get(path="/health", timeout=20):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
    s.close()
    return data

def closed_by_server(sock, timeout=30):
    """True when the server closes the socket (EOF or reset), False on our own timeout."""
    sock.settimeout(timeout)
    try:
        while sock.recv(4096):
            pass
        return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False

what = sys.argv[1]
if what == "flood":
    idle = [socket.create_connection(("127.0.0.1", port), timeout=20) for _ in range(40)]
    r = get()
    print("status", r.split(b"\r\n", 1)[0].decode(errors="replace"))
    print("body", r.split(b"\r\n\r\n", 1)[-1].decode(errors="replace").strip())
    for s in idle:
        s.close()
elif what == "silent":
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    print("silent", "closed-by-server" if closed_by_server(s) else "client-timeout")
elif what == "trickle":
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    req = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
    closed = False
    for b in req:
        try:
            s.send(bytes([b]))
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        time.sleep(0.2)  # pacing of the slow client, not synchronisation
    if not closed:
        s.settimeout(30)
        try:
            d = s.recv(4096)
            closed = d == b""
            print("trickle", "answered" if d else "closed-by-server")
        except (socket.timeout, ConnectionResetError):
            print("trickle", "reset")
    else:
        print("trickle", "closed-by-server")
elif what == "get":
    try:
        r = get(timeout=5)
        print("status", r.split(b"\r\n", 1)[0].decode(errors="replace"))
    except OSError as e:
        print("error", type(e).__name__)
PY

out=$(python3 "$T/loris.py" flood "$MPORT")
echo "$out" | sed 's/^/    /'
check_eq "40 silent connections open: GET /health still answered" "status HTTP/1.1 200 OK" "$(echo "$out" | sed -n 's/^\(status .*\)/\1/p')"
check_eq "/health body: the state only" 'body {"status":"healthy"}' "$(echo "$out" | sed -n 's/^\(body .*\)/\1/p')"
check_eq "a silent client is closed by the server (METRICS_REQUEST_TIMEOUT=1s)" "silent closed-by-server" "$(python3 "$T/loris.py" silent "$MPORT")"
check_eq "a client sending its request a byte every 200 ms is closed before it finishes" "trickle closed-by-server" "$(python3 "$T/loris.py" trickle "$MPORT")"
check_eq "GET /health afterwards" "status HTTP/1.1 200 OK" "$(python3 "$T/loris.py" get "$MPORT")"

# ---- METRICS_LISTEN changes on SIGHUP
sed -i "s/^METRICS_LISTEN=.*/METRICS_LISTEN=127.0.0.1:$MPORT2/" "$CONF"
kill -HUP "$DAEMON_PID"
check "reload applies METRICS_LISTEN" wait_for "$T/siprecd.log" "metrics: http://127.0.0.1:$MPORT2/metrics" 10
check "reload: config-reloaded RESULT=applied" wait_for "$T/siprecd.log" 'SIPREC_EVENT=config-reloaded.*RESULT=applied' 10
check_eq "the new port serves /health" "status HTTP/1.1 200 OK" "$(python3 "$T/loris.py" get "$MPORT2")"
check_eq "the old port is closed" "error ConnectionRefusedError" "$(python3 "$T/loris.py" get "$MPORT")"

stop_siprecd
check_eq "exit status" 0 "$STOP_RC"
finish
