#!/bin/sh
# SPDX-License-Identifier: MIT
# Compliance end to end (docs/COMPLIANCE.md): four recorded calls; the trail holds a 'created'
# and a 'finalized' entry per recording and its head is signed at shutdown; a retention policy
# expires exactly the calls it covers (dry run first, then the daemon's sweeper thread), a legal
# hold keeps one of them through the sweeper, crypto-shredding (siprecd-keys destroy) and
# erasure; erasure of one AoR removes every recording of it and nothing else; the verifier
# (siprecctl verify-trail and siprec-export --verify-trail) passes, then names a file deleted by
# hand, a catalog row deleted by hand and an edited trail entry. An export adds an 'exported' entry;
# the varlink methods do the same as siprecctl with the uid of the caller as the actor.
. "$SRCDIR/tests/integration/lib.sh"
need sqlite3 jq

SRC=$BUILD/siprec-src
CTL=$BUILD/siprecctl
EXPORT=$BUILD/siprec-export
KEYS=$BUILD/siprecd-keys
WAV=$SRCDIR/tests/data/audio/speech-stereo-8k.wav
DB=$T/state/catalog.db
ctl() { "$CTL" -c "$CONF" "$@"; }

# call NAME AOR_A AOR_B: one two-stream call; prints its session uuid.
call() {
	"$SRC" -q -s 127.0.0.1:"$SIP_PORT" --no-srtp --wav "$WAV" --duration 1 --aor-a "$2" \
		--aor-b "$3" --json >"$T/$1.json" 2>"$T/$1.err" || bad "$1: siprec-src failed"
	i=0
	while [ $i -lt 200 ]; do
		[ "$(catalog "SELECT count(*) FROM recordings WHERE state = 'writing'")" = 0 ] && break
		sleep 0.05
		i=$((i + 1))
	done
	catalog "SELECT s.uuid FROM sessions s JOIN participants p ON p.session_id = s.id
		WHERE p.aor = '$2' ORDER BY s.id DESC LIMIT 1"
}
files_of() { catalog "SELECT path FROM recordings r JOIN sessions s ON s.id = r.session_id WHERE s.uuid = '$1'"; }
all_exist() { for f in $(files_of "$1"); do [ -f "$f" ] || return 1; done; }
none_exist() { for f in $(files_of "$1"); do [ -f "$f" ] && return 1; done; return 0; }
deleted_of() { catalog "SELECT count(*) FROM recordings r JOIN sessions s ON s.id = r.session_id WHERE s.uuid = '$1' AND r.deleted_at IS NOT NULL"; }

start_siprecd
A=$(call a sip:alice@example.com sip:bob@example.net)
B=$(call b sip:carol@short.example sip:dave@example.net)
C=$(call c sip:alice@example.com sip:erin@short.example)
D=$(call d sip:frank@keep.example sip:grace@short.example)
# A data-key rotation signs the chain head (reason key-rotation).
check "rotate the data key through the daemon" ctl rotate-keys
i=0
while [ $i -lt 100 ] && [ "$(catalog "SELECT count(*) FROM trail_heads WHERE reason = 'key-rotation'")" = 0 ]; do
	sleep 0.05
	i=$((i + 1))
done
check_eq "the head was signed at the key rotation" 1 \
	"$(catalog "SELECT count(*) FROM trail_heads WHERE reason = 'key-rotation'")"
stop_siprecd
check_eq "siprecd exit status" 0 "$STOP_RC"
check_eq "8 recordings" 8 "$(catalog "SELECT count(*) FROM recordings WHERE state = 'final'")"
check_eq "a 'created' trail entry per recording" 8 "$(catalog "SELECT count(*) FROM trail WHERE kind = 'created'")"
check_eq "a 'finalized' trail entry per recording, with the file's sha256" 8 \
	"$(catalog "SELECT count(*) FROM trail t JOIN recordings r ON t.object = 'recording:' || r.uuid WHERE t.kind = 'finalized' AND t.sha256 = r.sha256")"
check_eq "trail key mode 0600" 600 "$(stat -c %a "$T/state/trail-signing.key")"
check "public half beside it" test -s "$T/state/trail-signing.key.pub"
check_eq "the head was signed at shutdown" \
	"$(catalog "SELECT max(seq) FROM trail")" "$(catalog "SELECT max(seq) FROM trail_heads")"
check "verify-trail passes" ctl verify-trail
check "siprec-export --verify-trail passes without the daemon" \
	"$EXPORT" --verify-trail --catalog "$DB" --trail-key "$T/state/trail-signing.key.pub"

