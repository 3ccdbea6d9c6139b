#!/bin/sh
# SPDX-License-Identifier: MIT
# The Debian package (debian/): builds it with dpkg-buildpackage from a copy of the tree (cached
# in build/deb by a hash of the sources outside tests/, so a second run reuses it), lintian with the
# overrides, then installs it on this machine with dpkg -i and checks the user, directories,
# conffile and `systemd-analyze verify` of the installed units.
# systemd is not PID 1 here, so the test starts a unit the way systemd would: it reads
# ExecStart=, User=/Group=, StateDirectory=/RuntimeDirectory= and EnvironmentFile= from the
# installed unit file, creates the directories owned by the user, sets STATE_DIRECTORY,
# RUNTIME_DIRECTORY, CONFIGURATION_DIRECTORY and NOTIFY_SOCKET, and runs ExecStart under setpriv
# as that user with no capabilities. siprecd.service records a call from siprec-src; two
# siprecd@.service instances run side by side, each with its own configuration, ports, state
# and control socket, and each records a call. dpkg --purge then must leave nothing named
# siprec* outside the kept recordings; the test removes those, the user and the group, so the
# machine is as it found it (checked against a listing taken before).
. "$SRCDIR/tests/integration/lib.sh"
need dpkg-buildpackage dh lintian flock systemd-analyze systemd-sysusers systemd-tmpfiles setpriv sqlite3 python3

# One package test at a time on this machine (the plain and ASan suites may overlap): both would
# install the same package system-wide.
exec 9>/var/tmp/siprecd-package-test.lock
flock 9
CAND="/etc /lib /usr /var/lib /run"
# Everything named siprec* outside the test's directories (dpkg's own database aside).
snapshot() {
	find $CAND -xdev \( -path /var/lib/dpkg -o -path /var/tmp \) -prune -o -name '*siprec*' -print 2>/dev/null | sort
}

if dpkg-query -W siprecd >/dev/null 2>&1 || getent passwd siprecd >/dev/null || getent group siprecd >/dev/null ||
	[ -e /var/lib/siprecd ] || [ -e /etc/siprecd ]; then
	bad "siprecd is already installed or its user/directories exist: this test would not leave the machine as it found it"
	finish
fi
snapshot >"$T/before"
# The daemon runs as siprecd and must reach its notify socket in $T.
chmod 0711 "$T"
INSTALLED=0
pkg_cleanup() {
	for p in $DAEMON_PID $BG_PIDS; do { kill -9 "$p" && wait "$p"; } 2>/dev/null; done
	DAEMON_PID="" BG_PIDS=""
	[ $INSTALLED = 1 ] && dpkg --purge siprecd >/dev/null 2>&1
	rm -rf /var/lib/siprecd /run/siprecd /etc/siprecd
	getent passwd siprecd >/dev/null && userdel siprecd
	getent group siprecd >/dev/null && groupdel siprecd
	INSTALLED=0
}
trap 'pkg_cleanup; cleanup' EXIT

# --- the manual page of the configuration is generated from the key table
python3 "$SRCDIR/tools/gen-siprecd-conf-man.py" "$SRCDIR" >"$T/siprecd.conf.5"
check "docs/man/siprecd.conf.5 is what tools/gen-siprecd-conf-man.py makes of docs/CONFIG.md" \
	cmp "$T/siprecd.conf.5" "$SRCDIR/docs/man/siprecd.conf.5"

