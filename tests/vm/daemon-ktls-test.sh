#!/bin/bash
# SPDX-License-Identifier: MIT
# daemon-ktls-test.sh - proves kernel TLS end to end in the full daemon: boots the kTLS VM
# (tests/vm/run-in-vm.sh) with build/siprecd, build/siprec-src and build/siprec-export and runs
# tests/vm/daemon-ktls-init.sh there (two SIPREC calls over TLS 1.2 and 1.3; kTLS TX/RX on
# siprecd's side, tls_stat counters, sock_diag, exported recordings).
# Exit: 0 pass, 1 failure, 124 timeout. There is no skip: the VM is built to have kTLS, so a
# test reporting kTLS unavailable (77), a VM that cannot start or dies (the runner's 125) and a
# tls.ko that does not load are all failures.
#
# Usage: tests/vm/daemon-ktls-test.sh [run-in-vm.sh options...]
#   BUILD=dir (default build); KTLS_TEST_NO_BUILD=1 uses the programs as built.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
if [ "${KTLS_TEST_NO_BUILD:-0}" != 1 ]; then
    make -s "$BUILD/siprecd" "$BUILD/siprec-src" "$BUILD/siprec-export" >&2
fi
for p in siprecd siprec-src siprec-export; do
    [ -x "$BUILD/$p" ] || { echo "daemon-ktls-test: $BUILD/$p not built" >&2; exit 1; }
done
LOG=$(mktemp /tmp/daemon-ktls-test.XXXXXX)
trap 'rm -f "$LOG"' EXIT
set +e
tests/vm/run-in-vm.sh -m 768M "$@" tests/vm/daemon-ktls-init.sh tests/vm/init-lib.sh \
    "$BUILD/siprecd" "$BUILD/siprec-src" "$BUILD/siprec-export" "$(command -v sqlite3)" 2>&1 | tee "$LOG"
rc=${PIPESTATUS[0]}
set -e
case $rc in
0) echo "== VM: siprecd kTLS end-to-end checks passed" ;;
77) echo "== VM: FAILED: the test reports kTLS unavailable in the kTLS VM (exit 77)"; exit 1 ;;
124) echo "== VM: TIMEOUT"; exit 124 ;;
125) echo "== VM: FAILED: the VM could not start or ended without the test's exit status (125)"; exit 1 ;;
*) echo "== VM: FAILED (exit $rc)"; exit 1 ;;
esac
exit 0
