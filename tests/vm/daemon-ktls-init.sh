#!/bin/sh
# SPDX-License-Identifier: MIT
# daemon-ktls-init.sh - runs inside the kTLS VM (tests/vm/daemon-ktls-test.sh boots it through
# run-in-vm.sh, busybox userland): starts siprecd as root, records one SIPREC call over TLS 1.2
# and one over TLS 1.3 with siprec-src, and asserts that kTLS TX and RX engaged on siprecd's
# side, that /proc/net/tls_stat TlsTxSw/TlsRxSw grew by the number of connections, that
# sock_diag reported "tls" for the connections (siprecd's log line on SIGHUP) and that the
# exported recordings have the call's length. Exit 0 pass, 1 fail, 77 kTLS unavailable.
cd /testdir || exit 1
. ./init-lib.sh
stat_of() { awk -v k="$1" '$1 == k { print $2 }' /proc/net/tls_stat; }
DUR=${CALL_SECONDS:-2}

export STATE_DIRECTORY=/tmp/state RUNTIME_DIRECTORY=/tmp/run
cat >/tmp/siprecd.conf <<CFG
SIP_LISTEN_ADDRESS=127.0.0.1
SIP_PORT=5060
TLS_PORT=5061
LOG_TARGET=stderr
LOG_LEVEL=debug
FLUSH_INTERVAL=200ms
CFG
# This VM exists to have kTLS: without it the test fails (no skip).
[ -r /proc/net/tls_stat ] || { echo "no /proc/net/tls_stat: tls.ko not loaded"; exit 1; }

start_siprecd /tmp/siprecd.conf /tmp/siprecd.log
grep 'kernel TLS' /tmp/siprecd.log
if ! grep -q 'kernel TLS available' /tmp/siprecd.log; then
	bad "siprecd says kernel TLS is unavailable in the kTLS VM"
fi
TX0=$(stat_of TlsTxSw) RX0=$(stat_of TlsRxSw) DE0=$(stat_of TlsDecryptError)

NCONN=0
for v in 1.2 1.3; do
	./siprec-src -t tls --ca /tmp/state/tls/cert.pem --sni localhost --tls-version $v \
		--duration "$DUR" 127.0.0.1:5061 >/tmp/src-$v.out 2>&1 &
	SRC=$!
	NCONN=$((NCONN + 1))
	# While the call is up: SIGHUP makes siprecd reload and log the sock_diag view.
	i=0
	while ! grep -q "SIP_TRANSPORT=tls" /tmp/siprecd.log || \
		[ "$(grep -c 'SIPREC_EVENT=session-started' /tmp/siprecd.log)" -lt $NCONN ]; do
		i=$((i + 1)); [ $i -gt 300 ] && break; sleep 0.1
	done
	kill -HUP $PID
	wait $SRC
	rc=$?
	cat /tmp/src-$v.out
	if [ $rc -eq 0 ] && grep -q 'ok status 200' /tmp/src-$v.out; then ok "TLS $v call"; else bad "TLS $v call (exit $rc)"; fi
	if grep -qE "tls: connection from 127.0.0.1:[0-9]+: TLSv$v .*kTLS tx=kernel rx=kernel" /tmp/siprecd.log; then
		ok "siprecd: kTLS TX and RX engaged for TLS $v"
	else
		bad "siprecd: kTLS TX+RX not engaged for TLS $v"; grep 'tls: connection' /tmp/siprecd.log
	fi
done

TX1=$(stat_of TlsTxSw) RX1=$(stat_of TlsRxSw) DE1=$(stat_of TlsDecryptError)
echo "tls_stat TlsTxSw $TX0 -> $TX1, TlsRxSw $RX0 -> $RX1, TlsDecryptError $DE0 -> $DE1"
[ $((TX1 - TX0)) -eq $NCONN ] && ok "TlsTxSw grew by $NCONN" || bad "TlsTxSw grew by $((TX1 - TX0)), not $NCONN"
[ $((RX1 - RX0)) -eq $NCONN ] && ok "TlsRxSw grew by $NCONN" || bad "TlsRxSw grew by $((RX1 - RX0)), not $NCONN"
[ "$DE1" = "$DE0" ] && ok "no decrypt errors" || bad "TlsDecryptError grew"

