#!/bin/sh
# SPDX-License-Identifier: MIT
# The varlink control socket and siprecctl against a running siprecd with a live call from
# siprec-src: a raw Python varlink client (GetInfo, GetInterfaceDescription, MethodNotFound,
# InterfaceNotFound, oneway, more, split and coalesced messages, invalid JSON and an over-limit
# message disconnect), every siprecctl command, STATUS= updates during the call, and
# permissions: socket mode/group, and PermissionDenied for mutating calls by others.
. "$SRCDIR/tests/integration/lib.sh"
need python3 setpriv jq

CTL=$BUILD/siprecctl
SRC=$BUILD/siprec-src
WAV=$SRCDIR/tests/data/audio/speech-stereo-8k.wav
[ -x "$CTL" ] && [ -x "$SRC" ] || { bad "siprecctl or siprec-src not built"; finish; }
getent group nogroup >/dev/null && getent group daemon >/dev/null || skip "groups nogroup/daemon missing"
[ "$(id -u)" = 0 ] || skip "needs root to switch to nobody for the permission checks"

echo "CONTROL_GROUP=nogroup" >>"$CONF"
start_siprecd
S=$T/run/control
export SIPRECD_CONTROL=$S

check "control socket exists" test -S "$S"
check "READY=1 STATUS= is the summary line, not failing" grep -qE 'READY=1\|STATUS=0 calls, 0 streams, kTLS (off|tx\+rx), disk [0-9]+% free$' "$T/notify.log"
check_eq "socket mode and group" "660 nogroup" "$(stat -c '%a %G' "$S")"

# ---- raw varlink client
cat >"$T/vl.py" <<'PY'
import json, socket, sys, time
path = sys.argv[1]
def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.connect(path); s.settimeout(5); return s
buf = {}
def recv(s):
    b = buf.get(s, b"")
    while b"\0" not in b:
        d = s.recv(65536)
        if not d:
            raise EOFError
        b += d
    m, _, rest = b.partition(b"\0"); buf[s] = rest
    return json.loads(m)
def call(s, method, params=None, **kw):
    msg = {"method": method}
    if params is not None: msg["parameters"] = params
    msg.update(kw)
    s.sendall(json.dumps(msg).encode() + b"\0")
def closed(s):
    try:
        return s.recv(1) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
def out(name, ok): print(("ok " if ok else "FAIL ") + name)

s = conn()
call(s, "org.varlink.service.GetInfo"); r = recv(s)["parameters"]
out("GetInfo lists io.siprecd", "io.siprecd" in r["interfaces"] and r["product"] == "siprecd")
call(s, "org.varlink.service.GetInterfaceDescription", {"interface": "io.siprecd"})
d = recv(s)["parameters"]["description"]
out("IDL has interface and StopSession", d.startswith("#") and "interface io.siprecd\n" in d and "method StopSession(" in d)
call(s, "org.varlink.service.GetInterfaceDescription", {"interface": "no.such"})
out("InterfaceNotFound", recv(s).get("error") == "org.varlink.service.InterfaceNotFound")
call(s, "org.varlink.service.GetInterfaceDescription", {})
out("InvalidParameter", recv(s).get("error") == "org.varlink.service.InvalidParameter")
call(s, "io.siprecd.NoSuchMethod")
r = recv(s)
out("MethodNotFound", r.get("error") == "org.varlink.service.MethodNotFound" and r["parameters"]["method"] == "io.siprecd.NoSuchMethod")
call(s, "no.such.Interface.Method")
out("unknown interface", recv(s).get("error") == "org.varlink.service.InterfaceNotFound")
# oneway: no reply at all; the next reply belongs to the next call.
call(s, "io.siprecd.Health", oneway=True)
call(s, "io.siprecd.Version")
r = recv(s)["parameters"]
out("oneway gets no reply", "srtp_backend" in r and "io_uring_features" in r)
# coalesced: two calls in one write, two replies in order.
s.sendall(json.dumps({"method": "io.siprecd.Version"}).encode() + b"\0" + json.dumps({"method": "io.siprecd.Health"}).encode() + b"\0")
a, b = recv(s), recv(s)
out("coalesced calls answered in order", "version" in a["parameters"] and b["parameters"]["status"] in ("healthy", "degraded", "failing"))
# split: one call in three writes.
m = json.dumps({"method": "io.siprecd.ListSessions"}).encode() + b"\0"
for part in (m[:5], m[5:17], m[17:]):
    s.sendall(part); time.sleep(0.05)
