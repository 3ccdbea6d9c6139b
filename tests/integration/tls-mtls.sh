#!/bin/sh
# SPDX-License-Identifier: MIT
# Mutual TLS: a CA, a server certificate and client certificates made with the openssl CLI.
# With TLS_VERIFY_CLIENT=require, TLS_CA_PATH and TLS_ALLOWED_PEERS='src*.example.net', a
# client with a valid allowed certificate gets 200 to OPTIONS over TLS; no certificate, an
# expired one, a self-signed one and one for another host (not in the allowlist) are refused,
# each with a client-cert-refused audit event naming the reason; so are a name where '*' would
# have to span a dot (src5.x.example.net) and an allowed CN on a certificate whose DNS name is
# not allowed (the CN only counts without DNS/URI names). Revocation: TLS_CRL_PATH holds the
# CA's CRL; a certificate accepted under the first CRL is refused with a certificate-revoked
# event once a new CRL listing it is renamed over the file (inotify reload, no SIGHUP). Then
# TLS_VERIFY_CLIENT=request without an allowlist: no certificate is accepted, a bad one still
# refused. An allowlist or TLS_VERIFY_CLIENT without TLS_CA_PATH does not start.
. "$SRCDIR/tests/integration/lib.sh"
need openssl python3

P=$T/pki
mkdir -p "$P/db"
cd "$P" || exit 1
ossl() { openssl "$@" >>"$P/openssl.log" 2>&1 || { bad "openssl $1 failed"; tail "$P/openssl.log"; finish; }; }
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
	-days 30 -subj "/CN=siprecd test CA"
# issue NAME CN SAN [openssl-ca dates...]: a certificate signed by the CA.
: >db/index.txt
echo 1000 >db/serial
cat >ca.cnf <<CNF
[ca]
default_ca = tca
[tca]
database = $P/db/index.txt
serial = $P/db/serial
new_certs_dir = $P/db
certificate = $P/ca.pem
private_key = $P/ca.key
default_md = sha256
policy = any
unique_subject = no
copy_extensions = copy
[any]
commonName = supplied
CNF
issue() {
	name=$1 cn=$2 san=$3
	shift 3
	ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$name.key" -out "$name.csr" \
		-subj "/CN=$cn" -addext "subjectAltName=$san"
	ossl ca -batch -config ca.cnf -in "$name.csr" -out "$name.pem" -notext "$@"
}
issue server localhost "DNS:localhost,IP:127.0.0.1" -days 30
issue good src1.example.net "DNS:src1.example.net" -days 30
issue intruder intruder.example.org "DNS:intruder.example.org" -days 30
issue expired src2.example.net "DNS:src2.example.net" -startdate 20200101000000Z -enddate 20200201000000Z
issue deep src5.x.example.net "DNS:src5.x.example.net" -days 30
issue cnsan src6.example.net "DNS:intruder6.example.org" -days 30
issue revoked src7.example.net "DNS:src7.example.net" -days 30
ossl ca -batch -config ca.cnf -gencrl -crldays 30 -out crl.pem
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout selfsigned.key \
	-out selfsigned.pem -days 30 -subj "/CN=src3.example.net" -addext "subjectAltName=DNS:src3.example.net"
cd "$SRCDIR" || exit 1

# options_over_tls NAME [s_client args...]: OPTIONS through s_client (lib.sh sclient_request, 5 s
# at most); the reply in $T/mtls-NAME.out; 0 when it is a 200.
options_over_tls() {
	name=$1
	shift
	printf 'OPTIONS sip:srs@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bK-%s\r\nMax-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=%s\r\nTo: <sip:srs@127.0.0.1>\r\nCall-ID: mtls-%s@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n' "$name" "$name" "$name" |
		sclient_request "$T/mtls-$name.out" 5 -CAfile "$P/ca.pem" -verify_hostname localhost \
			-verify_return_error "$@"
}
refused_event() { # REGEX: a client-cert-refused audit event whose text matches
	wait_for "$T/siprecd.log" "client-cert-refused|SIPREC_EVENT=client-cert-refused" 5 &&
		grep 'SIPREC_EVENT=client-cert-refused' "$T/siprecd.log" | grep -qiE "$1"
}

start_siprecd TLS_CERT_PATH="$P/server.pem" TLS_KEY_PATH="$P/server.key" TLS_CA_PATH="$P/ca.pem" \
	TLS_VERIFY_CLIENT=require TLS_ALLOWED_PEERS='src*.example.net' TLS_CRL_PATH="$P/crl.pem"
