#!/bin/bash
# SPDX-License-Identifier: MIT
# ktls-test.sh - proves src/tls's kernel TLS path. Builds tests/helpers/tls-ktls-check, runs it
# on the host (without kTLS it must pass the OpenSSL-records checks and exit 77; with kTLS, 0),
# then in a VM whose kernel has tls.ko (tests/vm/run-in-vm.sh), where every kTLS assertion must
# hold. Exit: 0 pass, 1 failure, 124 VM timeout. In the VM nothing may skip: kTLS unavailable
# there (77), a VM that cannot start (the runner's 125) or a tls.ko that does not load fail.
#
# Usage: tests/vm/ktls-test.sh [--host-only|--vm-only] [run-in-vm.sh options...]
#   BUILD=dir (default build); KTLS_TEST_NO_BUILD=1 uses the helper as built.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
HELPER=$BUILD/tests/helpers/tls-ktls-check
HOST=1 VM=1
case ${1:-} in
--host-only) VM=0; shift ;;
--vm-only) HOST=0; shift ;;
esac

if [ "${KTLS_TEST_NO_BUILD:-0}" != 1 ]; then
    make -s "$HELPER" >&2
fi
[ -x "$HELPER" ] || { echo "ktls-test: $HELPER not built" >&2; exit 1; }

if [ "$HOST" = 1 ]; then
    echo "== host ($(uname -r))"
    set +e
    "$HELPER"
    rc=$?
    set -e
    case $rc in
    0) echo "== host: kTLS available here, all checks passed" ;;
    77) echo "== host: no kTLS; OpenSSL-records path passed (skip of the kTLS part is expected)" ;;
    *) echo "== host: FAILED (exit $rc)"; exit 1 ;;
    esac
fi

if [ "$VM" = 1 ]; then
    echo "== VM"
    set +e
    tests/vm/run-in-vm.sh -q "$@" "$HELPER"
    rc=$?
    set -e
    case $rc in
    0) echo "== VM: kTLS checks passed" ;;
    77) echo "== VM: FAILED: kTLS unavailable in the kTLS VM (exit 77)"; exit 1 ;;
    124) echo "== VM: TIMEOUT"; exit 124 ;;
    125) echo "== VM: FAILED: the VM could not start or ended without an exit status (125)"; exit 1 ;;
    *) echo "== VM: FAILED (exit $rc)"; exit 1 ;;
    esac
fi
exit 0
