#!/bin/sh
# SPDX-License-Identifier: MIT
# siprec-web (issue 15): legal holds on a participant's AoR and on a time range placed and
# released from the console (supervisor only, CSRF, bad input refused, catalog rows, trail
# entries and audit lines naming siprec-web:<user>), and accounts deleted, disabled and enabled
# by an admin (audited; the account's sessions end at once; the other users' sessions keep
# their identity). On a catalog siprecd created, with generated calls.
. "$SRCDIR/tests/integration/lib.sh"
need python3 sqlite3 curl

WEB=$BUILD/siprec-web
[ -x "$WEB" ] || { bad "siprec-web not built"; finish; }

# A catalog with its schema from siprecd, then four calls: alice at 10:00 and bob at 10:30 on
# 2026-01-01, ALICE (another spelling of her AoR) on 2026-01-02, and on 2026-01-03 a participant
# whose metadata is sealed (no AoR in clear, only its blind index 'v1:feed', migration 009).
start_siprecd
stop_siprecd
python3 - "$T/state/catalog.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
t0 = 1767261600000  # 2026-01-01T10:00Z
for n, (u, t, name, aor) in enumerate([
        ("aaaaaaaa-0000-4000-8000-000000000001", t0, "Alice", "sip:alice@example.com"),
        ("aaaaaaaa-0000-4000-8000-000000000002", t0 + 1800000, "Bob", "sip:bob@example.net"),
        ("aaaaaaaa-0000-4000-8000-000000000003", t0 + 86400000, "Alice", "SIP:ALICE@example.com"),
        ("aaaaaaaa-0000-4000-8000-000000000004", t0 + 2 * 86400000, None, None)]):
    db.execute("INSERT INTO sessions (uuid, call_id, src_addr, transport, started_at, ended_at,"
               " state, end_reason) VALUES (?, ?, '192.0.2.1:5060', 'udp', ?, ?, 'ended', 'bye')",
               (u, "gen-%d" % n, t, t + 60000))
    db.execute("INSERT INTO participants (session_id, participant_id, name, aor) VALUES"
               " ((SELECT id FROM sessions WHERE uuid = ?), 'p1', ?, ?)", (u, name, aor))
db.execute("UPDATE participants SET aor_index = 'v1:feed' WHERE aor IS NULL")
db.commit()
PY
A=aaaaaaaa-0000-4000-8000-000000000001
B=aaaaaaaa-0000-4000-8000-000000000002
C=aaaaaaaa-0000-4000-8000-000000000003
D=aaaaaaaa-0000-4000-8000-000000000004

USERS=$T/web-users
admin_pw=$("$WEB" --users "$USERS" --create-admin | sed -n 's/.*one-time password: //p')
echo "listen-pass-1" | "$WEB" --users "$USERS" --add-user lisa listener || bad "--add-user lisa"
echo "viewer-pass-1" | "$WEB" --users "$USERS" --add-user vic viewer || bad "--add-user vic"
echo "super-pass-1" | "$WEB" --users "$USERS" --add-user sue supervisor || bad "--add-user sue"

PORT=$(free_port)
"$WEB" --catalog "$T/state/catalog.db" --users "$USERS" --listen "127.0.0.1:$PORT" --log stderr \
	--cache "$T/cache" >"$T/web.log" 2>&1 &
