#!/bin/sh
# SPDX-License-Identifier: MIT
# The interop corpus's IPv6 flows (flow.json "ipv6": true) against a siprecd listening on ::1:
# SIP over UDP with bracketed IPv6 references in Via, Contact and Request-URI, SDP with
# c=IN IP6, media from ::1. The driver checks the answer (its c= is where the media goes, so
# an IPv4 answer fails the flow), BYE, the catalog rows and the exported audio, as for the
# IPv4 flows of interop.sh. Skips when the loopback has no ::1.
. "$SRCDIR/tests/integration/lib.sh"
need python3 sqlite3

EXPORT=$BUILD/siprec-export
[ -x "$EXPORT" ] || { bad "$EXPORT not built"; finish; }
python3 -c 'import socket; socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).bind(("::1", 0))' \
	2>/dev/null || skip "no IPv6 loopback (::1) in this network namespace"

sed -i -e "s/^SIP_LISTEN_ADDRESS=.*/SIP_LISTEN_ADDRESS=::1/" -e "s/^LOG_LEVEL=.*/LOG_LEVEL=info/" "$CONF"
start_siprecd

if python3 "$SRCDIR/tests/interop/driver.py" --srs "[::1]:$SIP_PORT" --conf "$CONF" \
	--catalog "$T/state/catalog.db" --export "$EXPORT" --out "$T/flows"; then
	ok "IPv6 interop flows: no unexpected failure"
else
	bad "IPv6 interop flows failed (logs of each flow: $T/flows/NAME.log)"
fi

stop_siprecd
check_eq "exit status after SIGTERM" 0 "$STOP_RC"
finish
