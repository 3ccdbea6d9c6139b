#!/bin/sh
# SPDX-License-Identifier: MIT
# Recordings to S3-compatible object storage (docs/STORAGE.md) against a real S3 API on loopback
# started here: s3rver from npm (tests/s3, installed by tools/install-deps.sh) behind
# tests/s3/server.js, which checks every request's SigV4 signature as AWS does.
# 1. A call: each recording, its session's .metadata and a manifest are uploaded, read back and
#    marked verified; the objects are byte for byte the local files; an export from the bucket
#    equals the export from disk; an object altered in the bucket fails the export (exit 2).
# 2. The store goes down during a call: the call is recorded, the uploads wait in the outbox
#    with the failure recorded; a recording whose local bytes no longer match the catalog fails
#    its read-back verification; when the store is back everything else is uploaded, and the
#    repaired one too: nothing lost.
# 3. S3_DELETE_LOCAL_AFTER removes verified local files, except under a legal hold; the trail
#    verifier accepts them ('offloaded'); siprec-export --session reads them from the bucket
#    (an altered object exits 2); a deletion (retention, erasure) deletes the objects.
# 4. Wrong credentials are refused by the store (the upload waits) and never logged.
# 5. siprecctl erase (another process) deletes the erased recordings' objects.
# 6. Temporary credentials (aws_session_token, sent signed as X-Amz-Security-Token, the file
#    re-read when renewed) and S3_ADDRESSING=virtual (BUCKET.HOST/KEY) against the same store.
. "$SRCDIR/tests/integration/lib.sh"
need sipp sqlite3 jq node python3 cmp curl

S3DIR=$SRCDIR/tests/s3
[ -d "$S3DIR/node_modules/s3rver" ] ||
	skip "s3rver is not installed in tests/s3 (tools/install-deps.sh runs npm ci there)"
PCAPS=$SRCDIR/tests/data/pcap
SCN=$SRCDIR/tests/integration/scenarios
EXPORT=$BUILD/siprec-export
CTL=$BUILD/siprecctl
DB=$T/state/catalog.db
BUCKET=recordings
SECRET=$(openssl rand -hex 20)
CRED=$T/s3.credentials
(umask 077 && echo "S3RVER:$SECRET" >"$CRED")
S3PORT=$(free_port)
MPORT=$(free_port)
DATA=$T/s3data
mkdir -p "$DATA"

S3_PID=""
S3_TOKEN="" # set: the store wants this session token (temporary credentials)
s3_start() {
	node "$S3DIR/server.js" "$DATA" 127.0.0.1 "$S3PORT" "$BUCKET" S3RVER "$SECRET" $S3_TOKEN \
		>>"$T/s3rver.log" 2>&1 &
	S3_PID=$!
	BG_PIDS="$BG_PIDS $S3_PID"
	i=0
	while ! python3 -c "import socket; socket.create_connection(('127.0.0.1', $S3PORT), 1)" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 200 ] || { bad "s3rver did not start"; cat "$T/s3rver.log"; finish; }
		sleep 0.05
	done
}
s3_stop() { kill "$S3_PID" && wait "$S3_PID" 2>/dev/null; S3_PID=""; }
# metric NAME: its value in the daemon's Prometheus metrics
metric() { curl -s "http://127.0.0.1:$MPORT/metrics" | awk -v n="$1" '$1 == n {print $2}'; }
# poll_metric NAME WANT: until the metric is WANT (20 s at most)
poll_metric() {
	i=0
	while [ "$(metric "$1")" != "$2" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
	[ "$(metric "$1")" = "$2" ]
}
# poll SQL WANT: until the catalog query prints WANT (20 s at most)
poll() {
	i=0
	while [ "$(catalog "$1")" != "$2" ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i + 1)); done
	[ "$(catalog "$1")" = "$2" ]
}
obj() { echo "$DATA/$BUCKET/$1._S3rver_object"; }
# flip FILE: inverts one byte in the middle of FILE (same size)
flip() {
	python3 - "$1" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0xFF
open(p, "wb").write(b)
PY
}

