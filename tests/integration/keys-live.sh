#!/bin/sh
# SPDX-License-Identifier: MIT
# The key hierarchy while siprecd runs (docs/KEYS.md): sealed metadata (no participant name in
# clear in the catalog file or the .metadata file, siprec-export shows them); siprecd-keys
# rotating behind the daemon's back (the next call uses the new version; destroy refuses the
# version just left); SIGHUP re-reads the key state; automatic encrypted backup after each
# rotation; no key bytes in a real core dump after SIGABRT.
. "$SRCDIR/tests/integration/lib.sh"
need sipp python3 sqlite3

PCAPS=$SRCDIR/tests/data/pcap
SCN=$SRCDIR/tests/integration/scenarios
EXPORT=$BUILD/siprec-export
KEYS=$BUILD/siprecd-keys
cp "$PCAPS/tone440-pcmu.pcap" "$T/a.pcap"
cp "$PCAPS/tone660-pcmu.pcap" "$T/b.pcap"
printf 'backup passphrase for the test\n' >"$T/bpw"
chmod 600 "$T/bpw"
cat >>"$CONF" <<CFG
ENABLE_METADATA_ENCRYPTION=true
KEY_BACKUP_ENABLED=true
KEY_BACKUP_PATH=$T/backups
KEY_BACKUP_PASSPHRASE_FILE=$T/bpw
CFG

call() {
	sipp_run "$1" -sf "$SCN/siprec-basic.xml" -m 1 -key tools "$PCAPS" || bad "$1: sipp call"
	i=0
	while [ $i -lt 200 ]; do
		[ "$(catalog "SELECT count(*) FROM recordings WHERE state = 'writing'")" = 0 ] && break
		sleep 0.05
		i=$((i + 1))
	done
}
last_session() { catalog "SELECT uuid FROM sessions ORDER BY id DESC LIMIT 1"; }
versions_of() { catalog "SELECT group_concat(DISTINCT key_version) FROM recordings r JOIN sessions s ON s.id = r.session_id WHERE s.uuid = '$1'"; }

# A real core dump: cores are written to the daemon's working directory ($T) when
# core_pattern is a plain file name; a pipe (systemd-coredump, apport) is replaced for the test
# when writable, else gcore stands in (said below).
# Bounded (1 GiB; the daemon's core is ~0.3 GiB): a core must never be able to fill the disk.
ulimit -c 1048576 2>/dev/null
cd "$T" || exit 1
pattern=$(cat /proc/sys/kernel/core_pattern 2>/dev/null)
core_mode=real
case "$pattern" in
"|"*)
	if echo "$T/core" >/proc/sys/kernel/core_pattern 2>/dev/null; then
		trap 'echo "$pattern" >/proc/sys/kernel/core_pattern; cleanup' EXIT
		echo "note: core_pattern was a pipe ($pattern); set to $T/core for this test"
	else
		core_mode=gcore
		echo "note: core_pattern is a pipe ($pattern) and not writable here: using gcore"
	fi
	;;
esac
[ "$(ulimit -c)" = 1048576 ] || { core_mode=gcore; echo "note: ulimit -c refused: using gcore"; }
# AddressSanitizer turns core dumps off and its shadow memory makes any core enormous: the plain
# build's run of this test does the core check.
[ -n "${SIPRECD_SANITIZED:-}" ] && { core_mode=none; skip_part core "sanitizer build: the core check is left to the plain build"; }

start_siprecd
call one
s1=$(last_session)
check_eq "first call under version 1" 1 "$(versions_of "$s1")"

# ---- metadata sealed: catalog and .metadata file hold no name or AOR in clear
check_eq "snapshots sealed" "1" "$(catalog "SELECT group_concat(DISTINCT body_encrypted) FROM metadata_snapshots")"
check_eq "participant names/AORs not stored" "0" "$(catalog "SELECT count(*) FROM participants WHERE name IS NOT NULL OR aor IS NOT NULL")"
check_eq "participants still listed by id" "2" "$(catalog "SELECT count(*) FROM participants p JOIN sessions s ON s.id = p.session_id WHERE s.uuid = '$s1'")"
mdfile=$(find "$T/state/recordings" -name "$s1.metadata" | head -1)
check "a .metadata file beside the recordings" test -s "$mdfile"
catalog "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
# Needles long enough that random ciphertext (base64 or binary) cannot match them by chance.
for needle in "<name>Alice" "<name>Bob" '"Alice"' '"Bob"' alice@example.com bob@example.net; do
	check "no '$needle' in the catalog files" sh -c "! cat '$T/state/catalog.db'* | grep -aqF '$needle'"
	check "no '$needle' in the .metadata file" sh -c "! grep -aqF '$needle' '$mdfile'"
