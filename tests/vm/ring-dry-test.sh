#!/bin/bash
# SPDX-License-Identifier: MIT
# ring-dry-test.sh - the media workers' receive ring running dry, on the kernel Debian 12 ships
# (6.1): boots the VM (tests/vm/run-in-vm.sh) with build/siprecd and build/siprec-src and runs
# tests/vm/ring-dry-init.sh there (SRTP calls over UDP, siprecd stopped mid-call so more
# datagrams wait than the rings have buffers; asserts the rings ran dry and no packet was lost).
# The host's kernel runs the same check faster in tests/integration/media-ring-dry.sh; 6.1
# completes a socket's queued datagrams differently (all at once when its task runs), which is
# why this one exists.
# Exit: 0 pass, 1 failure, 124 timeout. No skip: a VM that cannot start is a failure.
#
# Usage: tests/vm/ring-dry-test.sh [run-in-vm.sh options...]
#   BUILD=dir (default build); KTLS_TEST_NO_BUILD=1 uses the programs as built.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
if [ "${KTLS_TEST_NO_BUILD:-0}" != 1 ]; then
    make -s "$BUILD/siprecd" "$BUILD/siprec-src" >&2
fi
for p in siprecd siprec-src; do
    [ -x "$BUILD/$p" ] || { echo "ring-dry-test: $BUILD/$p not built" >&2; exit 1; }
done
for t in jq sqlite3; do
    command -v "$t" >/dev/null || { echo "ring-dry-test: $t not installed (tools/install-deps.sh)" >&2; exit 1; }
done
set +e
tests/vm/run-in-vm.sh -m 768M "$@" tests/vm/ring-dry-init.sh tests/vm/init-lib.sh \
    "$BUILD/siprecd" "$BUILD/siprec-src" "$(command -v jq)" "$(command -v sqlite3)"
rc=$?
set -e
case $rc in
0) echo "== VM: the receive rings ran dry and nothing was lost" ;;
124) echo "== VM: TIMEOUT"; exit 124 ;;
125) echo "== VM: FAILED: the VM could not start or ended without the test's exit status (125)"; exit 1 ;;
*) echo "== VM: FAILED (exit $rc)"; exit 1 ;;
esac
exit 0
