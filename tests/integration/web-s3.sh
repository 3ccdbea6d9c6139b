#!/bin/sh
# SPDX-License-Identifier: MIT
# siprec-web reads recordings offloaded to S3 (docs/STORAGE.md, issue 15): siprecd uploads a
# call's recordings to a real S3 API on loopback (s3rver behind tests/s3/server.js, which checks
# SigV4) and removes the local files (S3_DELETE_LOCAL_AFTER); the console's call page verifies
# every file from the bucket (s3_recording_open, the storage code siprec-export uses), plays and
# downloads the call byte for byte as siprec-export --session writes it, leaves no download
# behind, and calls an object altered in the bucket broken.
. "$SRCDIR/tests/integration/lib.sh"
need sipp sqlite3 node python3 curl openssl

S3DIR=$SRCDIR/tests/s3
[ -d "$S3DIR/node_modules/s3rver" ] ||
	skip "s3rver is not installed in tests/s3 (tools/install-deps.sh runs npm ci there)"
WEB=$BUILD/siprec-web
EXPORT=$BUILD/siprec-export
PCAPS=$SRCDIR/tests/data/pcap
SCN=$SRCDIR/tests/integration/scenarios
DB=$T/state/catalog.db
BUCKET=recordings
SECRET=$(openssl rand -hex 20)
CRED=$T/s3.credentials
(umask 077 && echo "S3RVER:$SECRET" >"$CRED")
S3PORT=$(free_port)
DATA=$T/s3data
mkdir -p "$DATA"
node "$S3DIR/server.js" "$DATA" 127.0.0.1 "$S3PORT" "$BUCKET" S3RVER "$SECRET" >>"$T/s3rver.log" 2>&1 &
BG_PIDS=$!
i=0
while ! python3 -c "import socket; socket.create_connection(('127.0.0.1', $S3PORT), 1)" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 200 ] || { bad "s3rver did not start"; cat "$T/s3rver.log"; finish; }
	sleep 0.05
done
cat >>"$CONF" <<CFG
S3_ENDPOINT=http://127.0.0.1:$S3PORT
S3_BUCKET=$BUCKET
S3_PREFIX=web
S3_CREDENTIALS=$CRED
S3_TIMEOUT=5s
S3_RETRY_MIN=50ms
S3_RETRY_MAX=300ms
S3_DELETE_LOCAL_AFTER=10ms
CFG
# poll SQL WANT: until the catalog query prints WANT (20 s at most)
poll() {
	i=0
	while [ "$(catalog "$1")" != "$2" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
	[ "$(catalog "$1")" = "$2" ]
}

start_siprecd
cp "$PCAPS/tone440-pcmu.pcap" "$T/a.pcap"
cp "$PCAPS/tone660-pcmu.pcap" "$T/b.pcap"
sipp_run basic -sf "$SCN/siprec-basic.xml" -m 1 -cid_str "web-s3-%u-%p@%s" -key tools "$PCAPS" ||
	bad "sipp call failed"
u=$(catalog "SELECT uuid FROM sessions WHERE call_id LIKE 'web-s3-%'")
[ -n "$u" ] || { bad "no session in the catalog"; finish; }
if poll "SELECT count(*) FROM s3_objects WHERE session_uuid = '$u' AND local_deleted_at IS NOT NULL" 2; then
	ok "both recordings uploaded, verified and removed locally"
else
	bad "not offloaded: $(catalog "SELECT recording_uuid, attempts, last_error, verified_at, local_deleted_at FROM s3_objects")"
	finish
fi
stop_siprecd
for p in $(catalog "SELECT r.path FROM recordings r JOIN sessions s ON s.id = r.session_id WHERE s.uuid = '$u'"); do
	case "$p" in /*) ;; *) p=$T/state/$p ;; esac
	check "$(basename "$p") is gone from disk" test ! -e "$p"
done
mkdir -p "$T/tmp"
TMPDIR=$T/tmp "$EXPORT" --config "$CONF" --session "$u" --catalog "$DB" -o "$T/export.wav" \
	>"$T/export.log" 2>&1 || { bad "siprec-export --session (from the bucket)"; cat "$T/export.log"; }

USERS=$T/web-users
echo "listen-pass-1" | "$WEB" --users "$USERS" --add-user lisa listener || bad "--add-user lisa"
PORT=$(free_port)
mkdir -p "$T/cache"
TMPDIR=$T/tmp "$WEB" --config "$CONF" --users "$USERS" --listen "127.0.0.1:$PORT" --log stderr \
	--cache "$T/cache" >"$T/web.log" 2>&1 &
WEB_PID=$!
BG_PIDS="$BG_PIDS $WEB_PID"
wait_for "$T/web.log" "listening on" 10 || { bad "siprec-web did not start"; cat "$T/web.log"; finish; }
URL=http://127.0.0.1:$PORT
code() { curl -s -o "$T/body" -D "$T/hdr" -w '%{http_code}' -b "$T/jar" -c "$T/jar" "$@"; }
code -d user=lisa -d password=listen-pass-1 "$URL/login" >/dev/null

check_eq "call page" 200 "$(code "$URL/call?id=$u")"
check_eq "every file verified ok, from the bucket" 2 "$(grep -c '<td class="verdict">ok</td><td>[0-9]* chunks, [0-9]* frames; from the bucket</td>' "$T/body")"
check_eq "a waveform per file" 2 "$(grep -o '<svg class="wave"' "$T/body" | wc -l)"
check "no download left in the cache" sh -c "! ls '$T/cache' | grep -q siprec-s3"
check_eq "play" 200 "$(code "$URL/audio?id=$u")"
check "play equals siprec-export --session's WAV (from the bucket)" cmp -s "$T/body" "$T/export.wav"
check_eq "download" 200 "$(code "$URL/audio?id=$u&download=1")"
check "download equals it" cmp -s "$T/body" "$T/export.wav"
check_eq "trail: a 'played' entry per recording with the sha256 the bucket's copy was checked against" 2 \
	"$(catalog "SELECT count(*) FROM trail t JOIN recordings r ON t.object = 'recording:' || r.uuid JOIN sessions s ON s.id = r.session_id WHERE s.uuid = '$u' AND t.kind = 'played' AND t.actor = 'siprec-web:lisa' AND t.sha256 = r.sha256")"
check "no temporary download left behind" sh -c "[ -z \"\$(ls -A '$T/tmp')\" ] && ! ls '$T/cache' | grep -q siprec-s3"

# One object altered in the bucket: its verdict is broken, naming the bucket's copy.
key=$(catalog "SELECT object_key FROM s3_objects WHERE session_uuid = '$u' ORDER BY recording_uuid LIMIT 1")
obj=$DATA/$BUCKET/$key._S3rver_object
python3 - "$obj" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0xFF
open(p, "wb").write(b)
PY
code "$URL/call?id=$u" >/dev/null
check "an object altered in the bucket: broken, 'altered in the bucket'" grep -q "<td class=\"verdict\">broken</td><td>s3://$BUCKET/$key differs from the catalog&#39;s verified copy (.*): altered in the bucket</td>" "$T/body"
check_eq "the other file is still ok" 1 "$(grep -c '<td class="verdict">ok</td>' "$T/body")"
check "no secret in the console's log" sh -c "! grep -q '$SECRET' '$T/web.log'"
check "no sanitizer report from siprec-web" sh -c "! grep -q 'Sanitizer' '$T/web.log'"
finish