out("split call answered", "sessions" in recv(s)["parameters"])
call(s, "io.siprecd.Subscribe")
out("Subscribe without more: ExpectedMore", recv(s).get("error") == "org.varlink.service.ExpectedMore")
call(s, "io.siprecd.GetSession", {"id": 5})
out("GetSession wrong type: InvalidParameter", recv(s).get("error") == "org.varlink.service.InvalidParameter")
s.close()

s = conn(); s.sendall(b"{not json\0")
out("invalid JSON disconnects", closed(s))
s = conn(); call(s, "io.siprecd.Version"); recv(s); s.sendall(b"[1]\0")
out("non-object disconnects", closed(s))
s = conn()
try:
    s.sendall(b"{" + b" " * (1024 * 1024) + b"}")
except (BrokenPipeError, ConnectionResetError):
    pass
out("message over 1 MiB disconnects", closed(s))
s = conn(); call(s, "org.varlink.service.GetInfo")
out("server still answers", "interfaces" in recv(s)["parameters"])

# connection limit (64): the 65th is closed at accept; after closing some, new ones work.
many = [s] + [conn() for _ in range(63)]
extra = conn()
try:
    call(extra, "org.varlink.service.GetInfo")
except (BrokenPipeError, ConnectionResetError):
    pass  # the server closed it at accept before our write: what is checked next
try:
    out("65th connection refused", closed(extra))
except socket.timeout:
    out("65th connection refused", False)
for c in many[1:]:
    c.close()
time.sleep(0.3)
s = conn(); call(s, "org.varlink.service.GetInfo")
out("connections accepted again below the limit", "interfaces" in recv(s)["parameters"])
# pending calls (64) behind a subscription: more is a disconnect.
p = conn(); call(p, "io.siprecd.Subscribe", more=True); recv(p)
p.sendall((json.dumps({"method": "org.varlink.service.GetInfo"}).encode() + b"\0") * 65)
out("65 calls pending behind a subscription disconnect", closed(p))

# more: the subscription's first reply, then events until the test ends it.
s = conn(); call(s, "io.siprecd.Subscribe", more=True)
r = recv(s)
out("Subscribe with more: continues", r.get("continues") is True and r["parameters"]["event"] == "subscribed")
PY
python3 "$T/vl.py" "$S" >"$T/vl.out" 2>&1
while read -r res name; do
	if [ "$res" = ok ]; then ok "varlink: $name"; else bad "varlink: $name"; fi
done <"$T/vl.out"
check "varlink client ran every check" test "$(grep -c '^ok\|^FAIL' "$T/vl.out")" -ge 19
grep -q Traceback "$T/vl.out" && { bad "varlink client crashed"; cat "$T/vl.out"; }

# ---- siprecctl without a daemon socket
"$CTL" --socket "$T/nonexistent" status >/dev/null 2>"$T/nosock.err"
check_eq "missing socket: exit 3" 3 $?
check "missing socket: message names the path" grep -q "$T/nonexistent" "$T/nosock.err"
"$CTL" frobnicate >/dev/null 2>&1
check_eq "unknown command: exit 1" 1 $?
"$CTL" session >/dev/null 2>&1
check_eq "session without ID: exit 1" 1 $?

