#!/bin/sh
# SPDX-License-Identifier: MIT
# siprec-web (issue 15) over HTTP with curl, on a call recorded end to end by siprecd from sipp:
# login (wrong password refused, rate limited after 5 failures), session cookie flags, the calls
# list and its filters, bad input refused with 400 (time, page, state, id, overlong values),
# output HTML-escaped, the call page (participants, streams), the WAV byte-identical to
# siprec-export's, HTTP Range (206 with Content-Range, suffix ranges, 416), a viewer refused
# playback, CSRF (POST without or with a wrong token refused), every search/play/download in the
# audit log; then one page of a generated 100,000-session catalog is timed (printed, not asserted);
# last, the limits against hostile clients (connections per address, the request deadline, a
# newcomer taking the place of the oldest waiting connection when all 64 are taken).
. "$SRCDIR/tests/integration/lib.sh"
need sipp python3 sqlite3 curl

WEB=$BUILD/siprec-web
EXPORT=$BUILD/siprec-export
PCAPS=$SRCDIR/tests/data/pcap
SCN=$SRCDIR/tests/integration/scenarios
[ -x "$WEB" ] && [ -x "$EXPORT" ] || { bad "siprec-web or siprec-export not built"; finish; }

start_siprecd
cp "$PCAPS/tone440-pcmu.pcap" "$T/a.pcap"
cp "$PCAPS/tone660-pcmu.pcap" "$T/b.pcap"
sipp_run basic -sf "$SCN/siprec-basic.xml" -m 1 -cid_str "web-%u-%p@%s" -key tools "$PCAPS" ||
	bad "sipp call failed"
