# SPDX-License-Identifier: MIT
# Shared by the VM tests' init scripts (busybox sh inside the VM, sourced from /testdir, where
# the test wrappers copy it): counted checks and siprecd's start.
fails=0
ok() { echo "ok - $*"; }
bad() { echo "not ok - $*"; fails=$((fails + 1)); }

# start_siprecd CONF LOG: starts ./siprecd (its PID in PID) and waits up to 60 s for "siprecd
# ready" in LOG; exits 1, printing LOG, if it dies or does not get there.
start_siprecd() {
	./siprecd --config "$1" >"$2" 2>&1 &
	PID=$!
	i=0
	while ! grep -q 'siprecd ready' "$2" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 600 ] || ! kill -0 $PID 2>/dev/null; then
			echo "siprecd did not start"; cat "$2"; exit 1
		fi
		sleep 0.1
	done
}
