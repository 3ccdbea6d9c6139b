#!/bin/sh
# SPDX-License-Identifier: MIT
# The 200 OK and recording-finalized are promises: the catalog rows they stand for are durable
# before they are sent (issue 11 item 12): the session, stream and recording rows before the
# 200 OK; the final recording rows (state final, size, sha256) and the file's trailer before
# recording-finalized. The test holds the catalog's write lock (as an operator's sqlite3 shell
# can) while a call starts and while it ends, so the rows cannot be committed: no 200 and no
# event may come in those windows. siprecd is killed with SIGKILL the moment the event appears
# (before the lock is let go if it appears while held), and the catalog must then hold exactly
# what the event said.
. "$SRCDIR/tests/integration/lib.sh"
need python3 sqlite3
EXPORT=$BUILD/siprec-export
[ -x "$EXPORT" ] || { bad "siprec-export not built"; finish; }

start_siprecd
SRCDIR=$SRCDIR python3 - "$SIP_PORT" "$DAEMON_PID" "$T/siprecd.log" "$T/state/catalog.db" \
	>"$T/fin.out" 2>&1 <<'PY'
import os, re, signal, sqlite3, sys, time
sys.path.insert(0, os.environ["SRCDIR"] + "/tests/helpers")
from sipua import UA, Call, sdp_media, offer, send_rtp, free_udp_port

port, pid, log, db = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
def say(k, v): print(f"{k}={v}", flush=True)
def event(n=2):
    """The n-th recording-finalized event line (the warm-up call's is the first), or None."""
    with open(log, errors="replace") as f:
        ev = [x for x in f if "SIPREC_EVENT=recording-finalized" in x]
    return ev[n - 1] if len(ev) >= n else None

ua = UA(port)
# A first call creates the data key (the keys thread writes it to the catalog itself), so the
# locked window below tests the session's own rows.
w = Call(ua, "warm-up")
r = w.request("INVITE", offer([(free_udp_port(), "a", [0], "sendonly")]))
say("warmup", r.status if r else "timeout")
w.ack()
w.request("BYE")
for _ in range(500):
    if event(1):
        break
    time.sleep(0.01)
say("warmup_event", int(bool(event(1))))
c = Call(ua, "finalized-durable")
sp = free_udp_port()
lock = sqlite3.connect(db, isolation_level=None, timeout=10)
lock.execute("BEGIN IMMEDIATE")  # the catalog thread's next commit waits for this
# 1.5 s without a final response while the new session's rows cannot be committed
r = c.request("INVITE", offer([(sp, "a", [0], "sendonly")]), timeout=1.5)
say("final_while_locked", r.status if r else 0)
if r:
    say("final_while_locked_from", f"{r.header('call-id')} {r.header('cseq')}")
lock.execute("ROLLBACK")
end = time.time() + 10
while not r and time.time() < end:
    x = ua.recv(end - time.time())
    if x and x.status >= 200 and (x.header("cseq") or "").endswith("INVITE"):
        r = x
        tt = re.search(r";\s*tag=([^;>\s]+)", r.header("to") or "")
        c.to_tag = tt.group(1) if tt else None
say("invite", r.status if r else "timeout")
m = sdp_media(r.body)
c.ack()
send_rtp(m[0]["port"], 0, 50, src_port=sp)

lock.execute("BEGIN IMMEDIATE")
r = c.request("BYE")
say("bye", r.status if r else "timeout")
# While the rows cannot be committed, no event may say they are final. The window is bounded:
# 100 polls of 20 ms, far longer than the worker needs to seal and sync a 1-second recording.
ev = None
for _ in range(100):
    ev = event()
    if ev:
        break
    time.sleep(0.02)
say("event_while_locked", int(bool(ev)))
if not ev:
    lock.execute("ROLLBACK")
    for _ in range(500):
        ev = event()
        if ev:
            break
        time.sleep(0.01)
os.kill(pid, signal.SIGKILL)  # right after the event, before anything else can be flushed
lock.close()
say("event", int(bool(ev)))
if ev:
    for k in ("SIPREC_RECORDING_ID", "RECORDING_SIZE", "RECORDING_SHA256", "RECORDING_PATH"):
        mm = re.search(k + r"=(\S+)", ev)
        say(k, mm.group(1) if mm else "-")
PY
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=""
cat "$T/fin.out"
get() { sed -n "s/^$1=//p" "$T/fin.out"; }
check_eq "warm-up call" 200 "$(get warmup)"
check_eq "warm-up call finalized" 1 "$(get warmup_event)"
check_eq "no final response to the INVITE while its rows could not be committed" 0 "$(get final_while_locked)"
check_eq "200 OK once they could" 200 "$(get invite)"
check_eq "the session's row survived the SIGKILL" 1 "$(catalog "SELECT count(*) FROM sessions WHERE call_id='finalized-durable'")"
check_eq "BYE answered" 200 "$(get bye)"
check_eq "no recording-finalized while the catalog could not commit" 0 "$(get event_while_locked)"
check_eq "recording-finalized once it could" 1 "$(get event)"
rec=$(get SIPREC_RECORDING_ID)
check_eq "after SIGKILL, the announced recording is final in the catalog" final \
	"$(catalog "SELECT state FROM recordings WHERE uuid='$rec'")"
check_eq "with the announced size" "$(get RECORDING_SIZE)" \
	"$(catalog "SELECT size FROM recordings WHERE uuid='$rec'")"
check_eq "and the announced sha256" "$(get RECORDING_SHA256)" \
	"$(catalog "SELECT sha256 FROM recordings WHERE uuid='$rec'")"
check_eq "and complete" 1 "$(catalog "SELECT complete FROM recordings WHERE uuid='$rec'")"
path=$(get RECORDING_PATH)
check_eq "the file has the announced sha256" "$(get RECORDING_SHA256)" \
	"$(sha256sum "$path" 2>/dev/null | cut -d' ' -f1)"
check "the file verifies, final chunk included (exit 0)" "$EXPORT" -c "$CONF" "$path"
finish
