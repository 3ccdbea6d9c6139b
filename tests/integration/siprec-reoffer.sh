#!/bin/sh
# SPDX-License-Identifier: MIT
# Re-offers the docs promise (docs/SDP.md "Delayed offer and re-offers", RFC 8068 §3.2, RFC 3264
# §8), each checked by what reaches the recordings, not only by the status code: a re-INVITE
# adds a stream (recorded from then on); a stream removed with port 0 (answered port 0, RTP to
# its old port not recorded) and restored with a port again (recorded on); hold with
# c=0.0.0.0 (the call stays up, the recording gets a hold EVENT) and resume by an UPDATE that
# carries SDP (answered with SDP, a resume EVENT, recorded on). Then SRTP_POLICY: required
# refuses plain RTP with 488 and records SRTP; off refuses an SRTP-only offer with 488 and
# records plain RTP.
#
# Also a re-offer with fewer m= lines that changes the codec, and a port-0 m= line whose label
# a live line (or a line added later) shares. A check that shows a known defect
# owned by another engineer is listed in XFAIL below (ID and owner): it prints "XFAIL" loudly and does not fail the run; if it starts passing it prints
# "XPASS" and fails, so the list is kept true (XFLAKY: a race, either outcome printed).
# tests/run.sh repeats every XFAIL line in its output.
. "$SRCDIR/tests/integration/lib.sh"
need python3 sqlite3
READ=$SRCDIR/tests/helpers/siprec-read.py
# IDs of known defects (empty now: restored-file and restored-complete, the stream restored
# after port 0 reopening its earlier file, were fixed by flows; their xcheck lines stay).
XFAIL=""
# Races: they show in some runs only, so either outcome is printed (loudly), neither fails.
XFLAKY=""
xfail_why() {
	case $1 in
	restored-file | restored-complete) echo "flows: the stream restored after port 0 reopens its earlier file name (File exists), so its recording after the restore is lost" ;;
	esac
}
# xcheck ID DESCRIPTION COMMAND...: check, but an ID on the XFAIL list is reported, not counted.
xcheck() {
	id=$1 d=$2
	shift 2
	case " $XFLAKY " in
	*" $id "*)
		if "$@" >/dev/null 2>&1; then
			echo "XFAIL $id (flaky, passed this time): $d -- known race, $(xfail_why "$id")"
		else
			echo "XFAIL $id (flaky, failed this time): $d -- known race, $(xfail_why "$id")"
		fi
		return
		;;
	esac
	case " $XFAIL " in
	*" $id "*)
		if "$@" >/dev/null 2>&1; then
			bad "XPASS $id: $d (remove it from XFAIL in $0)"
		else
			echo "XFAIL $id: $d -- known defect, $(xfail_why "$id")"
		fi
		;;
	*) check "$d" "$@" ;;
	esac
}

cat >>"$CONF" <<CFG
SRTP_POLICY=optional
CFG
start_siprecd
SRCDIR=$SRCDIR CTL="$BUILD/siprecctl" CONF="$CONF" python3 - "$SIP_PORT" >"$T/flow.out" 2>&1 <<'PY'
import json, os, subprocess, sys, time
sys.path.insert(0, os.environ["SRCDIR"] + "/tests/helpers")
from sipua import UA, Call, sdp_media, offer, send_rtp, free_udp_port

ua = UA(int(sys.argv[1]))
def say(k, v): print(f"{k}={v}", flush=True)
def ports(r): return ",".join(str(m["port"]) for m in sdp_media(r.body)) if r else "timeout"
def streams():
    """{label: stream} of the call, as siprecctl shows it live."""
    out = subprocess.run([os.environ["CTL"], "-c", os.environ["CONF"], "--json", "sessions"],
                         capture_output=True, text=True).stdout
    for s in json.loads(out or "{}").get("sessions", []):
        if s.get("call_id") == "reoffer-1":
            return {x["label"]: x for x in s.get("streams", [])}
    return {}
def wait(what, cond):
    """Polls the daemon's live view (3 s at most): media is handled by the workers
    asynchronously, so each step waits for the previous one to be seen."""
    end = time.time() + 3
    while time.time() < end:
        if cond(streams()):
            return
        time.sleep(0.05)
    say("timeout", what)
