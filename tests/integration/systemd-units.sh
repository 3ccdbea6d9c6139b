#!/bin/sh
# SPDX-License-Identifier: MIT
# The shipped systemd units are valid (systemd-analyze verify, with ExecStart= pointing at the
# built daemon) and the service's offline security exposure stays at "OK" (<= 2.0); the score is
# printed for the README. Also: the daemon really runs under the unit's system-call filter and
# no-new-privileges (systemd-run would need a running systemd; here the filter set is checked to
# contain the io_uring calls the daemon needs).
. "$SRCDIR/tests/integration/lib.sh"
need systemd-analyze
U=$T/units
mkdir -p "$U"
for f in "$SRCDIR"/systemd/*.service "$SRCDIR"/systemd/*.socket; do
	sed "s|/usr/local/bin/|$BUILD/|g" "$f" >"$U/$(basename "$f")"
done
if SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$U"/*.service "$U"/*.socket >"$T/verify.log" 2>&1 &&
	! grep -v 'Failed to .*bus\|No such file or directory.*/etc/siprecd' "$T/verify.log" | grep -qi 'error\|invalid\|unknown'; then
	ok "systemd-analyze verify"
else
	bad "systemd-analyze verify:"
	cat "$T/verify.log"
fi
systemd-analyze security --offline=yes "$U/siprecd.service" >"$T/security.log" 2>&1
score=$(sed -n 's/.*Overall exposure level for siprecd.service: \([0-9.]*\).*/\1/p' "$T/security.log")
echo "exposure score: ${score:-?}"
if [ -n "$score" ] && awk "BEGIN{exit !($score <= 2.0)}"; then ok "exposure $score <= 2.0"; else bad "exposure '${score}'"; tail -n 20 "$T/security.log"; fi
for sc in io_uring_setup io_uring_enter io_uring_register; do
	check "SystemCallFilter allows $sc" grep -q "^SystemCallFilter=.*$sc" "$U/siprecd.service"
done
for k in NoNewPrivileges=yes ProtectSystem=strict 'CapabilityBoundingSet=$' Type=notify WatchdogSec=; do
	check "unit sets $k" grep -q "^$k" "$U/siprecd.service"
done
for n in sip-udp sip-tcp sips varlink; do
	check "socket unit names its fd $n" grep -q "^FileDescriptorName=$n\$" "$U"/siprecd-*.socket
done
finish
