#!/bin/sh
# SPDX-License-Identifier: MIT
# CI smoke version of bench/capacity.sh: 20 SRTP calls (2 streams, 50 packets/s each) held 5 s,
# siprecd on CPU 0 and siprec-src on CPU 1 in a private network namespace where possible.
# Asserts only correctness: zero loss (siprec-src's sent counts == the catalog's per-stream
# counts == the frames in the recordings, no kernel UDP receive errors, clean exit). The figures
# are printed, never asserted. Exit 77 when a tool or the second CPU is missing.
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
out=$(sh "$SRCDIR/bench/capacity.sh" --smoke --calls "${SMOKE_CALLS:-20}" --hold "${SMOKE_HOLD:-5}" 2>&1)
rc=$?
echo "$out"
[ $rc -eq 77 ] && exit 77
if [ $rc -eq 0 ] && echo "$out" | grep -q '^RESULT siprecd largest loss-free load: '"${SMOKE_CALLS:-20}"' calls'; then
	echo "ok - zero loss at ${SMOKE_CALLS:-20} calls"
	exit 0
fi
echo "not ok - loss or failure at the smoke load (capacity.sh exit $rc)"
exit 1