cp "$PCAPS/tone440-pcmu.pcap" "$T/a.pcap"
cp "$PCAPS/tone660-pcmu.pcap" "$T/b.pcap"
cp "$CONF" "$T/base.conf"
cat >>"$CONF" <<CFG
ENABLE_METADATA_ENCRYPTION=true
S3_ENDPOINT=http://127.0.0.1:$S3PORT
S3_BUCKET=$BUCKET
S3_PREFIX=site-a/rec
S3_CREDENTIALS=$CRED
S3_TIMEOUT=5s
S3_RETRY_MIN=50ms
S3_RETRY_MAX=300ms
METRICS_LISTEN=127.0.0.1:$MPORT
CFG

# ---- 1. upload, verification, export from the bucket
s3_start
start_siprecd
check "call 1 recorded" sipp_run one -sf "$SCN/siprec-basic.xml" -m 1 -cid_str "s3one-%u-%p@%s" -key tools "$PCAPS"
S1=$(catalog "SELECT uuid FROM sessions WHERE call_id LIKE 's3one-%'")
if poll "SELECT count(*) FROM s3_objects WHERE session_uuid = '$S1' AND verified_at IS NOT NULL" 2; then
	ok "call 1: both recordings uploaded and verified"
else
	bad "call 1: uploads not verified: $(catalog "SELECT recording_uuid, attempts, last_error FROM s3_objects")"
fi
poll_metric siprecd_s3_uploads_pending 0
check_eq "metrics: 2 uploads verified, none pending" "2 0" \
	"$(metric 'siprecd_s3_uploads_total{result="verified"}') $(metric siprecd_s3_uploads_pending)"
day=$(catalog "SELECT strftime('%Y-%m-%d', started_at / 1000, 'unixepoch') FROM sessions WHERE uuid = '$S1'")
check_eq "object keys are prefix/date/session/recording.siprec" \
	"$(catalog "SELECT 'site-a/rec/$day/$S1/' || r.uuid || '.siprec' FROM recordings r JOIN sessions s ON s.id = r.session_id WHERE s.uuid = '$S1' ORDER BY r.uuid")" \
	"$(catalog "SELECT object_key FROM s3_objects WHERE session_uuid = '$S1' ORDER BY recording_uuid")"