# ---- a live call
"$CTL" watch --json >"$T/watch.out" 2>"$T/watch.err" &
WATCH_PID=$!
BG_PIDS="$BG_PIDS $WATCH_PID"
check "watch: subscribed" wait_for "$T/watch.out" '"event":"subscribed"' 10
"$SRC" -q -s 127.0.0.1:"$SIP_PORT" -t udp --no-srtp --wav "$WAV" --loop --duration 20 \
	--aor-a sip:alice@example.com --aor-b sip:bob@example.com --json >"$T/src.json" 2>"$T/src.err" &
SRC_PID=$!
BG_PIDS="$BG_PIDS $SRC_PID"
i=0
while [ $i -lt 100 ] && [ "$("$CTL" sessions --json 2>/dev/null | jq '.sessions | length')" != 1 ]; do
	sleep 0.1
	i=$((i + 1))
done
ID=$("$CTL" sessions --json | jq -r '.sessions[0].id')
check "one session listed" test -n "$ID" -a "$ID" != null
sleep 1.5
"$CTL" status >"$T/status.out"
check_eq "status: exit 0" 0 $?
check "status: shows health and checks" grep -q "^disk " "$T/status.out"
"$CTL" sessions >"$T/sessions.out"
check_eq "sessions: exit 0" 0 $?
check "sessions: table lists the session" grep -q "^$ID " "$T/sessions.out"
"$CTL" session "$ID" >"$T/session.out"
check_eq "session ID: exit 0" 0 $?
check "session ID: participants from the metadata" grep -q "alice@example.com" "$T/session.out"
"$CTL" --json session "$ID" >"$T/session.json"
check_eq "session: two streams" 2 "$(jq '.session.streams | length' "$T/session.json")"
check "session: packets counted on both streams" \
	test "$(jq '[.session.streams[].stats.packets | select(. > 0)] | length' "$T/session.json")" = 2
"$CTL" session 00000000-0000-4000-8000-000000000000 >/dev/null 2>"$T/nosess.err"
check_eq "session unknown ID: exit 2" 2 $?
check "session unknown ID: NoSuchSession" grep -q NoSuchSession "$T/nosess.err"
"$CTL" keys >"$T/keys.out"
check_eq "keys: exit 0" 0 $?
check "keys: the current data key" grep -q "yes" "$T/keys.out"
v1=$("$CTL" --json keys | jq '.keys[] | select(.current) | .version')
"$CTL" rotate-keys >"$T/rotate.out" 2>&1
check_eq "rotate-keys: exit 0" 0 $?
v2=$("$CTL" --json keys | jq '.keys[] | select(.current) | .version')
check_eq "rotate-keys: current data key version +1" "$((v1 + 1))" "$v2"
check_eq "rotate-keys: the old version is retired" retired "$("$CTL" --json keys | jq -r ".keys[] | select(.version == $v1 and .state != \"legacy\") | .state")"
check "rotate-keys: key-rotated event on the watch stream" wait_for "$T/watch.out" '"event":"key-rotated"' 5
"$CTL" rotate-keys --kek >/dev/null 2>"$T/rotate.err"
check_eq "rotate-keys --kek without --key-file: exit 2" 2 $?
check "rotate-keys --kek: names the missing parameter" grep -q "InvalidParameter.*keyFile" "$T/rotate.err"
"$CTL" reload >/dev/null
check_eq "reload: exit 0" 0 $?
check "reload: RELOADING=1 sent" grep -q 'RELOADING=1' "$T/notify.log"
check "STATUS= during the call: 1 call, 2 streams" wait_for "$T/notify.log" 'STATUS=1 call, 2 streams, kTLS (off|tx\+rx), disk [0-9]+% free' 8

