#!/bin/sh
# SPDX-License-Identifier: MIT
# siprec-web in write-only mode (docs/KEYS.md, issue 15): siprecd records with an X25519 public key
# and cannot read its recordings; the console, given the private key (--private-key, or the
# systemd credential recording-private-key), verifies, plays and downloads them, and the WAV is
# byte for byte siprec-export's with the same private key. A key file others may read is refused
# at start, and the key never reaches the log.
. "$SRCDIR/tests/integration/lib.sh"
need sipp python3 sqlite3 curl openssl

WEB=$BUILD/siprec-web
EXPORT=$BUILD/siprec-export
PCAPS=$SRCDIR/tests/data/pcap
SCN=$SRCDIR/tests/integration/scenarios
[ -x "$WEB" ] && [ -x "$EXPORT" ] || { bad "siprec-web or siprec-export not built"; finish; }

openssl genpkey -algorithm X25519 -out "$T/wo.key" 2>/dev/null && chmod 600 "$T/wo.key" || bad "openssl genpkey"
openssl pkey -in "$T/wo.key" -pubout -out "$T/wo.pub" 2>/dev/null || bad "openssl pkey -pubout"
echo "ENCRYPTION_KEY_STORE=public-key" >>"$CONF"
echo "RECORDING_PUBLIC_KEY=$T/wo.pub" >>"$CONF"
start_siprecd
cp "$PCAPS/tone440-pcmu.pcap" "$T/a.pcap"
cp "$PCAPS/tone660-pcmu.pcap" "$T/b.pcap"
sipp_run basic -sf "$SCN/siprec-basic.xml" -m 1 -cid_str "wo-%u-%p@%s" -key tools "$PCAPS" ||
	bad "sipp call failed"
