#!/bin/sh
# SPDX-License-Identifier: MIT
# Erasure and legal holds by AoR when metadata is sealed (ENABLE_METADATA_ENCRYPTION,
# docs/COMPLIANCE.md "Encrypted metadata"): the catalog keeps no AoR in clear, only a blind
# index per participant (HMAC-SHA256 under a key derived from the data key). Three calls, a
# data-key rotation between the first and the others, a hold by AoR placed before the rotation:
# `siprecctl erase --aor` finds every recording of the subject under either key version (in
# any letter case), keeps the held one (the hold covers recordings made after the rotation), and
# erases it once the hold is released; the third call is never touched. The daemon's varlink
# Erase and PlaceHold find participants the same way. Retention policies by an exact AoR or
# domain keep the sealed participants' recordings.
. "$SRCDIR/tests/integration/lib.sh"
need sqlite3 jq strings python3

SRC=$BUILD/siprec-src
CTL=$BUILD/siprecctl
WAV=$SRCDIR/tests/data/audio/speech-stereo-8k.wav
ctl() { "$CTL" -c "$CONF" "$@"; }
echo "ENABLE_METADATA_ENCRYPTION=true" >>"$CONF"

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
	catalog "SELECT uuid FROM sessions ORDER BY id DESC LIMIT 1"
}
files_of() { catalog "SELECT path FROM recordings r JOIN sessions s ON s.id = r.session_id WHERE s.uuid = '$1'"; }
all_exist() { for f in $(files_of "$1"); do [ -f "$f" ] || return 1; done; }
none_exist() { for f in $(files_of "$1"); do [ -f "$f" ] && return 1; done; return 0; }
deleted_of() { catalog "SELECT count(*) FROM recordings r JOIN sessions s ON s.id = r.session_id WHERE s.uuid = '$1' AND r.deleted_at IS NOT NULL"; }
version_of() { catalog "SELECT DISTINCT key_version FROM recordings r JOIN sessions s ON s.id = r.session_id WHERE s.uuid = '$1'"; }

start_siprecd
A=$(call a sip:alice@example.com sip:bob@example.net)
check "hold by the AoR of erin, placed under data key version 1" \
	ctl hold add --aor sip:erin@example.org --case SEALED-1
check "rotate the data key through the daemon" ctl rotate-keys
i=0
while [ $i -lt 100 ] && [ "$(catalog "SELECT version FROM keys WHERE algorithm = 'AES-256' AND state = 'active'")" != 2 ]; do
	sleep 0.05
	i=$((i + 1))
done
C=$(call c SIP:ALICE@Example.COM sip:erin@example.org)
B=$(call b sip:carol@example.com sip:dave@example.net)
# The daemon's varlink methods (its compliance thread) find them the same way.
cat >"$T/vl.py" <<'PY'
import sys
sys.path.insert(0, sys.argv[2])
from vlclient import Varlink, out
call = Varlink(sys.argv[1]).call
r = call("Erase", {"aor": "sip:DAVE@example.net", "dry_run": True})["parameters"]
out("Erase dry_run of dave finds B's 2 recordings", r["matched"] == 2 and r["held"] == 0)
hid = call("PlaceHold", {"aor": "sip:carol@example.com", "case_ref": "VL-S"})["parameters"]["id"]
r = call("Erase", {"aor": "sip:carol@example.com", "dry_run": True})["parameters"]
out("PlaceHold by carol's AoR holds B's 2 recordings", r["matched"] == 2 and r["held"] == 2)
out("ReleaseHold", "error" not in call("ReleaseHold", {"id": hid, "reason": "done"}))
PY
python3 "$T/vl.py" "$T/run/control" "$SRCDIR/tests/helpers" >"$T/vl.out" 2>&1 || bad "varlink client: $(tail -n 3 "$T/vl.out")"
while read -r res name; do [ "$res" = ok ] && ok "varlink: $name" || bad "varlink: $name"; done <"$T/vl.out"
stop_siprecd
check_eq "siprecd exit status" 0 "$STOP_RC"
check_eq "call A under data key version 1, B and C under version 2" "1 2 2" \
	"$(version_of "$A") $(version_of "$B") $(version_of "$C")"
check_eq "no AoR or name in clear in the catalog's participants" "6 0 0" \
	"$(catalog "SELECT count(*) || ' ' || count(aor) || ' ' || count(name) FROM participants")"
check_eq "each participant has a blind index, tagged with its key version" 6 \
	"$(catalog "SELECT count(*) FROM participants WHERE aor_index GLOB 'v[12]:*' AND length(aor_index) = 67")"
check_eq "alice's two calls (versions 1 and 2) have different indexes" 2 \
	"$(catalog "SELECT count(DISTINCT p.aor_index) FROM participants p JOIN sessions s ON s.id = p.session_id WHERE s.uuid IN ('$A', '$C') AND p.participant_id IN (SELECT participant_id FROM participants WHERE session_id = p.session_id ORDER BY id LIMIT 1)")"
# (holds name their AoR: erin's and carol's are in legal_holds and the trail)
check_eq "the catalog files hold no participant AoR" 0 \
	"$(cat "$T/state/catalog.db"* | strings | grep -c -i -E 'alice@|dave@|bob@')"

ctl erase --aor sip:alice@example.com --dry-run >"$T/erase-dry.txt" 2>&1
check_eq "erase --dry-run lists A's and C's recordings (C held)" "4 2" \
	"$(grep -c -E '^(WOULD-GO|HELD)' "$T/erase-dry.txt") $(grep -c '^HELD' "$T/erase-dry.txt")"
