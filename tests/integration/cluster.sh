#!/bin/sh
# SPDX-License-Identifier: MIT
# Three siprecd recorders behind Kamailio's dispatcher (docs/examples/kamailio/kamailio.cfg),
# each in a network namespace this test creates, with the SRC (siprec-src) and Kamailio in two
# more, all on one bridge (in a sixth namespace). Nothing outside them is touched, so it runs the
# same in the caller's namespace or under /work/bin/isolated. Signalling is SIP over TLS from
# the SRC to Kamailio (UDP where Kamailio's tls module is missing: a SKIP-PART says so) and over
# UDP from Kamailio to the recorders; Kamailio record-routes it. Media (SRTP, SDES keys) goes
# straight from the SRC to the recorder that answered, at the address in its answer.
#   1. spread: calls land on all three recorders, media latched from the SRC itself;
#   2. drain: `siprecctl drain` on r1 under load: no call starts on r1 afterwards, its own calls
#      record to their BYE, no setup fails; `siprecctl resume` brings it back;
#   3. SIGTERM of r2 under load: its calls end (sealed), new calls go to the others;
#   4. kill -9 of r3 under load: new calls go to the others (a call that meets the dead node
#      moves on after the failure timer), its calls are cut; on restart they are 'interrupted'
#      and their recordings hold everything up to at most FLUSH_INTERVAL before the kill.
# Figures printed: calls offered, recorded per node, failed setups, time to fail over.
. "$SRCDIR/tests/integration/lib.sh"
need python3 sqlite3 ip
[ "$(id -u)" = 0 ] || skip "needs root to create network namespaces"
command -v kamailio >/dev/null 2>&1 || skip "kamailio not installed (apt-get install kamailio)"
SRC_BIN=$BUILD/siprec-src
CTL=$BUILD/siprecctl
EXPORT=$BUILD/siprec-export
[ -x "$SRC_BIN" ] && [ -x "$CTL" ] && [ -x "$EXPORT" ] || { bad "siprec-src / siprecctl / siprec-export not built"; finish; }
KAMCFG=$SRCDIR/docs/examples/kamailio/kamailio.cfg

P=sc$$
HUB=$P-hub
NS_SRC=$P-src
NS_KAM=$P-kam
NODES="r1 r2 r3"
KAM_PID=""
cluster_cleanup() {
	for n in $NODES; do
		p=$(cat "$T/$n/pid" 2>/dev/null) && [ -n "$p" ] && { kill -9 "$p" && wait "$p"; } 2>/dev/null
		p=$(cat "$T/$n/notify.pid" 2>/dev/null) && [ -n "$p" ] && { kill -9 "$p" && wait "$p"; } 2>/dev/null
	done
	[ -n "$KAM_PID" ] && { kill -9 "$KAM_PID" && wait "$KAM_PID"; } 2>/dev/null
	# Kamailio forks its workers: they die with the namespace's last process, so kill them by
	# the namespace they are in (only ours: `ip netns pids` lists that namespace alone).
	for ns in $NS_KAM $NS_SRC $P-r1 $P-r2 $P-r3; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	done
	cleanup
	for ns in $HUB $NS_SRC $NS_KAM $P-r1 $P-r2 $P-r3; do ip netns del "$ns" 2>/dev/null; done
}
trap cluster_cleanup EXIT

ip netns add "$HUB" 2>/dev/null || skip "ip netns add failed (no CAP_SYS_ADMIN or no netns support)"
for ns in $NS_SRC $NS_KAM $P-r1 $P-r2 $P-r3; do
	ip netns add "$ns" || { bad "ip netns add $ns"; finish; }
done
ip -n "$HUB" link add br0 type bridge 2>/dev/null && ip -n "$HUB" link set br0 up ||
	skip "no bridge support in this kernel (ip link add type bridge failed)"

