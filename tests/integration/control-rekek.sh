#!/bin/sh
# SPDX-License-Identifier: MIT
# KEK rotation through the control socket while siprecd runs (io.siprecd.RotateKeyEncryptionKey,
# siprecctl rotate-keys --kek): bad sources refused with nothing changed, a non-privileged
# caller refused, the catalog's data keys re-wrapped (kek_id), a call recorded after it, and
# after a restart under the new MASTER_KEY_PATH old and new recordings export while the old key
# file no longer starts the daemon. Also a raw client: the deferred reply keeps call order.
. "$SRCDIR/tests/integration/lib.sh"
need sipp python3 sqlite3 jq setpriv
[ "$(id -u)" = 0 ] || skip "needs root to switch to nobody for the permission check"

CTL=$BUILD/siprecctl
EXPORT=$BUILD/siprec-export
PCAPS=$SRCDIR/tests/data/pcap
SCN=$SRCDIR/tests/integration/scenarios
[ -x "$CTL" ] && [ -x "$EXPORT" ] || { bad "siprecctl or siprec-export not built"; finish; }
cp "$PCAPS/tone440-pcmu.pcap" "$T/a.pcap"
cp "$PCAPS/tone660-pcmu.pcap" "$T/b.pcap"

call() {
	sipp_run "$1" -sf "$SCN/siprec-basic.xml" -m 1 -key tools "$PCAPS" || bad "$1: sipp call"
	i=0
	while [ $i -lt 200 ]; do
		[ "$(catalog "SELECT count(*) FROM recordings WHERE state = 'writing'")" = 0 ] && break
		sleep 0.05
		i=$((i + 1))
	done
}
kek_ids() { catalog "SELECT group_concat(DISTINCT kek_id) FROM keys WHERE algorithm = 'AES-256' AND state != 'destroyed'"; }
wrapped() { catalog "SELECT group_concat(h, ',') FROM (SELECT hex(wrapped) h FROM keys WHERE algorithm = 'AES-256' ORDER BY version)"; }

OLDKEY=$T/state/keys/master.key
NEWKEY=$T/newkeys/kek2
mkdir -p "$T/newkeys"
start_siprecd
S=$T/run/control
export SIPRECD_CONTROL=$S
call one
check "a second data key version (so two keys are re-wrapped)" "$CTL" rotate-keys
kek0=$(kek_ids)
w0=$(wrapped)
check "the catalog's data keys are wrapped by the key file's KEK" test -n "$kek0"

# ---- refused sources: nothing changes
printf '%064d\n' 7 >"$T/newkeys/loose"
chmod 644 "$T/newkeys/loose"
"$CTL" rotate-keys --kek --store file --key-file "$T/newkeys/loose" >/dev/null 2>"$T/loose.err"
check_eq "group/world-readable key file: exit 2" 2 $?
check "... KeySourceRejected naming the permissions" grep -qE "KeySourceRejected: .*(group|world|readable|access)" "$T/loose.err"
"$CTL" rotate-keys --kek --store file --key-file "$OLDKEY" >/dev/null 2>"$T/same.err"
check_eq "the current key file: exit 2" 2 $?
check "... says it is the current KEK" grep -q "current" "$T/same.err"
"$CTL" rotate-keys --kek --store password --password-file "$T/newkeys/none" >/dev/null 2>"$T/nopw.err"
check_eq "a missing password file: exit 2" 2 $?
check "... KeySourceRejected" grep -q "KeySourceRejected" "$T/nopw.err"
"$CTL" --json rotate-keys --kek --store file >"$T/noparam.json" 2>&1
check_eq "file store without --key-file: exit 2" 2 $?
check_eq "... InvalidParameter keyFile" "org.varlink.service.InvalidParameter keyFile" "$(jq -r '.error + " " + .parameters.parameter' "$T/noparam.json")"
check_eq "nothing changed after the refusals" "$w0" "$(wrapped)"

# ---- a caller outside CONTROL_GROUP: PermissionDenied (exit 3), nothing changed
chmod 755 "$T" "$T/run"
chmod 666 "$S"
setpriv --reuid=nobody --regid=nogroup --clear-groups "$CTL" rotate-keys --kek --key-file "$NEWKEY" >/dev/null 2>"$T/perm.err"
check_eq "non-privileged caller: exit 3" 3 $?
check "... permission denied" grep -q "permission denied" "$T/perm.err"
check "... no new key file" test ! -e "$NEWKEY"
chmod 660 "$S"

# ---- the rotation, with a live call and a raw client pipelining behind it
cat >"$T/order.py" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.connect(sys.argv[1]); s.settimeout(30)
msgs = [{"method": "io.siprecd.RotateKeyEncryptionKey", "parameters": {"store": "file", "keyFile": sys.argv[2]}},
        {"method": "io.siprecd.ListKeys"}]
s.sendall(b"".join(json.dumps(m).encode() + b"\0" for m in msgs))
b = b""
out = []
while len(out) < 2:
    d = s.recv(65536)
    if not d: break
    b += d
    while b"\0" in b:
        m, _, b = b.partition(b"\0"); out.append(json.loads(m))
