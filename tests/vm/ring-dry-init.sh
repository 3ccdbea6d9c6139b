#!/bin/sh
# SPDX-License-Identifier: MIT
# ring-dry-init.sh - runs inside the VM (tests/vm/ring-dry-test.sh boots it through run-in-vm.sh,
# Debian 12's 6.1 kernel, busybox userland): siprecd records CALLS SRTP calls over UDP from
# siprec-src while it is stopped (SIGSTOP) for STOP_SECONDS mid-call, so more datagrams wait in
# its media sockets than its media workers' receive rings have buffers (512 each). When siprecd
# runs again every socket's multishot receive fills buffers until the ring runs dry (-ENOBUFS
# ends it), and the worker re-arms it once buffers are back: the datagrams that found no buffer
# wait in their sockets. Asserts that the rings did run dry (else this tests nothing), that the
# streams received again while the calls were up (tests/integration/media-ring-dry.sh says why),
# and that nothing was lost: every packet siprec-src sent is a frame in a finalized recording.
# Exit 0 pass, 1 fail.
cd /testdir || exit 1
. ./init-lib.sh
CALLS=${CALLS:-20} DUR=${CALL_SECONDS:-8} STOP=${STOP_SECONDS:-2}
TOTAL=$((2 * CALLS * 50 * DUR))
received() {
	wget -qO- http://127.0.0.1:9100/metrics | awk '$1 == "siprecd_rtp_packets_received_total" { print int($2) }'
}

uname -r
export STATE_DIRECTORY=/tmp/state RUNTIME_DIRECTORY=/tmp/run
cat >/tmp/siprecd.conf <<CFG
SIP_LISTEN_ADDRESS=127.0.0.1
SIP_PORT=5060
LOG_TARGET=stderr
LOG_LEVEL=debug
METRICS_LISTEN=127.0.0.1:9100
CFG
start_siprecd /tmp/siprecd.conf /tmp/siprecd.log

./siprec-src -t udp -n "$CALLS" -r 20 --duration "$DUR" --json -q 127.0.0.1:5060 >/tmp/src.json 2>/tmp/src.err &
SRC=$!
i=0
while [ "$(grep -c 'SIPREC_EVENT=session-started' /tmp/siprecd.log)" -lt "$CALLS" ]; do
	i=$((i + 1)); [ $i -gt 300 ] && break; sleep 0.1
done
sleep 1
echo "stopping siprecd for $STOP s with $CALLS calls up"
kill -STOP $PID
sleep "$STOP"
kill -CONT $PID
i=0 n=0 ended=0
while [ $i -lt 150 ]; do
	if grep -q 'SIPREC_EVENT=session-ended' /tmp/siprecd.log; then ended=1; break; fi
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
wait $SRC
rc=$?
cat /tmp/src.err
[ $rc -eq 0 ] && ok "siprec-src: $CALLS calls ok" || bad "siprec-src exit $rc"
kill -TERM $PID
wait $PID
rc=$?
[ $rc -eq 0 ] && ok "siprecd exit status 0" || bad "siprecd exit status $rc"

grep 'ran dry' /tmp/siprecd.log
dry=$(sed -n 's/.*the buffer ring ran dry \([0-9]*\) times.*/\1/p' /tmp/siprecd.log | awk '{ s += $1 } END { print s + 0 }')
[ "$dry" -ge 1 ] && ok "the receive rings ran dry $dry times" ||
	bad "the receive rings never ran dry: the stop did not queue enough datagrams to test this"
sent=$(./jq '[.calls[].streams[].packets] | add' /tmp/src.json)
late=$(./jq '.totals.late_ticks' /tmp/src.json)
frames=$(./sqlite3 -readonly /tmp/state/catalog.db "SELECT sum(frames) FROM recordings WHERE state = 'final'")
counted=$(./sqlite3 -readonly /tmp/state/catalog.db "SELECT sum(packets) FROM streams")
nfinal=$(./sqlite3 -readonly /tmp/state/catalog.db "SELECT count(*) FROM recordings WHERE state = 'final' AND complete = 1")
echo "sent $sent packets (late ticks $late), streams counted $counted, frames in final recordings $frames"
[ "$nfinal" -eq $((2 * CALLS)) ] && ok "$nfinal recordings final and complete" || bad "$nfinal recordings final and complete, not $((2 * CALLS))"
[ -n "$sent" ] && [ "$sent" -gt 0 ] && [ "$frames" = "$sent" ] && [ "$counted" = "$sent" ] &&
	ok "nothing lost: $sent packets sent = counted = frames recorded" ||
	bad "lost packets: sent $sent, counted $counted, frames recorded $frames"

if [ $fails -ne 0 ]; then
	echo "--- siprecd log"
	grep -v 'debug: recording' /tmp/siprecd.log | tail -n 40
	echo "$fails check(s) failed"
	exit 1
fi
echo "all checks passed"
exit 0