# join NS VETH ADDR: a veth from the bridge into NS, ADDR/24 on its end (eth0).
join() {
	ip -n "$HUB" link add "$2" type veth peer name eth0 netns "$1" &&
		ip -n "$HUB" link set "$2" master br0 up &&
		ip -n "$1" link set lo up &&
		ip -n "$1" addr add "$3/24" dev eth0 &&
		ip -n "$1" link set eth0 up
}
NET=10.201.0
SRC_IP=$NET.2
KAM_IP=$NET.10
join "$NS_SRC" vsrc "$SRC_IP" && join "$NS_KAM" vkam "$KAM_IP" &&
	join "$P-r1" vr1 "$NET.11" && join "$P-r2" vr2 "$NET.12" && join "$P-r3" vr3 "$NET.13" ||
	{ bad "cannot build the bridge between the test namespaces"; finish; }
node_ip() { echo "$NET.1${1#r}"; }

# Every recorder in its own namespace: the same port everywhere (SIP_PORT from free_port; the
# namespaces are this test's alone, so the media range can be wide), its own state.
for n in $NODES; do
	mkdir -p "$T/$n"
	cat >"$T/$n/siprecd.conf" <<CFG
SIP_LISTEN_ADDRESS=$(node_ip $n)
SIP_PORT=$SIP_PORT
MEDIA_ADDRESS=$(node_ip $n)
ENABLE_TLS=false
RTP_PORT_MIN=20000
RTP_PORT_MAX=23999
MEDIA_WORKERS=1
FLUSH_INTERVAL=200ms
LOG_TARGET=stderr
LOG_LEVEL=info
CFG
done

