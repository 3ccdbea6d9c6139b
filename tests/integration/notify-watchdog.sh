#!/bin/sh
# SPDX-License-Identifier: MIT
# systemd notification protocol as a supervisor sees it: READY=1 only once listening (OPTIONS
# answered right after), WATCHDOG=1 pings from the loop at half of WATCHDOG_USEC, RELOADING=1
# then READY=1 around SIGHUP, STATUS= lines, STOPPING=1 on SIGTERM.
. "$SRCDIR/tests/integration/lib.sh"
need sipp python3

start_siprecd WATCHDOG_USEC=400000
check "OPTIONS answered as soon as READY=1 was sent" sipp_run ready -sf "$SRCDIR/tests/integration/scenarios/options.xml" -m 1 -t u1
# Polls for three pings (the loop sends one every WATCHDOG_USEC/2 = 200 ms).
i=0
while [ "$(grep -c '^WATCHDOG=1' "$T/notify.log")" -lt 3 ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
n=$(grep -c '^WATCHDOG=1' "$T/notify.log")
[ "$n" -ge 3 ] && ok "WATCHDOG=1 pings keep coming ($n)" || bad "WATCHDOG=1 pinged $n times in 10 s"
kill -HUP "$DAEMON_PID"
check "RELOADING=1 after SIGHUP" wait_for "$T/notify.log" 'RELOADING=1' 5
i=0
while [ "$(sed -n '/RELOADING=1/,$p' "$T/notify.log" | grep -c 'READY=1')" -lt 1 ] && [ $i -lt 100 ]; do
	sleep 0.05
	i=$((i + 1))
done
after=$(sed -n '/RELOADING=1/,$p' "$T/notify.log" | grep -c 'READY=1')
[ "$after" -ge 1 ] && ok "READY=1 follows RELOADING=1" || bad "no READY=1 after RELOADING=1"
check "a STATUS= line names the calls" grep -q 'STATUS=.*call' "$T/notify.log"
check "configuration-reloaded audit event" wait_for "$T/siprecd.log" 'SIPREC_EVENT=config-reloaded' 5
stop_siprecd
check_eq "exit status" 0 "$STOP_RC"
check "STOPPING=1" grep -q 'STOPPING=1' "$T/notify.log"
finish
