#!/bin/sh
# SPDX-License-Identifier: MIT
# SIGHUP reloads the configuration for real. An invalid file (an unknown key, a bad LOG_LEVEL)
# is refused: each problem is logged, the running configuration stays (debug logging goes on),
# READY=1 follows RELOADING=1 and STATUS= says the reload failed. A valid file applies LOG_LEVEL
# (debug lines stop) and MAX_METADATA_SIZE (an INVITE with 7 KB of metadata now gets 413),
# while a changed SIP_PORT is warned about and the old port keeps serving. A TLS certificate
# that does not load is a partial failure: its TLS_* keys keep their previous values and SIPS
# keeps serving the old certificate.
. "$SRCDIR/tests/integration/lib.sh"
need sipp python3 openssl

SCN=$SRCDIR/tests/integration/scenarios
# The base file without LOG_LEVEL, so the variants below set it exactly once.
grep -v '^LOG_LEVEL=' "$CONF" >"$T/base.conf"
{ cat "$T/base.conf"; echo LOG_LEVEL=debug; } >"$CONF"

# Sends a malformed varlink message to the control socket and waits until siprecd hangs up:
# at LOG_LEVEL=debug that logs "control: malformed message" before the close.
poke_control() {
	python3 - "$T/run/control" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(b"this is not json\0")
while s.recv(4096):
    pass
PY
}
# Lines of the daemon log after line $1.
log_since() { tail -n +$(($1 + 1)) "$T/siprecd.log"; }
# reload: SIGHUP, then waits for the READY=1 that follows the Nth RELOADING=1.
reloads=0
reload() {
	reloads=$((reloads + 1))
	mark=$(wc -l <"$T/siprecd.log")
	kill -HUP "$DAEMON_PID"
	i=0
	while [ "$(grep -c 'RELOADING=1' "$T/notify.log")" -lt $reloads ] ||
		[ "$(awk -v n=$reloads '/RELOADING=1/ { r++ } r >= n && /READY=1/ { c++ } END { print c + 0 }' "$T/notify.log")" -lt 1 ]; do
		[ $i -ge 200 ] && { bad "reload $reloads: no READY=1 after RELOADING=1"; return 1; }
		sleep 0.05
		i=$((i + 1))
	done
	ok "reload $reloads: RELOADING=1 then READY=1"
	# The READY=1 line carries the STATUS= the supervisor shows.
	STATUS=$(awk -v n=$reloads '/RELOADING=1/ { r++ } r >= n && /READY=1/ { s = $0 } END { print s }' "$T/notify.log")
}

start_siprecd
mark=$(wc -l <"$T/siprecd.log")
poke_control
check "LOG_LEVEL=debug at start: the malformed control message is logged" sh -c "tail -n +$((mark + 1)) '$T/siprecd.log' | grep -q 'control: malformed message'"

# ---- an invalid file: nothing changes
{ cat "$T/base.conf"; echo NO_SUCH_KEY=1; echo LOG_LEVEL=bogus; } >"$CONF"
reload
log_since "$mark" >"$T/reload1.log"
check "invalid: the unknown key is logged as an error" grep -q "err.*configuration reload: .*unknown key 'NO_SUCH_KEY'" "$T/reload1.log"
check "invalid: the bad LOG_LEVEL is logged as an error" grep -q "err.*configuration reload: .*LOG_LEVEL: 'bogus' is not a log level" "$T/reload1.log"
check "invalid: config-reloaded audit event says RESULT=invalid" grep -q 'SIPREC_EVENT=config-reloaded.*RESULT=invalid' "$T/reload1.log"
check "invalid: nothing is reported as applied" sh -c "! grep -q 'applied' '$T/reload1.log'"
case "$STATUS" in *"reload failed: 2 problems"*) ok "invalid: STATUS= says the reload failed ($STATUS)" ;; *) bad "invalid: STATUS= does not say the reload failed: $STATUS" ;; esac
mark=$(wc -l <"$T/siprecd.log")
poke_control
check "invalid: the running LOG_LEVEL=debug is kept (malformed message still logged)" sh -c "tail -n +$((mark + 1)) '$T/siprecd.log' | grep -q 'control: malformed message'"