i=0
u=""
while [ $i -lt 200 ]; do
	u=$(catalog "SELECT uuid FROM sessions WHERE call_id LIKE 'wo-%' AND state != 'active' AND
		NOT EXISTS (SELECT 1 FROM recordings r WHERE r.session_id = sessions.id AND
		r.state != 'final')" 2>/dev/null)
	[ -n "$u" ] && break
	sleep 0.05
	i=$((i + 1))
done
[ -n "$u" ] || { bad "no finished session in the catalog"; finish; }
nrec=$(catalog "SELECT count(*) FROM recordings r JOIN sessions s ON s.id = r.session_id WHERE s.uuid = '$u' AND r.key_id LIKE 'pub:%'")
check "the call is recorded in write-only mode ($nrec recordings keyed pub:...)" test "$nrec" -ge 2

# siprecd's side cannot read it; the private key can.
if "$EXPORT" -c "$CONF" --session "$u" --catalog "$T/state/catalog.db" -o "$T/nokey.wav" >"$T/nokey.log" 2>&1; then
	bad "siprec-export exported a write-only call with siprecd's configuration alone"
else
	check "siprecd's configuration alone cannot export (write-only)" grep -q "private key" "$T/nokey.log"
fi
"$EXPORT" -c "$CONF" --private-key "$T/wo.key" --session "$u" --catalog "$T/state/catalog.db" -o "$T/export.wav" \
	>"$T/export.log" 2>&1 || { bad "siprec-export --private-key"; cat "$T/export.log"; }

USERS=$T/web-users
echo "listen-pass-1" | "$WEB" --users "$USERS" --add-user lisa listener || bad "--add-user lisa"
code() {
	jar=$1
	shift
	curl -s -o "$T/body" -D "$T/hdr" -w '%{http_code}' -b "$T/$jar" -c "$T/$jar" "$@"
}
# web NAME [OPTIONS...]: starts a console on a port of its own; sets URL and WEB_PID.
web() {
	name=$1
	shift
	port=$(free_port)
	"$WEB" --config "$CONF" --users "$USERS" --listen "127.0.0.1:$port" --log stderr \
		--cache "$T/cache-$name" "$@" >"$T/web-$name.log" 2>&1 &
	WEB_PID=$!
	BG_PIDS="$BG_PIDS $WEB_PID"
	mkdir -p "$T/cache-$name"
	URL=http://127.0.0.1:$port
	wait_for "$T/web-$name.log" "listening on" 10 || { bad "siprec-web ($name) did not start"; cat "$T/web-$name.log"; }
	curl -s -o /dev/null -c "$T/$name" -d user=lisa -d password=listen-pass-1 "$URL/login"
}
webstop() { kill "$WEB_PID" && wait "$WEB_PID" 2>/dev/null; BG_PIDS=${BG_PIDS% "$WEB_PID"}; }

# Without the private key the console is where siprecd is: no audio, verdict "no key".
web nokey
check "without a private key: a warning at start" grep -q "write-only mode and no --private-key" "$T/web-nokey.log"
check_eq "without a private key: no playback" 500 "$(code nokey "$URL/audio?id=$u")"
code nokey "$URL/call?id=$u" >/dev/null
check_eq "without a private key: every file 'no key'" "$nrec" "$(grep -c '<td class="verdict">no key</td><td>written in write-only mode' "$T/body")"
webstop

# A key file group or others may read is refused, naming the file and nothing of the key.
cp "$T/wo.key" "$T/wo-open.key"
chmod 644 "$T/wo-open.key"
if timeout 10 "$WEB" --config "$CONF" --users "$USERS" --listen "127.0.0.1:$(free_port)" --log stderr \
	--private-key "$T/wo-open.key" >"$T/web-open.log" 2>&1; then
	bad "siprec-web started with a private key others may read"
else
	check "a 0644 private key is refused at start" grep -q "wo-open.key: private key is accessible by group or others" "$T/web-open.log"
fi

# With the private key: verified, waveforms, played and downloaded as siprec-export writes it.
web priv --private-key "$T/wo.key"
check "the log names the public key id, not the key" grep -q "write-only recordings of pub:[0-9a-f]\{16\} open with the private key $T/wo.key" "$T/web-priv.log"
code priv "$URL/call?id=$u" >/dev/null
check_eq "with the private key: every file verified ok" "$nrec" "$(grep -c '<td class="verdict">ok</td>' "$T/body")"
check_eq "with the private key: a waveform per file" "$nrec" "$(grep -o '<svg class="wave"' "$T/body" | wc -l)"
check_eq "play" 200 "$(code priv "$URL/audio?id=$u")"
check "play equals siprec-export --private-key's WAV" cmp -s "$T/body" "$T/export.wav"
check_eq "download" 200 "$(code priv "$URL/audio?id=$u&download=1")"
check "download equals siprec-export --private-key's WAV" cmp -s "$T/body" "$T/export.wav"
size=$(stat -c %s "$T/export.wav")
check_eq "seek (Range 1000-)" 206 "$(code priv -H 'Range: bytes=1000-' "$URL/audio?id=$u")"
check "seek: the right bytes" sh -c "tail -c +1001 '$T/export.wav' | cmp -s - '$T/body'"
check "seek: Content-Range" grep -qi "^Content-Range: bytes 1000-$((size - 1))/$size" "$T/hdr"
code priv "$URL/status" >/dev/null
pid=$(sed -n 's/.*of \(pub:[0-9a-f]*\) open with.*/\1/p' "$T/web-priv.log")
check "status page: the private key's public key id" grep -q "<p id=\"privkey\">Write-only recordings: this console holds the private key of $pid (siprecd records in write-only mode)" "$T/body"
check_eq "the recordings are keyed to that public key" "$nrec" "$(catalog "SELECT count(*) FROM recordings r JOIN sessions s ON s.id = r.session_id WHERE s.uuid = '$u' AND r.key_id = '$pid'")"
check "audit: play and download" sh -c "grep -q 'SIPREC_WEB_USER=lisa SIPREC_WEB_ACTION=play SIPREC_SESSION_ID=$u' '$T/web-priv.log' && grep -q 'SIPREC_WEB_USER=lisa SIPREC_WEB_ACTION=download SIPREC_SESSION_ID=$u' '$T/web-priv.log'"
webstop

# Under systemd: the credential recording-private-key, no option.
mkdir -p "$T/creds"
cp "$T/wo.key" "$T/creds/recording-private-key"
chmod 400 "$T/creds/recording-private-key"
CREDENTIALS_DIRECTORY=$T/creds
export CREDENTIALS_DIRECTORY
web cred
unset CREDENTIALS_DIRECTORY
check_eq "credential: play" 200 "$(code cred "$URL/audio?id=$u")"
check "credential: the WAV is siprec-export's" cmp -s "$T/body" "$T/export.wav"
webstop

# The key never reaches a log: neither its PEM body nor its raw bytes in hex.
pem=$(sed -n 2p "$T/wo.key")
raw=$(python3 -c 'import base64, sys; d = base64.b64decode("".join(open(sys.argv[1]).read().split("\n")[1:-2])); print(d[-32:].hex())' "$T/wo.key")
check "the private key is in no log (PEM body or raw hex)" sh -c "[ -n '$pem' ] && [ ${#raw} -eq 64 ] && ! grep -qiF -e '$pem' -e '$raw' '$T'/web-*.log '$T/siprecd.log'"
check "no sanitizer report from siprec-web" sh -c "! grep -q 'Sanitizer' '$T'/web-*.log"
stop_siprecd
finish