same=0
for row in $(catalog "SELECT o.object_key || '|' || r.path FROM s3_objects o JOIN recordings r ON r.uuid = o.recording_uuid WHERE o.session_uuid = '$S1'"); do
	key=${row%%|*}
	path=${row#*|}
	case "$path" in /*) ;; *) path=$T/state/$path ;; esac
	cmp -s "$(obj "$key")" "$path" && same=$((same + 1))
done
check_eq "the objects are the local .siprec files byte for byte" 2 "$same"
K1=$(catalog "SELECT object_key FROM s3_objects WHERE session_uuid = '$S1' ORDER BY recording_uuid LIMIT 1")
R1=$(catalog "SELECT recording_uuid FROM s3_objects WHERE object_key = '$K1'")
M1=$(catalog "SELECT manifest_key FROM s3_objects WHERE object_key = '$K1'")
check_eq "the manifest carries the catalog's size and sha256" \
	"$(catalog "SELECT size || ' ' || sha256 || ' ' || '$S1' FROM recordings WHERE uuid = '$R1'")" \
	"$(jq -r '"\(.recording.size) \(.recording.sha256) \(.session.id)"' "$(obj "$M1")")"
MD=$(catalog "SELECT metadata_key FROM s3_objects WHERE object_key = '$K1'")
check_eq "the session's .metadata is stored beside it" "site-a/rec/$day/$S1/$S1.metadata" "$MD"
check "the .metadata object is the local file" cmp "$(obj "$MD")" "$(find "$T/state" -name "$S1.metadata" | head -n 1)"
L1=$(catalog "SELECT path FROM recordings WHERE uuid = '$R1'")
case "$L1" in /*) ;; *) L1=$T/state/$L1 ;; esac
check "export from disk" "$EXPORT" --config "$CONF" "$L1" -o "$T/disk.wav"
check "export from the bucket (s3://$BUCKET/...)" "$EXPORT" --config "$CONF" "s3://$BUCKET/$K1" -o "$T/bucket.wav"
check "the two exports are byte-equal" cmp "$T/disk.wav" "$T/bucket.wav"
check "no temporary download left behind" test -z "$(find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'siprec-export-*.siprec' -user "$(id -u)" -newer "$T/disk.wav" 2>/dev/null)"
cp "$(obj "$K1")" "$T/k1.orig"
flip "$(obj "$K1")"
"$EXPORT" --config "$CONF" "s3://$BUCKET/$K1" -o "$T/bad.wav" >"$T/bad.out" 2>&1
check_eq "an object altered in the bucket: export exit status 2 (integrity)" 2 "$?"
check "... naming the difference from its manifest" grep -q "altered in the bucket" "$T/bad.out"
cp "$T/k1.orig" "$(obj "$K1")"

# ---- 2. the store goes down during a call
s3_stop
check "call 2 recorded while the store is down" sipp_run two -sf "$SCN/siprec-basic.xml" -m 1 -cid_str "s3two-%u-%p@%s" -key tools "$PCAPS"
S2=$(catalog "SELECT uuid FROM sessions WHERE call_id LIKE 's3two-%'")
if poll "SELECT count(*) FROM recordings r JOIN sessions s ON s.id = r.session_id WHERE s.uuid = '$S2' AND r.state = 'final'" 2; then
	ok "call 2: its recordings are final in the catalog"
else
	bad "call 2: recordings not final"
fi
if poll "SELECT count(*) > 0 FROM s3_objects WHERE session_uuid = '$S2' AND verified_at IS NULL AND attempts > 0 AND last_error IS NOT NULL" 1; then
	ok "store down: the uploads wait in the outbox with the failure recorded"
else
	bad "store down: $(catalog "SELECT recording_uuid, attempts, last_error FROM s3_objects WHERE session_uuid = '$S2'")"
fi
poll_metric siprecd_s3_uploads_pending 2
check_eq "metrics: call 2's 2 uploads pending, failed attempts counted" "2 yes" \
	"$(metric siprecd_s3_uploads_pending) $(metric 'siprecd_s3_uploads_total{result="failed"}' | awk '{print ($1 > 0) ? "yes" : "no"}')"
check_eq "store down: nothing of call 2 verified" 0 \
	"$(catalog "SELECT count(*) FROM s3_objects WHERE session_uuid = '$S2' AND verified_at IS NOT NULL")"
# One recording's local bytes are altered: what the bucket would hold is not the recording.
R2=$(catalog "SELECT recording_uuid FROM s3_objects WHERE session_uuid = '$S2' ORDER BY recording_uuid LIMIT 1")
L2=$(catalog "SELECT path FROM recordings WHERE uuid = '$R2'")
case "$L2" in /*) ;; *) L2=$T/state/$L2 ;; esac
cp "$L2" "$T/l2.orig"
flip "$L2"
s3_start
if poll "SELECT count(*) FROM s3_objects WHERE session_uuid = '$S2' AND verified_at IS NOT NULL" 1; then
	ok "store back: the intact recording of call 2 uploaded and verified"
else
	bad "store back: $(catalog "SELECT recording_uuid, attempts, last_error FROM s3_objects WHERE session_uuid = '$S2'")"
fi
poll "SELECT count(*) FROM s3_objects WHERE recording_uuid = '$R2' AND last_error LIKE 'verify %'" 1
check_eq "the altered one fails its read-back verification and stays pending" \
	"1 0" "$(catalog "SELECT count(*) || ' ' || count(verified_at) FROM s3_objects WHERE recording_uuid = '$R2' AND last_error LIKE 'verify %expected%'")"
cp "$T/l2.orig" "$L2"
if poll "SELECT count(*) FROM s3_objects WHERE verified_at IS NOT NULL" 4; then
	ok "repaired: every recording of both calls is verified in the bucket (nothing lost)"
else
	bad "not all verified: $(catalog "SELECT recording_uuid, attempts, last_error FROM s3_objects WHERE verified_at IS NULL")"
fi
check "a retry happened (attempts > 1)" test "$(catalog "SELECT max(attempts) FROM s3_objects")" -gt 1
check "call 2 exports by session while on disk" "$EXPORT" --config "$CONF" --session "$S2" --catalog "$DB" -o "$T/s2-disk.wav"
stop_siprecd
check_eq "daemon stopped cleanly" 0 "$STOP_RC"

# ---- 3. local cleanup, legal hold, erasure
check "hold on call 1" "$CTL" hold add --session "$S1" --case S3-1 --catalog "$DB"
sed -i 's/^S3_RETRY_MAX=.*/S3_RETRY_MAX=300ms\nS3_DELETE_LOCAL_AFTER=10ms/' "$CONF"
start_siprecd
if poll "SELECT count(*) FROM s3_objects WHERE session_uuid = '$S2' AND local_deleted_at IS NOT NULL" 2; then
	ok "S3_DELETE_LOCAL_AFTER: call 2's verified local files removed"
else
	bad "local files of call 2 not removed: $(catalog "SELECT recording_uuid, local_deleted_at FROM s3_objects")"
fi
check "... gone from disk" test ! -e "$L2"
check_eq "held call 1 keeps its local files" "0 2" \
	"$(catalog "SELECT count(local_deleted_at) || ' ' || count(*) FROM s3_objects WHERE session_uuid = '$S1'")"
check "... on disk" test -e "$L1"
check_eq "the trail says where the files went ('offloaded')" 2 \
	"$(catalog "SELECT count(*) FROM trail WHERE kind = 'offloaded' AND reason LIKE 's3://$BUCKET/site-a/rec/%'")"
check "the trail verifier accepts offloaded recordings" "$EXPORT" --config "$CONF" --verify-trail
# Opening by session falls back to the bucket (s3_recording_open): the same export as from disk.
mkdir "$T/tmp"
check "an offloaded session exports by --session (from the bucket)" \
	env TMPDIR="$T/tmp" "$EXPORT" --config "$CONF" --session "$S2" --catalog "$DB" -o "$T/s2-bucket.wav"
check "... byte-equal to its export from disk" cmp "$T/s2-disk.wav" "$T/s2-bucket.wav"
check "... its temporary downloads removed" test -z "$(ls -A "$T/tmp")"
K2=$(catalog "SELECT object_key FROM s3_objects WHERE recording_uuid = '$R2'")
cp "$(obj "$K2")" "$T/k2.orig"
flip "$(obj "$K2")"
env TMPDIR="$T/tmp" "$EXPORT" --config "$CONF" --session "$S2" --catalog "$DB" -o "$T/s2-bad.wav" >"$T/s2-bad.out" 2>&1
check_eq "an offloaded object altered in the bucket: --session exits 2 (integrity)" 2 "$?"
check "... naming it" grep -q "altered in the bucket" "$T/s2-bad.out"
check "... and leaves no download behind" test -z "$(ls -A "$T/tmp")"
cp "$T/k2.orig" "$(obj "$K2")"
check "an offloaded recording exports from the bucket" "$EXPORT" --config "$CONF" "s3://$BUCKET/$K2" -o "$T/r2.wav"
# (the retention sweeper deletes here; an erasure reaches the bucket the same way, through the
# trail: part 5)
check "a retention policy keeping nothing" "$CTL" retention add none --match src --pattern '127.0.0.1:*' --keep 0 --catalog "$DB"
check "retention run (call 2; call 1 is held)" "$CTL" retention run --catalog "$DB"
if poll "SELECT count(*) FROM s3_objects WHERE session_uuid = '$S2' AND deleted_at IS NOT NULL" 2; then
	ok "deletion: call 2's objects deleted from the bucket"
else
	bad "objects not deleted: $(catalog "SELECT recording_uuid, delete_requested_at, deleted_at, last_error FROM s3_objects")"
fi
check "... no object of call 2 left (recordings, manifests, .metadata)" \
	test -z "$(find "$DATA/$BUCKET" -path "*/$S2/*" -name '*._S3rver_object')"
check_eq "... call 1's objects (held) remain" 5 "$(find "$DATA/$BUCKET" -path "*/$S1/*" -name '*._S3rver_object' | wc -l)"
stop_siprecd

# ---- 4. a wrong secret: the store refuses, the daemon retries, the secret is never logged
(umask 077 && echo "S3RVER:not-the-secret-$SECRET" >"$CRED")
start_siprecd
check "call 3 recorded" sipp_run three -sf "$SCN/siprec-basic.xml" -m 1 -cid_str "s3three-%u-%p@%s" -key tools "$PCAPS"
poll "SELECT count(*) > 0 FROM s3_objects WHERE last_error LIKE '%SignatureDoesNotMatch%'" 1
check "a wrong secret: the store answers SignatureDoesNotMatch" \
	test "$(catalog "SELECT count(*) FROM s3_objects WHERE last_error LIKE '%SignatureDoesNotMatch%' AND verified_at IS NULL")" -ge 1
stop_siprecd

# ---- 5. erasure: with metadata in clear the catalog knows the AoRs, and siprecctl erase
# (another process) reaches the bucket through the trail
(umask 077 && echo "S3RVER:$SECRET" >"$CRED")
sed -i 's/^ENABLE_METADATA_ENCRYPTION=.*/ENABLE_METADATA_ENCRYPTION=false/' "$CONF"
start_siprecd
check "call 4 recorded" sipp_run four -sf "$SCN/siprec-basic.xml" -m 1 -cid_str "s3four-%u-%p@%s" -key tools "$PCAPS"
S4=$(catalog "SELECT uuid FROM sessions WHERE call_id LIKE 's3four-%'")
if poll "SELECT count(*) FROM s3_objects WHERE session_uuid = '$S4' AND verified_at IS NOT NULL" 2; then
	ok "call 4 uploaded"
else
	bad "call 4 not uploaded: $(catalog "SELECT recording_uuid, attempts, last_error FROM s3_objects WHERE verified_at IS NULL")"
fi
S3S=$(catalog "SELECT uuid FROM sessions WHERE call_id LIKE 's3three-%'")
if poll "SELECT count(*) FROM s3_objects WHERE session_uuid = '$S3S' AND verified_at IS NOT NULL" 2; then
	ok "the right secret back: call 3's waiting uploads went through"
else
	bad "call 3 not uploaded: $(catalog "SELECT recording_uuid, attempts, last_error FROM s3_objects WHERE session_uuid = '$S3S'")"
fi
check "siprecctl erase alice" "$CTL" erase --aor sip:alice@example.com --catalog "$DB"
if poll "SELECT count(*) FROM s3_objects WHERE session_uuid = '$S4' AND deleted_at IS NOT NULL" 2; then
	ok "erasure: call 4's objects deleted from the bucket"
else
	bad "erasure: $(catalog "SELECT recording_uuid, delete_requested_at, deleted_at, last_error FROM s3_objects WHERE session_uuid = '$S4'")"
fi
check "... none of call 4 left in the bucket" test -z "$(find "$DATA/$BUCKET" -path "*/$S4/*" -name '*._S3rver_object')"
check_eq "... held call 1's objects remain" 5 "$(find "$DATA/$BUCKET" -path "*/$S1/*" -name '*._S3rver_object' | wc -l)"
stop_siprecd
check_eq "the secret is not in the log" 0 "$(grep -c -F "$SECRET" "$T/siprecd.log")"

# ---- 6. temporary credentials (a session token) and virtual-hosted-style requests
# tokcred TOKEN: an AWS shared-credentials file with a session token, replaced atomically
tokcred() {
	(umask 077 && printf '[default]\naws_access_key_id = S3RVER\naws_secret_access_key = %s\naws_session_token = %s\n' \
		"$SECRET" "$1" >"$CRED.new") && mv "$CRED.new" "$CRED"
}
s3_stop
TOKEN1=$(openssl rand -hex 40)
S3_TOKEN=$TOKEN1
s3_start
tokcred "$TOKEN1"
sed -i "s|^S3_ENDPOINT=.*|S3_ENDPOINT=http://s3.localhost:$S3PORT\nS3_ADDRESSING=virtual|" "$CONF"
: >"$T/s3rver.log"
start_siprecd
check "call 5 recorded" sipp_run five -sf "$SCN/siprec-basic.xml" -m 1 -cid_str "s3five-%u-%p@%s" -key tools "$PCAPS"
S5=$(catalog "SELECT uuid FROM sessions WHERE call_id LIKE 's3five-%'")
if poll "SELECT count(*) FROM s3_objects WHERE session_uuid = '$S5' AND verified_at IS NOT NULL" 2; then
	ok "session token and virtual-hosted style: call 5 uploaded and verified"
else
	bad "call 5 not uploaded: $(catalog "SELECT recording_uuid, attempts, last_error FROM s3_objects WHERE session_uuid = '$S5'")"
fi
check_eq "the requests went to BUCKET.s3.localhost, the key as the path" 0 \
	"$(grep -E '^(PUT|GET) ' "$T/s3rver.log" | grep -v -c -E "^(PUT|GET) $BUCKET\.s3\.localhost:$S3PORT /site-a/rec/")"
check "... and there were some" grep -q -E "^PUT $BUCKET\.s3\.localhost:$S3PORT /site-a/rec/.*/$S5/" "$T/s3rver.log"
K5=$(catalog "SELECT object_key FROM s3_objects WHERE session_uuid = '$S5' LIMIT 1")
check "export from the bucket, virtual-hosted, with the token" \
	"$EXPORT" --config "$CONF" "s3://$BUCKET/$K5" -o "$T/k5.wav"
# The token is renewed: the store wants the new one; the daemon still holds the old.
s3_stop
TOKEN2=$(openssl rand -hex 40)
S3_TOKEN=$TOKEN2
s3_start
check "call 6 recorded" sipp_run six -sf "$SCN/siprec-basic.xml" -m 1 -cid_str "s3six-%u-%p@%s" -key tools "$PCAPS"
S6=$(catalog "SELECT uuid FROM sessions WHERE call_id LIKE 's3six-%'")
if poll "SELECT count(*) > 0 FROM s3_objects WHERE session_uuid = '$S6' AND last_error LIKE '%InvalidToken%'" 1; then
	ok "an expired token is refused by the store (InvalidToken), the upload waits"
else
	bad "no InvalidToken: $(catalog "SELECT recording_uuid, attempts, last_error FROM s3_objects WHERE session_uuid = '$S6'")"
fi
tokcred "$TOKEN2"
if poll "SELECT count(*) FROM s3_objects WHERE session_uuid = '$S6' AND verified_at IS NOT NULL" 2; then
	ok "the renewed token in the file is used without a restart: call 6 verified"
else
	bad "call 6 not uploaded: $(catalog "SELECT recording_uuid, attempts, last_error FROM s3_objects WHERE session_uuid = '$S6'")"
fi
stop_siprecd
check_eq "no session token in the log" 0 "$(grep -c -F -e "$TOKEN1" -e "$TOKEN2" "$T/siprecd.log")"
chmod 0644 "$CRED"
timeout 10 "$SIPRECD" --config "$CONF" >"$T/refused.log" 2>&1
rc=$?
check "credentials readable by others stop the start" test "$rc" -ne 0 -a "$rc" -ne 124
check "... naming the problem" grep -q "readable or writable by others" "$T/refused.log"
s3_stop
finish
