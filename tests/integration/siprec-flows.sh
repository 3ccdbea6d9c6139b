#!/bin/bash
# SPDX-License-Identifier: MIT
# Call flows real SRCs send beyond the plain offer/answer: a delayed offer (INVITE without SDP,
# the answer in the ACK: Cisco CUCM built-in-bridge), an offerless re-INVITE, RFC 4028 session
# timers (422 below Min-SE, Session-Expires echoed, a session that is not refreshed ends with a
# BYE), a re-INVITE that narrows the codec (Webex transfer to G.722), a re-offer with fewer m=
# lines, the silence rule (an SRC that vanished is ended; a held call is not), and streams added
# by re-INVITE charged to MAX_STREAMS_PER_SOURCE and MAX_STREAMS_PER_SESSION like the initial
# offer's (488 with a Warning naming the limit, the streams already recording go on), and at most
# MAX_METADATA_SNAPSHOTS metadata documents stored per session.
. "$(dirname "$0")/lib.sh"
need python3 sqlite3 jq

cat >>"$CONF" <<CFG
MIN_SESSION_EXPIRES=2s
SESSION_SILENCE_TIMEOUT=3s
SRTP_POLICY=optional
CFG
start_siprecd

SRCDIR=$SRCDIR python3 - "$SIP_PORT" >"$T/flows.out" 2>&1 <<'PY'
import os, sys, time
sys.path.insert(0, os.environ["SRCDIR"] + "/tests/helpers")
from sipua import UA, Call, sdp_media, offer, send_rtp, free_udp_port

ua = UA(int(sys.argv[1]))
def say(k, v): print(f"{k}={v}", flush=True)

# 1. Delayed offer: our offer in the 200 OK, the SRC's answer (PCMA, PCMU) in the ACK.
def step1():
    c = Call(ua, "delayed-1")
    r = c.request("INVITE", extra="Supported: siprec\r\n")
    say("delayed.status", r.status if r else "timeout")
    m = sdp_media(r.body) if r else []
    say("delayed.m", len(m))
    say("delayed.dirs", ",".join(x["dir"] for x in m))
    say("delayed.labels", ",".join(str(x["label"]) for x in m))
    say("delayed.ports_ok", int(bool(m) and all(x["port"] > 0 for x in m)))
    say("delayed.has_g729", int(bool(m) and all(18 in x["pts"] and 101 in x["pts"] for x in m)))
    src = [free_udp_port(), free_udp_port()]
    ans = offer([(src[0], "1", [8], "sendonly"), (src[1], "2", [0], "sendonly")])
    c.ack(ans)
    time.sleep(0.2)  # the ACK is not answered: give the daemon a moment to apply it
    send_rtp(m[0]["port"], 8, 50, src_port=src[0])
    send_rtp(m[1]["port"], 0, 30, src_port=src[1])
    time.sleep(0.5)
    r = c.request("BYE")
    say("delayed.bye", r.status if r else "timeout")

# 2. Offerless re-INVITE: the 200 OK offers the current streams again (same ports).
def step2():
    c = Call(ua, "offerless-reinvite")
    sp = free_udp_port()
    r = c.request("INVITE", offer([(sp, "a", [0], "sendonly")]))
    port0 = sdp_media(r.body)[0]["port"] if r and r.status == 200 else -1
    c.ack()
    r = c.request("INVITE")
    m = sdp_media(r.body) if r else []
    say("reoffer.status", r.status if r else "timeout")
    say("reoffer.same_port", int(len(m) == 1 and m[0]["port"] == port0))
    say("reoffer.dir", m[0]["dir"] if m else "-")
    c.ack(offer([(sp, "a", [0], "sendonly")]))
    r = c.request("BYE")
    say("reoffer.bye", r.status if r else "timeout")

# 3. Session timers.
def step3():
    c = Call(ua, "timer-low")
    r = c.request("INVITE", offer([(free_udp_port(), "a", [0], "sendonly")]),
                  extra="Supported: timer\r\nSession-Expires: 1\r\n")
    say("timer.low.status", r.status if r else "timeout")
    say("timer.low.minse", r.header("min-se") if r else "-")
    c = Call(ua, "timer-ok")
    r = c.request("INVITE", offer([(free_udp_port(), "a", [0], "sendonly")]),
                  extra="Supported: timer\r\nSession-Expires: 2;refresher=uac\r\n")
    say("timer.ok.status", r.status if r else "timeout")
    say("timer.ok.se", (r.header("session-expires") or "-").replace(" ", "") if r else "-")
    say("timer.ok.require", r.header("require") if r else "-")
    c.ack()
    # A refresh at 1 s keeps it; then no refresh: the daemon ends it with a BYE.
    time.sleep(1.0)
    r = c.request("UPDATE", extra="Supported: timer\r\nSession-Expires: 2;refresher=uac\r\n")
    say("timer.refresh", r.status if r else "timeout")
    t0 = time.time()
    say("timer.bye", int(ua.wait_request("BYE", 6)))
    say("timer.bye_after_refresh_ms", int((time.time() - t0) * 1000))

