#!/bin/sh
# SPDX-License-Identifier: MIT
# The interop corpus's hold flows (tests/interop/) against a siprecd that ends sessions on RTP
# timeouts (RTP_TIMEOUT=3s, RTP_TIMEOUT_ENDS_SESSION=true): a held stream never times out, and
# a resumed one counts its timeout from the resume, so each flow must still end by the SRC's BYE
# (the driver's BYE answered 200, the catalog's end reason bye), not by siprecd's rtp-timeout.
. "$SRCDIR/tests/integration/lib.sh"
need python3 sqlite3

DRIVER=$SRCDIR/tests/interop/driver.py
EXPORT=$BUILD/siprec-export
[ -x "$EXPORT" ] || { bad "$EXPORT not built"; finish; }
media_ports 40
sed -i -e "s/^LOG_LEVEL=.*/LOG_LEVEL=info/" "$CONF"
printf 'RTP_TIMEOUT=3s\nRTP_TIMEOUT_ENDS_SESSION=true\n' >>"$CONF"
start_siprecd
if python3 "$DRIVER" --srs "127.0.0.1:$SIP_PORT" --conf "$CONF" --catalog "$T/state/catalog.db" \
	--export "$EXPORT" --out "$T/flows" --jobs 4 acme-long-hold-slow-resume acme-hold-resume \
	rfc7866-pause-inactive rfc3311-update-sdp-hold-bye-reason; then
	ok "hold flows end by the SRC's BYE under RTP_TIMEOUT_ENDS_SESSION"
else
	bad "hold flows failed (logs of each flow: $T/flows/NAME.log)"
fi
check "no session ended for an RTP timeout" test "$(catalog "SELECT count(*) FROM sessions WHERE end_reason = 'rtp-timeout'")" = 0
stop_siprecd
check_eq "exit status after SIGTERM" 0 "$STOP_RC"
finish
