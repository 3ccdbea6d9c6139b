#!/bin/sh
# SPDX-License-Identifier: MIT
# tools/demo.sh (the README's first command) with DEMO_SKIP_DEPS=1 and HOME in the test's state
# directory: it builds (a no-op here), runs siprecd in the foreground, records the demo call,
# prints the WAV path; the WAV is stereo 8 kHz with the call's 2 s; SIGINT stops siprecd
# cleanly. Run twice: the second run records a second call into the same catalog.
. "$SRCDIR/tests/integration/lib.sh"
need python3 sqlite3
case "$BUILD" in "$SRCDIR/build") ;; *) skip "tools/demo.sh uses build/ (BUILD is $BUILD)" ;; esac

mkdir -p "$T/home"
for run in 1 2; do
	# Its own session (so SIGINT reaches the group, as Ctrl-C would) with SIGINT at its default
	# disposition: a background job of a non-interactive shell starts with it ignored.
	(cd "$SRCDIR" && exec env HOME="$T/home" DEMO_SKIP_DEPS=1 python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.setsid()
os.execvp("sh", ["sh", "tools/demo.sh"])') >"$T/demo$run.log" 2>&1 &
	DEMO=$!
	BG_PIDS="$DEMO"
	if wait_for "$T/demo$run.log" "keeps running on|failed|did not answer|not in the catalog" 120 &&
		grep -q "keeps running on" "$T/demo$run.log"; then
		ok "run $run: demo call recorded"
	else
		bad "run $run: no demo call"
		tail -n 20 "$T/demo$run.log"
	fi
	wav=$(sed -n 's/.*WAV: *\([^ ]*\.wav\).*/\1/p' "$T/demo$run.log")
	check_eq "run $run: WAV stereo 8 kHz" "2 8000" "$(python3 -c "import wave,sys; w=wave.open(sys.argv[1]); print(w.getnchannels(), w.getframerate())" "$wav" 2>&1)"
	# Its length: the legs' packets and first arrivals in the catalog say exactly how many
	# frames (to the millisecond the catalog keeps), not "about 2 s".
	uuid=$(sed -n 's/.*(session \([0-9a-f-]*\)).*/\1/p' "$T/demo$run.log" | tail -n 1)
	db=$(ls "$T"/home/.local/state/siprecd*/catalog.db | head -n 1)
	range=$(python3 "$SRCDIR/tests/helpers/expected-frames.py" "$db" "$uuid" 2>&1)
	frames=$(python3 -c "import wave,sys; print(wave.open(sys.argv[1]).getnframes())" "$wav" 2>&1)
	if [ -n "$frames" ] && [ "$frames" -ge "${range% *}" ] 2>/dev/null && [ "$frames" -le "${range#* }" ]; then
		ok "run $run: WAV has $frames frames (catalog: $range)"
	else
		bad "run $run: WAV has '$frames' frames, the catalog says '$range'"
	fi
	case "$wav" in "$T/home/.local/state/siprecd"*) ok "run $run: WAV under ~/.local/state/siprecd" ;; *) bad "run $run: WAV at '$wav'" ;; esac
	# Ctrl-C: SIGINT to the demo's process group (setsid made it its own).
	python3 -c 'import os, signal, sys; os.killpg(int(sys.argv[1]), signal.SIGINT)' "$DEMO"
	i=0
	while kill -0 "$DEMO" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	check "run $run: stopped by SIGINT" sh -c "! kill -0 $DEMO 2>/dev/null"
	check "run $run: siprecd stopped gracefully" grep -q "received Interrupt, stopping" "$T/demo$run.log"
	BG_PIDS=""
done
n=0
for db in "$T"/home/.local/state/siprecd*/catalog.db; do
	n=$((n + $(sqlite3 "$db" "SELECT count(*) FROM sessions WHERE state = 'ended'")))
done
check_eq "demo calls recorded in all" 2 "$n"
finish