# --- build (or reuse) the package
files=$(cd "$SRCDIR" && git ls-files -co --exclude-standard | grep -v -e '^\.deps$' -e '^build' -e '^tests/')
key=$(cd "$SRCDIR" && printf '%s\n' $files | xargs sha256sum 2>/dev/null | sha256sum | cut -c1-16)
# The package does not depend on the test build's mode: plain and ASan runs share one cache.
CACHE=$SRCDIR/build/deb
DEB=$CACHE/$key
if [ ! -f "$DEB/siprecd.deb" ]; then
	rm -rf "$CACHE" && mkdir -p "$DEB/src"
	(cd "$SRCDIR" && printf '%s\n' $files | tar -T - -cf -) | tar -C "$DEB/src" -xf -
	ln -s "$(readlink -f "$SRCDIR/.deps")" "$DEB/src/.deps"
	t0=$(date +%s)
	if ! (cd "$DEB/src" && DEB_BUILD_OPTIONS=parallel=2 dpkg-buildpackage -us -uc -b >"$DEB/build.log" 2>&1); then
		bad "dpkg-buildpackage -us -uc -b failed"
		tail -n 30 "$DEB/build.log"
		rm -rf "$CACHE"
		finish
	fi
	echo "# dpkg-buildpackage took $(($(date +%s) - t0)) s"
	cp "$DEB"/siprecd_*_*.deb "$DEB/siprecd.deb"
	rm -rf "$DEB/src"
else
	echo "# reusing $DEB/siprecd.deb"
fi
ok "dpkg-buildpackage -us -uc -b built siprecd.deb"
check "lintian: no error or warning beyond debian/siprecd.lintian-overrides" \
	lintian --fail-on error,warning "$DEB"/siprecd_*.changes
lintian --fail-on error,warning "$DEB"/siprecd_*.changes 2>&1 | grep '^[EW]:' | sed 's/^/# /'
check "libsrtp2 linked statically (no libsrtp2.so in the dependencies)" \
	sh -c "! dpkg-deb -f '$DEB/siprecd.deb' Depends | grep -q srtp"

# --- install
if ! dpkg -i "$DEB/siprecd.deb" >"$T/dpkg-i.log" 2>&1; then
	bad "dpkg -i failed"
	cat "$T/dpkg-i.log"
	INSTALLED=1
	finish
fi
INSTALLED=1
ok "dpkg -i siprecd.deb"
check "the siprecd system user exists" sh -c "getent passwd siprecd | grep -q ':/usr/sbin/nologin$'"
check_eq "/var/lib/siprecd" "700 siprecd:siprecd" "$(stat -c '%a %U:%G' /var/lib/siprecd)"
check_eq "/var/lib/siprecd/recordings" "700 siprecd:siprecd" "$(stat -c '%a %U:%G' /var/lib/siprecd/recordings)"
check_eq "/etc/siprecd" "750 root:siprecd" "$(stat -c '%a %U:%G' /etc/siprecd)"
check_eq "/etc/siprecd/siprecd.conf" "640 root:siprecd" "$(stat -c '%a %U:%G' /etc/siprecd/siprecd.conf)"
check "/etc/siprecd/siprecd.conf is a conffile" \
	sh -c "dpkg-query -W -f='\${Conffiles}' siprecd | grep -q ' /etc/siprecd/siprecd.conf '"
for f in /usr/share/man/man5/siprecd.conf.5.gz /usr/share/man/man8/siprecd.8.gz /usr/bin/siprecctl \
	/usr/share/man/man1/siprec-web.1.gz /usr/bin/siprec-web \
	/usr/lib/tmpfiles.d/siprecd.conf /usr/lib/sysusers.d/siprecd.conf; do
	check "installed $f" test -e "$f"
done
U=/lib/systemd/system
for u in siprecd.service siprecd-sip-udp.socket siprecd-sip-tcp.socket siprecd-sips.socket \
	siprecd-varlink.socket siprecd-metrics.socket; do
	check "systemd-analyze verify $u" systemd-analyze verify "$U/$u"
done
# A template is verified through an instance name.
mkdir -p "$T/units"
cp "$U/siprecd@.service" "$T/units/siprecd@a.service"
cp "$U/siprecd-varlink@.socket" "$T/units/siprecd-varlink@a.socket"
check "systemd-analyze verify siprecd@a.service" systemd-analyze verify "$T/units/siprecd@a.service"
check "systemd-analyze verify siprecd-varlink@a.socket" systemd-analyze verify "$T/units/siprecd-varlink@a.socket"