def packets(label, n): wait(f"{n} packets on {label}", lambda s: label in s and s[label]["stats"]["packets"] >= n)
# RTP as an SRC sends it: one sequence and timestamp run per SSRC across the whole call
# (sipua.send_rtp starts a random run on each call, which a receiver rightly takes as late).
import random, socket, struct
runs = {}
def send_rtp(port, pt, count, ssrc, src_port, interval):
    seq, ts = runs.get(ssrc, (random.getrandbits(15), random.getrandbits(31)))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", src_port))
    for i in range(count):
        s.sendto(struct.pack("!BBHII", 0x80, pt, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + b"\xff" * 160,
                 ("127.0.0.1", port))
        seq, ts = seq + 1, ts + 160
        time.sleep(interval)
    s.close()
    runs[ssrc] = (seq, ts)
def seen(label): return streams().get(label, {}).get("stats", {}).get("packets", -1)

c = Call(ua, "reoffer-1")
pa, pb = free_udp_port(), free_udp_port()
r = c.request("INVITE", offer([(pa, "1", [0], "sendonly")]))
say("invite", r.status if r else "timeout")
c.ack()
a = sdp_media(r.body)[0]["port"]
send_rtp(a, 0, 20, ssrc=0x1111, src_port=pa, interval=0.02)
packets("1", 20)
say("seen.first", seen("1"))

# A second m= line added.
r = c.request("INVITE", offer([(pa, "1", [0], "sendonly"), (pb, "2", [0], "sendonly")]))
say("add.status", r.status if r else "timeout")
say("add.ports", ports(r))
c.ack()
m = sdp_media(r.body)
b = m[1]["port"] if len(m) > 1 else 0
say("add.same_a", int(m[0]["port"] == a))
if b:
    send_rtp(b, 0, 20, ssrc=0x2222, src_port=pb, interval=0.02)
n0 = seen("1")
send_rtp(a, 0, 20, ssrc=0x1111, src_port=pa, interval=0.02)
packets("1", n0 + 20)
packets("2", 20)
say("seen.after_add", seen("1") - n0)
say("seen.b", seen("2"))

# Stream 2 removed with port 0; what is sent to its old port is not recorded.
r = c.request("INVITE", offer([(pa, "1", [0], "sendonly"), (0, "2", [0], "sendonly")]))
say("remove.status", r.status if r else "timeout")
say("remove.ports", ports(r))
c.ack()
# Once the daemon shows stream 2 ended (no longer active), its old port must record nothing.
wait("stream 2 ended", lambda s: "2" not in s or not s["2"]["active"])
import sqlite3
end = time.time() + 5
while time.time() < end:  # ... and its recording is finalized (the file is closed)
    db = sqlite3.connect(os.environ["STATE_DIRECTORY"] + "/catalog.db")
    n = db.execute("SELECT count(*) FROM recordings r JOIN streams st ON st.id = r.stream_id "
                   "WHERE st.label = '2' AND r.state = 'final'").fetchone()[0]
    db.close()
    if n:
        break
    time.sleep(0.05)
say("removed.view", json.dumps({k: v["active"] for k, v in streams().items()}))
if b:
    send_rtp(b, 0, 15, ssrc=0x2222, src_port=pb, interval=0.02)

# Stream 2 restored with a port.
pb2 = free_udp_port()
r = c.request("INVITE", offer([(pa, "1", [0], "sendonly"), (pb2, "2", [0], "sendonly")]))
say("restore.status", r.status if r else "timeout")
say("restore.ports", ports(r))
c.ack()
m = sdp_media(r.body)
b2 = m[1]["port"] if len(m) > 1 else 0
say("restore.b_open", int(b2 > 0))
if b2:
    send_rtp(b2, 0, 10, ssrc=0x3333, src_port=pb2, interval=0.02)

def row_state(call_id, label, until, final=0):
    # streams.state of the call's label once it is `until` (or after 5 s), read when `final`
    # of its recordings are final (a removed recording's close writes its row too)
    end = time.time() + 5
    while True:
        db = sqlite3.connect(os.environ["STATE_DIRECTORY"] + "/catalog.db")
        row = db.execute("SELECT st.state, (SELECT count(*) FROM recordings r WHERE "
                         "r.stream_id = st.id AND r.state = 'final') FROM streams st JOIN "
                         "sessions s ON s.id = st.session_id WHERE s.call_id = ? AND "
                         "st.label = ?", (call_id, label)).fetchone()
        db.close()
        if (row and row[0] == until and row[1] >= final) or time.time() > end:
            return row[0] if row else None
        time.sleep(0.05)
say("restore.row", row_state("reoffer-1", "2", "active"))

# Hold with c=0.0.0.0 (RFC 2543 style), then resume by an UPDATE carrying SDP.
r = c.request("INVITE", offer([(pa, "1", [0], "sendonly"), (pb2, "2", [0], "sendonly")],
                              ip="0.0.0.0"))
say("hold.status", r.status if r else "timeout")
c.ack()
wait("stream 1 held", lambda s: "1" in s and s["1"]["paused"])
say("hold.paused", int(streams().get("1", {}).get("paused", False)))
r = c.request("UPDATE", offer([(pa, "1", [0], "sendonly"), (pb2, "2", [0], "sendonly")]))
say("update.status", r.status if r else "timeout")
say("update.sdp", int(bool(r) and len(sdp_media(r.body)) == 2))
wait("stream 1 resumed", lambda s: "1" in s and not s["1"]["paused"])
say("update.resumed", int(not streams().get("1", {}).get("paused", True)))
n0 = seen("1")
send_rtp(a, 0, 5, ssrc=0x1111, src_port=pa, interval=0.02)
packets("1", n0 + 5)
say("seen.after_resume", seen("1") - n0)
say("seen.total", seen("1"))
r = c.request("BYE")
say("bye", r.status if r else "timeout")
PY
cat "$T/flow.out"
v() { sed -n "s/^$1=//p" "$T/flow.out"; }
check_eq "INVITE answered" 200 "$(v invite)"
check_eq "re-INVITE adding a stream: 200" 200 "$(v add.status)"
check "re-INVITE adding a stream: two m= lines, both with a port" sh -c "echo '$(v add.ports)' | grep -qE '^[1-9][0-9]*,[1-9][0-9]*$'"
check_eq "re-INVITE adding a stream: stream 1 keeps its port" 1 "$(v add.same_a)"
check_eq "port 0: 200" 200 "$(v remove.status)"
check "port 0: stream 2 answered with port 0" sh -c "echo '$(v remove.ports)' | grep -qE '^[1-9][0-9]*,0$'"
check_eq "restored: 200" 200 "$(v restore.status)"
check_eq "restored: stream 2 answered with a port" 1 "$(v restore.b_open)"
check_eq "restored: stream 2's catalog row is active again (it stayed 'ended')" active "$(v restore.row)"
check_eq "hold with c=0.0.0.0: 200" 200 "$(v hold.status)"
check_eq "hold with c=0.0.0.0: the stream is paused (siprecctl)" 1 "$(v hold.paused)"
check_eq "UPDATE with SDP: 200" 200 "$(v update.status)"
check_eq "UPDATE with SDP: the stream resumes (siprecctl)" 1 "$(v update.resumed)"
check_eq "UPDATE with SDP: answered with both m= lines" 1 "$(v update.sdp)"
check_eq "BYE: 200" 200 "$(v bye)"

# What reaches the recordings (the session is final once every recording is).
i=0
while [ "$(catalog "SELECT count(*) FROM recordings WHERE state = 'writing'")" != 0 ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
catalog "SELECT st.label, st.packets, r.state, r.complete, r.frames, r.path FROM streams st LEFT JOIN recordings r ON r.stream_id = st.id ORDER BY st.label, r.id" >"$T/rows.txt"
cat "$T/rows.txt"
check_eq "two streams in the catalog" "1,2" "$(catalog "SELECT group_concat(label) FROM (SELECT label FROM streams ORDER BY label)")"
check_eq "stream 1: 20 packets recorded before the re-offers" 20 "$(v seen.first)"
check_eq "stream 2: its 20 packets recorded once added" 20 "$(v seen.b)"
check_eq "stream 1: all 20 packets sent after the re-INVITE that added stream 2 recorded" 20 "$(v seen.after_add)"
check_eq "stream 1: the 5 packets sent after the resume recorded" 5 "$(v seen.after_resume)"
f1=$(catalog "SELECT r.path FROM recordings r JOIN streams st ON st.id = r.stream_id WHERE st.label = '1'")
python3 "$READ" frames "$f1" --catalog "$T/state/catalog.db" --kek-file "$T/state/keys/master.key" >"$T/f1.jsonl" 2>&1 ||
	bad "stream 1's recording does not read: $(tail -n 1 "$T/f1.jsonl")"
check_eq "stream 1's recording: every packet the daemon counted, complete" "$(v seen.total) true" \
	"$(grep -c '"type": 1' "$T/f1.jsonl") $(tail -n 1 "$T/f1.jsonl" | sed -n 's/.*"complete": \([a-z]*\).*/\1/p')"
# Events (docs/FORMAT.md: payload byte 0 is 3 hold, 4 resume): a hold then a resume.
check_eq "stream 1's recording: a hold then a resume EVENT" "03 04" \
	"$(sed -n 's/.*"type": 3,.*"payload": "\(0[34]\)[0-9a-f]*".*/\1/p' "$T/f1.jsonl" | tr '\n' ' ' | sed 's/ $//')"
# Stream 2: 20 packets before port 0, none of the 15 sent to its old port once it had ended,
# 10 after the restore, in a recording of its own; read from disk by the independent reader.
: >"$T/f2.jsonl"
n=0
for f in $(catalog "SELECT r.path FROM recordings r JOIN streams st ON st.id = r.stream_id JOIN sessions s ON s.id = st.session_id WHERE s.call_id = 'reoffer-1' AND st.label = '2' ORDER BY r.id"); do
	n=$((n + 1))
	python3 "$READ" frames "$f" --catalog "$T/state/catalog.db" --kek-file "$T/state/keys/master.key" >"$T/f2-$n.jsonl" 2>&1 ||
		bad "stream 2's recording $n does not read: $(tail -n 1 "$T/f2-$n.jsonl")"
	cat "$T/f2-$n.jsonl" >>"$T/f2.jsonl"
done
rtp_of() { grep -c "\"type\": 1, .*\"ssrc\": $2," "$1"; }
check_eq "stream 2's first recording: the 20 frames before the removal (SSRC 0x2222), complete" "20 20 true" \
	"$(grep -c '"type": 1' "$T/f2-1.jsonl" 2>/dev/null) $(rtp_of "$T/f2-1.jsonl" 8738) $(tail -n 1 "$T/f2-1.jsonl" 2>/dev/null | sed -n 's/.*"complete": \([a-z]*\).*/\1/p')"
check_eq "stream 2: none of the 15 packets sent to its old port after it ended recorded" 20 "$(rtp_of "$T/f2.jsonl" 8738)"
xcheck restored-file "stream 2 restored: a second recording with the 10 packets after the restore (SSRC 0x3333), complete" \
	test "$(grep -c '"type": 1' "$T/f2-2.jsonl" 2>/dev/null) $(rtp_of "$T/f2-2.jsonl" 13107) $(tail -n 1 "$T/f2-2.jsonl" 2>/dev/null | sed -n 's/.*"complete": \([a-z]*\).*/\1/p')" = "10 10 true"
xcheck restored-complete "stream 2: every recording of it final and complete (catalog)" \
	test "$(catalog "SELECT count(*) FROM recordings r JOIN streams st ON st.id = r.stream_id WHERE st.label = '2' AND NOT (r.state = 'final' AND r.complete = 1)")" = 0
check "the session exports (--allow-incomplete)" "$BUILD/siprec-export" --config "$CONF" --session "$(catalog "SELECT uuid FROM sessions WHERE call_id = 'reoffer-1'")" \
	--catalog "$T/state/catalog.db" --allow-incomplete -o "$T/reoffer.wav"

# ---- a re-offer with fewer m= lines that also changes the codec (a transfer: stream 2 goes,
# stream 1 moves from PCMU to PCMA). Stream 2's recording ends complete; stream 1's recording
# holds both runs, each frame with its own payload type, and the export decodes each by it: a
# 1 kHz sine in µ-law then in A-law comes out as the same sine.
SRCDIR=$SRCDIR CTL="$BUILD/siprecctl" CONF="$CONF" python3 - "$SIP_PORT" >"$T/flow2.out" 2>&1 <<'PY'
import audioop, json, math, os, socket, sqlite3, struct, subprocess, sys, time
sys.path.insert(0, os.environ["SRCDIR"] + "/tests/helpers")
from sipua import UA, Call, sdp_media, offer, free_udp_port

ua = UA(int(sys.argv[1]))
def say(k, v): print(f"{k}={v}", flush=True)
pcm = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 1000 * i / 8000))) for i in range(160 * 20))
seqs = {}
def send(port, src_port, pt, n, ssrc):
    seq, ts = seqs.get(ssrc, (1000, 5000))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", src_port))
    for i in range(n):
        lin = pcm[(seq % 20) * 320:(seq % 20) * 320 + 320]
        pay = audioop.lin2ulaw(lin, 2) if pt == 0 else audioop.lin2alaw(lin, 2)
        s.sendto(struct.pack("!BBHII", 0x80, pt, seq, ts, ssrc) + pay, ("127.0.0.1", port))
        seq, ts = seq + 1, ts + 160
        time.sleep(0.02)
    s.close()
    seqs[ssrc] = (seq, ts)