# start_node N: siprecd in N's namespace; waits for READY=1 on N's notify socket.
start_node() {
	d=$T/$1
	# a restarted node: its first notify listener goes (cleanup only knows the newest)
	p=$(cat "$d/notify.pid" 2>/dev/null) && [ -n "$p" ] && { kill -9 "$p" && wait "$p"; } 2>/dev/null
	rm -f "$d/notify" "$d/notify.log"
	python3 -u - "$d/notify" "$d/notify.log" <<'PY' >/dev/null 2>&1 &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as f:
    while True:
        f.write(s.recv(65536).decode(errors="replace").replace("\n", "|") + "\n"); f.flush()
PY
	echo $! >"$d/notify.pid"
	i=0
	while [ ! -S "$d/notify" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	# lib.sh exports STATE_DIRECTORY and RUNTIME_DIRECTORY (the environment wins over the file).
	env NOTIFY_SOCKET="$d/notify" STATE_DIRECTORY="$d/state" RUNTIME_DIRECTORY="$d/run" ip netns exec "$P-$1" $SIPRECD_WRAPPER "$SIPRECD" \
		--config "$d/siprecd.conf" >>"$d/siprecd.log" 2>&1 &
	echo $! >"$d/pid"
	wait_for "$d/notify.log" 'READY=1' 20 || { bad "$1: siprecd did not report READY=1"; tail -n 20 "$d/siprecd.log"; finish; }
}
# stop_node N SIGNAL: signals N's siprecd and waits for it; NODE_RC is its exit status.
stop_node() {
	p=$(cat "$T/$1/pid")
	kill -"$2" "$p"
	{ wait "$p"; } 2>/dev/null
	NODE_RC=$?
	: >"$T/$1/pid"
}
ncat() { sqlite3 -readonly "$T/$1/state/catalog.db" "$2" 2>/dev/null; }
ctl() { "$CTL" --socket "$T/$1/run/control" "$2" >>"$T/ctl.log" 2>&1; }
now() { date +%s.%N; }

for n in $NODES; do start_node $n; done

printf '1 sip:%s:%s 0 0\n' "$(node_ip r1)" "$SIP_PORT" "$(node_ip r2)" "$SIP_PORT" \
	"$(node_ip r3)" "$SIP_PORT" >"$T/dispatcher.list"
# SIP over TLS from the SRC when Kamailio has its tls module (Debian: kamailio-tls-modules).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$KAM_IP" \
	-addext "subjectAltName=IP:$KAM_IP" -keyout "$T/kam-key.pem" -out "$T/kam-cert.pem" 2>/dev/null
# kam ARGS...: kamailio in its namespace, with the TLS listener when KAM_TLS is set; with
# KAM_BG set it replaces the (background) shell, so $! is Kamailio itself.
kam() {
	if [ -n "$KAM_TLS" ]; then
		set -- "$@" -l "tls:$KAM_IP:$TLS_PORT" -A WITH_TLS -A "TLS_CERT=\"$T/kam-cert.pem\"" \
			-A "TLS_KEY=\"$T/kam-key.pem\""
	fi
	[ -n "${KAM_BG:-}" ] && exec ip netns exec "$NS_KAM" kamailio "$@"
	ip netns exec "$NS_KAM" kamailio "$@"
}
KAM_TLS=1
if [ -s "$T/kam-cert.pem" ] &&
	kam -c -f "$KAMCFG" -A "DS_LIST=\"$T/dispatcher.list\"" >"$T/kamailio-check.log" 2>&1; then
	SRC_TRANSPORT="-s $KAM_IP:$TLS_PORT -t tls --ca $T/kam-cert.pem"
else
	skip_part tls "Kamailio has no tls module (apt-get install kamailio-tls-modules): SRC -> Kamailio over UDP"
	KAM_TLS=""
	SRC_TRANSPORT="-s $KAM_IP:$SIP_PORT -t udp"
fi
(
	KAM_BG=1
	kam -DD -E -m 64 -M 8 -f "$KAMCFG" -l "udp:$KAM_IP:$SIP_PORT" -A "DS_LIST=\"$T/dispatcher.list\"" \
		-A DS_PING_INTERVAL=1 -A FR_TIMER=1000 >"$T/kamailio.log" 2>&1
) &
KAM_PID=$!
# Ready once Kamailio answers an OPTIONS of its own (every destination starts active).
cat >"$T/ping.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 0))
s.settimeout(0.2)
me = "%s:%d" % s.getsockname()
s.sendto(("OPTIONS sip:%s:%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bKping%d\r\n"
          "From: <sip:ping@%s>;tag=p\r\nTo: <sip:%s>\r\nCall-ID: ping%d\r\nCSeq: 1 OPTIONS\r\n"
          "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
          % (sys.argv[2], sys.argv[3], me, id(s), me, sys.argv[2], id(s))).encode(),
         (sys.argv[2], int(sys.argv[3])))
try:
    code = s.recv(65536).split(b" ")[1].decode()
except OSError:
    code = "none"
print(code)
sys.exit(0 if code == "200" else 1)
PY
i=0
until ip netns exec "$NS_SRC" python3 "$T/ping.py" "$SRC_IP" "$KAM_IP" "$SIP_PORT" >/dev/null; do
	kill -0 "$KAM_PID" 2>/dev/null && [ $i -lt 100 ] || { bad "kamailio did not start"; tail -n 30 "$T/kamailio.log"; finish; }
	i=$((i + 1))
done

# load NAME CALLS RATE DURATION: siprec-src in the SRC namespace, through Kamailio, in the
# background; its JSON report goes to $T/NAME.json.
load() {
	ip netns exec "$NS_SRC" "$SRC_BIN" -q --json $SRC_TRANSPORT --local-ip "$SRC_IP" \
		-n "$2" -r "$3" --duration "$4" >"$T/$1.json" 2>"$T/$1.err" &
	LOAD_PID=$!
}
summary() { # NAME: "calls ok failed failed-setups ended-by-server cut"
	python3 - "$T/$1.json" <<'PY'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception:
    print("0 0 0 0 0"); sys.exit()
c = d["calls"]
setup_failed = sum(1 for x in c if x["status"] != 200)
by_server = sum(1 for x in c if x["reason"].startswith("BYE from server"))
# Set up, then cut: the SRC's own BYE found no recorder (Kamailio answered 408 for it).
cut = sum(1 for x in c if x["status"] == 200 and x["result"] == "failed")
print(len(c), d["totals"]["ok"], d["totals"]["failed"], setup_failed, by_server, cut)
PY
}
# account MODE [PHASE]: the calls the SRC reported against the three catalogs. A session on the
# killed node that never answered (INVITE in flight at the kill, moved on by Kamailio to another
# node, where the call was recorded) is "moved", not a recorded call.
#   account cut kill     -> "CUT INTERRUPTED MOVED INCOMPLETE_RECS COMPLETE_RECS": calls the SRC saw
#                           set up then cut, sessions interrupted on r3, of those moved, and
#                           the interrupted recordings of the cut calls (incomplete, complete)
#   account once         -> "OFFERED RECORDED_ONCE": every offered call recorded on exactly one node
#   account pernode      -> the calls each node recorded (moved sessions left out)
#   account losspaths    -> "path|started_at" of the recordings of the cut calls
cat >"$T/account.py" <<'PY'
import json, sqlite3, sys
T, mode = sys.argv[1], sys.argv[2]
db = {n: sqlite3.connect("file:%s/%s/state/catalog.db?mode=ro" % (T, n), uri=True)
      for n in ("r1", "r2", "r3")}
rows = {n: db[n].execute("SELECT id, call_id, state, started_at FROM sessions").fetchall()
        for n in db}
ended = {c for n in db for (_, c, st, _) in rows[n] if st == "ended"}
interrupted = [(i, c, t) for (i, c, st, t) in rows["r3"] if st == "interrupted"]
moved = {c for (_, c, _) in interrupted if c in ended}
def calls(phase):
    return json.load(open("%s/%s.json" % (T, phase)))["calls"]
if mode == "cut":
    cut = {x["call_id"] for x in calls(sys.argv[3]) if x["status"] == 200 and x["result"] == "failed"}
    ids = [i for (i, c, _) in interrupted if c in cut]
    q = "SELECT count(*), coalesce(sum(complete), 0) FROM recordings WHERE session_id IN (%s)" % \
        ",".join(str(i) for i in ids or [0])
    recs, done = db["r3"].execute(q).fetchone()
    print(len(cut), len(interrupted), len(moved), recs - done, done,
          "same" if cut == {c for (_, c, _) in interrupted} - moved else "differ")
elif mode == "once":
    offered = [x["call_id"] for ph in sys.argv[3:] for x in calls(ph)]
    count = {}
    for n in db:
        for (_, c, st, _) in rows[n]:
            if not (n == "r3" and st == "interrupted" and c in moved):
                count[c] = count.get(c, 0) + 1
    print(len(offered), sum(1 for c in offered if count.get(c) == 1), sum(count.values()))
elif mode == "pernode":
    for n in db:
        print("recorded by %s: %d" % (n, sum(1 for (_, c, st, _) in rows[n]
                                           if not (n == "r3" and st == "interrupted" and c in moved))))
elif mode == "losspaths":
    cut = {x["call_id"] for x in calls("kill") if x["status"] == 200 and x["result"] == "failed"}
    for (i, c, t) in interrupted:
        if c in cut:
            for (path,) in db["r3"].execute("SELECT path FROM recordings WHERE session_id = ?", (i,)):
                print("%s|%d" % (path, t))
PY
account() { python3 "$T/account.py" "$T" "$@"; }
OFFERED=0
FAILED_SETUPS=0

# ---- 1. spread
load spread 24 12 2
wait "$LOAD_PID"
set -- $(summary spread)
OFFERED=$((OFFERED + $1))
FAILED_SETUPS=$((FAILED_SETUPS + $4))
check_eq "spread: every call ok" "24 24 0" "$1 $2 $3"
for n in $NODES; do
	c=$(ncat $n "SELECT count(*) FROM sessions")
	if [ "${c:-0}" -ge 4 ]; then ok "spread: $n recorded $c calls"; else bad "spread: $n recorded ${c:-0} calls (round robin gives each about 8)"; fi
	check_eq "spread: $n's sessions came through Kamailio" "$c" \
		"$(ncat $n "SELECT count(*) FROM sessions WHERE src_addr LIKE '$KAM_IP:%'")"
	check_eq "spread: $n's media came straight from the SRC" "$((c * 2))" \
		"$(ncat $n "SELECT count(*) FROM streams WHERE source_addr LIKE '$SRC_IP:%' AND packets > 0")"
done

# Kamailio's log, from line FROM on: the time (s.us) of the first "WHAT ... NODE-URI" line.
klog_first() { # FROM WHAT NODE
	tail -n +"$1" "$T/kamailio.log" | grep " $2 .*sip:$(node_ip $3):$SIP_PORT" | head -n 1 |
		sed 's/.* '"$2"' \([0-9.]*\) .*/\1/'
}
# marked_down FROM NODE: when the dispatcher took NODE out (a failed probe, DSDOWN, or an INVITE
# that met a 503 or no answer, FAILOVER), whichever came first.
marked_down() {
	a=$(klog_first "$1" DSDOWN "$2")
	b=$(klog_first "$1" FAILOVER "$2")
	python3 -c 'import sys; v=[float(x) for x in sys.argv[1:] if x]; print("%.6f" % min(v) if v else "")' "$a" $b
}
# dispatched_after FROM NODE SINCE: INVITEs sent to NODE after time SINCE (first tries and
# failovers), and the time of the last one.
dispatched_after() {
	tail -n +"$1" "$T/kamailio.log" | grep " DISPATCH .*sip:$(node_ip $2):$SIP_PORT" |
		awk -v t="$3" '{ for (i = 1; i < NF; i++) if ($i == "DISPATCH") ts = $(i + 1); if (ts > t) { n++; last = ts } }
			END { printf "%d %s\n", n, (n ? last : "-") }'
}
ms_between() { python3 -c 'import sys; print(round((float(sys.argv[2]) - float(sys.argv[1])) * 1000))' "$1" "$2"; }
# wait_active NODE N [MIN_AGE_S]: until NODE records N calls, the oldest MIN_AGE_S old.
wait_active() {
	i=0
	while [ $i -lt 300 ]; do
		c=$(ncat "$1" "SELECT count(*) FROM sessions WHERE state = 'active' AND
			started_at <= CAST(strftime('%s','now') AS INTEGER) * 1000 - ${3:-0} * 1000")
		[ "${c:-0}" -ge "$2" ] && return 0
		sleep 0.05
		i=$((i + 1))
	done
	bad "$1 never had $2 calls recording"
	return 1
}
klines() { wc -l <"$T/kamailio.log"; }
FIG=""
fig() { FIG="$FIG$*
"; }

# ---- 2. drain r1 under load: it takes no new call, records its own to their end
K=$(klines)
load drain 40 10 3
wait_active r1 2
ctl r1 drain || bad "siprecctl drain r1"
T_DRAIN=$(now)
# What the dispatcher sees of a draining node, asked straight (not through Kamailio).
check_eq "drain: OPTIONS to r1 answered" 503 \
	"$(ip netns exec "$NS_SRC" python3 "$T/ping.py" "$SRC_IP" "$(node_ip r1)" "$SIP_PORT")"
ip netns exec "$NS_SRC" "$SRC_BIN" -q --json -s "$(node_ip r1):$SIP_PORT" -t udp --local-ip "$SRC_IP" \
	--duration 1 >"$T/direct.json" 2>>"$T/direct.err"
check_eq "drain: an INVITE straight to r1 refused" 503 \
	"$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["calls"][0]["status"])' "$T/direct.json" 2>/dev/null)"
wait "$LOAD_PID"
set -- $(summary drain)
OFFERED=$((OFFERED + $1))
FAILED_SETUPS=$((FAILED_SETUPS + $4))
check_eq "drain: every call set up and recorded to its end" "40 40 0 0" "$1 $2 $3 $4"
check_eq "drain: no call started on r1 after drain" 0 \
	"$(ncat r1 "SELECT count(*) FROM sessions WHERE started_at > $(python3 -c "print(int($T_DRAIN * 1000))")")"
check_eq "drain: r1's calls all ended by the SRC's BYE" 0 \
	"$(ncat r1 "SELECT count(*) FROM sessions WHERE state != 'ended' OR end_reason != 'bye'")"
DOWN=$(marked_down "$K" r1)
if [ -n "$DOWN" ]; then ok "drain: the dispatcher took r1 out"; else bad "drain: r1 never marked down"; fi
set -- $(dispatched_after "$K" r1 "${DOWN:-0}")
check_eq "drain: no INVITE sent to r1 once it was out" 0 "$1"
set -- $(dispatched_after "$K" r1 "$T_DRAIN")
fig "drain r1: out of the dispatcher $(ms_between "$T_DRAIN" "${DOWN:-$T_DRAIN}") ms after 'siprecctl drain' (probe every 1 s); INVITEs that still reached it (answered 503, moved on): $1"
ctl r1 resume || bad "siprecctl resume r1"
check "r1 back in the dispatcher after resume" wait_for "$T/kamailio.log" "DSUP .*sip:$(node_ip r1):" 10

# ---- 3. SIGTERM of r2 under load: its calls end with its BYE, new ones go elsewhere
K=$(klines)
load term 40 10 3
wait_active r2 2
T_TERM=$(now)
stop_node r2 TERM
check_eq "term: r2 exit status after SIGTERM" 0 "$NODE_RC"
wait "$LOAD_PID"
set -- $(summary term)
OFFERED=$((OFFERED + $1))
FAILED_SETUPS=$((FAILED_SETUPS + $4))
check_eq "term: no call setup failed" "40 0" "$1 $4"
# siprecd ends its sessions at SIGTERM: each call learns it from r2's BYE, or, where that BYE
# did not reach the SRC, from the 408 to its own BYE. Either way exactly r2's calls.
SHUT=$(ncat r2 "SELECT count(*) FROM sessions WHERE end_reason = 'shutdown'")
check_eq "term: calls ended by r2's stop = r2's sessions ended by shutdown" "$SHUT" "$(($5 + $6))"
check_eq "term: every other call ok" "$((40 - $6))" "$2"
fig "SIGTERM r2: $SHUT calls on it ended and sealed; its BYE reached the SRC for $5 of them (the others saw 408 to their own BYE)"
check_eq "term: every r2 session ended cleanly" 0 \
	"$(ncat r2 "SELECT count(*) FROM sessions WHERE state != 'ended'")"
DOWN=$(marked_down "$K" r2)
set -- $(dispatched_after "$K" r2 "${DOWN:-0}")
check_eq "term: no INVITE sent to r2 once it was out" 0 "$1"
set -- $(dispatched_after "$K" r2 "$T_TERM")
fig "SIGTERM r2: out of the dispatcher $(ms_between "$T_TERM" "${DOWN:-$T_TERM}") ms after the signal; INVITEs that still reached it (no answer, moved on after FR_TIMER 1 s): $1"
start_node r2
check "r2 back in the dispatcher after restart" wait_for "$T/kamailio.log" "DSUP .*sip:$(node_ip r2):" 10

# ---- 4. kill -9 of r3 under load: calls on it are cut and recovered as interrupted
K=$(klines)
load kill 40 10 3
wait_active r3 2 1
T_KILL=$(now)
stop_node r3 KILL
wait "$LOAD_PID"
set -- $(summary kill)
OFFERED=$((OFFERED + $1))
FAILED_SETUPS=$((FAILED_SETUPS + $4))
check_eq "kill: no call setup failed" "40 0" "$1 $4"
DOWN=$(marked_down "$K" r3)
set -- $(dispatched_after "$K" r3 "${DOWN:-0}")
check_eq "kill: no INVITE sent to r3 once it was out" 0 "$1"
set -- $(dispatched_after "$K" r3 "$T_KILL")
fig "kill -9 r3: out of the dispatcher $(ms_between "$T_KILL" "${DOWN:-$T_KILL}") ms after the kill; INVITEs that still reached it (no answer, moved on after FR_TIMER 1 s): $1"
start_node r3
# Crash recovery's results reach the catalog just after READY: wait until nothing is left
# active or writing, and every interrupted recording has its checked size and sha256.
i=0
while [ $i -lt 200 ] && [ "$(ncat r3 "SELECT (SELECT count(*) FROM sessions WHERE state = 'active') +
	(SELECT count(*) FROM recordings WHERE state = 'writing' OR (state = 'interrupted' AND
	coalesce(sha256, '') = ''))")" != 0 ]; do
	sleep 0.05
	i=$((i + 1))
done
set -- $(account cut kill)
if [ "${1:-0}" -ge 2 ]; then ok "kill: the SRC saw $1 calls cut"; else bad "kill: the SRC saw ${1:-0} calls cut (2 were recording at the kill)"; fi
check_eq "kill: r3's interrupted sessions after restart are those calls (+ INVITEs in flight, moved on)" \
	"$1 same" "$(($2 - $3)) $6"
check_eq "kill: their recordings are all incomplete" "$(($1 * 2)) 0" "$4 $5"
CRASHED=$1
MOVED=$3
# What each interrupted recording holds: its last durable packet's arrival time, against the
# kill. FLUSH_INTERVAL is 200 ms; the slack covers the fdatasync and the chunk sealing on a
# loaded 2-core machine. Without the flush timer a 64 KiB chunk would wait ~8 s of audio.
MAXLOSS=0
for row in $(account losspaths); do
	path=${row%|*}
	STATE_DIRECTORY=$T/r3/state "$EXPORT" -c "$T/r3/siprecd.conf" --allow-incomplete "$path" \
		--pcap "$T/last.pcap" >>"$T/export.log" 2>&1 || { bad "siprec-export --allow-incomplete $path"; continue; }
	loss=$(python3 - "$T/last.pcap" "$T_KILL" "${row##*|}" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
magic = struct.unpack("<I", d[:4])[0]
div = 1e9 if magic == 0xa1b23c4d else 1e6
off, last = 24, 0.0
while off + 16 <= len(d):
    s, f, incl, _ = struct.unpack("<IIII", d[off:off + 16])
    last = max(last, s + f / div)
    off += 16 + incl
# No durable packet at all: what was lost is everything since the session started (a call
# younger than one flush at the kill).
print(round((float(sys.argv[2]) - (last or int(sys.argv[3]) / 1000)) * 1000))
PY
)
	[ "$loss" -gt "$MAXLOSS" ] && MAXLOSS=$loss
done
if [ "$MAXLOSS" -le 700 ]; then ok "kill: at most $MAXLOSS ms lost before the kill (FLUSH_INTERVAL 200 ms)"; else bad "kill: $MAXLOSS ms lost before the kill (FLUSH_INTERVAL 200 ms)"; fi
fig "kill -9 r3: $CRASHED calls cut, recovered as interrupted ($MOVED INVITEs in flight at the kill moved on to another node); audio lost before the kill at most $MAXLOSS ms (FLUSH_INTERVAL 200 ms)"

# ---- figures
echo "--- figures (2-core VM shared with other jobs: times are noisy)"
echo "SIP: SRC -> Kamailio over ${KAM_TLS:+tls}${KAM_TLS:-udp}, Kamailio -> recorders over udp; media SRTP, SRC -> recorder"
echo "calls offered: $OFFERED; failed setups: $FAILED_SETUPS"
account pernode
printf '%s' "$FIG"
set -- $(account once spread drain term kill)
check_eq "every call offered recorded on exactly one node" "$OFFERED $OFFERED" "$1 $2"
check_eq "failed setups" 0 "$FAILED_SETUPS"
for n in r1 r2 r3; do
	p=$(cat "$T/$n/pid")
	[ -n "$p" ] && stop_node $n TERM && check_eq "$n exit status" 0 "$NODE_RC"
	check "$n: no sanitizer report" sh -c "! grep -qE 'AddressSanitizer|LeakSanitizer|runtime error' '$T/$n/siprecd.log'"
done
finish
