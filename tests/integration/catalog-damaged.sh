#!/bin/sh
# SPDX-License-Identifier: MIT
# A catalog file damaged on disk (a page of the sessions table overwritten while siprecd was
# stopped: a bad disk, a careless copy): siprecd still starts, refuses each new call with 500
# (it cannot make the session's rows durable, so it must not confirm a recording), says why as
# an error naming the catalog file, SQLite's own words and how to check it, reports the catalog
# failing with SQLite's first such error in `siprecctl status`, and keeps serving (a second
# call is refused the same way, and it stops cleanly).
. "$SRCDIR/tests/integration/lib.sh"
need jq sqlite3
SRC=$BUILD/siprec-src
CTL=$BUILD/siprecctl
[ -x "$SRC" ] && [ -x "$CTL" ] || { bad "siprec-src or siprecctl not built"; finish; }

start_siprecd
stop_siprecd
DB=$T/state/catalog.db
# Everything in the main file, so the damage is not masked by a newer copy of the page in the WAL.
catalog 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
ROOT=$(catalog "SELECT rootpage FROM sqlite_master WHERE name = 'sessions'")
PSZ=$(catalog 'PRAGMA page_size')
check "the sessions table has a root page" test "${ROOT:-0}" -gt 1
# An invalid b-tree page type, and a cell count past the page's end.
python3 - "$DB" "$ROOT" "$PSZ" <<'PY'
import sys
path, root, psz = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "r+b") as f:
    f.seek((root - 1) * psz)
    f.write(b"\x07\xff\xff\xff\xff\xff\xff\xff")
PY

start_siprecd
for n in 1 2; do
	"$SRC" -t udp --duration 1 --json -q 127.0.0.1:"$SIP_PORT" >"$T/call$n.json" 2>"$T/call$n.err"
	check_eq "call $n on a damaged catalog: refused with 500" 500 "$(jq '.calls[0].status' "$T/call$n.json")"
	check_eq "...with a Warning naming the catalog" '"399 siprecd \"the catalog cannot record the session\""' \
		"$(jq '.calls[0].warning' "$T/call$n.json")"
done
check "the error names the catalog, SQLite's reason and how to check the file" \
	grep -q "err: catalog $DB: .*malformed.*the file is damaged; stop siprecd and check it with sqlite3 $DB 'PRAGMA integrity_check'" \
	"$T/siprecd.log"
check "no session is confirmed as recording" sh -c "! grep -q 'SIPREC_EVENT=recording-started' '$T/siprecd.log'"
"$CTL" --socket "$T/run/control" status >"$T/status.out" 2>&1
check "siprecctl status: the catalog failing, damaged, with SQLite's first reason" \
	grep -Eq "^catalog +failing +catalog file $DB damaged \(session-begin: database disk image is malformed\)" "$T/status.out"
check "siprecd still runs" kill -0 "$DAEMON_PID"
stop_siprecd
check_eq "siprecd stops cleanly" 0 "$STOP_RC"
finish