def final(label):
    end = time.time() + 5
    while time.time() < end:
        db = sqlite3.connect(os.environ["STATE_DIRECTORY"] + "/catalog.db")
        n = db.execute("SELECT count(*) FROM recordings r JOIN streams st ON st.id = r.stream_id "
                       "JOIN sessions s ON s.id = st.session_id WHERE s.call_id = 'reoffer-2' "
                       "AND st.label = ? AND r.state = 'final'", (label,)).fetchone()[0]
        db.close()
        if n:
            return 1
        time.sleep(0.05)
    return 0

c = Call(ua, "reoffer-2")
pa, pb = free_udp_port(), free_udp_port()
r = c.request("INVITE", offer([(pa, "1", [0, 8], "sendonly"), (pb, "2", [0], "sendonly")]))
say("invite", r.status if r else "timeout")
c.ack()
m = sdp_media(r.body)
send(m[0]["port"], pa, 0, 20, 0xA1)
send(m[1]["port"], pb, 0, 10, 0xB2)
r = c.request("INVITE", offer([(pa, "1", [8], "sendonly")]))
say("fewer.status", r.status if r else "timeout")
say("fewer.answer", ";".join(f"{x['port'] > 0}:{','.join(map(str, x['pts']))}" for x in sdp_media(r.body)) if r else "-")
c.ack()
say("fewer.b_final", final("2"))
send(m[0]["port"], pa, 8, 20, 0xA1)
end = time.time() + 5
while time.time() < end:  # until the daemon has counted all 40 packets of stream 1
    out = subprocess.run([os.environ["CTL"], "-c", os.environ["CONF"], "--json", "sessions"],
                         capture_output=True, text=True).stdout
    st = [x for se in json.loads(out or "{}").get("sessions", []) if se.get("call_id") == "reoffer-2"
          for x in se.get("streams", []) if x["label"] == "1"]
    if st and st[0]["stats"]["packets"] >= 40:
        break
    time.sleep(0.05)
