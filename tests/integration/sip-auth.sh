#!/bin/sh
# SPDX-License-Identifier: MIT
# SIP digest authentication of new sessions (RFC 3261 §22.4, RFC 8760): an INVITE without
# credentials gets 401 with a SHA-256 and an MD5 challenge (SHA-256 first, qop="auth"); a wrong
# password gets 401 and an auth-failure event; right answers with SHA-256 and with MD5 record;
# the in-dialog BYE is not challenged; the recorded INVITE's Authorization replayed in a new
# INVITE gets 401 stale=true and an auth-failure event, while the same nonce with a higher nc
# records; an answer to an expired nonce gets stale=true; the
# password never reaches the log. Then a restart with client certificates required while UDP/TCP
# stay open warns about it; the credentials also come from $CREDENTIALS_DIRECTORY/sip-auth, and a
# credentials file others can read stops the start.
. "$SRCDIR/tests/integration/lib.sh"
need python3 openssl
printf 'src1:s3cret-pw\n# the second SRC\nsrc2:other-pw\n' >"$T/sip-auth"
chmod 600 "$T/sip-auth"
cat >>"$CONF" <<CFG
SIP_DIGEST_AUTH=true
SIP_AUTH_FILE=$T/sip-auth
SIP_AUTH_REALM=recorder.test
SIP_AUTH_NONCE_LIFETIME=1s
CFG
start_siprecd
check "credentials loaded" grep -q 'SIP digest authentication of new sessions: 2 users' "$T/siprecd.log"
SRCDIR=$SRCDIR python3 - "$SIP_PORT" >"$T/auth.out" 2>&1 <<'PY'
import hashlib, os, re, sys, time
sys.path.insert(0, os.environ["SRCDIR"] + "/tests/helpers")
from sipua import UA, Call, offer, free_udp_port

ua = UA(int(sys.argv[1]))
def say(k, v): print(f"{k}={v}", flush=True)
def challenges(r):
    return [v for k, v in r.headers if k == "www-authenticate"]
def param(ch, name):
    m = re.search(name + r'="?([^",]+)"?', ch)
    return m.group(1) if m else None
def authz(ch, alg, user, pw, uri, method="INVITE", nc="00000001"):
    h = hashlib.sha256 if alg == "SHA-256" else hashlib.md5
    H = lambda s: h(s.encode()).hexdigest()
    realm, nonce = param(ch, "realm"), param(ch, "nonce")
    resp = H(f"{H(f'{user}:{realm}:{pw}')}:{nonce}:{nc}:deadbeef:auth:{H(f'{method}:{uri}')}")
    return (f'Authorization: Digest username="{user}", realm="{realm}", nonce="{nonce}", '
            f'uri="{uri}", response="{resp}", algorithm={alg}, cnonce="deadbeef", qop=auth, '
            f'nc={nc}\r\n')
def body():
    return offer([(free_udp_port(), "1", [0], "sendonly")])

uri = f"sip:srs@127.0.0.1:{sys.argv[1]}"
c = Call(ua, "auth-1")
r = c.request("INVITE", body())
chs = challenges(r) if r else []
say("none.status", r.status if r else "timeout")
say("none.algs", ",".join(param(x, "algorithm") or "?" for x in chs))
say("none.qop", ",".join(param(x, "qop") or "?" for x in chs))
say("none.stale", int(any("stale" in x for x in chs)))
sha = [x for x in chs if "SHA-256" in x][0]
md5 = [x for x in chs if "MD5" in x][0]

r = c.request("INVITE", body(), extra=authz(sha, "SHA-256", "src1", "wrong-pw", uri))
say("wrong.status", r.status if r else "timeout")
r = c.request("INVITE", body(), extra=authz(sha, "SHA-256", "nobody", "s3cret-pw", uri))
say("unknown.status", r.status if r else "timeout")
good = authz(sha, "SHA-256", "src1", "s3cret-pw", uri)
r = c.request("INVITE", body(), extra=good)
say("sha.status", r.status if r else "timeout")
if r and r.status == 200:
    c.ack()
    b = c.request("BYE")
    say("sha.bye", b.status if b else "timeout")

# Someone on the path replays that Authorization in an INVITE of its own (RFC 7616 §3.4.5).
cr = Call(ua, "auth-replay")
r = cr.request("INVITE", body(), extra=good)
say("replay.status", r.status if r else "timeout")
say("replay.stale", int(bool(r) and any("stale=true" in x for x in challenges(r))))
# The SRC itself may reuse the nonce with the next nonce count.
cn = Call(ua, "auth-nc2")
r = cn.request("INVITE", body(), extra=authz(sha, "SHA-256", "src1", "s3cret-pw", uri, nc="00000002"))
say("nc2.status", r.status if r else "timeout")
if r and r.status == 200:
    cn.ack()
    b = cn.request("BYE")
    say("nc2.bye", b.status if b else "timeout")

