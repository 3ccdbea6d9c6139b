#!/bin/sh
# SPDX-License-Identifier: MIT
# Webhooks (docs/WEBHOOKS.md) against real HTTP receivers started here
# (tests/helpers/webhook-receiver.py, which verifies the HMAC-SHA256 signature as the docs tell a
# receiver to). One call; receiver 1 answers 500 to its first requests (retried with backoff,
# then delivered), receiver 2 is down during the call and the daemon is restarted with its
# events still in the outbox: after the restart it gets every event, with the same event ids
# as receiver 1 (none lost; a repeat only with the same id). Holds and an erasure made by
# siprecctl (another process) reach both through the compliance trail. Hostile receivers: a 200
# with a 1 GiB body is delivered (the body is not read past a bound), garbage and a head that
# never ends (slow or fast) are failed with a reason naming them and retried. A secret file others can read is
# refused at start.
. "$SRCDIR/tests/integration/lib.sh"
need sipp python3 sqlite3 jq

PCAPS=$SRCDIR/tests/data/pcap
SCN=$SRCDIR/tests/integration/scenarios
RECV="python3 $SRCDIR/tests/helpers/webhook-receiver.py"
cp "$PCAPS/tone440-pcmu.pcap" "$T/a.pcap"
cp "$PCAPS/tone660-pcmu.pcap" "$T/b.pcap"

SECRET=$T/webhook.secret
(umask 077 && openssl rand -hex 32 >"$SECRET")
P1=$(free_port)
P2=$(free_port)
U1=http://127.0.0.1:$P1/hook
U2=http://127.0.0.1:$P2/hook
cat >>"$CONF" <<CFG
WEBHOOK_URLS=$U1, $U2
WEBHOOK_SECRET_FILE=$SECRET
WEBHOOK_TIMEOUT=2s
WEBHOOK_RETRY_MIN=50ms
WEBHOOK_RETRY_MAX=400ms
CFG

# delivered LOG: distinct event ids the receiver accepted (204).
delivered() { jq -r 'select(.status == 204) | .id' "$1" 2>/dev/null | sort -u; }
# wait_delivered LOG N: until the receiver accepted N distinct events (20 s at most).
wait_delivered() {
	i=0
	while [ $i -lt 400 ]; do
		[ "$(delivered "$1" | wc -l)" -ge "$2" ] && return 0
		sleep 0.05
		i=$((i + 1))
	done
	return 1
}
pending() { catalog "SELECT count(*) FROM webhook_outbox WHERE url = '$1' AND delivered_at IS NULL"; }

$RECV "$P1" "$SECRET" "$T/r1.log" 3 &
R1=$!
BG_PIDS="$BG_PIDS $R1"
start_siprecd

if sipp_run basic -sf "$SCN/siprec-basic.xml" -m 1 -cid_str "hook-%u-%p@%s" -key tools "$PCAPS"; then
	ok "call: sipp scenario passed"
else
	bad "call: sipp scenario failed"
fi
# session.started, two recording.finalized, session.ended
if wait_delivered "$T/r1.log" 4; then ok "receiver 1: 4 events delivered"; else bad "receiver 1: $(delivered "$T/r1.log" | wc -l) events delivered, want 4"; fi
check_eq "receiver 1: the first 3 requests answered 500" "500 500 500" \
	"$(jq -r '.status' "$T/r1.log" | head -n 3 | tr '\n' ' ' | sed 's/ $//')"
check_eq "receiver 1: no request with a bad signature or event id" 0 \
	"$(jq -r 'select(.sig_ok != true or .id != .header_id) | .id' "$T/r1.log" | wc -l)"
check_eq "receiver 1: event types" "recording.finalized recording.finalized session.ended session.started" \
	"$(jq -r 'select(.status == 204 and (.type | startswith("session.") or startswith("recording.f"))) | .id + " " + .type' "$T/r1.log" | sort -u | cut -d' ' -f2 | sort | tr '\n' ' ' | sed 's/ $//')"
u=$(catalog "SELECT uuid FROM sessions WHERE call_id LIKE 'hook-%'")
check_eq "session.started names the catalog's session" "$u" \
	"$(jq -r 'select(.status == 204 and .type == "session.started") | .data.session_id' "$T/r1.log" | head -n 1)"
check_eq "session.ended says why" "bye" \
	"$(jq -r 'select(.status == 204 and .type == "session.ended") | .data.reason' "$T/r1.log" | head -n 1)"