i=0
while [ $i -lt 200 ]; do
	u=$(catalog "SELECT uuid FROM sessions WHERE call_id LIKE 'web-%' AND state != 'active' AND
		NOT EXISTS (SELECT 1 FROM recordings r WHERE r.session_id = sessions.id AND
		r.state != 'final')" 2>/dev/null)
	[ -n "$u" ] && break
	sleep 0.05
	i=$((i + 1))
done
[ -n "$u" ] || { bad "no finished session in the catalog"; finish; }
ok "call recorded ($u)"
nrec_all=$(catalog "SELECT count(*) FROM recordings r JOIN sessions s ON s.id = r.session_id WHERE s.uuid = '$u'")

# Accounts: --create-admin prints a one-time password; --add-user reads it from stdin.
USERS=$T/web-users
admin_pw=$("$WEB" --users "$USERS" --create-admin | sed -n 's/.*one-time password: //p')
[ -n "$admin_pw" ] && ok "--create-admin printed a password" || bad "--create-admin"
echo "listen-pass-1" | "$WEB" --users "$USERS" --add-user lisa listener || bad "--add-user lisa"
echo "viewer-pass-1" | "$WEB" --users "$USERS" --add-user vic viewer || bad "--add-user vic"
echo "super-pass-1" | "$WEB" --users "$USERS" --add-user sue supervisor || bad "--add-user sue"
check "users file holds Argon2id hashes only, mode 0600" sh -c \
	"grep -q '^lisa listener [$]argon2id[$]v=19[$]' '$USERS' && ! grep -q listen-pass-1 '$USERS' &&
	[ \$(stat -c %a '$USERS') = 600 ]"

PORT=$(free_port)
"$WEB" --config "$CONF" --users "$USERS" --listen "127.0.0.1:$PORT" --log stderr \
	--cache "$T/cache" >"$T/web.log" 2>&1 &
BG_PIDS=$!
mkdir -p "$T/cache"
wait_for "$T/web.log" "listening on" 10 || { bad "siprec-web did not start"; cat "$T/web.log"; finish; }
URL=http://127.0.0.1:$PORT

# code JAR [CURL ARGS...] URL: prints the HTTP status (body in $T/body, headers in $T/hdr).
code() {
	jar=$1
	shift
	curl -s -o "$T/body" -D "$T/hdr" -w '%{http_code}' -b "$T/$jar" -c "$T/$jar" "$@"
}
login() { code "$1" -d "user=$2" --data-urlencode "password=$3" "$URL/login"; }
csrf() { sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' "$T/body" | head -n 1; }

check_eq "no session: redirected to /login" "303" "$(code anon "$URL/calls")"
check_eq "wrong password refused" 403 "$(login bad lisa wrong-password)"
check_eq "listener logs in" 303 "$(login lisa lisa listen-pass-1)"
check "session cookie is HttpOnly and SameSite=Strict" grep -qi \
	'^Set-Cookie: siprecweb=[0-9a-f]\{64\}; Path=/; HttpOnly; SameSite=Strict' "$T/hdr"

check_eq "calls list" 200 "$(code lisa "$URL/calls")"
check "calls list shows the call" grep -q "/call?id=$u" "$T/body"

# The console on an IPv6 address: [ADDR]:PORT, the same catalog and users.
PORT6=$(free_port)
"$WEB" --config "$CONF" --users "$USERS" --listen "[::1]:$PORT6" --log stderr \
	--cache "$T/cache" >"$T/web6.log" 2>&1 &
web6=$!
BG_PIDS="$BG_PIDS $web6"
if wait_for "$T/web6.log" "listening on http://\[::1\]:$PORT6/" 10; then
	ok "IPv6: listening on [::1]:$PORT6"
	check_eq "IPv6: listener logs in" 303 \
		"$(code lisa6 -g -d user=lisa --data-urlencode password=listen-pass-1 "http://[::1]:$PORT6/login")"
	check_eq "IPv6: calls list" 200 "$(code lisa6 -g "http://[::1]:$PORT6/calls")"
	check "IPv6: calls list shows the call" grep -q "/call?id=$u" "$T/body"
else
	bad "IPv6: siprec-web did not listen on [::1]:$PORT6"; cat "$T/web6.log"
fi
kill "$web6" && wait "$web6" 2>/dev/null
check_eq "IPv6: siprec-web exits 0 on SIGTERM" 0 "$?"
BG_PIDS=${BG_PIDS% "$web6"}
"$WEB" --config "$CONF" --users "$USERS" --listen "::1:$PORT6" >"$T/web6bad.out" 2>&1
check_eq "--listen with an IPv6 address outside brackets: exit 1" 1 "$?"
check "...naming the bracket form" grep -q 'not an IPv4 address (an IPv6 address goes in brackets' "$T/web6bad.out"
check_eq "filter by participant (alice)" 200 "$(code lisa "$URL/calls?who=alice")"
check "filter alice finds the call" grep -q "/call?id=$u" "$T/body"
code lisa "$URL/calls?who=nobody-here" >/dev/null
check "filter nobody finds nothing" sh -c "! grep -q '/call?id=' '$T/body'"
code lisa "$URL/calls?state=ended&from=2000-01-01T00:00&to=2100-01-01T00:00" >/dev/null
check "filter state+time range finds the call" grep -q "/call?id=$u" "$T/body"
code lisa "$URL/calls?dtmf=1" >/dev/null
check "filter has-DTMF leaves out a call without DTMF" sh -c "! grep -q '/call?id=$u' '$T/body'"
code lisa "$URL/calls?dmin=1&dmax=60" >/dev/null
check "filter duration 1..60 s finds the call (about 2.5 s)" grep -q "/call?id=$u" "$T/body"
check "the list shows the duration" grep -q "<td class=\"dur\">2 s</td>" "$T/body"
code lisa "$URL/calls?dmin=60" >/dev/null
check "filter duration >= 60 s leaves it out" sh -c "! grep -q '/call?id=$u' '$T/body'"
code lisa "$URL/calls?dmax=1" >/dev/null
check "filter duration <= 1 s leaves it out" sh -c "! grep -q '/call?id=$u' '$T/body'"
code lisa "$URL/calls?held=1" >/dev/null
check "filter on-hold leaves out a call without a hold" sh -c "! grep -q '/call?id=$u' '$T/body'"
code lisa "$URL/calls?dmin=1&held=1&page=0&size=5" >/dev/null
check "the form keeps the duration filter" sh -c "! grep -q 'id=\"next\"' '$T/body' && grep -q 'name=\"dmin\" id=\"dmin\" type=\"number\" min=\"0\" max=\"604800\" size=\"6\" placeholder=\"min\" value=\"1\"' '$T/body'"
code lisa "$URL/calls?who=%3Cscript%3Ealert(1)%3C/script%3E" >/dev/null
check "user input is HTML-escaped" sh -c "grep -q '&lt;script&gt;alert(1)&lt;/script&gt;' '$T/body' && ! grep -q '<script>alert' '$T/body'"

long=$(python3 -c 'print("a" * 200)')
for q in "page=abc" "page=-1" "page=100001" "size=0" "size=999" "from=yesterday" \
	"to=2024-13-45T99:99" "state=deleted" "dtmf=2" "who=$long" "held=yes" "dmin=-1" \
	"dmin=604801" "dmax=1.5" "dmax=abc" "dmin=5&dmax=1"; do
	check_eq "bad input refused: /calls?$q" 400 "$(code lisa "$URL/calls?$q")"
done
for q in "id=../../etc/passwd" "id=" "id=$long" "id=zzzz"; do
	check_eq "bad id refused: /call?${q%"${q#??????????????????}"}" 400 "$(code lisa "$URL/call?$q")"
done
check_eq "unknown call is 404" 404 "$(code lisa "$URL/call?id=0000-1111")"

check_eq "call page" 200 "$(code lisa "$URL/call?id=$u")"
check "call page lists the participants" sh -c "grep -q 'sip:alice@example.com' '$T/body' && grep -q 'sip:bob@example.net' '$T/body'"
check "call page lists both streams" sh -c "grep -c '<tr><td>[12]</td>' '$T/body' | grep -qx 2"
check "call page has the player" grep -q '<audio id="player"' "$T/body"
check_eq "integrity: every file verified ok" "$nrec_all" "$(grep -c '<td class="verdict">ok</td>' "$T/body")"
check_eq "a waveform per stream" "$nrec_all" "$(grep -o '<svg class="wave"' "$T/body" | wc -l)"
# The tones are loud: the picture comes from decoded PCM, not from the encrypted bytes' sizes.
peaks=$(grep -o 'data-peak="[0-9]*"' "$T/body" | tr -dc '0-9\n' | tr '\n' ' ')
check "waveforms drawn from decoded audio (peaks $(echo $peaks))" sh -c "[ -n '$peaks' ] && for p in $peaks; do [ \$p -gt 4000 ] || exit 1; done"
check "waveform: one column per pixel" sh -c "[ \$(grep -o 'M[0-9]*[.]5 ' '$T/body' | wc -l) -eq $((600 * nrec_all)) ]"

# The WAV served is the one siprec-export writes, byte for byte.
"$EXPORT" -c "$CONF" --session "$u" --catalog "$T/state/catalog.db" -o "$T/export.wav" \
	>"$T/export.log" 2>&1 || bad "siprec-export"
check_eq "play (whole file)" 200 "$(code lisa "$URL/audio?id=$u")"
check "play equals siprec-export's WAV" cmp -s "$T/body" "$T/export.wav"
check "play advertises byte ranges" grep -qi "^Accept-Ranges: bytes" "$T/hdr"
check_eq "download" 200 "$(code lisa "$URL/audio?id=$u&download=1")"
check "download equals siprec-export's WAV" cmp -s "$T/body" "$T/export.wav"
check "download is an attachment" grep -qi "^Content-Disposition: attachment" "$T/hdr"
size=$(stat -c %s "$T/export.wav")
check_eq "Range 100-199" 206 "$(code lisa -H 'Range: bytes=100-199' "$URL/audio?id=$u")"
check "Range 100-199: Content-Range" grep -qi "^Content-Range: bytes 100-199/$size" "$T/hdr"
check "Range 100-199: the right bytes" sh -c "dd if='$T/export.wav' bs=1 skip=100 count=100 2>/dev/null | cmp -s - '$T/body'"
check_eq "Range suffix -10" 206 "$(code lisa -H 'Range: bytes=-10' "$URL/audio?id=$u")"
check "Range suffix: the last 10 bytes" sh -c "tail -c 10 '$T/export.wav' | cmp -s - '$T/body'"
check_eq "Range open 1000-" 206 "$(code lisa -H 'Range: bytes=1000-' "$URL/audio?id=$u")"
check_eq "Range open 1000-: length" "$((size - 1000))" "$(stat -c %s "$T/body")"
check_eq "Range past the end: 416" 416 "$(code lisa -H "Range: bytes=$size-" "$URL/audio?id=$u")"
check "416 names the size" grep -qi "^Content-Range: bytes \*/$size" "$T/hdr"
check_eq "Range garbage: 416" 416 "$(code lisa -H 'Range: bytes=x-y' "$URL/audio?id=$u")"

# A viewer sees metadata, never audio.
check_eq "viewer logs in" 303 "$(login vic vic viewer-pass-1)"
check_eq "viewer sees the call page" 200 "$(code vic "$URL/call?id=$u")"
check "viewer's call page has no player" sh -c "! grep -q '<audio' '$T/body'"
check "viewer sees the integrity verdicts, not the waveforms" sh -c "grep -q '<td class=\"verdict\">ok</td>' '$T/body' && ! grep -q '<svg' '$T/body'"
check_eq "viewer refused playback" 403 "$(code vic "$URL/audio?id=$u")"
check_eq "viewer refused download" 403 "$(code vic "$URL/audio?id=$u&download=1")"

# CSRF: a POST without the session's token (or with another session's) changes nothing.
code lisa "$URL/calls" >/dev/null
tok=$(csrf)
code vic "$URL/calls" >/dev/null
vtok=$(csrf)
check_eq "logout without CSRF token refused" 403 "$(code lisa -X POST -d '' "$URL/logout")"
check_eq "logout with another session's token refused" 403 "$(code lisa -d "csrf=$vtok" "$URL/logout")"
check_eq "still logged in after the refused POSTs" 200 "$(code lisa "$URL/calls")"
check_eq "logout with the token" 303 "$(code lisa -d "csrf=$tok" "$URL/logout")"
check_eq "logged out" 303 "$(code lisa "$URL/calls")"

# Status page: siprecd's Health over varlink.
login adm admin "$admin_pw" >/dev/null
check_eq "status page" 200 "$(code adm "$URL/status")"
check "status page shows siprecd's health" grep -q '<table id="daemon">' "$T/body"
check "status page shows the TLS certificate" grep -q '<table id="cert">' "$T/body"

# Users page: admin only; POSTs need the CSRF token; a user created there can log in.
check_eq "viewer refused the users page" 403 "$(code vic "$URL/users")"
check_eq "viewer refused adding a user (with its own CSRF token)" 403 "$(code vic -d "csrf=$vtok" -d user=eve -d role=admin -d password=eve-pass-12 "$URL/users")"
check_eq "admin: users page" 200 "$(code adm "$URL/users")"
check "users page lists lisa as listener, active" grep -q '<tr><td>lisa</td><td>listener</td><td class="ustate">active</td>' "$T/body"
atok=$(csrf)
check_eq "add user without CSRF token refused" 403 "$(code adm -d user=sam -d role=listener -d password=sam-pass-12 "$URL/users")"
check_eq "add user with a bad role refused" 400 "$(code adm -d "csrf=$atok" -d user=sam -d role=root -d password=sam-pass-12 "$URL/users")"
check_eq "add user with a short password refused" 400 "$(code adm -d "csrf=$atok" -d user=sam -d role=listener -d password=short "$URL/users")"
check_eq "add user sam (listener)" 303 "$(code adm -d "csrf=$atok" -d user=sam -d role=listener -d password=sam-pass-12 "$URL/users")"
check_eq "sam logs in" 303 "$(login sam sam sam-pass-12)"
check_eq "sam may play" 200 "$(code sam "$URL/audio?id=$u")"
check "users file has sam" grep -q '^sam listener [$]argon2id[$]' "$USERS"
check "audit: user-saved" grep -q "SIPREC_WEB_USER=admin SIPREC_WEB_ACTION=user-saved .*SIPREC_WEB_DETAIL=sam" "$T/web.log"

# Legal holds (supervisor) through the compliance code: placed and released from the call page,
# CSRF-checked, in the catalog and the trail with the console user as the actor, audited.
check_eq "supervisor logs in" 303 "$(login sue sue super-pass-1)"
check_eq "supervisor: call page" 200 "$(code sue "$URL/call?id=$u")"
check "supervisor's call page offers a hold" grep -q '<form method="post" action="/hold" id="placehold">' "$T/body"
check "no hold on the call yet" grep -q 'id="noholds"' "$T/body"
stok=$(csrf)
code vic "$URL/call?id=$u" >/dev/null
check "viewer's call page offers no hold" sh -c "! grep -q 'id=\"placehold\"' '$T/body'"
check_eq "viewer refused placing a hold (with its own CSRF token)" 403 \
	"$(code vic -d "csrf=$vtok" -d "id=$u" -d case=CASE-1 "$URL/hold")"
check_eq "hold without CSRF token refused" 403 "$(code sue -d "id=$u" -d case=CASE-1 "$URL/hold")"
check_eq "hold without a case reference refused" 400 "$(code sue -d "csrf=$stok" -d "id=$u" -d case= "$URL/hold")"
check_eq "hold with a control character refused" 400 "$(code sue -d "csrf=$stok" -d "id=$u" --data-urlencode "case=$(printf 'a\tb')" "$URL/hold")"
check_eq "hold on a bad id refused" 400 "$(code sue -d "csrf=$stok" -d "id=../x" -d case=CASE-1 "$URL/hold")"
check_eq "hold on an unknown call: 404" 404 "$(code sue -d "csrf=$stok" -d "id=0000-1111" -d case=CASE-1 "$URL/hold")"
check_eq "supervisor places a hold" 303 "$(code sue -d "csrf=$stok" -d "id=$u" -d 'case=CASE <7>' "$URL/hold")"
hid=$(catalog "SELECT id FROM legal_holds WHERE kind = 'session' AND session_uuid = '$u' AND released_at IS NULL AND placed_by = 'siprec-web:sue' AND case_ref = 'CASE <7>'")
check "the hold is in the catalog, placed by siprec-web:sue" test -n "$hid"
check_eq "trail: 'held' entry by siprec-web:sue" 1 "$(catalog "SELECT count(*) FROM trail WHERE kind = 'held' AND actor = 'siprec-web:sue' AND object = 'hold:$hid'")"
code sue "$URL/call?id=$u" >/dev/null
check "the call page shows the hold (case escaped)" grep -q "<tr class=\"hold\" data-hold=\"$hid\"><td>$hid</td><td>session</td><td>$u</td><td>CASE &lt;7&gt;</td><td>siprec-web:sue</td>" "$T/body"
code sue "$URL/calls?held=1" >/dev/null
check "filter on-hold finds the held call, marked held" grep -q "/call?id=$u\">.*<td class=\"held\">held</td>" "$T/body"
check "audit: hold-placed" grep -q "SIPREC_WEB_USER=sue SIPREC_WEB_ACTION=hold-placed SIPREC_SESSION_ID=$u SIPREC_WEB_DETAIL=hold=$hid" "$T/web.log"
check_eq "viewer refused releasing (with its own CSRF token)" 403 \
	"$(code vic -d "csrf=$vtok" -d "id=$u" -d "hold=$hid" "$URL/hold/release")"
check_eq "release of a bad hold id refused" 400 "$(code sue -d "csrf=$stok" -d "id=$u" -d "hold=x1" "$URL/hold/release")"
check_eq "release of an unknown hold: 404" 404 "$(code sue -d "csrf=$stok" -d "id=$u" -d "hold=999999" "$URL/hold/release")"

# Erasure (admin): a dry run first; a held call is kept.
code adm "$URL/call?id=$u" >/dev/null
check "admin's call page offers erasure per participant" grep -q 'name="aor" value="sip:bob@example.net"' "$T/body"
atok=$(csrf)
check_eq "supervisor refused erasure" 403 "$(code sue -d "csrf=$stok" -d aor=sip:bob@example.net "$URL/erase")"
check_eq "erasure with a bad confirm refused" 400 "$(code adm -d "csrf=$atok" -d aor=sip:bob@example.net -d confirm=maybe "$URL/erase")"
check_eq "erasure without CSRF token refused" 403 "$(code adm -d aor=sip:bob@example.net -d confirm=yes "$URL/erase")"
check_eq "erasure: dry run" 200 "$(code adm -d "csrf=$atok" -d aor=sip:bob@example.net "$URL/erase")"
check "dry run: every recording held, nothing would go" grep -q "$nrec_all recordings of this participant: 0 would be erased, $nrec_all held" "$T/body"
check_eq "erasure of a held call" 200 "$(code adm -d "csrf=$atok" -d aor=sip:bob@example.net -d confirm=yes "$URL/erase")"
check_eq "held recordings are not erased" 0 "$(catalog "SELECT count(*) FROM recordings r JOIN sessions s ON s.id = r.session_id WHERE s.uuid = '$u' AND r.deleted_at IS NOT NULL")"

check_eq "supervisor releases the hold" 303 "$(code sue -d "csrf=$stok" -d "id=$u" -d "hold=$hid" -d reason=case-closed "$URL/hold/release")"
check_eq "the hold is released by siprec-web:sue" "siprec-web:sue|case-closed" "$(catalog "SELECT released_by || '|' || release_reason FROM legal_holds WHERE id = $hid")"
check_eq "trail: 'released' entry by siprec-web:sue" 1 "$(catalog "SELECT count(*) FROM trail WHERE kind = 'released' AND actor = 'siprec-web:sue' AND object = 'hold:$hid'")"
code sue "$URL/call?id=$u" >/dev/null
check "the call page no longer shows the hold" sh -c "! grep -q 'data-hold=\"$hid\"' '$T/body' && grep -q 'id=\"noholds\"' '$T/body'"
check_eq "releasing twice: 409" 409 "$(code sue -d "csrf=$stok" -d "id=$u" -d "hold=$hid" "$URL/hold/release")"
check "audit: hold-released" grep -q "SIPREC_WEB_USER=sue SIPREC_WEB_ACTION=hold-released SIPREC_SESSION_ID=$u SIPREC_WEB_DETAIL=hold=$hid reason=case-closed" "$T/web.log"

# Drain and resume (admin) through siprecd's varlink Drain, from the status page.
check_eq "status page (admin)" 200 "$(code adm "$URL/status")"
check "status page offers drain" grep -q 'name="enable" value="1"><span id="drainstate">Taking new calls.' "$T/body"
check_eq "supervisor refused drain" 403 "$(code sue -d "csrf=$stok" -d enable=1 "$URL/drain")"
check_eq "drain with a bad value refused" 400 "$(code adm -d "csrf=$atok" -d enable=yes "$URL/drain")"
check_eq "drain without CSRF token refused" 403 "$(code adm -d enable=1 "$URL/drain")"
check_eq "admin drains" 303 "$(code adm -d "csrf=$atok" -d enable=1 "$URL/drain")"
check "siprecd is draining" grep -q "draining: new sessions refused" "$T/siprecd.log"
code adm "$URL/status" >/dev/null
check "status page shows the drain and offers resume" grep -q 'name="enable" value="0"><span id="drainstate">Draining' "$T/body"
check_eq "admin resumes" 303 "$(code adm -d "csrf=$atok" -d enable=0 "$URL/drain")"
check "siprecd takes calls again" grep -q "drain ended: taking new sessions" "$T/siprecd.log"
check "audit: drain and resume" sh -c "grep -q 'SIPREC_WEB_USER=admin SIPREC_WEB_ACTION=drain ' '$T/web.log' && grep -q 'SIPREC_WEB_USER=admin SIPREC_WEB_ACTION=resume ' '$T/web.log'"

# Status page: what `siprecctl status` shows, a live session, disk, keys (ids and ages, never
# material), kTLS, the certificate's subject, SANs, issuer and expiry.
(sipp_run live -sf "$SCN/siprec-basic.xml" -m 1 -cid_str "live-%u-%p@%s" -key tools "$PCAPS" >/dev/null) &
sippj=$!
i=0
live=""
while [ -z "$live" ] && [ $i -lt 200 ]; do
	live=$(catalog "SELECT uuid FROM sessions WHERE call_id LIKE 'live-%' AND state = 'active'" 2>/dev/null)
	[ -n "$live" ] || sleep 0.05
	i=$((i + 1))
done
check_eq "status page with a call in progress" 200 "$(code adm "$URL/status")"
check "status: the live session, linked to its call page" grep -q "<a href=\"/call?id=$live\">$live</a>" "$T/body"
wait "$sippj"
"$BUILD/siprecctl" --socket "$T/run/control" status >"$T/ctl-status" 2>&1 || bad "siprecctl status"
ver=$(sed -n '1s/^siprecd \([^ ]*\) (\([^)]*\)).*/\1 (\2)/p' "$T/ctl-status")
check "status: siprecd's version as siprecctl shows it ($ver)" grep -q "<tr><th>siprecd</th><td>$ver</td></tr>" "$T/body"
check "status: the health checks as siprecctl lists them" sh -c "for c in \$(sed -n '/^CHECK/,\$p' '$T/ctl-status' | awk 'NR > 1 {print \$1}'); do grep -q \"<tr><td>\$c</td>\" '$T/body' || exit 1; done"
check "status: kTLS" grep -q '<tr><th>kTLS</th><td>' "$T/body"
check "status: disk free in the recording directory" grep -q "<th>Recording directory</th><td>$T/state/recordings</td></tr><tr><th>Free</th><td id=\"diskfree\">[0-9.]* GiB of [0-9.]* GiB ([0-9]*%)" "$T/body"
# The disk is shared: free space is taken just before and just after the page, which must lie
# between them (to the 0.01 GiB the page rounds to).
gib() { python3 -c 'import os, sys; st = os.statvfs(sys.argv[1]); print(st.f_bavail * st.f_frsize / 2**30)' "$T/state/recordings"; }
before=$(gib)
code adm "$URL/status" >/dev/null
after=$(gib)
freeg=$(sed -n 's/.*<td id="diskfree">\([0-9.]*\) GiB of.*/\1/p' "$T/body")
check "status: the free space is the directory's (${freeg} GiB; statvfs ${before} before, ${after} after)" python3 -c "
import sys
lo, hi, v = min(map(float, sys.argv[1:3])), max(map(float, sys.argv[1:3])), float(sys.argv[3] or -1)
sys.exit(not lo - 0.01 <= v <= hi + 0.01)" "$before" "$after" "$freeg"
kid=$(catalog "SELECT key_id || '</td><td>' || version || '</td><td>' || state FROM keys WHERE key_id LIKE 'dek:%' ORDER BY version DESC LIMIT 1")
check "status: the data key's id, version and state" grep -q "<tr><td>$kid</td>" "$T/body"
check "status: the next rotation" grep -q 'Data keys rotate every 24 h; the next rotation is due at ' "$T/body"
check "status: no key material" sh -c "! grep -qi \"\$(tr -d '\n' <'$T/state/keys/master.key' | head -c 64)\" '$T/body'"
check "status: certificate SANs" grep -q '<td id="sans">DNS:localhost, IP:127.0.0.1</td>' "$T/body"
check "status: certificate subject and issuer" sh -c "grep -q '<tr><th>Subject</th><td>/' '$T/body' && grep -q '<tr><th>Issuer</th><td>/' '$T/body'"
check "status: certificate expiry in days" grep -q '<td id="expires">.* GMT (36[45] days left)</td>' "$T/body"

# Rate limit: after 5 failures even the right password is refused for the window. From an
# address of its own (127.0.0.2), so the window starts with these failures and not with the
# wrong password at the top of this long test (a window that ran out half way would reset).
rl() { code rl --interface 127.0.0.2 -d user=lisa --data-urlencode "password=$1" "$URL/login"; }
for n in 1 2 3 4 5; do rl "wrong-$n" >/dev/null; done
check_eq "6th login after 5 failures throttled" 429 "$(rl listen-pass-1)"
check_eq "another address is not throttled" 303 "$(login rl2 lisa listen-pass-1)"

# Audit trail: who searched, played, downloaded; never a password.
check "audit: search" grep -q "SIPREC_WEB_USER=lisa SIPREC_WEB_ACTION=search" "$T/web.log"
check "audit: play" grep -q "SIPREC_WEB_USER=lisa SIPREC_WEB_ACTION=play SIPREC_SESSION_ID=$u" "$T/web.log"
check "audit: download" grep -q "SIPREC_WEB_USER=lisa SIPREC_WEB_ACTION=download SIPREC_SESSION_ID=$u" "$T/web.log"
check "audit: refused playback" grep -q "SIPREC_WEB_USER=vic SIPREC_WEB_ACTION=play-refused" "$T/web.log"
check "audit: CSRF rejection" grep -q "SIPREC_WEB_ACTION=csrf-rejected" "$T/web.log"
# ...and in the compliance trail, one entry per recording of the call, with the user.
nrec=$(catalog "SELECT count(*) FROM recordings r JOIN sessions s ON s.id = r.session_id WHERE s.uuid = '$u'")
check_eq "trail: a 'played' entry per recording, by siprec-web:lisa" "$nrec" \
	"$(catalog "SELECT count(*) FROM trail WHERE kind = 'played' AND actor = 'siprec-web:lisa' AND object IN (SELECT 'recording:' || r.uuid FROM recordings r JOIN sessions s ON s.id = r.session_id WHERE s.uuid = '$u') AND sha256 IS NOT NULL")"
check "trail: the download is an 'exported' entry by siprec-web:lisa" test \
	"$(catalog "SELECT count(*) FROM trail WHERE kind = 'exported' AND actor = 'siprec-web:lisa'")" -ge "$nrec"
check "trail: the viewer's refused playback is not a 'played' entry" test \
	"$(catalog "SELECT count(*) FROM trail WHERE actor = 'siprec-web:vic'")" = 0
# Nothing blocks the others: a second console whose siprec-export waits on a FIFO until the
# test opens it; meanwhile the status page and the calls list answer.
mkfifo "$T/export-gate"
cat >"$T/slow-export" <<EOS
#!/bin/sh
: >"$T/export-started"
read go <"$T/export-gate"
exec "$EXPORT" "\$@"
EOS
chmod +x "$T/slow-export"
mkdir -p "$T/cache2"
PORT2=$(free_port)
"$WEB" --config "$CONF" --users "$USERS" --listen "127.0.0.1:$PORT2" --log stderr \
	--cache "$T/cache2" --export "$T/slow-export" >"$T/web2.log" 2>&1 &
web2=$!
BG_PIDS="$BG_PIDS $web2"
wait_for "$T/web2.log" "listening on" 10 || bad "second siprec-web did not start"
URL2=http://127.0.0.1:$PORT2
curl -s -o /dev/null -c "$T/slow" -d user=lisa -d password=listen-pass-1 "$URL2/login"
curl -s -o "$T/slow.wav" -b "$T/slow" "$URL2/audio?id=$u" &
slow=$!
i=0
while [ ! -e "$T/export-started" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
check "siprec-export started for the first playback" test -e "$T/export-started"
check_eq "status page answers while siprec-export decodes" 200 \
	"$(curl -s -m 10 -o "$T/body2" -w '%{http_code}' -b "$T/slow" "$URL2/status")"
check_eq "calls list answers while siprec-export decodes" 200 \
	"$(curl -s -m 10 -o /dev/null -w '%{http_code}' -b "$T/slow" "$URL2/calls")"
check "the playback is still waiting for the decoder" kill -0 "$slow"
echo go >"$T/export-gate"
wait "$slow"
check "the playback waited for it and got siprec-export's WAV" cmp -s "$T/slow.wav" "$T/export.wav"
# A download held open by its client half way through the body (python reads 1000 bytes, then
# waits on a FIFO), while the status page answers.
mkfifo "$T/dl-gate"
python3 - "$PORT2" "$(sed -n 's/.*siprecweb\t//p' "$T/slow")" "$u" "$T/slow2.wav" "$T/dl-started" \
	"$T/dl-gate" <<'PY' &
import socket, sys
port, tok, uuid, out, started, gate = sys.argv[1:]
s = socket.create_connection(("127.0.0.1", int(port)))
s.sendall(("GET /audio?id=%s&download=1 HTTP/1.1\r\nHost: x\r\nCookie: siprecweb=%s\r\n"
           "Connection: close\r\n\r\n" % (uuid, tok)).encode())
data = b""
while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < 1000:
    data += s.recv(1000)
open(started, "w").close()
open(gate).read()
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
open(out, "wb").write(data.split(b"\r\n\r\n", 1)[1])
PY
slow=$!
i=0
while [ ! -e "$T/dl-started" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
check "a download is under way" test -e "$T/dl-started"
check_eq "status page answers during the download" 200 \
	"$(curl -s -m 10 -o /dev/null -w '%{http_code}' -b "$T/slow" "$URL2/status")"
check "the download was still running" kill -0 "$slow"
echo go >"$T/dl-gate"
wait "$slow"
check "the download, finished afterwards, is whole" cmp -s "$T/slow2.wav" "$T/export.wav"
kill "$web2" && wait "$web2" 2>/dev/null
BG_PIDS=${BG_PIDS% "$web2"}

# Integrity: one byte flipped inside a sealed chunk is "broken" (naming the chunk), a file moved
# away is "missing", an empty file in its place "incomplete" (empty); both restored, "ok" again.
f1=$(catalog "SELECT r.path FROM recordings r JOIN sessions s ON s.id = r.session_id WHERE s.uuid = '$u' ORDER BY r.id LIMIT 1")
f2=$(catalog "SELECT r.path FROM recordings r JOIN sessions s ON s.id = r.session_id WHERE s.uuid = '$u' ORDER BY r.id LIMIT 1 OFFSET 1")
cp "$f1" "$T/f1.bak"
python3 - "$f1" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(4096 + 200)
    b = f.read(1)
    f.seek(4096 + 200)
    f.write(bytes([b[0] ^ 0x40]))
PY
mv "$f2" "$T/f2.moved"
code adm "$URL/call?id=$u" >/dev/null
check "a flipped byte: broken, naming the chunk" grep -q '<td class="verdict">broken</td><td>chunk 0: ' "$T/body"
check "a moved file: missing" grep -q '<td class="verdict">missing</td>' "$T/body"
# an empty file where it was (a crash before its header reached the disk, docs/FORMAT.md)
: >"$f2"
code adm "$URL/call?id=$u" >/dev/null
check "an empty file: incomplete, empty" grep -q '<td class="verdict">incomplete</td><td>empty: nothing of it reached the disk before a crash</td>' "$T/body"
rm -f "$f2"
cp "$T/f1.bak" "$f1"
mv "$T/f2.moved" "$f2"
code adm "$URL/call?id=$u" >/dev/null
check_eq "restored: every file ok again" "$nrec_all" "$(grep -c '<td class="verdict">ok</td>' "$T/body")"

# Erasure for real (the hold is released): files gone, rows marked, trail 'erased' by
# siprec-web:admin, the console's decrypted WAV of the call gone from its cache.
check "the console cached the call's WAV" test -s "$T/cache/$u.wav"
# bob is in the live call above too: erasure takes his every recording.
nbob=$(catalog "SELECT count(*) FROM recordings r WHERE r.session_id IN (SELECT session_id FROM participants WHERE aor = 'sip:bob@example.net')")
check_eq "erasure of the released call" 200 "$(code adm -d "csrf=$atok" -d aor=sip:bob@example.net -d confirm=yes "$URL/erase")"
check "erasure page: every recording erased" grep -q "$nbob recordings of this participant: $nbob erased, 0 held" "$T/body"
check_eq "recordings marked deleted" "$nrec_all" "$(catalog "SELECT count(*) FROM recordings r JOIN sessions s ON s.id = r.session_id WHERE s.uuid = '$u' AND r.deleted_at IS NOT NULL")"
check_eq "trail: 'erased' entries by siprec-web:admin" "$nbob" "$(catalog "SELECT count(*) FROM trail WHERE kind = 'erased' AND actor = 'siprec-web:admin'")"
check "the cached WAV is gone" test ! -e "$T/cache/$u.wav"
code adm "$URL/call?id=$u" >/dev/null
check_eq "integrity after the erasure: every file deleted" "$nrec_all" "$(grep -c '<td class="verdict">deleted</td><td>erasure' "$T/body")"
check "audit: erase names the subject by hash only" sh -c "grep -q 'SIPREC_WEB_USER=admin SIPREC_WEB_ACTION=erase .*SIPREC_WEB_DETAIL=subject-sha256=[0-9a-f]\{64\} matched=$nbob erased=$nbob' '$T/web.log' && ! grep 'ACTION=erase' '$T/web.log' | grep -q bob@"
check "no password in the log" sh -c "! grep -qE 'listen-pass-1|viewer-pass-1|sam-pass-12|$admin_pw|wrong-[0-9]' '$T/web.log'"


kill "$BG_PIDS" && wait "$BG_PIDS" 2>/dev/null
check_eq "siprec-web exits 0 on SIGTERM" 0 "$?"
BG_PIDS=""
check "no sanitizer report from siprec-web" sh -c "! grep -q 'Sanitizer' '$T/web.log'"
stop_siprecd

# HTTPS with a configured certificate (libmicrohttpd's GnuTLS): the cookie gains Secure.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
	-keyout "$T/web-key.pem" -out "$T/web-cert.pem" >/dev/null 2>&1 || bad "openssl req"
# Client certificates: a CA the console trusts, and another one it does not.
for ca in ca other; do
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=test-$ca" \
		-keyout "$T/$ca.key" -out "$T/$ca.pem" >/dev/null 2>&1 || bad "openssl req ($ca)"
done
# client NAME CA SUBJECT [SAN]
client() {
	printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n%s\n' "${4:+subjectAltName=$4}" >"$T/$1.ext"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$3" \
		-keyout "$T/$1.key" -out "$T/$1.csr" >/dev/null 2>&1 &&
		openssl x509 -req -in "$T/$1.csr" -CA "$T/$2.pem" -CAkey "$T/$2.key" -CAcreateserial \
			-days 2 -extfile "$T/$1.ext" -out "$T/$1.pem" >/dev/null 2>&1 || bad "client cert $1"
}
client c-lisa ca /CN=lisa
client c-vic ca "/CN=Victor Viewer" DNS:vic
client c-nobody ca /CN=nobody
client c-forged other /CN=lisa
PORT=$(free_port)
"$WEB" --catalog "$T/state/catalog.db" --users "$USERS" --listen "127.0.0.1:$PORT" --log stderr \
	--cache "$T/cache" --tls-cert "$T/web-cert.pem" --tls-key "$T/web-key.pem" \
	--tls-client-ca "$T/ca.pem" >"$T/web-tls.log" 2>&1 &
BG_PIDS=$!
wait_for "$T/web-tls.log" "listening on https://" 10 || { bad "siprec-web (HTTPS) did not start"; cat "$T/web-tls.log"; }
check_eq "HTTPS login" 303 "$(curl -s --cacert "$T/web-cert.pem" -o /dev/null -D "$T/hdr" -w '%{http_code}' \
	-d user=lisa -d password=listen-pass-1 "https://127.0.0.1:$PORT/login")"
check "HTTPS session cookie is Secure" grep -qi '^Set-Cookie: siprecweb=.*; HttpOnly; SameSite=Strict; Secure' "$T/hdr"
# tcode JAR CERT URL: HTTPS status with a client certificate ("" for none).
tcode() {
	curl -s --cacert "$T/web-cert.pem" ${2:+--cert "$T/$2.pem" --key "$T/$2.key"} -o "$T/body" \
		-D "$T/hdr" -w '%{http_code}' -b "$T/$1" -c "$T/$1" "$3"
}
TURL=https://127.0.0.1:$PORT
check_eq "client certificate (CN=lisa): /login logs in" 303 "$(tcode cl c-lisa "$TURL/login")"
check "client-certificate session cookie is Secure" grep -qi '^Set-Cookie: siprecweb=[0-9a-f]\{64\}; Path=/; HttpOnly; SameSite=Strict; Secure' "$T/hdr"
check_eq "client certificate: the calls list" 200 "$(tcode cl c-lisa "$TURL/calls")"
check "client certificate: logged in as lisa (listener)" grep -q '<span class="user">lisa (listener)</span>' "$T/body"
check_eq "client certificate with a DNS SAN naming vic" 303 "$(tcode cv c-vic "$TURL/login")"
tcode cv c-vic "$TURL/calls" >/dev/null
check "DNS SAN: logged in as vic (viewer)" grep -q '<span class="user">vic (viewer)</span>' "$T/body"
check_eq "a certificate of the CA naming no user: the login form" 200 "$(tcode cn c-nobody "$TURL/login")"
check "no account: said on the form, no cookie" sh -c "grep -q 'no account for the client certificate' '$T/body' && ! grep -qi '^Set-Cookie' '$T/hdr'"
check_eq "a certificate of another CA naming lisa: the login form" 200 "$(tcode cf c-forged "$TURL/login")"
check "another CA: not verified, no cookie" sh -c "grep -q 'client certificate not verified' '$T/body' && ! grep -qi '^Set-Cookie' '$T/hdr'"
check_eq "another CA: no page without a session" 303 "$(tcode cf c-forged "$TURL/calls")"
check_eq "no certificate: the login form" 200 "$(tcode c0 "" "$TURL/login")"
check "audit: login-cert and the refusals" sh -c "grep -q 'SIPREC_WEB_USER=lisa SIPREC_WEB_ACTION=login-cert ' '$T/web-tls.log' && grep -c 'SIPREC_WEB_ACTION=login-cert-refused' '$T/web-tls.log' | grep -qx 2"
check_eq "plain HTTP to the HTTPS port gets no page" 000 \
	"$(curl -s -o /dev/null -w '%{http_code}' -m 5 "http://127.0.0.1:$PORT/login")"
kill "$BG_PIDS" && wait "$BG_PIDS" 2>/dev/null
BG_PIDS=""

# One page over 100,000 sessions (a copy of the catalog plus generated rows): timed, printed.
cp "$T/state/catalog.db" "$T/big.db"
python3 - "$T/big.db" <<'PY'
import random, sqlite3, sys, uuid
db = sqlite3.connect(sys.argv[1])
rnd = random.Random(15)
t0 = 1700000000000
sessions = [(str(uuid.UUID(int=rnd.getrandbits(128))), "gen-%d" % i, "10.0.%d.%d:5060" % (i % 250, i % 199),
             t0 + i * 60000, t0 + i * 60000 + 5000 + (i * 7919 % 595) * 1000) for i in range(100000)]
db.executemany("INSERT INTO sessions (uuid, call_id, src_addr, transport, started_at, ended_at, state,"
               " end_reason) VALUES (?, ?, ?, 'udp', ?, ?, 'ended', 'bye')", sessions)
db.execute("INSERT INTO participants (session_id, participant_id, name, aor) SELECT id, 'p1',"
           " 'Trader ' || (id % 500), 'sip:trader' || (id % 500) || '@example.com' FROM sessions"
           " WHERE call_id LIKE 'gen-%'")
# Holds in force of every kind: 20 sessions, one AoR (200 calls), one range (100 calls).
for u in rnd.sample([x[0] for x in sessions], 20):
    db.execute("INSERT INTO legal_holds (kind, session_uuid, case_ref, placed_by, placed_at)"
               " VALUES ('session', ?, 'gen', 'gen', 0)", (u,))
# The AoR hold spelt in another case: holds compare AoRs without regard to ASCII case.
db.execute("INSERT INTO legal_holds (kind, aor, case_ref, placed_by, placed_at)"
           " VALUES ('aor', 'SIP:Trader42@EXAMPLE.com', 'gen', 'gen', 0)")
# DTMF in every 40th call; some calls interrupted or failed.
db.execute("INSERT INTO dtmf_events (session_id, event, digit, started_at, rtp_timestamp, duration,"
           " duration_ms, payload_type, ssrc, ended) SELECT id, 1, '1', started_at, 0, 800, 100,"
           " 101, '00000001', 1 FROM sessions WHERE call_id LIKE 'gen-%' AND id % 40 = 0")
db.execute("UPDATE sessions SET state = 'interrupted' WHERE call_id LIKE 'gen-%' AND id % 97 = 0")
db.execute("UPDATE sessions SET state = 'failed' WHERE call_id LIKE 'gen-%' AND id % 101 = 0")
db.execute("INSERT INTO legal_holds (kind, from_at, to_at, case_ref, placed_by, placed_at)"
           " VALUES ('range', ?, ?, 'gen', 'gen', 0)", (t0 + 50000 * 60000, t0 + 50099 * 60000))
db.commit()
PY
PORT=$(free_port)
"$WEB" --catalog "$T/big.db" --users "$USERS" --listen "127.0.0.1:$PORT" --log stderr \
	--cache "$T/cache" >"$T/web-big.log" 2>&1 &
BG_PIDS=$!
wait_for "$T/web-big.log" "listening on" 10 || { bad "siprec-web (big catalog) did not start"; finish; }
URL=http://127.0.0.1:$PORT
login big lisa listen-pass-1 >/dev/null
check_eq "the catalog has the case-insensitive AoR index (migration 011)" 1 \
	"$(sqlite3 "$T/big.db" "SELECT count(*) FROM sqlite_master WHERE name = 'participants_aor_nocase'")"
# Every filter alone, sparse and dense substrings, deep pages, and combinations: timed with
# curl (wall clock, printed, not asserted).
for q in "page=0" "page=1000" "who=trader42%40" "who=trader42%40&page=2" "who=trader&page=10" \
	"src=10.0.7." "src=10.0.7.&page=3" "src=10.0&page=100" "state=interrupted&page=5" \
	"state=ended&from=2023-11-20T00:00&page=5" "from=2023-12-01T00:00&to=2023-12-02T00:00" \
	"dtmf=1&page=10" "held=1" "held=1&page=3" "dmin=60&dmax=90&page=20" \
	"dmin=500&src=10.0.7.&page=1" "held=1&dmin=300&who=trader" "who=trader40%40&src=10.0.&dtmf=1" \
	"who=trader&src=10.0.&state=ended&dtmf=1&held=1&dmin=10&dmax=600&from=2023-11-14T00:00&to=2024-02-01T00:00"; do
	t=$(curl -s -o "$T/body" -w '%{time_total}' -b "$T/big" "$URL/calls?$q")
	rows=$(grep -c '/call?id=' "$T/body")
	echo "# 100,000-session catalog: /calls?$q: $rows rows in ${t}s"
	[ "$rows" -gt 0 ] || bad "no rows for /calls?$q"
done
# The pages are the right calls, in order, whichever shape the query took (a sparse substring
# looks its few sessions up by id; a dense one scans): compared with sqlite3's own answer.
# page QUERY SQL-WHERE OFFSET: the console's uuids against sqlite3's for that page of 50.
page() {
	curl -s -o "$T/body" -b "$T/big" "$URL/calls?$1"
	grep -o '/call?id=[0-9a-f-]*' "$T/body" | sed 's/.*=//' >"$T/got"
	sqlite3 "$T/big.db" "SELECT s.uuid FROM sessions s WHERE $2 ORDER BY s.started_at DESC, s.id DESC LIMIT 50 OFFSET $3" >"$T/want"
	check "/calls?$1: the $(wc -l <"$T/want") calls sqlite3 lists" cmp -s "$T/got" "$T/want"
}
WHO42="s.id IN (SELECT session_id FROM participants WHERE name LIKE '%trader42@%' OR aor LIKE '%trader42@%')"
page "who=trader42%40&page=2" "$WHO42" 100
page "who=trader&page=10" "s.id IN (SELECT session_id FROM participants WHERE aor LIKE '%trader%')" 500
page "src=10.0.7.&page=3" "s.src_addr LIKE '%10.0.7.%'" 150
# Both substrings sparse: the intersection of two candidate sets (an SRC trader42 called from).
src42=$(sqlite3 "$T/big.db" "SELECT s.src_addr FROM sessions s WHERE $WHO42 ORDER BY s.started_at DESC LIMIT 1 OFFSET 3")
page "who=trader42%40&src=$src42" "$WHO42 AND s.src_addr LIKE '%$src42%'" 0
check "that page is not empty" test -s "$T/want"
page "who=trader40%40&dtmf=1&page=1" "s.id IN (SELECT session_id FROM participants WHERE aor LIKE '%trader40@%') AND s.id IN (SELECT session_id FROM dtmf_events)" 50
check "that page is not empty" test -s "$T/want"
page "held=1&page=3" "s.id IN (SELECT hs.id FROM legal_holds h JOIN sessions hs ON (h.kind = 'session' AND hs.uuid = h.session_uuid) OR (h.kind = 'range' AND hs.started_at BETWEEN h.from_at AND h.to_at) WHERE h.released_at IS NULL UNION SELECT p.session_id FROM legal_holds h JOIN participants p ON lower(p.aor) = lower(h.aor) WHERE h.kind = 'aor' AND h.released_at IS NULL)" 150
page "held=1&who=trader42%40" "$WHO42" 0
curl -s -o "$T/body" -b "$T/big" "$URL/calls?held=1&dmin=300&dmax=600"
check "paging keeps the new filters" grep -q 'id="next" href="/calls?held=1&amp;dmin=300&amp;dmax=600&amp;size=50&amp;page=1"' "$T/body"
check_eq "every listed call is held and lasts 300..600 s" 0 "$(grep '/call?id=' "$T/body" | grep -vc '<td class="dur">[3-5][0-9][0-9] s</td>.*<td class="held">held</td>')"

# Limits against one hostile client (slowloris): WEB_MAX_CONNECTIONS_PER_ADDRESS=2 and
# WEB_REQUEST_TIMEOUT=2s. Two connections from 127.0.0.1 trickle a request head a byte a second
# (never idle long enough for libmicrohttpd's 30 s inactivity timeout); a third from 127.0.0.1 is
# closed at accept while one from 127.0.0.2 is served; the deadline closes the two tricklers
# (they learn it from the end of the stream, well before the 40 s they would trickle); then
# 127.0.0.1 is served again.
# web_limited NAME PER_ADDRESS TIMEOUT: another siprec-web on the big catalog with these two
# limits, its log $T/web-NAME.log; sets PORT and URL.
web_limited() {
	cp "$CONF" "$T/$1.conf"
	printf 'WEB_MAX_CONNECTIONS_PER_ADDRESS=%s\nWEB_REQUEST_TIMEOUT=%s\n' "$2" "$3" >>"$T/$1.conf"
	PORT=$(free_port)
	"$WEB" --config "$T/$1.conf" --catalog "$T/big.db" --users "$USERS" --listen "127.0.0.1:$PORT" \
		--log stderr --cache "$T/cache" >"$T/web-$1.log" 2>&1 &
	BG_PIDS="$BG_PIDS $!"
	wait_for "$T/web-$1.log" "listening on" 10 || { bad "siprec-web ($1) did not start"; finish; }
	URL=http://127.0.0.1:$PORT
}
web_limited limits 2 2s
python3 - "$PORT" "$T/trickle" <<'PY' &
import socket, sys, time
port, out = int(sys.argv[1]), sys.argv[2]
socks = []
for i in range(2):
    s = socket.create_connection(("127.0.0.1", port))
    s.setblocking(False)
    socks.append(s)
open(out + ".started", "w").close()
head = b"GET /login HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
closed = [None, None]
t0 = time.monotonic()
for k in range(len(head)):
    if all(c is not None for c in closed) or time.monotonic() - t0 > 40:
        break
    for i, s in enumerate(socks):
        if closed[i] is not None:
            continue
        try:
            if s.recv(4096) == b"":
                closed[i] = round(time.monotonic() - t0)
                continue
        except BlockingIOError:
            pass
        except OSError:
            closed[i] = round(time.monotonic() - t0)
            continue
        try:
            s.send(head[k:k + 1])
        except OSError:
            closed[i] = round(time.monotonic() - t0)
    time.sleep(1)
with open(out, "w") as f:
    f.write(" ".join("open" if c is None else "closed" for c in closed) + "\n")
PY
trickler=$!
i=0
while [ ! -e "$T/trickle.started" ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
sleep 0.5
check_eq "a third connection from the same address is closed unanswered" 000 \
	"$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$URL/login")"
check_eq "...one from another address is served" 200 \
	"$(curl -s -m 5 -o /dev/null -w '%{http_code}' --interface 127.0.0.2 "$URL/login")"
wait "$trickler"
check_eq "the deadline closed both tricklers (a byte a second, never idle)" "closed closed" "$(cat "$T/trickle")"
check "...and says so in the log" grep -q "127.0.0.1: no whole request within 2000 ms: connection closed" "$T/web-limits.log"
check_eq "the address is served again" 200 "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$URL/login")"
# A form's body trickled a byte a second: the deadline covers it too.
python3 - "$PORT" >"$T/trickle-post" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
           b"Content-Length: 100\r\n\r\nuser=")
s.settimeout(1)
state = "open"
for i in range(40):
    try:
        if s.recv(4096) == b"":
            state = "closed"
            break
    except socket.timeout:
        pass
    except OSError:
        state = "closed"
        break
    try:
        s.send(b"a")
    except OSError:
        state = "closed"
        break
print(state)
PY
check_eq "a form's body trickled a byte a second is closed by the deadline too" closed "$(cat "$T/trickle-post")"

# All 64 connections held by clients that never finish a request (the deadline far off: 300 s):
# a newcomer still gets in, in place of the oldest of them.
web_limited limits2 64 300s
python3 - "$PORT" "$T/hold64" <<'PY' &
import os, socket, sys, time
port, out = int(sys.argv[1]), sys.argv[2]
socks = []
for i in range(64):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /login HTTP/1.1\r\nHost: x\r\n")
    socks.append(s)
    time.sleep(0.01)
open(out + ".ready", "w").close()
for _ in range(300):
    if os.path.exists(out + ".go"):
        break
    time.sleep(0.1)
closed = []
for i, s in enumerate(socks):
    s.setblocking(False)
    try:
        if s.recv(4096) == b"":
            closed.append(i)
    except BlockingIOError:
        pass
    except OSError:
        closed.append(i)
with open(out, "w") as f:
    f.write(" ".join(map(str, closed)) + "\n")
PY
holder=$!
i=0
while [ ! -e "$T/hold64.ready" ] && [ $i -lt 300 ]; do
	sleep 0.1
	i=$((i + 1))
done
check_eq "64 connections waiting for their requests: a newcomer (another address) is served" 200 \
	"$(curl -s -m 5 -o /dev/null -w '%{http_code}' --interface 127.0.0.2 "$URL/login")"
sleep 0.5
: >"$T/hold64.go"
wait "$holder"
check_eq "...in place of the oldest of them (the only one closed)" 0 "$(cat "$T/hold64")"
check "...which the log says" grep -q "connection waiting for its request closed for a newcomer" "$T/web-limits2.log"
finish