json.dump(out, open(sys.argv[3], "w"))
PY
# A throwaway key file for the pipelined call, then the real rotation via siprecctl.
python3 "$T/order.py" "$S" "$T/newkeys/kek1" "$T/order.json"
check_eq "pipelined: the deferred reply comes first" "io.siprecd.RotateKeyEncryptionKey-reply" "$(jq -r 'if .[0].parameters.kek_id and (.[1].parameters.keys | type) == "array" then "io.siprecd.RotateKeyEncryptionKey-reply" else tostring end' "$T/order.json")"
check_eq "pipelined: ListKeys after it shows the new KEK" "$(jq -r '.[0].parameters.kek_id' "$T/order.json")" "$(jq -r '[.[1].parameters.keys[] | select(.state != "legacy") | .kek_id] | unique | join(",")' "$T/order.json")"
check_eq "the throwaway key file was created 0600" 600 "$(stat -c %a "$T/newkeys/kek1" 2>/dev/null)"

# Relative path, human output.
(cd "$T/newkeys" && "$CTL" rotate-keys --kek --key-file kek3) >"$T/human.out" 2>&1
check_eq "a second rotation, relative path, human output: exit 0" 0 $?
check "human output lists the settings (absolute path)" grep -q "MASTER_KEY_PATH=$T/newkeys/kek3" "$T/human.out"
# A password KEK (Argon2id on the keys thread), then on to the key file.
printf 'rekek test password\n' >"$T/newkeys/pw"
chmod 600 "$T/newkeys/pw"
"$CTL" --json rotate-keys --kek --store password --password-file "$T/newkeys/pw" >"$T/pw.json" 2>&1
check_eq "rotate-keys --kek --store password: exit 0" 0 $?
check_eq "a password KEK (pw: id, argon2id)" "pw: KEY_DERIVATION=argon2id" "$(jq -r '(.kek_id | .[0:3]) + " " + .configuration[2]' "$T/pw.json")"
check_eq "the catalog's KEK record: argon2id" "argon2id" "$(catalog "SELECT kdf FROM keys WHERE algorithm = 'KEK' AND state = 'active'")"
w1=$(wrapped)
"$CTL" --json rotate-keys --kek --key-file "$NEWKEY" >"$T/rekek.json" 2>"$T/rekek.err"
check_eq "rotate-keys --kek --key-file: exit 0" 0 $?
cat "$T/rekek.err"
kek2=$(jq -r .kek_id "$T/rekek.json")
check "the reply names the new KEK" test -n "$kek2" -a "$kek2" != null
check_eq "the reply tells the configuration to set" "ENCRYPTION_KEY_STORE=file MASTER_KEY_PATH=$NEWKEY" "$(jq -r '.configuration | join(" ")' "$T/rekek.json")"
check "the new key file exists, mode 0600" test "$(stat -c %a "$NEWKEY" 2>/dev/null)" = 600
check_eq "every data key now wrapped by the new KEK (catalog kek_id)" "$kek2" "$(kek_ids)"
check "the wrapped keys changed" test "$(wrapped)" != "$w0" -a "$(wrapped)" != "$w1"
check_eq "the old KEK record is retired" "retired" "$(catalog "SELECT group_concat(DISTINCT state) FROM keys WHERE algorithm = 'KEK' AND key_id != '$kek2'")"
check_eq "ListKeys shows the new KEK" "$kek2" "$("$CTL" --json keys | jq -r '[.keys[] | select(.state != "legacy") | .kek_id] | unique | join(",")')"
check "the daemon logs what to persist" grep -q "MASTER_KEY_PATH=$NEWKEY in the configuration" "$T/siprecd.log"
call two
check "the daemon still records (data key unchanged)" test "$(catalog "SELECT count(*) FROM recordings WHERE state != 'writing'")" -ge 4
stop_siprecd
check_eq "clean stop" 0 "$STOP_RC"

# ---- restart: the old key file is refused, the new one opens everything
env MASTER_KEY_PATH="$OLDKEY" NOTIFY_SOCKET= $SIPRECD_WRAPPER "$SIPRECD" --config "$CONF" >"$T/old-start.log" 2>&1 &
oldpid=$!
i=0
while kill -0 $oldpid 2>/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
if kill -0 $oldpid 2>/dev/null; then
	kill $oldpid
	wait $oldpid
	bad "the daemon started with the old key file"
else
	wait $oldpid
	check "the old key file: start refused" test $? -ne 0
	check "... because the KEK does not match" grep -q "does not match" "$T/old-start.log"
fi
echo "MASTER_KEY_PATH=$NEWKEY" >>"$CONF"
start_siprecd
call three
stop_siprecd
n=0
for p in $(catalog "SELECT path FROM recordings ORDER BY id"); do
	n=$((n + 1))
	check "export under the new KEK (--config): $(basename "$p")" "$EXPORT" --config "$CONF" -o "$T/out$n.wav" "$p"
done
check "six recordings (before, after the rotation, after the restart)" test "$n" -ge 6
p=$(catalog "SELECT path FROM recordings ORDER BY id LIMIT 1")
check "export with --key-file NEWKEY --catalog" "$EXPORT" --key-file "$NEWKEY" --catalog "$T/state/catalog.db" -o "$T/k.wav" "$p"
if "$EXPORT" --key-file "$OLDKEY" --catalog "$T/state/catalog.db" -o "$T/old.wav" "$p" 2>/dev/null; then
	bad "the old key file still exports"
else
	ok "the old key file no longer exports"
fi
finish
