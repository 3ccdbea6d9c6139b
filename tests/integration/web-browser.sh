#!/bin/sh
# SPDX-License-Identifier: MIT
# siprec-web in a real browser (issue 15): Debian's chromium, headless, driven by puppeteer-core
# (tests/browser/web.js; node_modules from `npm ci`, which tools/install-deps.sh runs; no browser
# is ever downloaded) on a call siprecd recorded from sipp. What web.js checks is listed at its
# top; the screenshots go to tests/out/<build>/browser/ (docs/WEB.md shows them).
. "$SRCDIR/tests/integration/lib.sh"
need sipp python3 sqlite3 node
[ -x /usr/bin/chromium ] || { bad "/usr/bin/chromium missing: run tools/install-deps.sh"; finish; }
BR=$SRCDIR/tests/browser
if [ ! -d "$BR/node_modules/puppeteer-core" ]; then
	(cd "$BR" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --offline --no-audit --no-fund --ignore-scripts) >"$T/npm.log" 2>&1 ||
		{ bad "puppeteer-core not installed (tools/install-deps.sh runs npm ci in tests/browser)"; cat "$T/npm.log"; finish; }
fi
WEB=$BUILD/siprec-web
EXPORT=$BUILD/siprec-export
PCAPS=$SRCDIR/tests/data/pcap
OUT=$SRCDIR/tests/out/$(basename "$BUILD")/browser
mkdir -p "$OUT"

start_siprecd
cp "$PCAPS/tone440-pcmu.pcap" "$T/a.pcap"
cp "$PCAPS/tone660-pcmu.pcap" "$T/b.pcap"
sipp_run basic -sf "$SRCDIR/tests/integration/scenarios/siprec-basic.xml" -m 1 \
	-cid_str "web-%u-%p@%s" -key tools "$PCAPS" || bad "sipp call failed"
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
"$EXPORT" -c "$CONF" --session "$u" --catalog "$T/state/catalog.db" -o "$T/export.wav" \
	>"$T/export.log" 2>&1 || { bad "siprec-export"; finish; }
dur=$(python3 -c "import wave,sys; w=wave.open(sys.argv[1]); print('%.6f' % (w.getnframes() / w.getframerate()))" "$T/export.wav")

USERS=$T/web-users
echo "listen-pass-1" | "$WEB" --users "$USERS" --add-user lisa listener || bad "--add-user"
echo "viewer-pass-1" | "$WEB" --users "$USERS" --add-user vic viewer || bad "--add-user"
echo "super-pass-1" | "$WEB" --users "$USERS" --add-user sue supervisor || bad "--add-user"
PORT=$(free_port)
"$WEB" --config "$CONF" --users "$USERS" --listen "127.0.0.1:$PORT" --log stderr \
	--cache "$T/cache" >"$T/web.log" 2>&1 &
BG_PIDS=$!
mkdir -p "$T/cache"
wait_for "$T/web.log" "listening on" 10 || { bad "siprec-web did not start"; cat "$T/web.log"; finish; }

if (cd "$BR" && timeout 120 node web.js "http://127.0.0.1:$PORT" listen-pass-1 viewer-pass-1 \
	"$u" "$T/export.wav" "$dur" "$OUT" super-pass-1) >"$T/browser.log" 2>&1; then
	ok "browser run"
else
	bad "browser run"
fi
cat "$T/browser.log"
fails=$((fails + $(grep -c '^not ok' "$T/browser.log")))
check "audit: the browser's playback" grep -q "SIPREC_WEB_USER=lisa SIPREC_WEB_ACTION=play SIPREC_SESSION_ID=$u" "$T/web.log"
check "audit: the browser's download" grep -q "SIPREC_WEB_USER=lisa SIPREC_WEB_ACTION=download SIPREC_SESSION_ID=$u" "$T/web.log"
check "the browser's hold: placed and released by siprec-web:sue" test \
	"$(catalog "SELECT count(*) FROM legal_holds WHERE session_uuid = '$u' AND placed_by = 'siprec-web:sue' AND released_by = 'siprec-web:sue' AND case_ref = 'CASE-42' AND release_reason = 'case closed'")" = 1
check "audit: the browser's hold and release" sh -c "grep -q 'SIPREC_WEB_USER=sue SIPREC_WEB_ACTION=hold-placed SIPREC_SESSION_ID=$u' '$T/web.log' && grep -q 'SIPREC_WEB_USER=sue SIPREC_WEB_ACTION=hold-released SIPREC_SESSION_ID=$u' '$T/web.log'"
for s in web-calls web-call web-status web-login web-call-viewer web-call-hold; do
	check "screenshot $s.png" test -s "$OUT/$s.png"
done
finish