# ---- permissions (while the call runs)
chmod 755 "$T" "$T/run"
setpriv --reuid=nobody --regid=daemon --clear-groups "$CTL" status >/dev/null 2>"$T/perm1.err"
check_eq "other user, socket 0660: exit 3" 3 $?
check "other user: permission denied message names the socket" grep -q "permission denied on $S" "$T/perm1.err"
setpriv --reuid=nobody --regid=nogroup --clear-groups "$CTL" reload >/dev/null 2>&1
check_eq "CONTROL_GROUP as primary group: reload allowed" 0 $?
setpriv --reuid=nobody --regid=daemon --groups=nogroup "$CTL" reload >/dev/null 2>&1
check_eq "CONTROL_GROUP as supplementary group: reload allowed" 0 $?
chmod 666 "$S"
setpriv --reuid=nobody --regid=daemon --clear-groups "$CTL" sessions >/dev/null 2>&1
check_eq "other user, socket 0666: read-only call allowed" 0 $?
setpriv --reuid=nobody --regid=daemon --clear-groups "$CTL" stop "$ID" >/dev/null 2>"$T/perm2.err"
check_eq "other user: stop refused, exit 3" 3 $?
check "other user: PermissionDenied message" grep -q "permission denied by siprecd" "$T/perm2.err"
setpriv --reuid=nobody --regid=daemon --clear-groups "$CTL" reload >/dev/null 2>&1
check_eq "other user: reload refused" 3 $?
check_eq "session still running after refused stop" 1 "$("$CTL" sessions --json | jq '.sessions | length')"

# ---- stop the session: BYE to the SRC, events on the watch stream
"$CTL" stop "$ID" >/dev/null
check_eq "stop ID: exit 0" 0 $?
check "session-ended event with END_REASON=operator" wait_for "$T/watch.out" '"event":"session-ended".*"END_REASON":"operator"' 10
check "watch saw session-started" grep -q '"event":"session-started"' "$T/watch.out"
check "watch saw recording-finalized" grep -q '"event":"recording-finalized"' "$T/watch.out"
i=0
while [ $i -lt 100 ] && kill -0 $SRC_PID 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
check "siprec-src ended on our BYE (long before its 20 s)" sh -c "! kill -0 $SRC_PID 2>/dev/null"
check_eq "no sessions left" 0 "$("$CTL" sessions --json | jq '.sessions | length')"
check "STATUS= back to 0 calls" wait_for "$T/notify.log" 'STATUS=0 calls, 0 streams' 5
"$CTL" stop "$ID" >/dev/null 2>&1
check_eq "stop of an ended session: exit 2" 2 $?

kill $WATCH_PID 2>/dev/null
stop_siprecd
check_eq "exit status after SIGTERM" 0 "$STOP_RC"
check "socket removed at exit" test ! -e "$S"

# ---- socket activation: the "varlink" fd is served, CONTROL_SOCKET is not bound
if command -v systemd-socket-activate >/dev/null 2>&1; then
	notify_listen
	MP=$(free_port)
	systemd-socket-activate -l "$T/act.sock" -l 127.0.0.1:"$MP" --fdname=varlink:metrics -E NOTIFY_SOCKET="$T/notify" \
		-E STATE_DIRECTORY="$STATE_DIRECTORY" -E RUNTIME_DIRECTORY="$RUNTIME_DIRECTORY" \
		-E ASAN_OPTIONS="${ASAN_OPTIONS:-}" $SIPRECD_WRAPPER "$SIPRECD" --config "$CONF" \
		>>"$T/siprecd.log" 2>&1 &
	DAEMON_PID=$!
	i=0
	while [ ! -S "$T/act.sock" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	"$CTL" --socket "$T/act.sock" --json status >"$T/act.json" 2>&1
	check_eq "socket-activated varlink: status exit 0" 0 $?
	check "socket-activated varlink: health answered" jq -e '.health.status' "$T/act.json"
	check "log names the socket-activated control fd" grep -q 'control socket: socket-activated fd' "$T/siprecd.log"
	check "CONTROL_SOCKET not bound when socket-activated" test ! -e "$S"
	check "socket-activated metrics fd serves /metrics" python3 -c "
import urllib.request
r = urllib.request.urlopen('http://127.0.0.1:$MP/metrics', timeout=5)
assert r.status == 200 and b'# TYPE siprecd_calls_active gauge' in r.read()"
	stop_siprecd
	check_eq "socket-activated: exit status" 0 "$STOP_RC"
else
	echo "(systemd-socket-activate missing: socket activation not checked)"
fi
finish