c2 = Call(ua, "auth-2")
r = c2.request("INVITE", body())
md5 = [x for x in challenges(r) if "MD5" in x][0]
r = c2.request("INVITE", body(), extra=authz(md5, "MD5", "src2", "other-pw", uri))
say("md5.status", r.status if r else "timeout")
if r and r.status == 200:
    c2.ack()
    b = c2.request("BYE")
    say("md5.bye", b.status if b else "timeout")

# A nonce older than SIP_AUTH_NONCE_LIFETIME (1 s): the right answer gets stale=true.
c3 = Call(ua, "auth-3")
r = c3.request("INVITE", body())
old = [x for x in challenges(r) if "SHA-256" in x][0]
time.sleep(1.3)
r = c3.request("INVITE", body(), extra=authz(old, "SHA-256", "src1", "s3cret-pw", uri))
# sipua's ACK of a 401 takes a new branch, so the daemon may still retransmit the first 401:
# skip responses to earlier requests.
while r and (r.header("call-id") != c3.call_id or
              int((r.header("cseq") or "0").split()[0]) != c3.cseq):
    r = ua.recv(3)
say("stale.status", r.status if r else "timeout")
say("stale.flag", int(bool(r) and any("stale=true" in x for x in challenges(r))))
PY
cat "$T/auth.out"
get() { sed -n "s/^$1=//p" "$T/auth.out"; }
check_eq "INVITE without credentials" 401 "$(get none.status)"
check_eq "one challenge per algorithm, SHA-256 first" "SHA-256,MD5" "$(get none.algs)"
check_eq "qop=auth offered" "auth,auth" "$(get none.qop)"
check_eq "a fresh challenge is not stale" 0 "$(get none.stale)"
check_eq "wrong password refused" 401 "$(get wrong.status)"
check_eq "unknown user refused" 401 "$(get unknown.status)"
check_eq "SHA-256 answer records" 200 "$(get sha.status)"
check_eq "in-dialog BYE not challenged" 200 "$(get sha.bye)"
check_eq "a replayed Authorization refused" 401 "$(get replay.status)"
check_eq "with a fresh nonce, stale=true" 1 "$(get replay.stale)"
check_eq "the same nonce with the next nc records" 200 "$(get nc2.status)"
check_eq "its BYE" 200 "$(get nc2.bye)"
check "auth-failure event for the replay" grep -q 'SIP digest authentication from 127.0.0.1.*replayed Authorization' "$T/siprecd.log"
check_eq "MD5 answer records" 200 "$(get md5.status)"
check_eq "MD5 session BYE" 200 "$(get md5.bye)"
check_eq "expired nonce challenged again" 401 "$(get stale.status)"
check_eq "with stale=true" 1 "$(get stale.flag)"
check "auth-failure event for the wrong password" grep -q 'SIP digest authentication from 127.0.0.1.*wrong digest credentials' "$T/siprecd.log"
check "no password in the log" sh -c "! grep -q -e s3cret-pw -e other-pw -e wrong-pw '$T/siprecd.log'"
check_eq "three sessions recorded" 3 "$(catalog 'SELECT count(*) FROM sessions')"
stop_siprecd
check_eq "exit status" 0 "$STOP_RC"

# Client certificates required while UDP and TCP accept anyone: a warning at start.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=ca \
	-keyout "$T/ca.key" -out "$T/ca.pem" >/dev/null 2>&1
cat >>"$CONF" <<CFG
SIP_DIGEST_AUTH=false
TLS_VERIFY_CLIENT=require
TLS_CA_PATH=$T/ca.pem
SIP_ALLOW_TCP=127.0.0.1
CFG
sed -i '/^SIP_DIGEST_AUTH=true/d' "$CONF"
start_siprecd
check "mTLS with open UDP warned about" grep -q 'TLS_VERIFY_CLIENT=require, but SIP over UDP is open to any address' "$T/siprecd.log"
stop_siprecd
check_eq "exit status" 0 "$STOP_RC"

# The credentials as a systemd credential (LoadCredential=sip-auth:...), SIP_AUTH_FILE empty.
mkdir -p "$T/creds"
cp "$T/sip-auth" "$T/creds/sip-auth"
start_siprecd SIP_DIGEST_AUTH=true SIP_AUTH_FILE= CREDENTIALS_DIRECTORY="$T/creds"
check "credentials read from \$CREDENTIALS_DIRECTORY/sip-auth" \
	grep -q "2 users from $T/creds/sip-auth" "$T/siprecd.log"
stop_siprecd
check_eq "exit status" 0 "$STOP_RC"
# A credentials file others can read is refused at start.
chmod 644 "$T/creds/sip-auth"
env SIP_DIGEST_AUTH=true SIP_AUTH_FILE= CREDENTIALS_DIRECTORY="$T/creds" "$SIPRECD" \
	--config "$CONF" >"$T/world.log" 2>&1 &
WPID=$!
BG_PIDS=$WPID
wait_for "$T/world.log" 'readable by others' 10
check "world-readable credentials refused" grep -q 'readable by others; chmod o-r it' "$T/world.log"
wait "$WPID"
check "and the daemon does not start" test $? -ne 0
BG_PIDS=""
finish