# unit_get UNITFILE KEY INSTANCE: the value of KEY= with %i expanded, %t as /run.
unit_get() {
	sed -n "s/^$2=//p" "$1" | tail -n 1 | sed -e "s/%i/$3/g" -e "s|%t|/run|g"
}
# run_unit NAME UNITFILE INSTANCE: starts ExecStart= as systemd would (see the header); waits for
# READY=1 on its own notify socket; sets UNIT_PID.
run_unit() {
	name=$1 uf=$2 inst=$3
	exe=$(unit_get "$uf" ExecStart "$inst")
	user=$(unit_get "$uf" User "$inst")
	group=$(unit_get "$uf" Group "$inst")
	sd=/var/lib/$(unit_get "$uf" StateDirectory "$inst")
	rd=/run/$(unit_get "$uf" RuntimeDirectory "$inst")
	envf=$(unit_get "$uf" EnvironmentFile "$inst" | sed 's/^-//')
	install -d -o "$user" -g "$group" -m "$(unit_get "$uf" StateDirectoryMode "$inst")" "$sd"
	install -d -o "$user" -g "$group" -m "$(unit_get "$uf" RuntimeDirectoryMode "$inst")" "$rd"
	python3 -u - "$T/notify-$name" "$T/notify-$name.log" <<'PY' >/dev/null 2>&1 &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o666)
with open(sys.argv[2], "a") as f:
    while True:
        f.write(s.recv(65536).decode(errors="replace").replace("\n", "|") + "\n"); f.flush()
