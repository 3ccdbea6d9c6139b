#!/bin/sh
# SPDX-License-Identifier: MIT
# SIPREC over TLS: siprec-src records a call over TLS 1.2 and one over TLS 1.3 (verifying the
# daemon's generated certificate, not --insecure); both recordings are final in the catalog and
# siprec-export turns each session into a stereo WAV of the call's length. Then `openssl
# s_client` carries a SIP OPTIONS over TLS 1.2 and 1.3 and gets 200 OK, and a TLS 1.1 client is
# refused.
. "$SRCDIR/tests/integration/lib.sh"
need python3 openssl sqlite3

start_siprecd
CERT=$T/state/tls/cert.pem
check "self-signed certificate generated" test -s "$CERT"
check "kTLS mode stated once at start" grep -qE 'kernel TLS (available|unavailable)' "$T/siprecd.log"

for v in 1.2 1.3; do
	timeout 60 "$BUILD/siprec-src" -t tls --ca "$CERT" --sni localhost --tls-version "$v" \
		--duration 1 "127.0.0.1:$TLS_PORT" >"$T/src-$v.out" 2>&1
	check_eq "siprec-src call over TLS $v exit status" 0 "$?"
	check "TLS $v negotiated" grep -q "TLS TLSv$v" "$T/src-$v.out"
	check "call over TLS $v answered 200" grep -q 'ok status 200' "$T/src-$v.out"
done
check "daemon logged TLS 1.2 connection with its kTLS mode" \
	grep -qE 'tls: connection from 127.0.0.1:[0-9]+: TLSv1.2 .* kTLS tx=' "$T/siprecd.log"
check "daemon logged TLS 1.3 connection with its kTLS mode" \
	grep -qE 'tls: connection from 127.0.0.1:[0-9]+: TLSv1.3 .* kTLS tx=' "$T/siprecd.log"

# Recordings become final when the BYE has been processed; wait for the catalog to say so.
i=0
while [ "$(catalog "select count(*) from sessions where transport='tls' and state='ended'")" != 2 ] &&
	[ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
check_eq "two TLS sessions ended" 2 "$(catalog "select count(*) from sessions where transport='tls' and state='ended'")"
check_eq "four final recordings" 4 "$(catalog "select count(*) from recordings where state='final'")"
n=0
for uuid in $(catalog "select uuid from sessions where transport='tls' order by id"); do
	n=$((n + 1))
	"$BUILD/siprec-export" -k "$T/state/keys/master.key" --session "$uuid" \
		--catalog "$T/state/catalog.db" -o "$T/call$n.wav" >"$T/export$n.out" 2>&1
	check_eq "siprec-export session $n exit status" 0 "$?"
	frames=$(python3 -c 'import sys, wave
w = wave.open(sys.argv[1]); print(w.getnchannels(), w.getframerate(), w.getnframes())' "$T/call$n.wav" 2>/dev/null)
	# 1 s of audio: 50 packets of 160 samples per leg. The two legs are aligned by the arrival
	# time of their first packets, so the stereo file may be up to a few samples longer than
	# one leg (8 samples = 1 ms of skew between the legs' first packets is allowed).
	case "$frames" in
	"2 8000 "800[0-8]) ok "session $n WAV: stereo 8 kHz, 1 s ($frames)" ;;
	*) bad "session $n WAV: expected stereo 8 kHz with 8000-8008 frames, got '$frames'" ;;
	esac
done

# openssl s_client carrying SIP OPTIONS.
options() {
	cat <<SIP
OPTIONS sip:srs@127.0.0.1:$TLS_PORT;transport=tls SIP/2.0
Via: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bK-tlsopt-$1
Max-Forwards: 70
From: <sip:probe@127.0.0.1>;tag=t$1
To: <sip:srs@127.0.0.1>
Call-ID: tls-options-$1@127.0.0.1
CSeq: 1 OPTIONS
Content-Length: 0

SIP
}
for v in 1.2 1.3; do
	tag=$(echo "$v" | tr -d .)
	o=$T/sclient-$v.out
	options "$tag" | sed 's/$/\r/' | sclient_request "$o" 10 -tls1_$(echo "$v" | tr . _ | cut -c3-) \
		-CAfile "$CERT" -verify_hostname localhost -verify_return_error
	check "openssl s_client TLS $v: OPTIONS answered 200" grep -q '^SIP/2.0 200' "$o"
done
# SECLEVEL=0 makes the client really offer TLS 1.1, so the refusal is the server's.
timeout 10 openssl s_client -connect "127.0.0.1:$TLS_PORT" -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' \
	</dev/null >"$T/sclient-1.1.out" 2>&1
check "TLS 1.1 refused by the server (protocol_version alert)" grep -qi 'alert protocol version' "$T/sclient-1.1.out"

stop_siprecd
check_eq "exit status after SIGTERM" 0 "$STOP_RC"
finish
