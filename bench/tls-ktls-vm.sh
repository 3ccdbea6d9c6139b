#!/bin/sh
# SPDX-License-Identifier: MIT
# tls-ktls-vm.sh - the in-VM half of bench/tls-ktls.sh (busybox userland, run by
# tests/vm/run-in-vm.sh): measures siprecd's TLS SIP message throughput and CPU per message
# with kernel TLS, then with tls.ko unloaded (OpenSSL records), alternating ROUNDS times, in one
# boot. Prints "BENCH mode=... msgs=... secs=... cpu_ticks=... txsw=..." lines.
cd /testdir || exit 1
THREADS=${BENCH_THREADS:-2} DEPTH=${BENCH_DEPTH:-8} SECS=${BENCH_SECONDS:-3} ROUNDS=${BENCH_ROUNDS:-2}
export STATE_DIRECTORY=/tmp/state RUNTIME_DIRECTORY=/tmp/run
printf 'SIP_LISTEN_ADDRESS=127.0.0.1\nTLS_PORT=5061\nLOG_TARGET=stderr\nLOG_LEVEL=info\n' >/tmp/b.conf
TLSKO=$(find /lib/modules -name tls.ko | head -n 1)
stat_of() { awk -v k="$1" '$1 == k { print $2 }' /proc/net/tls_stat 2>/dev/null; }
ticks() { awk '{ print $14 + $15 }' /proc/$1/stat; }

run() { # MODE
	: >/tmp/b.log
	./siprecd --config /tmp/b.conf >/tmp/b.log 2>&1 &
	pid=$!
	i=0
	while ! grep -q 'siprecd ready' /tmp/b.log; do
		i=$((i + 1)); [ $i -gt 600 ] && { cat /tmp/b.log; return 1; }; sleep 0.1
	done
	grep -o 'kernel TLS [a-z]*' /tmp/b.log
	tx0=$(stat_of TlsTxSw)
	t0=$(ticks $pid)
	out=$(./tls-sip-load 127.0.0.1 5061 "$THREADS" "$DEPTH" "$SECS")
	t1=$(ticks $pid)
	tx1=$(stat_of TlsTxSw)
	kill -TERM $pid
	wait $pid
	echo "BENCH mode=$1 $(echo "$out" | awk '{ print "msgs=" $2 " secs=" $4 }') cpu_ticks=$((t1 - t0)) txsw=$((${tx1:-0} - ${tx0:-0})) threads=$THREADS depth=$DEPTH"
}

r=0
while [ $r -lt "$ROUNDS" ]; do
	r=$((r + 1))
	echo /sbin/modprobe >/proc/sys/kernel/modprobe
	grep -q '^tls ' /proc/modules || insmod "$TLSKO"
	run ktls || exit 1
	# No autoload while tls.ko is out: the kernel would bring it back on TCP_ULP "tls".
	echo /bin/false >/proc/sys/kernel/modprobe
	rmmod tls || { echo "rmmod tls failed"; exit 1; }
	run openssl || exit 1
done
exit 0
