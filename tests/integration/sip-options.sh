#!/bin/sh
# SPDX-License-Identifier: MIT
# sipp sends OPTIONS over UDP and TCP (100 requests each) and must get 200 with Allow, Accept and
# Supported: siprec; then the daemon stops on SIGTERM within 1 s with exit status 0, after
# sending STOPPING=1; READY=1 and a STATUS= line were sent at start. "Promptly" is measured
# against the same daemon's start-up (exec to READY=1), so a slow sanitized or loaded run
# scales both: stopping may take at most 1 s or four start-ups, whichever is longer.
. "$SRCDIR/tests/integration/lib.sh"
need sipp python3

t0=$(date +%s%N)
start_siprecd
START_MS=$((($(date +%s%N) - t0) / 1000000))
check "READY=1 carries a STATUS=" grep -q 'READY=1|STATUS=' "$T/notify.log"
check "sipp OPTIONS over UDP (100 calls)" sipp_run udp -sf "$SRCDIR/tests/integration/scenarios/options.xml" -m 100 -r 50 -t u1
check "sipp OPTIONS over TCP (100 calls)" sipp_run tcp -sf "$SRCDIR/tests/integration/scenarios/options.xml" -m 100 -r 50 -t t1
stop_siprecd
check_eq "exit status after SIGTERM" 0 "$STOP_RC"
lim=$((4 * START_MS))
[ $lim -ge 1000 ] || lim=1000
if [ "$STOP_MS" -le $lim ]; then ok "stopped in $STOP_MS ms (start-up took $START_MS ms)"; else bad "stop took $STOP_MS ms, start-up $START_MS ms"; fi
check "STOPPING=1 sent" grep -q 'STOPPING=1' "$T/notify.log"
finish