check "require: allowed client certificate gets 200" options_over_tls good -cert "$P/good.pem" -key "$P/good.key"
check "daemon logged the verified peer" grep -q 'tls: connection from 127.0.0.1' "$T/siprecd.log"
options_over_tls none && bad "require: no certificate got 200" || ok "require: no certificate gets no answer"
check "audit event for the missing certificate" refused_event 'did not return a certificate|no certificate|certificate required|missing'
options_over_tls expired -cert "$P/expired.pem" -key "$P/expired.key" &&
	bad "expired client certificate got 200" || ok "expired client certificate refused"
check "audit event names the expiry" refused_event 'expired'
options_over_tls selfsigned -cert "$P/selfsigned.pem" -key "$P/selfsigned.key" &&
	bad "self-signed client certificate got 200" || ok "self-signed client certificate refused"
check "audit event names the self-signed certificate" refused_event 'self.signed|src3.example.net'
options_over_tls intruder -cert "$P/intruder.pem" -key "$P/intruder.key" &&
	bad "client certificate of another host got 200" || ok "client certificate of another host (not allowed) refused"
check "audit event names the allowlist" refused_event 'intruder.example.org.*TLS_ALLOWED_PEERS'
options_over_tls deep -cert "$P/deep.pem" -key "$P/deep.key" &&
	bad "'src*' matched across a dot (src5.x.example.net got 200)" || ok "'*' matches within one label: src5.x.example.net refused"
check "audit event for the name across a dot" refused_event 'src5.x.example.net.*TLS_ALLOWED_PEERS'
options_over_tls cnsan -cert "$P/cnsan.pem" -key "$P/cnsan.key" &&
	bad "allowed CN with a disallowed DNS name got 200" || ok "allowed CN ignored when the certificate has a DNS name: refused"
check "audit event says the CN does not count" refused_event 'src6.example.net.*CN does not count'
check "allowed client still accepted after the refusals" options_over_tls good2 -cert "$P/good.pem" -key "$P/good.key"

# ---- revocation: accepted under the first CRL, refused once the CRL lists it
check "not yet revoked: accepted" options_over_tls rev1 -cert "$P/revoked.pem" -key "$P/revoked.key"
(cd "$P" && ossl ca -batch -config ca.cnf -revoke revoked.pem && ossl ca -batch -config ca.cnf -gencrl -crldays 30 -out crl.new)
reloads=$(grep -c 'TLS certificate reloaded' "$T/siprecd.log")
mv "$P/crl.new" "$P/crl.pem"
i=0
while [ "$(grep -c 'TLS certificate reloaded' "$T/siprecd.log")" -le "$reloads" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
check "the renamed CRL is reloaded without SIGHUP" grep -q 'TLS certificate reloaded.*certificate files changed' "$T/siprecd.log"
options_over_tls rev2 -cert "$P/revoked.pem" -key "$P/revoked.key" &&
	bad "revoked client certificate got 200" || ok "revoked client certificate refused"
check "certificate-revoked audit event names the peer" wait_for "$T/siprecd.log" 'SIPREC_EVENT=certificate-revoked.*PEER=127.0.0.1' 5
check "certificate-revoked event names the subject" sh -c "grep 'SIPREC_EVENT=certificate-revoked' '$T/siprecd.log' | grep -q 'src7.example.net'"
check "other clients still accepted under the new CRL" options_over_tls good3 -cert "$P/good.pem" -key "$P/good.key"
stop_siprecd
check_eq "exit status" 0 "$STOP_RC"
grep 'client-cert-refused' "$T/siprecd.log" | sed 's/^/    /'

: >"$T/siprecd.log"
start_siprecd TLS_CERT_PATH="$P/server.pem" TLS_KEY_PATH="$P/server.key" TLS_CA_PATH="$P/ca.pem" \
	TLS_VERIFY_CLIENT=request
check "request: no client certificate accepted" options_over_tls req-none
check "request: valid client certificate accepted" options_over_tls req-good -cert "$P/good.pem" -key "$P/good.key"
options_over_tls req-expired -cert "$P/expired.pem" -key "$P/expired.key" &&
	bad "request: expired certificate got 200" || ok "request: a certificate that is sent must verify (expired refused)"
check "request: audit event for it" refused_event 'expired'
stop_siprecd
check_eq "exit status" 0 "$STOP_RC"

# ---- no TLS_CA_PATH: never the system trust store
for v in "TLS_ALLOWED_PEERS=src*.example.net" TLS_VERIFY_CLIENT=request TLS_VERIFY_CLIENT=require; do
	if env TLS_CERT_PATH="$P/server.pem" TLS_KEY_PATH="$P/server.key" "$v" "$SIPRECD" --config "$CONF" --check-config >"$T/noca.out" 2>&1; then
		bad "$v without TLS_CA_PATH accepted"
	else
		check "$v without TLS_CA_PATH: refused, naming TLS_CA_PATH" grep -q "${v%%=*}.*needs TLS_CA_PATH" "$T/noca.out"
	fi
done
finish
