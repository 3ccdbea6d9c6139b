#!/bin/sh
# SPDX-License-Identifier: MIT
# Prometheus metrics and /health over METRICS_LISTEN: every scrape is validated line by line
# against the text exposition format 0.0.4 (HELP/TYPE before samples, names, labels, values,
# cumulative histogram buckets); counters move while a call is recorded and the call's result
# is counted after it; /health is 200, and 503 once the recording directory is unwritable, with
# only the state and the names of the failing checks (no paths). The
# daemon runs as nobody so that chmod 000 really denies it (root would pass access()).
. "$SRCDIR/tests/integration/lib.sh"
need python3 setpriv

SRC=$BUILD/siprec-src
WAV=$SRCDIR/tests/data/audio/speech-stereo-8k.wav
[ -x "$SRC" ] || { bad "siprec-src not built"; finish; }
[ "$(id -u)" = 0 ] || skip "needs root to run siprecd as nobody"

MPORT=$(free_port)
echo "METRICS_LISTEN=127.0.0.1:$MPORT" >>"$CONF"
chown nobody:nogroup "$T"
chmod 755 "$T"
SIPRECD_WRAPPER="setpriv --reuid=nobody --regid=nogroup --clear-groups"
# The notify socket the test listens on must be writable by nobody.
umask 000
start_siprecd
umask 022
URL=http://127.0.0.1:$MPORT

cat >"$T/prom.py" <<'PY'
# prom.py URL PATH [OUT]: GET, print "STATUS", validate /metrics bodies, save the body to OUT.
import re, sys, urllib.request, urllib.error, math
url, path = sys.argv[1], sys.argv[2]
try:
    r = urllib.request.urlopen(url + path, timeout=5); code, body, ctype = r.status, r.read(), r.headers.get("Content-Type", "")
except urllib.error.HTTPError as e:
    code, body, ctype = e.code, e.read(), e.headers.get("Content-Type", "")
if len(sys.argv) > 3:
    open(sys.argv[3], "wb").write(body)
print(code)
if path != "/metrics" or code != 200:
    sys.exit(0)
errors = []
def err(n, msg): errors.append("line %d: %s" % (n, msg))
if not ctype.startswith("text/plain; version=0.0.4"):
    errors.append("content type %r" % ctype)
text = body.decode("utf-8")
if not text.endswith("\n"):
    errors.append("no final newline")
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r"^(%s)(\{(?:%s)(?:,(?:%s))*\})? (\S+)( -?\d+)?$" % (NAME, LABEL, LABEL))
types, helps, seen, series = {}, set(), set(), set()
hist = {}
def family_of(name):
    for suf in ("_bucket", "_sum", "_count"):
        if name.endswith(suf) and types.get(name[: -len(suf)]) in ("histogram", "summary"):
            return name[: -len(suf)]
    return name
for n, line in enumerate(text.split("\n")[:-1], 1):
    if line.startswith("#"):
        m = re.match(r"^# (HELP|TYPE) (%s) (.*)$" % NAME, line)
        if not m:
            if line.startswith("# HELP") or line.startswith("# TYPE"):
                err(n, "malformed: " + line)
            continue
        kind, name, rest = m.groups()
        if kind == "TYPE":
            if name in types: err(n, "second TYPE for " + name)
            if name in seen: err(n, "TYPE after samples of " + name)
            if rest not in ("counter", "gauge", "histogram", "summary", "untyped"): err(n, "type " + rest)
            types[name] = rest
        else:
            if name in helps: err(n, "second HELP for " + name)
            if not rest.strip(): err(n, "empty HELP for " + name)
            helps.add(name)
        continue
    if not line.strip():
        err(n, "blank line"); continue
    m = SAMPLE.match(line)
    if not m:
        err(n, "not a sample: " + line); continue
    name, labels, value = m.group(1), m.group(2) or "", m.group(3)
    try:
        v = float(value)
    except ValueError:
        err(n, "value " + value); continue
    fam = family_of(name)
    seen.add(fam)
    if fam not in types: err(n, "no TYPE before " + name)
    if fam not in helps: err(n, "no HELP before " + name)
    if not fam.startswith("siprecd_"): err(n, "name outside siprecd_: " + name)
    if types.get(fam) == "counter" and not name.endswith("_total"): err(n, "counter without _total: " + name)
    if types.get(fam) == "counter" and (v < 0 or math.isnan(v)): err(n, "negative counter " + name)
    if (name, labels) in series: err(n, "duplicate series " + name + labels)
    series.add((name, labels))
    if types.get(fam) == "histogram":
        h = hist.setdefault(fam, {"buckets": [], "sum": None, "count": None})
        if name.endswith("_bucket"):
            le = re.search(r'le="([^"]*)"', labels)
            if not le: err(n, "bucket without le"); continue
            h["buckets"].append((float(le.group(1)), v))
        elif name.endswith("_sum"): h["sum"] = v
        elif name.endswith("_count"): h["count"] = v
for fam, h in hist.items():
    b = h["buckets"]
    if not b or b[-1][0] != float("inf"): errors.append(fam + ": no +Inf bucket last")
    if any(b[i][0] >= b[i + 1][0] for i in range(len(b) - 1)): errors.append(fam + ": le not increasing")
    if any(b[i][1] > b[i + 1][1] for i in range(len(b) - 1)): errors.append(fam + ": buckets not cumulative")
    if h["count"] is None or h["sum"] is None: errors.append(fam + ": _sum or _count missing")
    elif b and b[-1][1] != h["count"]: errors.append(fam + ": +Inf bucket != _count")
for e in errors:
    print("INVALID " + e)