r = c.request("BYE")
say("bye", r.status if r else "timeout")
PY
cat "$T/flow2.out"
w() { sed -n "s/^$1=//p" "$T/flow2.out"; }
check_eq "re-offer with fewer m= lines and a new codec: 200" 200 "$(w fewer.status)"
check_eq "... answered with one m= line, PCMA" "True:8" "$(w fewer.answer)"
check_eq "... stream 2's recording finalized" 1 "$(w fewer.b_final)"
s2=$(catalog "SELECT uuid FROM sessions WHERE call_id = 'reoffer-2'")
i=0
while [ "$(catalog "SELECT count(*) FROM recordings r JOIN sessions s ON s.id = r.session_id WHERE s.uuid = '$s2' AND r.state = 'writing'")" != 0 ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
check_eq "stream 2: 10 frames, complete" "10|1" "$(catalog "SELECT r.frames, r.complete FROM recordings r JOIN streams st ON st.id = r.stream_id JOIN sessions s ON s.id = st.session_id WHERE s.uuid = '$s2' AND st.label = '2'" | tr '\n' ' ' | sed 's/ $//')"
check_eq "stream 1: the catalog follows the codec change" PCMA "$(catalog "SELECT st.codec FROM streams st JOIN sessions s ON s.id = st.session_id WHERE s.uuid = '$s2' AND st.label = '1'")"
f21=$(catalog "SELECT r.path FROM recordings r JOIN streams st ON st.id = r.stream_id JOIN sessions s ON s.id = st.session_id WHERE s.uuid = '$s2' AND st.label = '1'")
python3 "$READ" frames "$f21" --catalog "$T/state/catalog.db" --kek-file "$T/state/keys/master.key" >"$T/f21.jsonl" 2>&1
check_eq "stream 1's recording: 20 PCMU frames then 20 PCMA frames" "20x0 20x8" \
	"$(sed -n 's/.*"type": 1,.*"pt": \([0-9]*\),.*/\1/p' "$T/f21.jsonl" | uniq -c | awk '{printf "%s%sx%s", (NR > 1 ? " " : ""), $1, $2}')"
"$BUILD/siprec-export" --config "$CONF" "$f21" -o "$T/codec-change.wav" >"$T/cc.export" 2>&1 || bad "export of stream 1: $(tail -n 1 "$T/cc.export")"
python3 - "$T/codec-change.wav" >"$T/cc.fit" 2>&1 <<'PY'
import math, struct, sys, wave
w = wave.open(sys.argv[1]); n = w.getnframes()
x = struct.unpack("<%dh" % n, w.readframes(n))
def fit(seg, a0):
    c = [math.cos(2 * math.pi * 1000 * (a0 + i) / 8000) for i in range(len(seg))]
    s = [math.sin(2 * math.pi * 1000 * (a0 + i) / 8000) for i in range(len(seg))]
    a = 2 * sum(v * k for v, k in zip(seg, c)) / len(seg)
    b = 2 * sum(v * k for v, k in zip(seg, s)) / len(seg)
    return math.hypot(a, b)
print("frames", n, "pcmu", round(fit(x[0:3200], 0)), "pcma", round(fit(x[3200:6400], 3200)))
PY
cat "$T/cc.fit"
set -- $(cat "$T/cc.fit")
check_eq "stream 1 exports 40 packets of audio" 6400 "$2"
awk -v u="$4" -v a="$6" 'BEGIN { exit !(u > 7500 && u < 8500 && a > 7500 && a < 8500) }' &&
	ok "the sine decodes from the µ-law and from the A-law frames (amplitudes $4, $6)" ||
	bad "a run is not decoded by its own payload type (amplitudes $4, $6)"
# ---- a port-0 m= line's label is not a duplicate (RFC 3264 §8.2: a removed stream keeps its
# m= line at port 0; RFC 7866 §8.1.5 / RFC 8068: a later stream may be added, and an SRC may
# give it the removed one's label): an INVITE with a live line and a port-0 line labelled
# alike, and a re-INVITE that removes stream 2 and adds a new line labelled 2, are answered 200
# (not 488 "share the label"); two live lines labelled alike are still refused.
SRCDIR=$SRCDIR python3 - "$SIP_PORT" >"$T/label.out" 2>&1 <<'PY'
import os, sys
sys.path.insert(0, os.environ["SRCDIR"] + "/tests/helpers")
from sipua import UA, Call, sdp_media, offer, free_udp_port

ua = UA(int(sys.argv[1]))
def ports(r): return ",".join(str(m["port"]) for m in sdp_media(r.body)) if r and r.status == 200 else "-"
def st(r): return r.status if r else "timeout"
pa, pb, pc = free_udp_port(), free_udp_port(), free_udp_port()
c = Call(ua, "label-port0-invite")
r = c.request("INVITE", offer([(pa, "1", [0], "sendonly"), (0, "1", [0], "sendonly")]))
print(f"invite.port0={st(r)} {ports(r)}")
if r and r.status == 200:
    c.ack()
    c.request("BYE")
c = Call(ua, "label-reuse")
r = c.request("INVITE", offer([(pa, "1", [0], "sendonly"), (pb, "2", [0], "sendonly")]))
print(f"reuse.invite={st(r)}")
c.ack()
r = c.request("INVITE", offer([(pa, "1", [0], "sendonly"), (0, "2", [0], "sendonly"),
                               (pc, "2", [0], "sendonly")]))
print(f"reuse.reinvite={st(r)} {ports(r)} {(r.header('warning') if r else '') or ''}")
c.ack()
print(f"reuse.bye={st(c.request('BYE'))}")
c = Call(ua, "label-live-twice")
r = c.request("INVITE", offer([(pa, "1", [0], "sendonly"), (pb, "1", [0], "sendonly")]))
print(f"live.twice={st(r)}")
PY
cat "$T/label.out"
check "an INVITE with a port-0 m= line labelled as a live one: 200, the port-0 line answered 0" \
	grep -qE '^invite.port0=200 [1-9][0-9]*,0$' "$T/label.out"
check "a re-INVITE removing stream 2 (port 0) and adding a line labelled 2: 200, the new line open" \
	grep -qE '^reuse.reinvite=200 [1-9][0-9]*,0,[1-9][0-9]* $' "$T/label.out"
check_eq "that call ends with 200" "reuse.bye=200" "$(grep '^reuse.bye=' "$T/label.out")"
i=0
while [ "$(catalog "SELECT count(*) FROM recordings WHERE state = 'writing'")" != 0 ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
check_eq "label 2: the removed stream's recording and the new line's, both final" "2 2" \
	"$(catalog "SELECT count(*), sum(r.state = 'final') FROM recordings r JOIN streams st ON st.id = r.stream_id JOIN sessions s ON s.id = st.session_id WHERE s.call_id = 'label-reuse' AND st.label = '2'" | tr '|' ' ')"
check_eq "two live m= lines labelled alike: still 488" "live.twice=488" "$(grep '^live.twice=' "$T/label.out")"
# ---- stream 2 removed (port 0) and restored by the next re-INVITE at once: the removed
# recording's close comes back after the restored stream's row was written; the row stays
# active (the close wrote 'ended' over it), and both recordings are final after the BYE.
SRCDIR=$SRCDIR python3 - "$SIP_PORT" >"$T/atonce.out" 2>&1 <<'PY'
import os, sqlite3, sys, time
sys.path.insert(0, os.environ["SRCDIR"] + "/tests/helpers")
from sipua import UA, Call, sdp_media, offer, free_udp_port

ua = UA(int(sys.argv[1]))
def st(r): return r.status if r else "timeout"
pa, pb = free_udp_port(), free_udp_port()
c = Call(ua, "restore-at-once")
print(f"invite={st(c.request('INVITE', offer([(pa, '1', [0], 'sendonly'), (pb, '2', [0], 'sendonly')])))}")
c.ack()
print(f"remove={st(c.request('INVITE', offer([(pa, '1', [0], 'sendonly'), (0, '2', [0], 'sendonly')])))}")
c.ack()
print(f"restore={st(c.request('INVITE', offer([(pa, '1', [0], 'sendonly'), (pb, '2', [0], 'sendonly')])))}")
c.ack()
end = time.time() + 5
while True:  # the removed recording final: its close has written the row
    db = sqlite3.connect(os.environ["STATE_DIRECTORY"] + "/catalog.db")
    row = db.execute("SELECT st.state, (SELECT count(*) FROM recordings r WHERE r.stream_id = "
                     "st.id AND r.state = 'final') FROM streams st JOIN sessions s ON s.id = "
                     "st.session_id WHERE s.call_id = 'restore-at-once' AND st.label = '2'").fetchone()
    db.close()
    if (row and row[1] >= 1) or time.time() > end:
        break
    time.sleep(0.05)
print(f"row={row[0] if row else None} {row[1] if row else 0}")
print(f"bye={st(c.request('BYE'))}")
PY
cat "$T/atonce.out"
check_eq "restored at once: re-INVITEs answered 200" "invite=200 remove=200 restore=200 bye=200" \
	"$(grep -E '^(invite|remove|restore|bye)=' "$T/atonce.out" | tr '\n' ' ' | sed 's/ $//')"
check_eq "restored at once: once the removed recording is final, stream 2's row is active" \
	"row=active 1" "$(grep '^row=' "$T/atonce.out")"
i=0
while [ "$(catalog "SELECT count(*) FROM recordings WHERE state = 'writing'")" != 0 ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
check_eq "restored at once: stream 2's two recordings final after the BYE" "2 2" \
	"$(catalog "SELECT count(*), sum(r.state = 'final') FROM recordings r JOIN streams st ON st.id = r.stream_id JOIN sessions s ON s.id = st.session_id WHERE s.call_id = 'restore-at-once' AND st.label = '2'" | tr '|' ' ')"

stop_siprecd
check_eq "exit status" 0 "$STOP_RC"

# ---- SRTP_POLICY=required, then off
for policy in required off; do
	sed -i "s/^SRTP_POLICY=.*/SRTP_POLICY=$policy/" "$CONF"
	# SDES keys over plain SIP are refused under "required" unless allowed (the UA is UDP).
	grep -q '^SRTP_ALLOW_SDES_OVER_PLAIN_SIP=' "$CONF" || echo "SRTP_ALLOW_SDES_OVER_PLAIN_SIP=true" >>"$CONF"
	start_siprecd
	SRCDIR=$SRCDIR python3 - "$SIP_PORT" "$policy" >"$T/policy-$policy.out" 2>&1 <<'PY'
import os, sys
sys.path.insert(0, os.environ["SRCDIR"] + "/tests/helpers")
from sipua import UA, Call, sdp_media, offer, free_udp_port

ua = UA(int(sys.argv[1]))
key = "inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"
for name, proto, extra in (("plain", "RTP/AVP", ""),
                           ("srtp", "RTP/SAVP", f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 {key}\r\n")):
    c = Call(ua, f"policy-{sys.argv[2]}-{name}")
    r = c.request("INVITE", offer([(free_udp_port(), "1", [0], "sendonly")], proto=proto, extra=extra))
    m = sdp_media(r.body) if r and r.status == 200 else []
    print(f"{name}={r.status if r else 'timeout'} {m[0]['proto'] if m else '-'} {len(m[0]['crypto']) if m else 0}")
    print(f"{name}.warning={r.header('warning') if r else ''}")
    if r and r.status == 200:
        c.ack()
        c.request("BYE")
PY
	cat "$T/policy-$policy.out"
	stop_siprecd
done
check_eq "SRTP_POLICY=required: plain RTP offer refused 488" 488 "$(sed -n 's/^plain=\([0-9]*\).*/\1/p' "$T/policy-required.out")"
check_eq "SRTP_POLICY=required: SRTP offer answered RTP/SAVP with our key" "200 RTP/SAVP 1" "$(sed -n 's/^srtp=//p' "$T/policy-required.out")"
check_eq "SRTP_POLICY=off: plain RTP offer answered RTP/AVP" "200 RTP/AVP 0" "$(sed -n 's/^plain=//p' "$T/policy-off.out")"
check_eq "SRTP_POLICY=off: SRTP-only offer refused 488" 488 "$(sed -n 's/^srtp=\([0-9]*\).*/\1/p' "$T/policy-off.out")"
check_eq "sessions recorded: one a policy" 2 "$(catalog "SELECT count(*) FROM sessions WHERE call_id IN ('policy-required-srtp', 'policy-off-plain') AND state = 'ended'")"
check_eq "no session for the refused offers" 0 "$(catalog "SELECT count(*) FROM recordings r JOIN sessions s ON s.id = r.session_id WHERE s.call_id IN ('policy-required-plain', 'policy-off-srtp')")"
finish