BG_PIDS=$!
mkdir -p "$T/cache"
wait_for "$T/web.log" "listening on" 10 || { bad "siprec-web did not start"; cat "$T/web.log"; finish; }
URL=http://127.0.0.1:$PORT
code() {
	jar=$1
	shift
	curl -s -o "$T/body" -D "$T/hdr" -w '%{http_code}' -b "$T/$jar" -c "$T/$jar" "$@"
}
login() { code "$1" -d "user=$2" --data-urlencode "password=$3" "$URL/login"; }
csrf() { sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' "$T/body" | head -n 1; }
held() { code "$1" "$URL/calls?held=1" >/dev/null; grep -o '/call?id=[0-9a-f-]*' "$T/body" | sed 's/.*=//' | sort | tr '\n' ' '; }

for who in "adm admin $admin_pw" "lisa lisa listen-pass-1" "vic vic viewer-pass-1" "sue sue super-pass-1"; do
	set -- $who
	check_eq "$2 logs in" 303 "$(login "$1" "$2" "$3")"
done
code lisa "$URL/calls" >/dev/null
ltok=$(csrf)
code vic "$URL/calls" >/dev/null
vtok=$(csrf)

# ---- holds on an AoR and on a time range
check_eq "a listener is refused the holds page" 403 "$(code lisa "$URL/holds")"
check "audit: holds-refused" grep -q "SIPREC_WEB_USER=lisa SIPREC_WEB_ACTION=holds-refused" "$T/web.log"
check_eq "supervisor: holds page" 200 "$(code sue "$URL/holds")"
check "holds page: the AoR and time range forms" sh -c "grep -q 'id=\"holdaor\"' '$T/body' && grep -q 'id=\"holdrange\"' '$T/body' && grep -q 'id=\"noholds\"' '$T/body'"
stok=$(csrf)
check_eq "AoR hold without CSRF token refused" 403 "$(code sue -d kind=aor -d aor=sip:alice@example.com -d case=C-1 "$URL/hold")"
check_eq "AoR hold by a listener refused (its own token)" 403 "$(code lisa -d "csrf=$ltok" -d kind=aor -d aor=sip:alice@example.com -d case=C-1 "$URL/hold")"
check "audit: hold-refused" grep -q "SIPREC_WEB_USER=lisa SIPREC_WEB_ACTION=hold-refused" "$T/web.log"
for q in "kind=everything&aor=x&case=C" "kind=aor&case=C" "kind=aor&aor=a%09b&case=C" "kind=aor&aor=sip:x&case=" \
	"kind=range&from=2026-01-01T10:15&case=C" "kind=range&from=2026-01-01T10:45&to=2026-01-01T10:15&case=C" \
	"kind=range&from=yesterday&to=2026-01-01T10:15&case=C" "kind=range&from=2026-01-01T10:15&to=2026-13-01T10:15&case=C" \
	"kind=range&from=1960-01-01T00:00&to=2026-01-01T10:15&case=C" \
	"kind=aor&aor=$(python3 -c 'print("a" * 129)')&case=C"; do
	check_eq "bad hold refused: $(printf %.50s "$q")" 400 "$(code sue -d "csrf=$stok&$q" "$URL/hold")"
done
check_eq "no hold was placed by the refused requests" 0 "$(catalog "SELECT count(*) FROM legal_holds")"

check_eq "supervisor holds every call of sip:alice@example.com" 303 "$(code sue -d "csrf=$stok" -d kind=aor -d aor=sip:alice@example.com --data-urlencode 'case=CASE <A>' "$URL/hold")"
check "back to the holds page" grep -qi '^Location: /holds' "$T/hdr"
ha=$(catalog "SELECT id FROM legal_holds WHERE kind = 'aor' AND aor = 'sip:alice@example.com' AND placed_by = 'siprec-web:sue' AND case_ref = 'CASE <A>' AND released_at IS NULL")
check "the AoR hold is in the catalog, placed by siprec-web:sue" test -n "$ha"
check_eq "trail: 'held' by siprec-web:sue for the AoR" 1 "$(catalog "SELECT count(*) FROM trail WHERE kind = 'held' AND actor = 'siprec-web:sue' AND object = 'hold:$ha' AND reason LIKE '%AoR sip:alice@example.com'")"
check "audit: hold-placed on the AoR" grep -q "SIPREC_WEB_USER=sue SIPREC_WEB_ACTION=hold-placed SIPREC_SESSION_ID= SIPREC_WEB_DETAIL=hold=$ha case=CASE <A> kind=aor aor=sip:alice@example.com" "$T/web.log"
check_eq "the AoR hold keeps both of alice's calls (any case), not bob's" "$A $C " "$(held sue)"
# As siprecd does for a hold placed while metadata is sealed: the AoR's blind index.
catalog "INSERT INTO legal_hold_aor_index (hold_id, aor_index) VALUES ($ha, 'v1:feed')"
check_eq "...and the sealed participant's call, through the blind AoR index" "$A $C $D " "$(held sue)"

check_eq "supervisor holds the calls started 10:15..10:45" 303 "$(code sue -d "csrf=$stok" -d kind=range -d from=2026-01-01T10:15 -d to=2026-01-01T10:45 -d case=CASE-R "$URL/hold")"
hr=$(catalog "SELECT id FROM legal_holds WHERE kind = 'range' AND from_at = 1767262500000 AND to_at = 1767264359999 AND placed_by = 'siprec-web:sue' AND released_at IS NULL")
check "the range hold is in the catalog (both minutes included)" test -n "$hr"
check "audit: hold-placed on the range" grep -q "SIPREC_WEB_ACTION=hold-placed SIPREC_SESSION_ID= SIPREC_WEB_DETAIL=hold=$hr case=CASE-R kind=range from=2026-01-01T10:15 to=2026-01-01T10:45" "$T/web.log"
check_eq "now all four calls are held" "$A $B $C $D " "$(held sue)"
code sue "$URL/holds" >/dev/null
check "holds page: the AoR hold, escaped, keeping 3 calls (one by the blind index)" grep -q "<tr class=\"hold\" data-hold=\"$ha\"><td>$ha</td><td>aor</td><td>sip:alice@example.com</td><td>CASE &lt;A&gt;</td><td>siprec-web:sue</td><td>[^<]*</td><td class=\"kept\">3</td>" "$T/body"
check "holds page: the range hold, keeping 1 call" grep -q "<tr class=\"hold\" data-hold=\"$hr\"><td>$hr</td><td>range</td><td>calls started 2026-01-01 10:15:00 .. 2026-01-01 10:45:59</td>.*<td class=\"kept\">1</td>" "$T/body"
code sue "$URL/call?id=$D" >/dev/null
check "the sealed participant's call page lists the AoR hold" grep -q "data-hold=\"$ha\"><td>$ha</td><td>aor</td>" "$T/body"
code sue "$URL/call?id=$B" >/dev/null
check "bob's call page lists the range hold" grep -q "data-hold=\"$hr\"><td>$hr</td><td>range</td>" "$T/body"
code sue "$URL/call?id=$A" >/dev/null
check "alice's call page offers a hold on her AoR" grep -q '<form method="post" action="/hold" id="holdaor">.*<option>sip:alice@example.com</option>' "$T/body"
check_eq "a listener cannot release (its own token)" 403 "$(code lisa -d "csrf=$ltok" -d "hold=$ha" "$URL/hold/release")"
check_eq "release without CSRF token refused" 403 "$(code sue -d "hold=$ha" "$URL/hold/release")"
check_eq "release of an unknown hold: 404" 404 "$(code sue -d "csrf=$stok" -d hold=99999 "$URL/hold/release")"
check_eq "supervisor releases the AoR hold from the holds page" 303 "$(code sue -d "csrf=$stok" -d "hold=$ha" -d reason=closed "$URL/hold/release")"
check "back to the holds page after the release" grep -qi '^Location: /holds' "$T/hdr"
check_eq "the AoR hold is released by siprec-web:sue" "siprec-web:sue|closed" "$(catalog "SELECT released_by || '|' || release_reason FROM legal_holds WHERE id = $ha")"
check_eq "trail: 'released' by siprec-web:sue" 1 "$(catalog "SELECT count(*) FROM trail WHERE kind = 'released' AND actor = 'siprec-web:sue' AND object = 'hold:$ha'")"
check "audit: hold-released" grep -q "SIPREC_WEB_USER=sue SIPREC_WEB_ACTION=hold-released SIPREC_SESSION_ID= SIPREC_WEB_DETAIL=hold=$ha reason=closed" "$T/web.log"
check_eq "only the range hold's call is held now" "$B " "$(held sue)"
check_eq "releasing twice: 409" 409 "$(code sue -d "csrf=$stok" -d "hold=$ha" "$URL/hold/release")"
check_eq "supervisor releases the range hold" 303 "$(code sue -d "csrf=$stok" -d "hold=$hr" "$URL/hold/release")"
check_eq "nothing is held" "" "$(held sue)"
# With seconds, a range ends at the end of its last second (2026-01-02T10:00:30.999).
check_eq "a range to the second" 303 "$(code sue -d "csrf=$stok" -d kind=range -d from=2026-01-02T10:00:00 -d to=2026-01-02T10:00:30 -d case=CASE-S "$URL/hold")"
hs=$(catalog "SELECT id FROM legal_holds WHERE case_ref = 'CASE-S' AND from_at = 1767348000000 AND to_at = 1767348030999")
check "...in the catalog to its last millisecond" test -n "$hs"
check_eq "...keeps ALICE's call of 10:00:00" "$C " "$(held sue)"
code sue -d "csrf=$stok" -d "hold=$hs" "$URL/hold/release" >/dev/null

# ---- accounts: delete, disable, enable (admin only, CSRF, audited, sessions end)
code adm "$URL/users" >/dev/null
atok=$(csrf)
check "users page offers delete and disable for others, not for oneself" sh -c "grep -q 'name=\"action\" value=\"delete\"><input type=\"hidden\" name=\"user\" value=\"lisa\"' '$T/body' && ! grep -q 'name=\"user\" value=\"admin\"' '$T/body'"
check_eq "a supervisor cannot delete a user (its own token)" 403 "$(code sue -d "csrf=$stok" -d action=delete -d user=lisa "$URL/users")"
check "audit: users-refused" grep -q "SIPREC_WEB_USER=sue SIPREC_WEB_ACTION=users-refused SIPREC_SESSION_ID= SIPREC_WEB_DETAIL=lisa" "$T/web.log"
check_eq "delete without CSRF token refused" 403 "$(code adm -d action=delete -d user=lisa "$URL/users")"
check_eq "an unknown action refused" 400 "$(code adm -d "csrf=$atok" -d action=purge -d user=lisa "$URL/users")"
check_eq "an unknown user: 404" 404 "$(code adm -d "csrf=$atok" -d action=delete -d user=nobody "$URL/users")"
check_eq "an admin cannot delete itself" 409 "$(code adm -d "csrf=$atok" -d action=delete -d user=admin "$URL/users")"
check_eq "lisa is still logged in" 200 "$(code lisa "$URL/calls")"
check_eq "admin deletes lisa" 303 "$(code adm -d "csrf=$atok" -d action=delete -d user=lisa "$URL/users")"
check_eq "lisa's session died: back to the login" 303 "$(code lisa "$URL/calls")"
check "users file: no lisa" sh -c "! grep -q '^lisa ' '$USERS' && [ \$(stat -c %a '$USERS') = 600 ]"
check_eq "lisa cannot log in" 403 "$(login lisa2 lisa listen-pass-1)"
check "audit: user-deleted" grep -q "SIPREC_WEB_USER=admin SIPREC_WEB_ACTION=user-deleted SIPREC_SESSION_ID= SIPREC_WEB_DETAIL=lisa" "$T/web.log"
# Users after lisa moved up one place: their sessions still say who they are.
code sue "$URL/calls" >/dev/null
check "sue's session is still sue (supervisor)" grep -q '<span class="user">sue (supervisor)</span>' "$T/body"
code vic "$URL/calls" >/dev/null
check "vic's session is still vic (viewer)" grep -q '<span class="user">vic (viewer)</span>' "$T/body"
code adm "$URL/users" >/dev/null
check "admin's session is still admin" grep -q '<span class="user">admin (admin)</span>' "$T/body"

check_eq "admin disables vic" 303 "$(code adm -d "csrf=$atok" -d action=disable -d user=vic "$URL/users")"
check_eq "vic's session died" 303 "$(code vic "$URL/calls")"
check_eq "vic cannot log in" 403 "$(login vic vic viewer-pass-1)"
check "users file: vic kept, locked" grep -q '^vic viewer ![$]argon2id[$]' "$USERS"
code adm "$URL/users" >/dev/null
check "users page: vic disabled, with Enable" grep -q '<tr><td>vic</td><td>viewer</td><td class="ustate">disabled</td><td><form method="post" action="/users" class="inline enable">' "$T/body"
check "audit: user-disabled" grep -q "SIPREC_WEB_USER=admin SIPREC_WEB_ACTION=user-disabled SIPREC_SESSION_ID= SIPREC_WEB_DETAIL=vic" "$T/web.log"
check_eq "admin enables vic" 303 "$(code adm -d "csrf=$atok" -d action=enable -d user=vic "$URL/users")"
check_eq "vic logs in again" 303 "$(login vic vic viewer-pass-1)"
check "audit: user-enabled" grep -q "SIPREC_WEB_USER=admin SIPREC_WEB_ACTION=user-enabled SIPREC_SESSION_ID= SIPREC_WEB_DETAIL=vic" "$T/web.log"
# A password reset ends the account's sessions opened with the old password.
code vic "$URL/calls" >/dev/null
check "vic's new session works" grep -q '<span class="user">vic (viewer)</span>' "$T/body"
check_eq "admin resets vic's password" 303 "$(code adm -d "csrf=$atok" -d user=vic -d role=viewer -d password=viewer-pass-2 "$URL/users")"
check_eq "vic's session from the old password died" 303 "$(code vic "$URL/calls")"
code adm "$URL/users" >/dev/null
check "the admin's own session lives on" grep -q '<span class="user">admin (admin)</span>' "$T/body"
check_eq "vic logs in with the new password" 303 "$(login vic vic viewer-pass-2)"
# A users file that cannot be written (its temporary name taken by a directory, which stops
# root too): the account is not created in memory either.
mkdir "$USERS.tmp"
check_eq "adding eve while the users file cannot be written: 500" 500 "$(code adm -d "csrf=$atok" -d user=eve -d role=admin -d password=eve-pass-12 "$URL/users")"
check_eq "eve cannot log in: the account was not saved" 403 "$(login eve eve eve-pass-12)"
check_eq "resetting sue's password then: 500" 500 "$(code adm -d "csrf=$atok" -d user=sue -d role=admin -d password=sue-pass-new "$URL/users")"
rmdir "$USERS.tmp"
check_eq "sue keeps her old password" 303 "$(login sue2 sue super-pass-1)"
code sue2 "$URL/calls" >/dev/null
check "...and her role" grep -q '<span class="user">sue (supervisor)</span>' "$T/body"
check "no password in the log" sh -c "! grep -qE 'listen-pass-1|viewer-pass-[12]|super-pass-1|sue-pass-new|eve-pass-12|$admin_pw' '$T/web.log'"

# A console started afterwards reads the same accounts from the file.
kill "$BG_PIDS" && wait "$BG_PIDS" 2>/dev/null
BG_PIDS=""
PORT=$(free_port)
"$WEB" --catalog "$T/state/catalog.db" --users "$USERS" --listen "127.0.0.1:$PORT" --log stderr \
	--cache "$T/cache" >"$T/web2.log" 2>&1 &
BG_PIDS=$!
wait_for "$T/web2.log" "listening on" 10 || bad "siprec-web did not start again"
URL=http://127.0.0.1:$PORT
check "after a restart: 3 users (no eve)" grep -q "3 users" "$T/web2.log"
check_eq "after a restart: lisa is still gone" 403 "$(login l3 lisa listen-pass-1)"
# A login's Argon2id check (64 MiB, some hundred milliseconds) runs outside the console's lock:
# another user's page is served while it runs. The console's RSS growing by 48 MiB says the
# hash is running (polled); the page must come back before the login does.
code vic2 -d user=vic -d password=viewer-pass-2 "$URL/login" >/dev/null
rss() { awk '/^VmRSS/ {print $2}' "/proc/$BG_PIDS/status"; }
base=$(rss)
rm -f "$T/order"
(curl -s -o /dev/null -d user=vic -d password=not-her-password "$URL/login"; echo login >>"$T/order") &
lpid=$!
i=0
while [ $i -lt 500 ] && [ "$(rss)" -lt $((base + 49152)) ]; do
	sleep 0.01
	i=$((i + 1))
done
check "the login's hash is running (RSS +48 MiB)" test "$(rss)" -ge $((base + 49152))
code vic2 "$URL/calls" >/dev/null
echo page >>"$T/order"
wait $lpid
check_eq "a page is served while another login's hash runs" "page login " "$(tr '\n' ' ' <"$T/order")"
check "no sanitizer report from siprec-web" sh -c "! grep -q 'Sanitizer' '$T'/web*.log"
finish
