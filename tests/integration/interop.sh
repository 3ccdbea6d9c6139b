#!/bin/sh
# SPDX-License-Identifier: MIT
# The interop corpus (tests/interop/): every vendor call flow of tests/interop/flows/ played
# against one siprecd by tests/interop/driver.py, several flows at a time. One line per flow
# (PASS, FAIL, XFAIL: a known failure listed in tests/interop/xfail.txt with its reason, XPASS:
# listed there but passing, so the entry must go), then a summary. Per flow it checks the final
# response, the SDP answer (one m= per offered m=, same order, labels, recvonly, port 0 only
# where expected), BYE 200, the catalog rows (session, participants, stream senders and codecs,
# correlation columns) and the exported audio (duration; sample-exact for G.711; the tone's
# frequency for the other codecs). Also checks that the table of docs/INTEROP.md is the one the
# corpus and xfail.txt give (`python3 tests/interop/driver.py --doc` prints it).
#   INTEROP_FLOWS="name ..." runs only those; INTEROP_STRICT=1 makes an XPASS fail the test.
. "$SRCDIR/tests/integration/lib.sh"
need python3 sqlite3

DRIVER=$SRCDIR/tests/interop/driver.py
EXPORT=$BUILD/siprec-export
[ -x "$EXPORT" ] || { bad "$EXPORT not built"; finish; }

# docs/INTEROP.md carries the generated table between two markers.
python3 "$DRIVER" --doc >"$T/table.md"
sed -n '/^<!-- interop-table:begin/,/^<!-- interop-table:end/p' "$SRCDIR/docs/INTEROP.md" |
	sed '1d;$d' >"$T/table.doc"
if cmp -s "$T/table.md" "$T/table.doc"; then
	ok "docs/INTEROP.md lists every flow of the corpus with its expected result"
else
	bad "docs/INTEROP.md table is out of date: regenerate it with python3 tests/interop/driver.py --doc"
	diff "$T/table.doc" "$T/table.md" | head -n 20
fi

# Six flows at a time, up to four streams each with RTCP ports: a wider media range than
# lib.sh's 20 ports, and the codecs an SRC offers are all recorded.
media_ports 100
sed -i -e "s/^LOG_LEVEL=.*/LOG_LEVEL=info/" "$CONF"
# The vendors' own correlation headers the flows check in session_context (Twilio, Genesys,
# Ribbon, IMS charging vector, CUBE).
echo "RECORD_SIP_HEADERS=X-Twilio-CallSid,X-Genesys-CallUUID,X-Ribbon-Session-ID,P-Charging-Vector,Cisco-Guid" >>"$CONF"
start_siprecd

# shellcheck disable=SC2086
if python3 "$DRIVER" --srs "127.0.0.1:$SIP_PORT" --conf "$CONF" --catalog "$T/state/catalog.db" \
	--export "$EXPORT" --out "$T/flows" --jobs "${INTEROP_JOBS:-6}" ${INTEROP_FLOWS:-}; then
	ok "interop corpus: no unexpected failure"
else
	bad "interop corpus: flows failed (logs of each flow: $T/flows/NAME.log)"
fi

stop_siprecd
check_eq "exit status after SIGTERM" 0 "$STOP_RC"
finish