check_eq "recording.finalized carries the catalog's sha256 of each recording" \
	"$(catalog "SELECT r.uuid || ' ' || r.sha256 FROM recordings r JOIN sessions s ON s.id = r.session_id WHERE s.uuid = '$u' ORDER BY 1")" \
	"$(jq -r 'select(.status == 204 and .type == "recording.finalized") | .data.recording_id + " " + .data.sha256' "$T/r1.log" | sort -u)"
# The compliance trail, written by siprecctl from another process: a hold placed and released,
# then the erasure of Alice's recordings (both of the call).
CTL="$BUILD/siprecctl"
DB=$T/state/catalog.db
check "siprecctl hold add" "$CTL" hold add --session "$u" --case CASE-7 --catalog "$DB"
hold=$(catalog "SELECT max(id) FROM legal_holds")
check "siprecctl hold release" "$CTL" hold release "$hold" --reason "case closed" --catalog "$DB"
check "siprecctl erase" "$CTL" erase --aor sip:alice@example.com --catalog "$DB"
if wait_delivered "$T/r1.log" 8; then ok "receiver 1: 8 events delivered"; else bad "receiver 1: $(delivered "$T/r1.log" | wc -l) events delivered, want 8"; fi
check_eq "hold.placed and hold.released name the hold" "hold.placed $hold held hold.released $hold released" \
	"$(jq -r 'select(.status == 204 and (.type | startswith("hold."))) | .type + " " + (.data.hold_id | tostring) + " " + .data.action' "$T/r1.log" | sort -u | tr '\n' ' ' | sed 's/ $//')"
check_eq "recording.deleted for each erased recording, with its sha256" \
	"$(catalog "SELECT r.uuid || ' erased ' || r.sha256 FROM recordings r JOIN sessions s ON s.id = r.session_id WHERE s.uuid = '$u' ORDER BY 1")" \
	"$(jq -r 'select(.status == 204 and .type == "recording.deleted") | .data.recording_id + " " + .data.action + " " + .data.sha256' "$T/r1.log" | sort -u)"
check "a 500 is retried: a row of receiver 1 took more than one attempt" \
	test "$(catalog "SELECT max(attempts) FROM webhook_outbox WHERE url = '$U1'")" -gt 1
check_eq "receiver 1: nothing left pending" 0 "$(pending "$U1")"
# Receiver 2 is down: its events wait in the outbox, with the failure recorded (after a failure
# the URL's other pending events wait with the failed one, so at least one was attempted).
i=0
while [ "$(catalog "SELECT count(*) FROM webhook_outbox WHERE url = '$U2' AND last_error IS NOT NULL")" = 0 ] && [ $i -lt 200 ]; do
	sleep 0.05
	i=$((i + 1))
done
check_eq "receiver 2 down: its 8 events pending, the failure recorded" "8 1" \
	"$(catalog "SELECT count(*) || ' ' || (max(attempts) > 0 AND count(last_error) > 0) FROM webhook_outbox WHERE url = '$U2' AND delivered_at IS NULL")"
stop_siprecd
check_eq "daemon stopped cleanly" 0 "$STOP_RC"
check_eq "after the stop: receiver 2's events still in the outbox" 8 "$(pending "$U2")"

# Receiver 2 comes up, the daemon restarts: the outbox is delivered.
$RECV "$P2" "$SECRET" "$T/r2.log" &
BG_PIDS="$BG_PIDS $!"
start_siprecd
if wait_delivered "$T/r2.log" 8; then ok "after the restart: receiver 2 got its events"; else bad "receiver 2: $(delivered "$T/r2.log" | wc -l) events delivered, want 8"; fi
check_eq "receiver 2: the same event ids as receiver 1 (none lost, none new)" \
	"$(delivered "$T/r1.log" | tr '\n' ' ')" "$(delivered "$T/r2.log" | tr '\n' ' ')"
check_eq "receiver 2: no request with a bad signature" 0 \
	"$(jq -r 'select(.sig_ok != true) | .id' "$T/r2.log" | wc -l)"
check_eq "one type per event id over every request (repeats carry the same event)" 0 \
	"$(cat "$T/r1.log" "$T/r2.log" | jq -r '.id + " " + .type' | sort -u | cut -d' ' -f1 | uniq -d | wc -l)"