# 4. Codec narrowed by re-INVITE (PCMU+G722 -> G722 only): 200 with G722, not 500.
def step4():
    c = Call(ua, "codec-change")
    sp = free_udp_port()
    r = c.request("INVITE", offer([(sp, "a", [0, 9], "sendonly")]))
    c.ack()
    r = c.request("INVITE", offer([(sp, "a", [9], "sendonly")]))
    say("codec.status", r.status if r else "timeout")
    m = sdp_media(r.body) if r else []
    say("codec.pts", ",".join(map(str, m[0]["pts"])) if m else "-")
    c.ack()
    r = c.request("BYE")

# 5. A re-offer with fewer m= lines (a stream dropped after a transfer).
def step5():
    c = Call(ua, "fewer-lines")
    r = c.request("INVITE", offer([(free_udp_port(), "a", [0], "sendonly"),
                                   (free_udp_port(), "b", [0], "sendonly")]))
    c.ack()
    r = c.request("INVITE", offer([(free_udp_port(), "a", [0], "sendonly")]))
    say("fewer.status", r.status if r else "timeout")
    say("fewer.m", len(sdp_media(r.body)) if r else -1)
    c.ack()
    r = c.request("BYE")

# 6. Silence: a call on hold (a=inactive) survives the silence timeout; a silent active one
#    with no requests is ended with a BYE.
def step6():
    ua2 = UA(int(sys.argv[1]))
    hold = Call(ua, "held")
    r = hold.request("INVITE", offer([(free_udp_port(), "a", [0], "inactive")]))
    hold.ack()
    quiet = Call(ua2, "silent")
    r = quiet.request("INVITE", offer([(free_udp_port(), "a", [0], "sendonly")]))
    quiet.ack()
    say("silence.bye", int(ua2.wait_request("BYE", 8)))
    r = hold.request("BYE")
    say("silence.held_bye", r.status if r else "timeout")

for step in (step1, step2, step3, step4, step5, step6):
    try:
        step()
    except Exception as e:  # a failed step leaves its checks unset; the next ones still run
        print("step failed:", step.__name__, repr(e), flush=True)
PY
cat "$T/flows.out"
v() { sed -n "s/^$1=//p" "$T/flows.out" | tail -n 1; }

check_eq "delayed offer: 200 OK with our offer" 200 "$(v delayed.status)"
check_eq "delayed offer: two audio streams offered" 2 "$(v delayed.m)"
check_eq "delayed offer: recvonly" "recvonly,recvonly" "$(v delayed.dirs)"
check_eq "delayed offer: labels" "1,2" "$(v delayed.labels)"
check_eq "delayed offer: real ports" 1 "$(v delayed.ports_ok)"
check_eq "delayed offer: G.729 and telephone-event offered" 1 "$(v delayed.has_g729)"
check_eq "delayed offer: BYE answered" 200 "$(v delayed.bye)"
sid=$(catalog "SELECT id FROM sessions WHERE call_id='delayed-1'")
check_eq "delayed offer: codecs from the ACK's answer in the catalog" "1:PCMA:8 2:PCMU:0" \
	"$(catalog "SELECT label||':'||codec||':'||payload_type FROM streams WHERE session_id=$sid ORDER BY label" | tr '\n' ' ' | sed 's/ $//')"
check_eq "delayed offer: packets received per stream" "1:50 2:30" \
	"$(catalog "SELECT label||':'||packets FROM streams WHERE session_id=$sid ORDER BY label" | tr '\n' ' ' | sed 's/ $//')"

check_eq "offerless re-INVITE: 200 with an offer" 200 "$(v reoffer.status)"
check_eq "offerless re-INVITE: the same port offered" 1 "$(v reoffer.same_port)"
check_eq "offerless re-INVITE: recvonly" recvonly "$(v reoffer.dir)"
check_eq "offerless re-INVITE: BYE answered" 200 "$(v reoffer.bye)"

check_eq "session timer below Min-SE: 422" 422 "$(v timer.low.status)"
check_eq "session timer below Min-SE: Min-SE header" 2 "$(v timer.low.minse)"
check_eq "session timer: 200" 200 "$(v timer.ok.status)"
check_eq "session timer: Session-Expires echoed, SRC refreshes" "2;refresher=uac" "$(v timer.ok.se)"
check_eq "session timer: Require: timer" timer "$(v timer.ok.require)"
check_eq "session timer: refresh answered" 200 "$(v timer.refresh)"
check_eq "session timer: unrefreshed session ended with a BYE" 1 "$(v timer.bye)"
ms=$(v timer.bye_after_refresh_ms)
if [ "$(v timer.bye)" = 1 ] && [ "${ms:-0}" -ge 1500 ]; then ok "the refresh postponed the expiry (BYE ${ms} ms after it)"; else bad "BYE came ${ms} ms after the refresh: the refresh was ignored"; fi
check_eq "session timer: ended as session-expired" session-expired \
	"$(catalog "SELECT end_reason FROM sessions WHERE call_id='timer-ok'")"