PY
	BG_PIDS="$BG_PIDS $!"
	i=0
	while [ ! -S "$T/notify-$name" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	(
		set -a
		[ -f "$envf" ] && . "$envf"
		set +a
		exec env STATE_DIRECTORY="$sd" RUNTIME_DIRECTORY="$rd" CONFIGURATION_DIRECTORY=/etc/siprecd \
			NOTIFY_SOCKET="$T/notify-$name" \
			setpriv --reuid="$user" --regid="$group" --init-groups --no-new-privs \
			--inh-caps=-all --bounding-set=-all \
			sh -c "umask $(unit_get "$uf" UMask "$inst"); exec $exe"
	) >"$T/$name.log" 2>&1 &
	UNIT_PID=$!
	BG_PIDS="$BG_PIDS $UNIT_PID"
	if ! wait_for "$T/notify-$name.log" 'READY=1' 20; then
		bad "$name did not report READY=1"
		cat "$T/$name.log"
		finish
	fi
	ok "$name started as its unit ($exe as $user) and reported READY=1"
}
# call NAME PORT STATEDIR: one siprec-src call (2 streams, SRTP); checks its catalog row.
call() {
	json=$T/call-$1.json
	if ! /usr/bin/siprec-src -q -s 127.0.0.1:"$2" --labels caller,callee \
		--wav "$SRCDIR/tests/data/audio/speech-stereo-8k.wav" --json >"$json" 2>"$T/src-$1.err"; then
		bad "siprec-src call to $1 failed: $(cat "$json" "$T/src-$1.err")"
		return
	fi
	cid=$(sed -n 's/.*"call_id":"\([^"]*\)".*/\1/p' "$json")
	i=0
	n=""
	while [ $i -lt 200 ]; do
		n=$(sqlite3 "$3/catalog.db" "SELECT count(*) FROM recordings r JOIN sessions s ON
			r.session_id = s.id WHERE s.call_id = '$cid' AND s.state = 'ended' AND
			r.state = 'final'" 2>/dev/null)
		[ "$n" = 2 ] && break
		sleep 0.05
		i=$((i + 1))
	done
	check_eq "$1 recorded the call from siprec-src: final recordings in $3/catalog.db" 2 "$n"
	check "$1's recordings are files of user siprecd under $3/recordings" \
		sh -c "[ -n \"\$(find '$3/recordings' -type f -user siprecd -size +0)\" ]"
}
# stop_unit PID NAME: SIGTERM (systemctl stop), exit status 0.
stop_unit() {
	kill -TERM "$1"
	wait "$1"
	check_eq "$2 exited cleanly on SIGTERM" 0 "$?"
}

# --- siprecd.service with the packaged configuration; ports through siprecd.env (EnvironmentFile=)
P=$(free_port)
cat >/etc/siprecd/siprecd.env <<ENV
SIP_PORT=$P
TLS_PORT=$(free_port)
RTP_PORT_MIN=$RTP_MIN
RTP_PORT_MAX=$((RTP_MIN + 7))
MAX_STREAMS_PER_SESSION=2
LOG_TARGET=stderr
ENV
run_unit siprecd "$U/siprecd.service" ""
MAIN_PID=$UNIT_PID
check "control socket /run/siprecd/control answers siprecctl" /usr/bin/siprecctl -s /run/siprecd/control status
call siprecd "$P" /var/lib/siprecd
stop_unit "$MAIN_PID" siprecd.service

# --- two instances of siprecd@.service side by side
RA=$((RTP_MIN + 8))
for inst in a b; do
	port=$(free_port)
	eval "PORT_$inst=$port"
	install -m 0640 -g siprecd /dev/null /etc/siprecd/$inst.conf
	cat >/etc/siprecd/$inst.conf <<CFG
SIP_LISTEN_ADDRESS=127.0.0.1
SIP_PORT=$port
TLS_PORT=$(free_port)
RTP_PORT_MIN=$RA
RTP_PORT_MAX=$((RA + 5))
MAX_STREAMS_PER_SESSION=2
LOG_TARGET=stderr
CFG
	RA=$((RA + 6))
done
run_unit siprecd@a "$U/siprecd@.service" a
PID_A=$UNIT_PID
run_unit siprecd@b "$U/siprecd@.service" b
PID_B=$UNIT_PID
for inst in a b; do
	check "instance $inst has its control socket /run/siprecd/$inst/control" \
		/usr/bin/siprecctl -s /run/siprecd/$inst/control status
done
call siprecd@a "$PORT_a" /var/lib/siprecd/a
call siprecd@b "$PORT_b" /var/lib/siprecd/b
check_eq "instance a's catalog holds only its own call" 1 \
	"$(sqlite3 /var/lib/siprecd/a/catalog.db 'SELECT count(*) FROM sessions')"
check_eq "instance b's catalog holds only its own call" 1 \
	"$(sqlite3 /var/lib/siprecd/b/catalog.db 'SELECT count(*) FROM sessions')"
stop_unit "$PID_A" siprecd@a.service
stop_unit "$PID_B" siprecd@b.service

# --- purge
if dpkg --purge siprecd >"$T/purge.log" 2>&1; then ok "dpkg --purge siprecd"; else bad "dpkg --purge failed: $(cat "$T/purge.log")"; fi
INSTALLED=0
snapshot >"$T/after"
check_eq "after purge, nothing named siprec* is left but /var/lib/siprecd (recordings)" \
	"/var/lib/siprecd" "$(comm -13 "$T/before" "$T/after" | grep -v '^/var/lib/siprecd/' | tr '\n' ' ' | sed 's/ $//')"
check "purge kept the recordings" sh -c "[ -n \"\$(find /var/lib/siprecd -path '*/recordings/*' -type f)\" ]"
check "purge removed /etc/siprecd (conffile, siprecd.env, instance files)" test ! -e /etc/siprecd
pkg_cleanup
snapshot >"$T/final"
check "the machine is as the test found it (no siprec* files, user or group)" \
	sh -c "cmp -s '$T/before' '$T/final' && ! getent passwd siprecd && ! getent group siprecd"
finish