# Retention: 'short.example' 1 s; 'keep.example' forever (the longest wins: D stays).
check "policy short" ctl retention add short --match domain --pattern short.example --keep 1s
check "policy keep" ctl retention add keep --match domain --pattern keep.example --keep forever
check "hold on session C" ctl hold add --session "$C" --case CASE-42
ctl hold list >"$T/holds.txt"
check "hold list shows it" grep -q "CASE-42" "$T/holds.txt"
# Poll until both expired sessions are listed (their 1 s has passed).
i=0
while [ $i -lt 100 ]; do
	ctl retention run --dry-run >"$T/dry.txt" 2>&1
	[ "$(grep -c -E '^(WOULD-GO|HELD)' "$T/dry.txt")" -ge 4 ] && break
	sleep 0.1
	i=$((i + 1))
done
check_eq "dry run lists B's and C's 4 recordings" 4 "$(grep -c -E '^(WOULD-GO|HELD)' "$T/dry.txt")"
check_eq "...C's 2 as held" 2 "$(grep -c "^HELD.*session $C" "$T/dry.txt")"
check_eq "...B's 2 as going" 2 "$(grep -c "^WOULD-GO.*session $B" "$T/dry.txt")"
check "dry run deleted nothing" all_exist "$B"

# The daemon's sweeper thread does the run.
start_siprecd RETENTION_INTERVAL=1s
i=0
while [ $i -lt 100 ] && [ "$(deleted_of "$B")" != 2 ]; do sleep 0.1; i=$((i + 1)); done
stop_siprecd
check_eq "sweeper marked B's recordings deleted" 2 "$(deleted_of "$B")"
check "B's files are gone" none_exist "$B"
check_eq "C kept under the hold" 0 "$(deleted_of "$C")"
check "C's files are there" all_exist "$C"
check "A and D untouched" sh -c "[ $(deleted_of "$A") = 0 ] && [ $(deleted_of "$D") = 0 ]"
check_eq "2 'deleted' trail entries by siprecd, reason retention:short" 2 \
	"$(catalog "SELECT count(*) FROM trail WHERE kind = 'deleted' AND actor = 'siprecd' AND reason = 'retention:short'")"
check_eq "B's session marked deleted" 1 "$(catalog "SELECT count(*) FROM sessions WHERE uuid = '$B' AND deleted_at IS NOT NULL")"

# Crypto-shredding refuses the key version of a held recording.
check "rotate the data key" "$KEYS" --config "$CONF" rotate
v=$(catalog "SELECT key_version FROM recordings r JOIN sessions s ON s.id = r.session_id WHERE s.uuid = '$C' LIMIT 1")
"$KEYS" --config "$CONF" destroy --version "$v" --yes >"$T/destroy.out" 2>&1 &&
	bad "destroy of a version holding a held recording succeeded"
check "destroy names the hold" grep -q "legal hold (case CASE-42)" "$T/destroy.out"
check_eq "key version $v not destroyed" 0 "$(catalog "SELECT count(*) FROM keys WHERE algorithm = 'AES-256' AND version = $v AND state = 'destroyed'")"

# Erasure of alice: A goes, C (held) stays; then, released, C goes; D never.
ctl erase --aor sip:alice@example.com --dry-run >"$T/erase-dry.txt"
check_eq "erase --dry-run lists A's and C's recordings" 4 "$(grep -c -E '^(WOULD-GO|HELD)' "$T/erase-dry.txt")"
check "erase dry run deleted nothing" all_exist "$A"
check "erase alice" ctl erase --aor sip:alice@example.com
check "A's files are gone" none_exist "$A"
check "C (held) kept by erasure" all_exist "$C"
id=$(catalog "SELECT id FROM legal_holds WHERE case_ref = 'CASE-42'")
check "release the hold" ctl hold release "$id" --reason "case closed"
check_eq "release in the trail" 1 "$(catalog "SELECT count(*) FROM trail WHERE kind = 'released' AND object = 'hold:$id'")"
check "erase alice again" ctl erase --aor SIP:Alice@Example.com
check "C's files are gone" none_exist "$C"
check "D untouched by erasure" all_exist "$D"
check_eq "D not marked" 0 "$(deleted_of "$D")"
check_eq "4 'erased' trail entries" 4 "$(catalog "SELECT count(*) FROM trail WHERE kind = 'erased'")"
check_eq "the trail does not name the AoR" 0 "$(catalog "SELECT count(*) FROM trail WHERE reason LIKE '%alice%'")"
check_eq "alice's participant rows scrubbed" 0 "$(catalog "SELECT count(*) FROM participants WHERE aor = 'sip:alice@example.com'")"
d0=$(files_of "$D" | head -n 1)
check "export one of D's recordings" "$EXPORT" --config "$CONF" -o "$T/d.wav" "$d0"
check_eq "an 'exported' trail entry with the file's sha256" 1 \
	"$(catalog "SELECT count(*) FROM trail t JOIN recordings r ON t.object = 'recording:' || r.uuid WHERE t.kind = 'exported' AND r.path = '$d0' AND t.sha256 = r.sha256 AND t.reason = '$T/d.wav'")"