check_eq "codec narrowed by re-INVITE: 200" 200 "$(v codec.status)"
check_eq "codec narrowed by re-INVITE: G.722 answered" 9 "$(v codec.pts)"
check_eq "codec narrowed by re-INVITE: catalog follows" G722 \
	"$(catalog "SELECT st.codec FROM streams st JOIN sessions s ON s.id=st.session_id WHERE s.call_id='codec-change'")"

check_eq "re-offer with fewer m= lines: 200" 200 "$(v fewer.status)"
check_eq "re-offer with fewer m= lines: answered as offered" 1 "$(v fewer.m)"
check_eq "re-offer with fewer m= lines: both recordings finalized" 2 \
	"$(catalog "SELECT count(*) FROM recordings r JOIN sessions s ON s.id=r.session_id WHERE s.call_id='fewer-lines' AND r.state='final'")"

check_eq "silence: the vanished SRC's session ended with a BYE" 1 "$(v silence.bye)"
check_eq "silence: ended as silence" silence "$(catalog "SELECT end_reason FROM sessions WHERE call_id='silent'")"
check_eq "silence: the held call survived it" 200 "$(v silence.held_bye)"

stop_siprecd
check_eq "siprecd exit status" 0 "$STOP_RC"

# 7. Streams added by re-INVITE count against the limits (3 per source, 4 per session); 8. at
# most MAX_METADATA_SNAPSHOTS metadata documents are kept per session.
sed -i 's/^MAX_STREAMS_PER_SESSION=.*/MAX_STREAMS_PER_SESSION=4/' "$CONF"
printf 'MAX_STREAMS_PER_SOURCE=3\nMAX_METADATA_SNAPSHOTS=2\n' >>"$CONF"
start_siprecd
SRCDIR=$SRCDIR python3 - "$SIP_PORT" >"$T/flows.out" 2>&1 <<'PY'
import os, sys, time
sys.path.insert(0, os.environ["SRCDIR"] + "/tests/helpers")
from sipua import UA, Call, sdp_media, offer, send_rtp, free_udp_port

ua = UA(int(sys.argv[1]))
def say(k, v): print(f"{k}={v}", flush=True)

def step7():
    c = Call(ua, "streams-limit")
    sp = [free_udp_port() for _ in range(5)]
    lines = [(sp[i], "abcde"[i], [0], "sendonly") for i in range(5)]
    r = c.request("INVITE", offer(lines[:2]))
    say("limit.initial", r.status if r else "timeout")
    m = sdp_media(r.body) if r and r.status == 200 else []
    c.ack()
    send_rtp(m[0]["port"], 0, 30, ssrc=0x11223344, src_port=sp[0])
    r = c.request("INVITE", offer(lines[:4]))
    say("limit.source.status", r.status if r else "timeout")
    say("limit.source.warning", r.header("warning") if r else "-")
    r = c.request("INVITE", offer(lines[:5]))
    say("limit.session.status", r.status if r else "timeout")
    say("limit.session.warning", r.header("warning") if r else "-")
    # the streams recording before the refusals go on, on the same ports (a new SSRC, so
    # that the random first sequence number of this burst cannot look like duplicates)
    send_rtp(m[0]["port"], 0, 40, ssrc=0x55667788, src_port=sp[0])
    r = c.request("INVITE", offer(lines[:3]))
    say("limit.third.status", r.status if r else "timeout")
    m3 = sdp_media(r.body) if r and r.status == 200 else []
    say("limit.third.same_ports", int(len(m3) == 3 and m3[0]["port"] == m[0]["port"]))
    c.ack()
    # the source now holds 3 streams: another session's stream is over the limit
    o = Call(ua, "streams-limit-other")
    r = o.request("INVITE", offer([(free_udp_port(), "x", [0], "sendonly")]))
    say("limit.other.status", r.status if r else "timeout")
    r = c.request("BYE")
    say("limit.bye", r.status if r else "timeout")
    # released once the session is finalized (after its BYE, asynchronously): poll for it
    for i in range(100):
        o = Call(ua, f"streams-limit-after-{i}")
        r = o.request("INVITE", offer(lines[:3]))
        if not r or r.status != 503:
            break
        time.sleep(0.05)
    say("limit.after.status", r.status if r else "timeout")
    if r and r.status == 200:
        o.ack()
        o.request("BYE")

