#!/bin/sh
# SPDX-License-Identifier: MIT
# KEY_ROTATION_INTERVAL (docs/KEYS.md "Rotation"), without waiting an interval out: the
# catalog's activated_at of the active data key is moved back in time while the daemon is
# stopped. (1) At start, a key older than the interval is rotated before READY. (2) A running
# daemon rotates when the active key reaches the interval: the key is started 57 s into a 60 s
# interval, and the next version appears with activated_at no earlier than 60 s after it.
# (3) A key younger than the interval is left alone at start.
. "$SRCDIR/tests/integration/lib.sh"
need sqlite3
echo "KEY_ROTATION_INTERVAL=60s" >>"$CONF"
now_ms() { echo $(($(date +%s%N) / 1000000)); }
active() { catalog "SELECT version FROM keys WHERE algorithm = 'AES-256' AND state = 'active'"; }
age_active() { # MS: the active key was activated MS ago
	catalog "UPDATE keys SET activated_at = $(($(now_ms) - $1)) WHERE algorithm = 'AES-256' AND state = 'active'"
}

start_siprecd
stop_siprecd
check_eq "first start: version 1 active" 1 "$(active)"

# (3) younger than the interval: kept
age_active 30000
start_siprecd
stop_siprecd
check_eq "a 30 s old key is not rotated at start" 1 "$(active)"

# (1) older than the interval: rotated at start
age_active 120000
mark=$(wc -l <"$T/siprecd.log")
start_siprecd
check_eq "a 120 s old key is rotated at start" 2 "$(active)"
# ... before READY, so no recording of this run starts under the expired key.
order=$(tail -n +$((mark + 1)) "$T/siprecd.log" | grep -oE 'SIPREC_EVENT=key-rotated .*KEY_VERSION=2 |siprecd ready' | sed 's/SIPREC_EVENT=key-rotated.*/rotated/' | tr '\n' ' ')
check_eq "rotated before READY (log order)" "rotated siprecd ready " "$order"
stop_siprecd

# (2) reaches the interval while running
age_active 57000
t2=$(catalog "SELECT activated_at FROM keys WHERE algorithm = 'AES-256' AND version = 2")
start_siprecd
check_eq "a 57 s old key is not rotated at start" 2 "$(active)"
i=0
while [ "$(active)" = 2 ] && [ $i -lt 300 ]; do sleep 0.05; i=$((i + 1)); done
check_eq "the running daemon rotated when the interval was reached" 3 "$(active)"
t3=$(catalog "SELECT activated_at FROM keys WHERE algorithm = 'AES-256' AND version = 3")
if [ -n "$t3" ] && [ $((t3 - t2)) -ge 60000 ]; then
	ok "version 3 activated $((t3 - t2)) ms after version 2 (interval 60000 ms)"
else
	bad "version 3 activated ${t3:-?} - $t2 ms after version 2: before the interval"
fi
check "the rotation is logged" grep -q "version 3 is now used for new recordings" "$T/siprecd.log"
check_eq "version 2 retired" retired "$(catalog "SELECT state FROM keys WHERE algorithm = 'AES-256' AND version = 2")"
stop_siprecd
check_eq "exit status" 0 "$STOP_RC"
finish