done
"$EXPORT" --config "$CONF" --metadata "$mdfile" >"$T/md.json" 2>"$T/md.err"
check "export --metadata shows the names" grep -q '"Alice"' "$T/md.json"
check "export --metadata shows the AORs" grep -q 'bob@example.net' "$T/md.json"
"$EXPORT" --config "$CONF" --catalog-metadata "$s1" >"$T/cmd.json" 2>"$T/cmd.err"
check "export --catalog-metadata opens the sealed body" grep -q '<name>Alice</name>' "$T/cmd.json"
check "export --catalog-metadata opens the sealed model" grep -q 'alice@example.com' "$T/cmd.json"
python3 - "$mdfile" "$T/$s1.metadata" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
ct = bytearray(__import__("base64").b64decode(o["ciphertext"])); ct[0] ^= 1
o["ciphertext"] = __import__("base64").b64encode(bytes(ct)).decode()
json.dump(o, open(sys.argv[2], "w"))
PY
if "$EXPORT" --config "$CONF" --metadata "$T/$s1.metadata" >/dev/null 2>&1; then bad "a tampered .metadata opened"; else ok "a tampered .metadata is refused"; fi

# ---- siprecd-keys rotates behind the running daemon's back
check "rotate with the daemon running" "$KEYS" --config "$CONF" rotate
check "the daemon switches (log)" wait_for "$T/siprecd.log" "version 2 is now used for new recordings \(changed by siprecd-keys\)" 15
call two
s2=$(last_session)
check_eq "the next call uses the new version" 2 "$(versions_of "$s2")"
if "$KEYS" --config "$CONF" destroy --version 1 --yes >"$T/destroy.out" 2>&1; then
	bad "destroy accepted the version the daemon just left"
else
	check "destroy refuses a just-retired version" grep -q "retired" "$T/destroy.out"
fi
check_eq "version 1 still there" "retired" "$(catalog "SELECT state FROM keys WHERE algorithm = 'AES-256' AND version = 1")"

# ---- automatic backups: one per rotation, verifiable, wrong passphrase refused
nb=$(ls "$T/backups"/*.backup 2>/dev/null | wc -l)
check_eq "one automatic backup after the rotation" 1 "$nb"
b=$(ls "$T/backups"/*.backup | head -1)
check_eq "backup mode 0600" 600 "$(stat -c %a "$b")"
check "the automatic backup verifies" "$KEYS" --config "$CONF" verify "$b" --passphrase-file "$T/bpw"
printf 'not the passphrase\n' >"$T/bpw2"
"$KEYS" --config "$CONF" verify "$b" --passphrase-file "$T/bpw2" >/dev/null 2>&1 && bad "backup verified with a wrong passphrase"

# ---- SIGHUP re-reads at once (a third rotation, then HUP)
check "rotate again" "$KEYS" --config "$CONF" rotate
kill -HUP "$DAEMON_PID"
check "SIGHUP: the daemon uses version 3" wait_for "$T/siprecd.log" "version 3 is now used for new recordings" 15
call three
check_eq "the call after SIGHUP uses version 3" 3 "$(versions_of "$(last_session)")"
check_eq "two automatic backups" 2 "$(ls "$T/backups"/*.backup | wc -l)"

# ---- no key bytes in a core dump after SIGABRT
rm -f "$T"/core "$T"/core.*
if [ $core_mode = none ]; then
	stop_siprecd
elif [ $core_mode = gcore ]; then
	if command -v gcore >/dev/null; then
		(ulimit -f 1048576 && gcore -o "$T/core" "$DAEMON_PID" >/dev/null 2>&1)
	fi
	stop_siprecd
else
	kill -ABRT "$DAEMON_PID"
	wait "$DAEMON_PID"
	rc=$?
	DAEMON_PID=""
	check_eq "SIGABRT killed the daemon (134 = core dumped or 128+6)" 134 "$rc"
fi
core=$(ls "$T"/core "$T"/core.* 2>/dev/null | head -1)
if [ $core_mode = none ]; then
	:
elif [ -n "$core" ] && [ -s "$core" ]; then
	echo "core ($core_mode): $core, $(stat -c %s "$core") bytes"
	check "core, log, catalog: no raw or hex KEK or data-key bytes" python3 "$SRCDIR/tests/helpers/key-bytes-check.py" 4 "$T/state/catalog.db" "$T/state/keys/master.key" "$core" "$T/siprecd.log"
else
	bad "no core dump was produced ($core_mode; core_pattern '$pattern')"
fi
rm -f "$T"/core "$T"/core.*
finish
