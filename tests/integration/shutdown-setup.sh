#!/bin/sh
# SPDX-License-Identifier: MIT
# SIGTERM while an INVITE is still being set up (docs/SIP.md, graceful stop): the INVITE gets
# its final answer, 503 with Retry-After, and no BYE follows it: no dialog was established
# (RFC 3261 §15: a BYE is sent only within a confirmed dialog). The INVITE is held in setup by
# the catalog's write lock (as finalized-durable.sh does): its 200 waits for its rows to be
# durable. The lock is let go once the 503 came; the daemon's exit ends the watch for a BYE.
. "$SRCDIR/tests/integration/lib.sh"
need python3 sqlite3

start_siprecd
SRCDIR=$SRCDIR python3 - "$SIP_PORT" "$DAEMON_PID" "$T/state/catalog.db" >"$T/setup.out" 2>&1 <<'PY'
import os, signal, sqlite3, sys, time
sys.path.insert(0, os.environ["SRCDIR"] + "/tests/helpers")
from sipua import UA, Call, offer, free_udp_port

port, pid, db = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def say(k, v): print(f"{k}={v}", flush=True)
def alive():
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False

ua = UA(port)
# A first call creates the data key, so what waits for the lock below is the session's rows.
w = Call(ua, "warm-up")
r = w.request("INVITE", offer([(free_udp_port(), "a", [0], "sendonly")]))
say("warmup", r.status if r else "timeout")
w.ack()
w.request("BYE")
ua.requests.clear()
c = Call(ua, "shutdown-setup")
lock = sqlite3.connect(db, isolation_level=None, timeout=10)
lock.execute("BEGIN IMMEDIATE")
r = c.request("INVITE", offer([(free_udp_port(), "a", [0], "sendonly")]), timeout=1.0,
              branch="z9hG4bKshutdownsetup")
say("final_while_locked", r.status if r else 0)
os.kill(pid, signal.SIGTERM)
end = time.time() + 10
while not r and time.time() < end:
    x = ua.recv(end - time.time())
    if x and x.status >= 200 and (x.header("cseq") or "").endswith("INVITE"):
        r = x
        c.request("ACK", cseq=c.cseq, branch="z9hG4bKshutdownsetup")
say("invite", r.status if r else "timeout")
say("retry_after", (r.header("retry-after") or "-") if r else "-")
lock.execute("ROLLBACK")
lock.close()
end = time.time() + 30
while alive() and time.time() < end:
    ua.recv(0.2)  # answers (and records) any request on the way
ua.recv(0.2)
say("exited", int(not alive()))
say("byes", sum(1 for q in ua.requests if q.startswith("BYE ")))
PY
wait "$DAEMON_PID"
rc=$?
DAEMON_PID=""
cat "$T/setup.out"
get() { sed -n "s/^$1=//p" "$T/setup.out"; }
check_eq "warm-up call" 200 "$(get warmup)"
check_eq "no final answer while the session's rows could not be committed" 0 "$(get final_while_locked)"
check_eq "SIGTERM during setup: the INVITE is answered 503" 503 "$(get invite)"
check_eq "with Retry-After" 5 "$(get retry_after)"
check_eq "siprecd exited" 1 "$(get exited)"
check_eq "with status 0" 0 "$rc"
check_eq "no BYE for a dialog that was never established" 0 "$(get byes)"
finish
