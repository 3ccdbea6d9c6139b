#!/bin/sh
# SPDX-License-Identifier: MIT
# The web console in one command: tools/demo.sh builds, starts siprecd and records a demo call;
# then siprec-web starts on 127.0.0.1:${WEB_PORT:-8480} over the same state directory and this
# prints the URL and a one-time admin password. Ctrl-C stops both. See docs/WEB.md.
set -eu
cd "$(dirname "$0")/.."

say() { printf '\033[1mweb-demo:\033[0m %s\n' "$*" >&2; }
LOG=$(mktemp /tmp/siprec-web-demo.XXXXXX)
NOCONF=$(mktemp /tmp/siprec-web-demo-conf.XXXXXX)
sh tools/demo.sh >"$LOG" 2>&1 &
DEMO=$!
trap 'kill $DEMO 2>/dev/null || true; rm -f "$LOG" "$NOCONF"' EXIT
trap 'exit 130' INT TERM

say "recording a demo call with tools/demo.sh (log: $LOG)"
i=0
until grep -q "keeps running on" "$LOG"; do
	if ! kill -0 $DEMO 2>/dev/null || grep -qE "failed|not in the catalog|did not answer" "$LOG"; then
		cat "$LOG" >&2
		say "tools/demo.sh failed"
		exit 1
	fi
	i=$((i + 1))
	[ $i -lt 3000 ] || { cat "$LOG" >&2; say "no demo call after 300 s"; exit 1; }
	sleep 0.1
done
catalog=$(sed -n "s/.*catalog: *sqlite3 \([^ ]*\) .*/\1/p" "$LOG" | tail -n 1)
[ -n "$catalog" ] || { cat "$LOG" >&2; say "cannot find the catalog in the demo's output"; exit 1; }
state=$(dirname "$catalog")

# siprecd's built-in defaults over its state directory, as the demo runs it.
unset RUNTIME_DIRECTORY CONFIGURATION_DIRECTORY CREDENTIALS_DIRECTORY
export STATE_DIRECTORY="$state"
users=$state/web-users
pw=$(build/siprec-web --users "$users" --create-admin | sed -n 's/.*one-time password: //p')
port=${WEB_PORT:-8480}
say "siprec-web: open http://127.0.0.1:$port/ and log in as admin with the one-time password:"
say "    $pw"
say "the demo call is at the top of the calls list; Ctrl-C stops siprec-web and siprecd"
build/siprec-web --config "$NOCONF" --catalog "$catalog" --users "$users" \
	--listen "127.0.0.1:$port" || true
