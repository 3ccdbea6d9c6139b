#!/bin/sh
# SPDX-License-Identifier: MIT
# Audit events a peer triggers at will are rate-limited: 60 garbage TLS connections, one after
# the other, with AUDIT_RATE_LIMIT_BURST=5: exactly 5 tls-handshake-failed events reach the log,
# then events-suppressed events count the other 55 (one per window: the flood may straddle one); events that are not peer-triggered
# (config-reloaded, daemon-stopping) still go out.
. "$SRCDIR/tests/integration/lib.sh"
need python3

echo "AUDIT_RATE_LIMIT_BURST=5" >>"$CONF"
# Long enough that the 60 connections fall into one window on a slow (sanitizer) build.
echo "AUDIT_RATE_LIMIT_INTERVAL=2s" >>"$CONF"
start_siprecd

python3 - "$TLS_PORT" <<'PY'
import socket, sys
port = int(sys.argv[1])
for i in range(60):
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    s.sendall(b"this is not a TLS ClientHello\r\n\r\n" * 4)
    try:
        while s.recv(4096):  # until siprecd drops the connection
            pass
    except ConnectionResetError:
        pass
    s.close()
PY
# Each window's summary goes out when the window is over (next event or the 5 s status tick).
# One snapshot of the log per count, so n, w and s agree with each other.
counts() {
	cp "$T/siprecd.log" "$T/snapshot.log"
	n=$(grep -c 'SIPREC_EVENT=tls-handshake-failed' "$T/snapshot.log")
	w=$(grep -c 'SIPREC_EVENT=events-suppressed' "$T/snapshot.log")
	s=$(grep 'SIPREC_EVENT=events-suppressed' "$T/snapshot.log" | sed -n 's/.*COUNT=\([0-9]*\).*/\1/p' | awk '{ t += $1 } END { print t + 0 }')
}
i=0
counts
while [ $((n + s)) -lt 60 ] && [ $i -lt 300 ]; do sleep 0.05; i=$((i + 1)); counts; done
echo "    $n tls-handshake-failed events logged, $s counted as suppressed in $w summaries"
check_eq "every garbage connection is either logged or counted" 60 "$((n + s))"
check "a summary was emitted" test "$w" -ge 1
check "at most the burst (5) per window was logged" test "$n" -ge 5 -a "$n" -le $((5 * (w + 1)))
check "the summary names the kind and the window" grep -q 'SIPREC_EVENT=events-suppressed.*SUPPRESSED_EVENT=tls-handshake-failed.*INTERVAL_SEC=' "$T/siprecd.log"
kill -HUP "$DAEMON_PID"
check "config-reloaded still logged after the flood" wait_for "$T/siprecd.log" 'SIPREC_EVENT=config-reloaded' 10
stop_siprecd
check_eq "exit status" 0 "$STOP_RC"
check "daemon-stopping still logged after the flood" grep -q 'SIPREC_EVENT=daemon-stopping' "$T/siprecd.log"
finish
