#!/bin/sh
# SPDX-License-Identifier: MIT
# Audit events reach the journal with their fixed MESSAGE_IDs and searchable fields: siprecd
# runs with LOG_TARGET=journal in a private mount namespace where /run/systemd/journal/socket is
# a test-owned socket (tests/helpers/journal-capture.py decodes the native protocol), records a
# call from sipp, and the test checks the session-started, recording-finalized and
# session-ended entries and that they carry the same SIPREC_SESSION_ID and SIP_CALL_ID.
. "$SRCDIR/tests/integration/lib.sh"
need sipp python3 unshare jq
[ "$(id -u)" = 0 ] || skip "needs root for a private mount namespace"
unshare -m true 2>/dev/null || skip "cannot create a mount namespace here"

sed -i 's/^LOG_TARGET=.*/LOG_TARGET=journal/' "$CONF"
J=$T/journal.jsonl
cat >"$T/inner.sh" <<INNER
set -e
mount --make-rprivate /
mkdir -p /run/systemd/journal
mount -t tmpfs -o mode=0755 tmpfs /run/systemd/journal
python3 "$SRCDIR/tests/helpers/journal-capture.py" /run/systemd/journal/socket "$J" &
cap=\$!
i=0; while [ ! -S /run/systemd/journal/socket ] && [ \$i -lt 50 ]; do sleep 0.1; i=\$((i+1)); done
$SIPRECD_WRAPPER "$SIPRECD" --config "$CONF" 2>"$T/siprecd.log" &
d=\$!
i=0; while ! grep -q daemon-started "$J" 2>/dev/null && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i+1)); done
cd "$T" && timeout 30 sipp 127.0.0.1:$SIP_PORT -sn uac -m 1 -d 500 -i 127.0.0.1 -p $(free_port) \
	-timeout 20s -timeout_error -nostdin >"$T/sipp.out" 2>&1 || echo "sipp failed" >&2
i=0; while ! grep -q session-ended "$J" 2>/dev/null && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i+1)); done
kill -TERM \$d; rc=0; wait \$d || rc=\$?
echo \$rc >"$T/daemon.rc"
i=0; while ! grep -q daemon-stopping "$J" 2>/dev/null && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i+1)); done
kill \$cap
INNER
unshare -m sh "$T/inner.sh"
check_eq "siprecd exit status after SIGTERM" 0 "$(cat "$T/daemon.rc" 2>/dev/null)"
ev() { jq -c "select(.SIPREC_EVENT == \"$1\")" "$J" | head -n 1; }
started=$(ev session-started)
ended=$(ev session-ended)
final=$(ev recording-finalized)
[ -n "$started" ] && ok "session-started reached the journal" || bad "no session-started entry"
check_eq "session-started MESSAGE_ID" 3c0ff77b6bb340709effcef842f60dd1 "$(echo "$started" | jq -r .MESSAGE_ID)"
check_eq "session-ended MESSAGE_ID" 7ca0cdb264604bf5a9d65e444a1629c2 "$(echo "$ended" | jq -r .MESSAGE_ID)"
check_eq "recording-finalized MESSAGE_ID" 91814961d9904b33a7b18129fb39d9f7 "$(echo "$final" | jq -r .MESSAGE_ID)"
sid=$(echo "$started" | jq -r .SIPREC_SESSION_ID)
cid=$(echo "$started" | jq -r .SIP_CALL_ID)
case "$sid" in ????????-????-????-????-????????????) ok "SIPREC_SESSION_ID is a uuid ($sid)" ;; *) bad "SIPREC_SESSION_ID '$sid'" ;; esac
check_eq "session-ended has the same session id" "$sid" "$(echo "$ended" | jq -r .SIPREC_SESSION_ID)"
check_eq "session-ended has the same Call-ID" "$cid" "$(echo "$ended" | jq -r .SIP_CALL_ID)"
check_eq "END_REASON" bye "$(echo "$ended" | jq -r .END_REASON)"
check_eq "recording-finalized names the session" "$sid" "$(echo "$final" | jq -r .SIPREC_SESSION_ID)"
rid=$(echo "$final" | jq -r .SIPREC_RECORDING_ID)
check_eq "catalog knows that recording" 1 "$(catalog "SELECT count(*) FROM recordings WHERE uuid='$rid'")"
check_eq "recording sha256 in the journal matches the file" \
	"$(sha256sum "$(echo "$final" | jq -r .RECORDING_PATH)" | cut -d' ' -f1)" \
	"$(echo "$final" | jq -r .RECORDING_SHA256)"
check_eq "SYSLOG_IDENTIFIER" siprecd "$(echo "$started" | jq -r .SYSLOG_IDENTIFIER)"
check "PRIORITY field present" test -n "$(echo "$started" | jq -r '.PRIORITY // empty')"
finish