check "erase dry run deleted nothing" all_exist "$A"
check "erase alice" ctl erase --aor sip:alice@example.com
check "A's files are gone" none_exist "$A"
check "C kept: the hold on erin, placed before the rotation, covers it" all_exist "$C"
check_eq "C not marked" 0 "$(deleted_of "$C")"
id=$(catalog "SELECT id FROM legal_holds WHERE case_ref = 'SEALED-1'")
check "release the hold" ctl hold release "$id" --reason "case closed"
check "erase alice again (other letter case)" ctl erase --aor Sip:Alice@EXAMPLE.com
check "C's files are gone" none_exist "$C"
check "B untouched by erasure" all_exist "$B"
check_eq "B not marked" 0 "$(deleted_of "$B")"
check_eq "4 'erased' trail entries" 4 "$(catalog "SELECT count(*) FROM trail WHERE kind = 'erased'")"
check_eq "erased sessions lose their participants' indexes" 0 \
	"$(catalog "SELECT count(aor_index) FROM participants p JOIN sessions s ON s.id = p.session_id WHERE s.uuid IN ('$A', '$C')")"

# Retention by an exact AoR or domain applies to sealed participants (their blind indexes);
# B (carol@example.com, dave@example.net) is left.
check "a policy expiring everything after 1 s" ctl retention add all-1s --match all --keep 1s
i=0
while [ $i -lt 100 ] && [ "$(ctl retention run --dry-run 2>/dev/null | grep -c '^WOULD-GO')" != 2 ]; do
	sleep 0.05
	i=$((i + 1))
done
check_eq "retention dry run: B's 2 recordings expire" 2 "$(ctl retention run --dry-run | grep -c '^WOULD-GO')"
check "a policy keeping the AoR of carol forever" \
	ctl retention add carol --match aor --pattern SIP:Carol@example.com --keep forever
check_eq "... keeps B (sealed AoR matched)" 0 "$(ctl retention run --dry-run | grep -c '^WOULD-GO')"
catalog "DELETE FROM retention_policies WHERE name = 'carol'"
check_eq "(the policy removed: B expires again)" 2 "$(ctl retention run --dry-run | grep -c '^WOULD-GO')"
check "a policy keeping the domain example.net forever" \
	ctl retention add net --match domain --pattern Example.NET --keep forever
check_eq "... keeps B (sealed domain of dave matched)" 0 "$(ctl retention run --dry-run | grep -c '^WOULD-GO')"
check "verify-trail passes" ctl verify-trail
catalog "DELETE FROM retention_policies"

# The web console does the same from siprecd's configuration (its key store, read-only): a
# hold by dave's AoR placed by a supervisor keeps B, whose participants are sealed; an admin's
# erasure of carol finds B through the blind index, keeps it while held, erases it once released.
WEB=$BUILD/siprec-web
if [ -x "$WEB" ]; then
	USERS=$T/web-users
	admin_pw=$("$WEB" --users "$USERS" --create-admin | sed -n 's/.*one-time password: //p')
	echo "super-pass-1" | "$WEB" --users "$USERS" --add-user sue supervisor || bad "--add-user sue"
	mkdir -p "$T/cache"
	WPORT=$(free_port)
	"$WEB" --config "$CONF" --users "$USERS" --listen "127.0.0.1:$WPORT" --log stderr \
		--cache "$T/cache" >"$T/web.log" 2>&1 &
	BG_PIDS="$BG_PIDS $!"
	wait_for "$T/web.log" "listening on" 10 || bad "siprec-web did not start: $(tail -n 3 "$T/web.log")"
	URL=http://127.0.0.1:$WPORT
	code() {
		jar=$1
		shift
		curl -s -o "$T/body" -w '%{http_code}' -b "$T/$jar" -c "$T/$jar" "$@"
	}
	csrf() { sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' "$T/body" | head -n 1; }
	check_eq "web: supervisor logs in" 303 "$(code sue -d user=sue -d password=super-pass-1 "$URL/login")"
	check_eq "web: admin logs in" 303 "$(code adm -d user=admin --data-urlencode "password=$admin_pw" "$URL/login")"
	code sue "$URL/holds" >/dev/null
	stok=$(csrf)
	code adm "$URL/calls" >/dev/null
	atok=$(csrf)
	check_eq "web: hold by dave's AoR (sealed participant of B)" 303 \
		"$(code sue -d "csrf=$stok" -d kind=aor -d aor=sip:dave@example.net -d case=WEB-S "$URL/hold")"
	wh=$(catalog "SELECT id FROM legal_holds WHERE case_ref = 'WEB-S'")
	check_eq "web: the hold carries the blind index of dave's sealed participant" 1 \
		"$(catalog "SELECT count(*) FROM participants WHERE aor_index IN (SELECT aor_index FROM legal_hold_aor_index WHERE hold_id = '$wh')")"
	check_eq "siprecctl sees B held by the web's hold" 2 \
		"$(ctl erase --aor sip:dave@example.net --dry-run 2>/dev/null | grep -c '^HELD')"
	check_eq "web: erasure dry run of carol" 200 \
		"$(code adm -d "csrf=$atok" -d aor=sip:carol@example.com "$URL/erase")"
	check "web: carol's 2 sealed recordings found, both held" \
		grep -q "2 recordings of this participant: 0 would be erased, 2 held" "$T/body"
	check "release the web's hold" ctl hold release "$wh" --reason "web test done"
	check_eq "web: erasure of carol" 200 \
		"$(code adm -d "csrf=$atok" -d aor=sip:carol@example.com -d confirm=yes "$URL/erase")"
	check "B's files are gone" none_exist "$B"
	check_eq "B's 2 recordings erased by siprec-web:admin in the trail" 2 \
		"$(catalog "SELECT count(*) FROM trail WHERE kind = 'erased' AND actor = 'siprec-web:admin'")"
	check "verify-trail passes after the web's erasure" ctl verify-trail
else
	bad "siprec-web not built"
fi
finish