step7()

# 8. An SRC that sends metadata updates without end keeps MAX_METADATA_SNAPSHOTS (2) of them.
def step8():
    c = Call(ua, "snapshots")
    md = ('<?xml version="1.0" encoding="UTF-8"?>\r\n'
          '<recording xmlns="urn:ietf:params:xml:ns:recording:1"><datamode>complete</datamode>'
          '<session session_id="snap-1"/><participant participant_id="alice">'
          '<nameID aor="sip:alice@example.com"><name>Alice</name></nameID></participant>'
          '<stream stream_id="st1" session_id="snap-1"><label>a</label></stream></recording>\r\n')
    body = ("--b1\r\nContent-Type: application/sdp\r\n\r\n"
            + offer([(free_udp_port(), "a", [0], "sendonly")])
            + "--b1\r\nContent-Type: application/rs-metadata+xml\r\n"
            "Content-Disposition: recording-session\r\n\r\n" + md + "--b1--\r\n")
    # step 7's last session gives its streams back once finalized: poll past its 503
    for i in range(100):
        c = Call(ua, "snapshots")
        r = c.request("INVITE", body, ctype="multipart/mixed;boundary=b1",
                      extra="Require: siprec\r\n")
        if not r or r.status != 503:
            break
        time.sleep(0.05)
    say("snap.invite", r.status if r else "timeout")
    c.ack()
    codes = []
    for i in range(3):
        upd = ('<?xml version="1.0" encoding="UTF-8"?>\r\n'
               '<recording xmlns="urn:ietf:params:xml:ns:recording:1"><datamode>partial'
               f'</datamode><participant participant_id="p{i}"><nameID aor="sip:p{i}@example.org">'
               f'<name>P{i}</name></nameID></participant></recording>\r\n')
        r = c.request("UPDATE", upd, ctype="application/rs-metadata+xml",
                      extra="Content-Disposition: recording-session\r\n")
        codes.append(str(r.status) if r else "timeout")
    say("snap.updates", ",".join(codes))
    r = c.request("BYE")
    say("snap.bye", r.status if r else "timeout")

step8()

PY
cat "$T/flows.out"
stop_siprecd
check_eq "siprecd exit status" 0 "$STOP_RC"
check_eq "streams limit: initial INVITE with 2 streams" 200 "$(v limit.initial)"
check_eq "streams limit: re-INVITE to 4 streams refused" 488 "$(v limit.source.status)"
check "streams limit: the Warning names MAX_STREAMS_PER_SOURCE" \
	sh -c "sed -n 's/^limit.source.warning=//p' '$T/flows.out' | grep -q 'MAX_STREAMS_PER_SOURCE'"
check_eq "streams limit: re-INVITE to 5 streams refused" 488 "$(v limit.session.status)"
check "streams limit: the Warning names MAX_STREAMS_PER_SESSION" \
	sh -c "sed -n 's/^limit.session.warning=//p' '$T/flows.out' | grep -q 'MAX_STREAMS_PER_SESSION'"
check_eq "streams limit: re-INVITE to 3 streams accepted" 200 "$(v limit.third.status)"
check_eq "streams limit: the first streams kept their ports" 1 "$(v limit.third.same_ports)"
check_eq "streams limit: another session over the source's 3 streams gets 503" 503 "$(v limit.other.status)"
check_eq "streams limit: BYE" 200 "$(v limit.bye)"
check_eq "streams limit: the charge is released with the session" 200 "$(v limit.after.status)"
sid=$(catalog "SELECT id FROM sessions WHERE call_id='streams-limit'")
check_eq "streams limit: stream a recorded before and after the refusals" 70 \
	"$(catalog "SELECT packets FROM streams WHERE session_id=$sid AND label='a'")"
check_eq "streams limit: three streams in the catalog" 3 \
	"$(catalog "SELECT count(*) FROM streams WHERE session_id=$sid")"

check_eq "snapshots: INVITE with metadata" 200 "$(v snap.invite)"
check_eq "snapshots: every metadata UPDATE answered" "200,200,200" "$(v snap.updates)"
check_eq "snapshots: BYE" 200 "$(v snap.bye)"
check_eq "snapshots: two of four documents kept (MAX_METADATA_SNAPSHOTS=2)" "1,2" \
	"$(catalog "SELECT group_concat(seq, ',') FROM (SELECT m.seq FROM metadata_snapshots m JOIN sessions s ON s.id = m.session_id WHERE s.call_id = 'snapshots' ORDER BY m.seq)")"
check_eq "snapshots: one warning, naming the key" 1 "$(grep -c 'more than MAX_METADATA_SNAPSHOTS=2 metadata documents' "$T/siprecd.log")"
finish