i=0
while [ "$(pending "$U2")" != 0 ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
check_eq "outbox: nothing pending" 0 "$(catalog "SELECT count(*) FROM webhook_outbox WHERE delivered_at IS NULL")"
stop_siprecd

# Hostile receivers (tests/helpers/webhook-hostile.py): one answers 200 with a 1 GiB body, one
# answers garbage that is not HTTP, one begins a 200 whose head never ends (a line every 0.5 s),
# one sends header lines without end as fast as it can. The first is delivered at once (its
# status read, its body not past siprecd's bound: the connection is closed); the others are
# failed with a reason that names what was wrong, and retried.
HOSTILE="python3 $SRCDIR/tests/helpers/webhook-hostile.py"
P3=$(free_port)
P4=$(free_port)
P5=$(free_port)
P6=$(free_port)
U3=http://127.0.0.1:$P3/hook
U4=http://127.0.0.1:$P4/hook
U5=http://127.0.0.1:$P5/hook
U6=http://127.0.0.1:$P6/hook
$HOSTILE huge "$P3" "$T/r3.log" &
BG_PIDS="$BG_PIDS $!"
$HOSTILE garbage "$P4" "$T/r4.log" &
BG_PIDS="$BG_PIDS $!"
$HOSTILE endless "$P5" "$T/r5.log" &
BG_PIDS="$BG_PIDS $!"
$HOSTILE hugehead "$P6" "$T/r6.log" &
BG_PIDS="$BG_PIDS $!"
sed -i "s|^WEBHOOK_URLS=.*|WEBHOOK_URLS=$U3, $U4, $U5, $U6|" "$CONF"
start_siprecd
check "siprecctl hold add (an event for the hostile receivers)" \
	"$CTL" hold add --session "$u" --case CASE-8 --catalog "$DB"
row() { catalog "SELECT $2 FROM webhook_outbox WHERE url = '$1' AND event_type = 'hold.placed' ORDER BY id DESC LIMIT 1"; }
i=0
while [ $i -lt 300 ] && { [ "$(row "$U4" "attempts >= 3")" != 1 ] || [ "$(row "$U5" "attempts >= 2")" != 1 ] ||
	[ "$(row "$U6" "attempts >= 2")" != 1 ]; }; do
	sleep 0.1
	i=$((i + 1))
done
check_eq "a 200 with a 1 GiB body is delivered at its first attempt" "1 200 1" \
	"$(row "$U3" "attempts || ' ' || last_status || ' ' || (delivered_at IS NOT NULL)")"
check "...its body read only up to the bound: the connection closed well before 1 GiB" \
	test "$(jq -s 'map(.sent) | max' "$T/r3.log")" -lt 16777216
check_eq "garbage: pending, retried" "0 1" "$(row "$U4" "(delivered_at IS NOT NULL) || ' ' || (attempts >= 3)")"
check "...its reason says the answer is not HTTP" sh -c "echo '$(row "$U4" last_error)' | grep -q '^the answer is not HTTP: '"
check_eq "a head that never ends: pending, retried" "0 1" "$(row "$U5" "(delivered_at IS NOT NULL) || ' ' || (attempts >= 2)")"
check "...its reason names the timeout" sh -c "echo '$(row "$U5" last_error)' | grep -q '^no whole answer within 2000 ms (WEBHOOK_TIMEOUT): '"
check_eq "a head without end: pending, retried" "0 1" "$(row "$U6" "(delivered_at IS NOT NULL) || ' ' || (attempts >= 2)")"
check "...its reason names libcurl's bound of a head (not the timeout)" sh -c "echo \"$(row "$U6" last_error)\" | grep -q '^Too large response headers'"
check "...and the next attempt waits (backoff), at most WEBHOOK_RETRY_MAX" \
	test "$(row "$U4" "next_attempt_at - last_attempt_at BETWEEN 50 AND 400")" = 1
catalog "SELECT url || ': attempts ' || attempts || ', status ' || coalesce(last_status, '-') || ', ' || coalesce(last_error, 'delivered') FROM webhook_outbox WHERE event_type = 'hold.placed' AND url IN ('$U3', '$U4', '$U5', '$U6')" | sed 's/^/# /'
stop_siprecd

# A secret others can read is refused, naming the problem (and not printing the secret).
chmod 0644 "$SECRET"
timeout 10 "$SIPRECD" --config "$CONF" >"$T/refused.log" 2>&1
rc=$?
check "a world-readable WEBHOOK_SECRET_FILE stops the start" test "$rc" -ne 0 -a "$rc" -ne 124
check "the error names the secret file's mode" grep -q "readable or writable by others" "$T/refused.log"
check "the secret is not logged" test "$(grep -c -F "$(cat "$SECRET")" "$T/refused.log" "$T/siprecd.log" | awk -F: '{s += $2} END {print s}')" -eq 0
kill "$R1"
finish