# ---- a valid file: LOG_LEVEL and MAX_METADATA_SIZE apply, SIP_PORT waits for a restart
NEW_PORT=$(free_port)
{ sed "s/^SIP_PORT=.*/SIP_PORT=$NEW_PORT/" "$T/base.conf"; echo LOG_LEVEL=notice; echo MAX_METADATA_SIZE=4096; } >"$CONF"
reload
log_since "$mark" >"$T/reload2.log"
check "valid: config-reloaded audit event says RESULT=applied" grep -q 'SIPREC_EVENT=config-reloaded.*RESULT=applied' "$T/reload2.log"
check "valid: a warning names SIP_PORT as needing a restart" grep -q 'warning: configuration reload: SIP_PORT changed but needs a restart' "$T/reload2.log"
check "valid: LOG_LEVEL and MAX_METADATA_SIZE are not warned about" sh -c "! grep -qE 'warning: .*(LOG_LEVEL|MAX_METADATA_SIZE)' '$T/reload2.log'"
case "$STATUS" in *"reload failed"*) bad "valid: STATUS= still says failed: $STATUS" ;; *"1 changed setting waits for a restart"*) ok "valid: STATUS= says one setting waits for a restart ($STATUS)" ;; *) bad "valid: STATUS= $STATUS" ;; esac
mark=$(wc -l <"$T/siprecd.log")
poke_control
check "valid: LOG_LEVEL=notice applied (no debug line for the malformed message)" sh -c "! tail -n +$((mark + 1)) '$T/siprecd.log' | grep -q 'debug:'"
# siprec-413.xml passes only on a 413 with a Warning: 7 KB of metadata is over the new 4096.
check "valid: MAX_METADATA_SIZE=4096 applied (413 for 7 KB of metadata), on the old SIP_PORT" sipp_run r413 -sf "$SCN/siprec-413.xml" -m 1 -cid_str "r413-%u-%p@%s"

# ---- back to the start values: the warning is gone from STATUS=
{ cat "$T/base.conf"; echo LOG_LEVEL=debug; } >"$CONF"
reload
case "$STATUS" in *reload* | *restart*) bad "restored: STATUS= still carries a reload note: $STATUS" ;; *) ok "restored: STATUS= without a reload note ($STATUS)" ;; esac

# ---- a certificate that does not load: the TLS group is kept, the rest applies
echo "not a certificate" >"$T/bad.pem"
{ cat "$T/base.conf"; echo LOG_LEVEL=info; echo "TLS_CERT_PATH=$T/bad.pem"; echo "TLS_KEY_PATH=$T/bad.pem"; } >"$CONF"
reload
log_since "$mark" >"$T/reload4.log"
check "bad certificate: the error names TLS_CERT_PATH and says the previous values stay" grep -q "err.*configuration reload: TLS_CERT_PATH.*TLS_CERT_PATH $T/bad.pem.*previous values are kept" "$T/reload4.log"
check "bad certificate: RESULT=partial" grep -q 'SIPREC_EVENT=config-reloaded.*RESULT=partial' "$T/reload4.log"
check "bad certificate: LOG_LEVEL=info still applied" grep -q 'configuration reload: LOG_LEVEL applied' "$T/reload4.log"
case "$STATUS" in *"reload partly failed: 1 setting group kept"*) ok "bad certificate: STATUS= says so ($STATUS)" ;; *) bad "bad certificate: STATUS= $STATUS" ;; esac
echo | timeout 10 openssl s_client -connect "127.0.0.1:$TLS_PORT" >"$T/sclient.out" 2>&1
check "bad certificate: SIPS still serves the generated certificate" grep -q 'CN *= *siprecd' "$T/sclient.out"
# The running configuration kept the old TLS values: going back to them changes nothing.
{ cat "$T/base.conf"; echo LOG_LEVEL=info; } >"$CONF"
reload
log_since "$mark" >"$T/reload5.log"
check "back to the old certificate: nothing to apply (the failed values were never taken)" sh -c "! grep -q 'configuration reload: [A-Z_]* applied$' '$T/reload5.log'"
check "back to the old certificate: RESULT=applied" grep -q 'SIPREC_EVENT=config-reloaded.*RESULT=applied' "$T/reload5.log"

stop_siprecd
check_eq "exit status" 0 "$STOP_RC"
finish
