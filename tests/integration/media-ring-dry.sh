#!/bin/sh
# SPDX-License-Identifier: MIT
# The media workers' receive rings running dry (512 buffers each): siprecd records SRTP calls
# over UDP from siprec-src and is stopped (SIGSTOP) mid-call for 2 s, so more datagrams wait in
# its media sockets than the rings have buffers. When it runs again the multishot receives fill
# buffers until a ring runs dry (-ENOBUFS ends them) and the worker re-arms them as buffers come
# back; the datagrams that found no buffer wait in their sockets. Checks that the rings did run
# dry (else nothing here was tested), that the streams received again while the calls were up
# (a stream left unarmed would keep its datagrams in its socket until the BYE, when the close
# drains them: nothing lost, but nothing recorded for the rest of the call), and that no packet
# was lost: every packet siprec-src sent is counted and is a frame in a final recording. tests/vm/ring-dry-test.sh runs the same on
# Debian 12's 6.1 kernel.
. "$SRCDIR/tests/integration/lib.sh"
need jq sqlite3
SRC=$BUILD/siprec-src
[ -x "$SRC" ] || { bad "siprec-src not built"; finish; }
# 20 calls: 40 streams, 20 a worker. Recent kernels receive at most 32 datagrams a socket per
# round of a multishot receive (MULTISHOT_MAX_RETRY in io_uring/net.c), so a ring of 512 runs dry only with more than 16 busy sockets.
CALLS=20 DUR=8
TOTAL=$((2 * CALLS * 50 * DUR))
MPORT=$(free_port)
echo "METRICS_LISTEN=127.0.0.1:$MPORT" >>"$CONF"
received() {
	python3 -c 'import sys, urllib.request
for l in urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode().splitlines():
    if l.startswith("siprecd_rtp_packets_received_total "): print(int(float(l.split()[1])))' "$MPORT"
}
# two ports (RTP, RTCP) a stream, two streams a call
sed -i "s/^RTP_PORT_MAX=.*/RTP_PORT_MAX=$((RTP_MIN + 4 * CALLS - 1))/" "$CONF"

start_siprecd
"$SRC" -t udp -n $CALLS -r 20 --duration $DUR --json -q 127.0.0.1:"$SIP_PORT" >"$T/src.json" 2>"$T/src.err" &
SRC_PID=$!
BG_PIDS=$SRC_PID
i=0
while [ "$(grep -c 'SIPREC_EVENT=session-started' "$T/siprecd.log")" -lt $CALLS ] && [ $i -lt 150 ]; do
	sleep 0.1; i=$((i + 1))
done
sleep 0.5
kill -STOP "$DAEMON_PID"
sleep 2
kill -CONT "$DAEMON_PID"
# Until the first call ends (its BYE, about 4.5 s from here), or 60% of the calls' packets
# have been received: what was queued in the stop, then the traffic that followed.
i=0 n=0 ended=0
while [ $i -lt 150 ]; do
	if grep -q 'SIPREC_EVENT=session-ended' "$T/siprecd.log"; then ended=1; break; fi
	n=$(received)
	[ "${n:-0}" -ge $((TOTAL * 6 / 10)) ] && break
	sleep 0.1
	i=$((i + 1))
done
if [ "${n:-0}" -ge $((TOTAL * 6 / 10)) ]; then
	ok "received again after the rings ran dry: $n of $TOTAL packets while every call was up"
else
	bad "received ${n:-?} of $TOTAL packets while every call was up (first call ended: $ended): a stream left unarmed?"
fi
wait $SRC_PID
rc=$?
BG_PIDS=""
check_eq "siprec-src: every call ok" 0 "$rc"
stop_siprecd
check_eq "siprecd exit status" 0 "$STOP_RC"

dry=$(sed -n 's/.*the buffer ring ran dry \([0-9]*\) times.*/\1/p' "$T/siprecd.log" | awk '{ s += $1 } END { print s + 0 }')
if [ "$dry" -ge 1 ]; then ok "the receive rings ran dry ($dry times)"; else
	bad "the receive rings never ran dry: the stop did not queue enough datagrams to test this"; fi
sent=$(jq '[.calls[].streams[].packets] | add' "$T/src.json")
check_eq "recordings final and complete" $((2 * CALLS)) \
	"$(catalog "SELECT count(*) FROM recordings WHERE state = 'final' AND complete = 1")"
check_eq "packets counted = sent" "$sent" "$(catalog 'SELECT sum(packets) FROM streams')"
check_eq "frames recorded = sent" "$sent" "$(catalog "SELECT sum(frames) FROM recordings WHERE state = 'final'")"
finish
