#!/bin/sh
# SPDX-License-Identifier: MIT
# siprecd started by systemd-socket-activate with named fds (sip-tcp, then sip-udp) serves
# OPTIONS on the passed sockets and binds nothing itself; an fd with an unknown name is refused
# at start with a message naming it. systemd-socket-activate starts its child on the first
# connection or datagram, and passes only the environment given with -E.
. "$SRCDIR/tests/integration/lib.sh"
need sipp python3 systemd-socket-activate

activate() { # FDNAME PORT [--datagram]
	fdname=$1 port=$2
	shift 2
	notify_listen
	systemd-socket-activate "$@" -l 127.0.0.1:"$port" --fdname="$fdname" \
		-E NOTIFY_SOCKET="$T/notify" -E STATE_DIRECTORY="$STATE_DIRECTORY" \
		-E RUNTIME_DIRECTORY="$RUNTIME_DIRECTORY" -E ASAN_OPTIONS="${ASAN_OPTIONS:-}" \
		$SIPRECD_WRAPPER "$SIPRECD" --config "$CONF" >>"$T/siprecd.log" 2>&1 &
	DAEMON_PID=$!
	# It says when its socket is bound (siprecd starts on the first connection or datagram).
	wait_for "$T/siprecd.log" "Listening on 127.0.0.1:$port as 3" 10 || bad "systemd-socket-activate did not listen"
}

OPT=$SRCDIR/tests/integration/scenarios/options.xml
P=$(free_port)
activate sip-tcp "$P"
check "OPTIONS over the activated TCP socket" sipp_run act-tcp -sf "$OPT" -m 5 -t t1 127.0.0.1:"$P"
check "READY=1 sent" wait_for "$T/notify.log" 'READY=1' 10
check "log names the socket-activated fd" grep -q 'socket-activated fd 3 (sip-tcp)' "$T/siprecd.log"
# The configured SIP_PORT must not be bound: activation replaces binding.
if sipp_run not-bound -sf "$OPT" -m 1 -t u1 -timeout 2s; then
	bad "configured port answered although socket-activated"
else
	ok "configured port not bound when socket-activated"
fi
stop_siprecd
check_eq "exit status" 0 "$STOP_RC"

P=$(free_port)
activate sip-udp "$P" --datagram
check "OPTIONS over the activated UDP socket" sipp_run act-udp -sf "$OPT" -m 5 -t u1 127.0.0.1:"$P"
check "READY=1 sent" wait_for "$T/notify.log" 'READY=1' 10
stop_siprecd
check_eq "exit status" 0 "$STOP_RC"

P=$(free_port)
timeout 10 systemd-socket-activate -l 127.0.0.1:"$P" --fdname=bogus \
	-E STATE_DIRECTORY="$STATE_DIRECTORY" -E RUNTIME_DIRECTORY="$RUNTIME_DIRECTORY" \
	"$SIPRECD" --config "$CONF" >"$T/bogus.log" 2>&1 &
pid=$!
wait_for "$T/bogus.log" "Listening on 127.0.0.1:$P as 3" 10 || bad "systemd-socket-activate did not listen"
python3 -c "import socket; s=socket.create_connection(('127.0.0.1', $P)); s.close()"
wait $pid
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] && ok "unknown fd name refused (exit $rc)" || bad "unknown fd name: exit $rc"
check "message names the fd name" grep -q "unknown name 'bogus'" "$T/bogus.log"
finish
