#!/bin/sh
# SPDX-License-Identifier: MIT
# The README's first command: installs the dependencies (Debian 12, as root), builds, and runs
# siprecd in the foreground with its built-in defaults (no configuration file; state under
# ~/.local/state/siprecd). Once it is ready, a demo call is recorded in the background
# (siprec-src: SRTP, two streams from tests/data/audio/speech-stereo-8k.wav), exported to a WAV
# whose path is printed; siprecd keeps running until Ctrl-C. Safe to run again.
#   tools/demo.sh            (DEMO_SKIP_DEPS=1 skips tools/install-deps.sh)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

say() { printf '\033[1mdemo:\033[0m %s\n' "$*" >&2; }

if [ -z "${DEMO_SKIP_DEPS:-}" ]; then
	if [ "$(id -u)" = 0 ]; then
		say "installing build and runtime dependencies (tools/install-deps.sh)"
		tools/install-deps.sh
	else
		say "not root: skipping tools/install-deps.sh (run it as root once if the build fails)"
	fi
fi

say "building (./configure && make)"
[ -f build/config.mk ] && [ build/config.mk -nt configure ] || ./configure
make -j"$(nproc)" all

# Built-in defaults, nothing from a file or from a systemd environment.
unset STATE_DIRECTORY RUNTIME_DIRECTORY CONFIGURATION_DIRECTORY CREDENTIALS_DIRECTORY \
	NOTIFY_SOCKET LISTEN_FDS LISTEN_PID LISTEN_FDNAMES WATCHDOG_USEC INVOCATION_ID || true
NOCONF=$(mktemp /tmp/siprecd-demo-conf.XXXXXX)
STATE=${XDG_STATE_HOME:-$HOME/.local/state}/siprecd
OUT=$STATE/demo
mkdir -p "$OUT"

# 5060 is the default; if another siprecd (an earlier demo still running) or a SIP server holds
# it, take a free port instead so a second run still works.
port_free() {
	python3 - "$1" <<'PY'
import socket, sys
p = int(sys.argv[1])
for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        sys.exit(1)
    finally:
        s.close()
PY
}
PORT=5060
if ! port_free 5060 || ! port_free 5061; then
	PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	# Never two daemons on one state directory: the second would take the first's open
	# sessions for a crash's.
	STATE=$STATE-demo-$PORT
	OUT=$STATE/demo
	mkdir -p "$OUT"
	say "port 5060 is busy (an earlier siprecd?): this run uses SIP port $PORT, TLS port" \
		"$((PORT + 1)) and the state directory $STATE"
	export SIP_PORT=$PORT TLS_PORT=$((PORT + 1)) STATE_DIRECTORY=$STATE
fi

# Waits until siprecd answers OPTIONS, then records, exports and reports the demo call.
demo_call() {
	i=0
	until python3 - "$PORT" <<'PY' >/dev/null 2>&1; do
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.3)
s.bind(("127.0.0.1", 0)); lp = s.getsockname()[1]
m = ("OPTIONS sip:srs@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKdemo\r\n"
     "From: <sip:demo@127.0.0.1>;tag=d\r\nTo: <sip:srs@127.0.0.1>\r\nCall-ID: demo-probe\r\n"
     "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n" % lp)
s.sendto(m.encode(), ("127.0.0.1", int(sys.argv[1])))
sys.exit(0 if s.recv(65536).startswith(b"SIP/2.0 200") else 1)
PY
		i=$((i + 1))
		if [ $i -ge 100 ]; then
			say "siprecd did not answer OPTIONS on 127.0.0.1:$PORT; no demo call"
			return 1
		fi
		sleep 0.2
	done
	say "siprecd is up: recording a 2 s demo call (SRTP, two streams: speech-stereo-8k.wav)"
	json=$OUT/last-call.json
	if ! build/siprec-src -q -s 127.0.0.1:"$PORT" --labels caller,callee \
		--aor-a sip:alice@demo.example --aor-b sip:bob@demo.example \
		--wav tests/data/audio/speech-stereo-8k.wav --json >"$json"; then
		say "the demo call failed: $(cat "$json")"
		return 1
	fi
	call_id=$(sed -n 's/.*"call_id":"\([^"]*\)".*/\1/p' "$json")
	# The catalog thread finalizes recordings just behind the BYE.
	i=0
	while :; do
		uuid=$(sqlite3 "$STATE/catalog.db" "SELECT uuid FROM sessions WHERE call_id = '$call_id'
			AND state = 'ended' AND NOT EXISTS (SELECT 1 FROM recordings r WHERE
			r.session_id = sessions.id AND r.state != 'final')" 2>/dev/null || true)
		[ -n "$uuid" ] && break
		i=$((i + 1))
		[ $i -lt 100 ] || { say "the demo call is not in the catalog"; return 1; }
		sleep 0.1
	done
	wav=$OUT/$uuid.wav
	if build/siprec-export -c "$NOCONF" --session "$uuid" --catalog "$STATE/catalog.db" \
		-o "$wav" >/dev/null; then
		say "recorded and exported the demo call (session $uuid):"
		say "  WAV:        $wav   (left: caller, right: callee)"
		say "  recordings: $(sqlite3 "$STATE/catalog.db" "SELECT group_concat(path, ' ') FROM recordings r JOIN sessions s ON s.id = r.session_id WHERE s.uuid = '$uuid'")"
		say "  catalog:    sqlite3 $STATE/catalog.db 'SELECT * FROM session_overview'"
		say "siprecd keeps running on 127.0.0.1:$PORT; Ctrl-C stops it"
	else
		say "siprec-export failed for session $uuid"
		return 1
	fi
}

demo_call &
DEMO_PID=$!
trap 'kill $DEMO_PID 2>/dev/null || true; rm -f "$NOCONF"' EXIT
trap 'exit 130' INT TERM
say "starting build/siprecd (built-in defaults, state in $STATE); Ctrl-C stops it"
# An empty configuration file: the built-in defaults, whatever /etc/siprecd holds.
build/siprecd --config "$NOCONF" || true
