#!/bin/sh
# SPDX-License-Identifier: MIT
# Certificate hot reload while a TLS call is up: the certificate and key files are replaced the
# way a certbot deploy hook does it (write beside, rename over); siprecd notices by itself
# (inotify), new connections see the new certificate (openssl s_client -showcerts) and a
# certificate with fewer than 14 days left is warned about; the call recorded across the reload
# continues to its BYE with every packet recorded. SIGHUP reloads too and logs the sock_diag
# view; a broken key keeps the old pair serving.
. "$SRCDIR/tests/integration/lib.sh"
need openssl

D=$T/tls
mkdir -p "$D"
mkcert() { # NAME CN DAYS
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$D/$1.key" \
		-out "$D/$1.crt" -days "$3" -subj "/CN=$2" -addext "subjectAltName=DNS:localhost" \
		>/dev/null 2>&1 || bad "openssl req $1"
}
mkcert a siprecd-a 90
mkcert b siprecd-b 5
deploy() { # NAME: certbot style, rename over the served files
	cp "$D/$1.crt" "$D/cert.pem.new" && cp "$D/$1.key" "$D/key.pem.new" &&
		mv "$D/cert.pem.new" "$D/cert.pem" && mv "$D/key.pem.new" "$D/key.pem"
}
served_cn() {
	timeout 10 openssl s_client -connect "127.0.0.1:$TLS_PORT" -showcerts </dev/null 2>/dev/null |
		openssl x509 -noout -subject 2>/dev/null | sed 's/.*CN *= *//'
}
deploy a
start_siprecd TLS_CERT_PATH="$D/cert.pem" TLS_KEY_PATH="$D/key.pem"
check "siprecd watches the certificate files" grep -q "TLS: watching $D/cert.pem" "$T/siprecd.log"
check_eq "served certificate at start" siprecd-a "$(served_cn)"

timeout 60 "$BUILD/siprec-src" -t tls --insecure --duration 6 "127.0.0.1:$TLS_PORT" >"$T/src.out" 2>&1 &
SRC=$!
BG_PIDS=$SRC
check "call started over TLS" wait_for "$T/siprecd.log" 'SIPREC_EVENT=session-started.*SIP_TRANSPORT=tls' 10

deploy b
check "automatic reload after the files changed" wait_for "$T/siprecd.log" 'TLS certificate reloaded .*certificate files changed' 10
check_eq "new connections see the new certificate" siprecd-b "$(served_cn)"
check "expiry warning (< 14 days)" grep -qE 'warning: TLS: the certificate .* expires in [0-9]+ days' "$T/siprecd.log"
check "sock_diag view logged at reload" grep -qE 'TLS sock_diag: [0-9]+ SIPS connection' "$T/siprecd.log"

# A key that does not match: the reload fails, the served pair stays.
echo garbage >"$D/key.pem.new" && mv "$D/key.pem.new" "$D/key.pem"
check "broken key: reload fails and keeps the old pair" wait_for "$T/siprecd.log" 'TLS reload .* failed, keeping the old certificate' 10
check_eq "still serving the last good certificate" siprecd-b "$(served_cn)"

deploy a
sleep 1
kill -HUP "$DAEMON_PID"
check "SIGHUP reload" wait_for "$T/siprecd.log" 'TLS certificate reloaded .*\(SIGHUP\)' 10
check_eq "back to the first certificate" siprecd-a "$(served_cn)"

wait $SRC
check_eq "the call across the reloads ended normally" 0 "$?"
BG_PIDS=""
check "call answered 200" grep -q 'ok status 200' "$T/src.out"
check "session ended by BYE" wait_for "$T/siprecd.log" 'SIPREC_EVENT=session-ended .*END_REASON=bye' 10
# Every packet sent is recorded: 300 a stream, fewer when the machine stalled the generator past
# its catch-up (it drops late 20 ms ticks: 296 and 296 with 8 late ticks on a busy machine).
sent=$(awk '$1 == "stream" { for (i = 1; i < NF; i++) if ($(i + 1) == "packets,") print $i }' "$T/src.out" | sort -n | tr '\n' ' ')
check_eq "the SRC sent two streams of media" 2 "$(echo $sent | wc -w)"
check_eq "both recordings complete with every packet sent" "$sent" \
	"$(grep 'SIPREC_EVENT=recording-finalized' "$T/siprecd.log" | grep 'RECORDING_COMPLETE=1' |
		sed -n 's/.*, \([0-9]*\) packets .*/\1/p' | sort -n | tr '\n' ' ')"
stop_siprecd
check_eq "exit status" 0 "$STOP_RC"
finish
