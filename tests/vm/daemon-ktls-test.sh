#!/bin/bash
# SPDX-License-Identifier: MIT
# daemon-ktls-test.sh - proves kernel TLS end to end in the full daemon: boots the kTLS VM
# (tests/vm/run-in-vm.sh) with build/siprecd, build/siprec-src and build/siprec-export and runs
# tests/vm/daemon-ktls-init.sh there (two SIPREC calls over TLS 1.2 and 1.3; kTLS TX/RX on
# siprecd's side, tls_stat counters, sock_diag, exported recordings).
# Exit: 0 pass, 1 failure, 77 skip (the VM cannot start), 124/125 VM timeout/failure.
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
set +e
tests/vm/run-in-vm.sh -m 768M "$@" tests/vm/daemon-ktls-init.sh \
    "$BUILD/siprecd" "$BUILD/siprec-src" "$BUILD/siprec-export"
rc=$?
set -e
case $rc in
0) echo "== VM: siprecd kTLS end-to-end checks passed" ;;
77) echo "== VM: SKIP (kTLS unavailable in the VM)"; exit 77 ;;
124) echo "== VM: TIMEOUT"; exit 124 ;;
125)
    # The VM could not start (no qemu/kernel download possible): that is the one skip allowed.
    echo "== VM: could not start the VM (run-in-vm.sh exit 125)"; exit 125 ;;
*) echo "== VM: FAILED (exit $rc)"; exit 1 ;;
esac
exit 0