grep 'sock_diag' /tmp/siprecd.log
for v in 0x0303 0x0304; do
	if grep -qE "sock_diag: .* ulp=tls version=$v .*tx=sw rx=sw" /tmp/siprecd.log; then
		ok "sock_diag reports tls $v with software TX and RX"
	else
		bad "sock_diag does not report tls $v"
	fi
done

kill -TERM $PID
wait $PID
rc=$?
[ $rc -eq 0 ] && ok "siprecd exit status 0" || bad "siprecd exit status $rc"

# The recordings: every packet siprec-src sent is in each finalized recording, and the export
# of each session is a stereo WAV (44-byte header + 4 bytes a frame at 8 kHz) of the call's
# length plus the later leg's start: siprec-export aligns the legs on their first packet's
# arrival, and starts legs less than 10 ms apart together. The catalog's first-arrival times
# (milliseconds, streams.first_packet_at) give that offset, so the count is known to +-8 frames
# (one ms of rounding) instead of a fixed window a slow emulated VM can overrun.
sent=$((50 * DUR))
fin=$(grep -c "SIPREC_EVENT=recording-finalized .*RECORDING_COMPLETE=1" /tmp/siprecd.log)
[ "$fin" -eq $((2 * NCONN)) ] && ok "$fin recordings finalized complete" || bad "$fin recordings finalized, not $((2 * NCONN))"
nfull=$(grep "SIPREC_EVENT=recording-finalized" /tmp/siprecd.log | grep -c ", $sent packets ")
[ "$nfull" -eq $((2 * NCONN)) ] && ok "every recording holds all $sent packets" || bad "$nfull recordings hold $sent packets"
n=0
for uuid in $(sed -n 's/.*SIPREC_EVENT=session-started SIPREC_SESSION_ID=\([0-9a-f-]*\).*/\1/p' /tmp/siprecd.log); do
	n=$((n + 1))
	if ./siprec-export -k /tmp/state/keys/master.key --session "$uuid" \
		--catalog /tmp/state/catalog.db -o /tmp/call$n.wav >/tmp/export$n.out 2>&1; then
		ok "siprec-export session $uuid"
	else
		bad "siprec-export session $uuid"; cat /tmp/export$n.out
	fi
	size=$(wc -c </tmp/call$n.wav 2>/dev/null || echo 0)
	echo "call $n: $(sha256sum /tmp/call$n.wav 2>/dev/null | cut -d' ' -f1) $size bytes"
	frames=$(((size - 44) / 4))
	off=$(./sqlite3 -readonly /tmp/state/catalog.db "SELECT max(st.first_packet_at) - min(st.first_packet_at) \
		FROM streams st JOIN sessions s ON s.id = st.session_id WHERE s.uuid = '$uuid'")
	[ -n "$off" ] || { bad "no first-arrival times in the catalog for $uuid"; off=0; }
	# 9..10 ms apart in whole ms may be either side of the 10 ms alignment threshold.
	lo=$((8000 * DUR + off * 8 - 8)) hi=$((8000 * DUR + off * 8 + 8))
	[ "$off" -le 10 ] && lo=$((8000 * DUR))
	[ "$off" -lt 9 ] && hi=$((8000 * DUR))
	if [ "$frames" -ge $lo ] && [ "$frames" -le $hi ]; then
		ok "call $n WAV has ${DUR} s of stereo audio + the legs' ${off} ms start offset ($frames frames)"
	else
		bad "call $n WAV has $frames frames, not $lo..$hi (${DUR} s, legs' first packets ${off} ms apart)"
	fi
done
[ $n -eq $NCONN ] && ok "$n sessions recorded" || bad "$n sessions recorded, not $NCONN"

if [ $fails -ne 0 ]; then
	echo "--- siprecd log"
	grep -v 'rtp\|srtp' /tmp/siprecd.log | tail -n 60
	echo "$fails check(s) failed"
	exit 1
fi
echo "all checks passed"
exit 0