print("families %d samples %d" % (len(types), len(series)))
PY
# scrape NAME: GET /metrics into $T/NAME.prom, validated; fails the check on any invalid line.
scrape() {
	python3 "$T/prom.py" "$URL" /metrics "$T/$1.prom" >"$T/$1.check" 2>&1
	if [ "$(head -n 1 "$T/$1.check")" = 200 ] && ! grep -q INVALID "$T/$1.check" &&
		grep -q '^families' "$T/$1.check"; then
		ok "scrape $1 valid ($(tail -n 1 "$T/$1.check"))"
	else
		bad "scrape $1:"
		cat "$T/$1.check"
	fi
}
# metric NAME SERIES: the value of one series in scrape NAME.
metric() { awk -v s="$2" '$1 == s { print $2 }' "$T/$1.prom"; }
http() { python3 "$T/prom.py" "$URL" "$1" "$T/http.body" | head -n 1; }
gt() { python3 -c "import sys; sys.exit(0 if float('$1' or 0) > float('$2' or 0) else 1)"; }

scrape idle
check_eq "idle: calls active" 0 "$(metric idle siprecd_calls_active)"
check_eq "idle: up (healthy)" 1 "$(metric idle siprecd_up)"
check "idle: certificate expiry timestamp in the future" gt "$(metric idle siprecd_tls_certificate_expiry_timestamp_seconds)" "$(date +%s)"
check "idle: HELP and TYPE for the latency histogram" grep -q '^# TYPE siprecd_recording_durable_p99_seconds histogram' "$T/idle.prom"

"$SRC" -q -s 127.0.0.1:"$SIP_PORT" -t udp --no-srtp --wav "$WAV" --loop --duration 4 \
	>"$T/src.out" 2>&1 &
SRC_PID=$!
BG_PIDS="$BG_PIDS $SRC_PID"
i=0
while [ $i -lt 100 ]; do
	python3 "$T/prom.py" "$URL" /metrics "$T/poll.prom" >/dev/null 2>&1
	[ "$(metric poll siprecd_calls_active)" = 1 ] && break
	sleep 0.1
	i=$((i + 1))
done
sleep 0.5
scrape during1
sleep 1
scrape during2
check_eq "during: calls active" 1 "$(metric during2 siprecd_calls_active)"
check_eq "during: streams active" 2 "$(metric during2 siprecd_streams_active)"
p1=$(metric during1 siprecd_rtp_packets_received_total)
p2=$(metric during2 siprecd_rtp_packets_received_total)
check "during: packets received > 0 ($p1)" gt "$p1" 0
check "during: packets counter moves ($p1 -> $p2)" gt "$p2" "$p1"
check "during: bytes counter moves" gt "$(metric during2 siprecd_rtp_bytes_received_total)" "$(metric during1 siprecd_rtp_bytes_received_total)"
check_eq "during: up" 1 "$(metric during2 siprecd_up)"
wait $SRC_PID
check_eq "siprec-src exit" 0 $?
i=0
while [ $i -lt 100 ]; do
	python3 "$T/prom.py" "$URL" /metrics "$T/poll.prom" >/dev/null 2>&1
	[ "$(metric poll 'siprecd_calls_total{result="bye"}')" = 1 ] && break
	sleep 0.1
	i=$((i + 1))
done
scrape after
check_eq "after: calls_total{result=bye}" 1 "$(metric after 'siprecd_calls_total{result="bye"}')"
check_eq "after: calls active" 0 "$(metric after siprecd_calls_active)"
check_eq "after: calls started" 1 "$(metric after siprecd_calls_started_total)"
check_eq "after: recordings complete" 2 "$(metric after 'siprecd_recordings_finalized_total{complete="true"}')"
check "after: recording bytes written" gt "$(metric after siprecd_recording_bytes_written_total)" 0
check "after: packets not lower than during the call" sh -c "[ $(metric after siprecd_rtp_packets_received_total) -ge $p2 ]"
check_eq "after: latency histogram counts both recordings" 2 "$(metric after siprecd_recording_durable_p99_seconds_count)"
check "after: chunks sealed" gt "$(metric after siprecd_recording_chunks_sealed_total)" 0
check "after: frames recorded" gt "$(metric after siprecd_recording_frames_total)" 0
check_eq "after: no TLS handshake counted on a UDP call" 0 "$(metric after 'siprecd_tls_handshakes_by_version_total{version="TLSv1.3"}')"

check_eq "GET /health" 200 "$(http /health)"
check "/health JSON says healthy, and nothing else" python3 -c "import json; d = json.load(open('$T/http.body')); assert d == {'status': 'healthy'}, d"
check_eq "GET /nope" 404 "$(http /nope)"
# A request head over the 8 KiB limit.
code=$(python3 - "$MPORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET /metrics HTTP/1.1\r\nX-Pad: " + b"a" * 9000 + b"\r\n\r\n")
print(s.recv(100).split(b" ")[1].decode())
PY
)
check_eq "request over the size limit" 431 "$code"
code=$(python3 - "$MPORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
print(s.recv(100).split(b" ")[1].decode())
PY
)
check_eq "POST refused" 405 "$code"

# ---- the recording directory becomes unwritable for the daemon
chmod 000 "$T/state/recordings"
check_eq "GET /health with an unwritable recording directory" 503 "$(http /health)"
check "/health names the disk check as failing" python3 -c "import json; d = json.load(open('$T/http.body')); assert d['status'] == 'failing' and 'disk failing' in d['reason'], d"
check "/health shows no path (details are for the control socket)" sh -c "! grep -q '$T' '$T/http.body'"
scrape unwritable
check_eq "unwritable: up" 0 "$(metric unwritable siprecd_up)"
chmod 700 "$T/state/recordings"
check_eq "GET /health once writable again" 200 "$(http /health)"

stop_siprecd
check_eq "exit status after SIGTERM" 0 "$STOP_RC"
finish
