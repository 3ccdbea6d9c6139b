#!/bin/sh
# SPDX-License-Identifier: MIT
# `make install` with DESTDIR and PREFIX puts binaries, units (ExecStart= rewritten to the
# prefix), sysusers/tmpfiles, the journal catalog, man pages, sql migrations, docs and the
# example configuration where the README says; the installed daemon runs --check-config.
. "$SRCDIR/tests/integration/lib.sh"
D=$T/destdir
(cd "$SRCDIR" && make -s install BUILD="$BUILD" DESTDIR="$D" PREFIX=/usr >"$T/install.log" 2>&1) ||
	{ bad "make install failed"; cat "$T/install.log"; finish; }
for f in usr/bin/siprecd usr/bin/siprec-export usr/bin/siprec-src \
	usr/lib/systemd/system/siprecd.service usr/lib/systemd/system/siprecd-sip-udp.socket \
	usr/lib/sysusers.d/siprecd.conf usr/lib/tmpfiles.d/siprecd.conf \
	usr/lib/systemd/catalog/siprecd.catalog usr/share/man/man8/siprecd.8 \
	usr/share/siprecd/sql/001-initial.sql usr/share/doc/siprecd/README.md \
	etc/siprecd/siprecd.conf; do
	check "installed $f" test -e "$D/$f"
done
check "ExecStart= follows the prefix" grep -q '^ExecStart=/usr/bin/siprecd' "$D/usr/lib/systemd/system/siprecd.service"
check "installed configuration is not world-readable" test "$(stat -c %a "$D/etc/siprecd/siprecd.conf")" = 640
check "installed daemon validates the installed example configuration" \
	"$D/usr/bin/siprecd" --config "$D/etc/siprecd/siprecd.conf" --check-config
finish