check "verify-trail passes after retention and erasure" ctl verify-trail

# The same over varlink (the daemon's compliance thread; actor from SO_PEERCRED).
start_siprecd
cat >"$T/vl.py" <<'PY'
import os, sys
sys.path.insert(0, sys.argv[2])
from vlclient import Varlink, out
call = Varlink(sys.argv[1]).call
r = call("PlaceHold", {"aor": "sip:frank@keep.example", "case_ref": "VL-1"})
hid = r.get("parameters", {}).get("id")
out("PlaceHold returns an id", isinstance(hid, int))
r = call("ListHolds")["parameters"]["holds"]
out("ListHolds shows it, placed by the caller's uid", any(h["id"] == hid and h["case_ref"] == "VL-1" and h["placed_by"] == "uid:%d" % os.getuid() and h["recordings"] == 2 for h in r))
r = call("Erase", {"aor": "sip:frank@keep.example", "dry_run": True})["parameters"]
out("Erase dry_run lists D's 2 recordings as held", r["matched"] == 2 and r["held"] == 2 and r["deleted"] == 0)
r = call("RunRetention", {"dry_run": True})["parameters"]
out("RunRetention dry_run: nothing left to expire", r["matched"] == 0)
r = call("ReleaseHold", {"id": hid, "reason": "done"})
out("ReleaseHold", "error" not in r)
r = call("ReleaseHold", {"id": hid})
out("ReleaseHold twice: NoSuchHold", r.get("error") == "io.siprecd.NoSuchHold")
r = call("PlaceHold", {"case_ref": "x"})
out("PlaceHold without a target: InvalidParameter", r.get("error") == "org.varlink.service.InvalidParameter")
r = call("VerifyTrail")["parameters"]
out("VerifyTrail ok", r["ok"] and r["entries"] > 0 and r["problems"] == [])
PY
python3 "$T/vl.py" "$T/run/control" "$SRCDIR/tests/helpers" >"$T/vl.out" 2>&1 || bad "varlink client: $(tail -n 3 "$T/vl.out")"
while read -r res name; do [ "$res" = ok ] && ok "varlink: $name" || bad "varlink: $name"; done <"$T/vl.out"
stop_siprecd
check_eq "hold placed and released over varlink in the trail, actor uid:$(id -u)" 2 \
	"$(catalog "SELECT count(*) FROM trail WHERE kind IN ('held', 'released') AND actor = 'uid:$(id -u)' AND reason LIKE 'case VL-1%'")"

# Tampering, each named by the verifier.
d1=$(files_of "$D" | head -n 1)
d2=$(catalog "SELECT r.uuid FROM recordings r JOIN sessions s ON s.id = r.session_id WHERE s.uuid = '$D' ORDER BY r.id DESC LIMIT 1")
d1id=$(catalog "SELECT uuid FROM recordings WHERE path = '$d1'")
mv "$d1" "$T/saved"
ctl verify-trail >"$T/v1.txt" 2>&1 && bad "verify-trail passed with a file deleted"
check "a deleted file is named" grep -q "TAMPERED: recording $d1id: file .* is missing" "$T/v1.txt"
mv "$T/saved" "$d1"
catalog "DELETE FROM recordings WHERE uuid = '$d2'"
ctl verify-trail >"$T/v2.txt" 2>&1 && bad "verify-trail passed with a catalog row deleted"
check "a deleted catalog row is named" grep -q "TAMPERED: recording $d2: its catalog row is missing" "$T/v2.txt"
catalog "DROP TRIGGER trail_no_update; UPDATE trail SET actor = 'nobody' WHERE seq = 3"
"$EXPORT" --verify-trail --catalog "$DB" --trail-key "$T/state/trail-signing.key.pub" >"$T/v3.txt" 2>&1
check_eq "siprec-export --verify-trail exits 2 on tampering" 2 "$?"
check "an edited trail entry is named" grep -q "TAMPERED: trail entry 3 .*: edited" "$T/v3.txt"
finish
