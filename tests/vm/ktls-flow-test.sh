#!/bin/bash
# SPDX-License-Identifier: MIT
# ktls-flow-test.sh - siprecd's SIP backpressure on kernel TLS: boots the kTLS VM
# (tests/vm/run-in-vm.sh) with build/siprecd, build/siprec-src and the sip-tls-pipeline helper
# and runs tests/vm/ktls-flow-init.sh there (a TLS 1.3 connection of calls throttled and read
# again with no call lost; pipelined OPTIONS over TLS 1.2 and 1.3 throttled while siprecd's
# kernel-TLS sends meet a full socket, all answered; a TLS peer that never reads closed as
# stalled; peers that half-close, by close_notify or by a FIN alone, all answered). The host has no kTLS: sip-slow-reader and tls-backpressure test the OpenSSL path.
# Exit: 0 pass, 1 failure, 124 timeout. No skip: a VM that cannot start is a failure.
#
# Usage: tests/vm/ktls-flow-test.sh [run-in-vm.sh options...]
#   BUILD=dir (default build); KTLS_TEST_NO_BUILD=1 uses the programs as built.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
HELPER=$BUILD/tests/helpers/sip-tls-pipeline
if [ "${KTLS_TEST_NO_BUILD:-0}" != 1 ]; then
    make -s "$BUILD/siprecd" "$BUILD/siprec-src" "$HELPER" >&2
fi
for p in "$BUILD/siprecd" "$BUILD/siprec-src" "$HELPER"; do
    [ -x "$p" ] || { echo "ktls-flow-test: $p not built" >&2; exit 1; }
done
for t in jq sqlite3; do
    command -v "$t" >/dev/null || { echo "ktls-flow-test: $t not installed (tools/install-deps.sh)" >&2; exit 1; }
done
set +e
tests/vm/run-in-vm.sh -m 768M "$@" tests/vm/ktls-flow-init.sh tests/vm/init-lib.sh \
    "$BUILD/siprecd" "$BUILD/siprec-src" "$HELPER" "$(command -v jq)" "$(command -v sqlite3)"
rc=$?
set -e
case $rc in
0) echo "== VM: kernel-TLS connections throttled and read again, nothing lost; the non-reader closed" ;;
77) echo "== VM: FAILED: the test reports kTLS unavailable in the kTLS VM (exit 77)"; exit 1 ;;
124) echo "== VM: TIMEOUT"; exit 124 ;;
125) echo "== VM: FAILED: the VM could not start or ended without the test's exit status (125)"; exit 1 ;;
*) echo "== VM: FAILED (exit $rc)"; exit 1 ;;
esac
exit 0
