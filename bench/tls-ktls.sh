#!/bin/bash
# SPDX-License-Identifier: MIT
# tls-ktls.sh - benchmark (not a test): siprecd's SIP-over-TLS message throughput and CPU per
# message with kernel TLS (records in the kernel) vs OpenSSL records (tls.ko unloaded), both in
# the same boot of the kTLS VM (tests/vm/run-in-vm.sh). The load is bench/tls-sip-load (OpenSSL
# client threads keeping DEPTH OPTIONS in flight each). Prints a table and appends it to
# bench/RESULTS.md (section "TLS: kernel TLS vs OpenSSL records").
#   bench/tls-ktls.sh [--no-results] ; env BENCH_THREADS (2) BENCH_DEPTH (8) BENCH_SECONDS (3)
#   BENCH_ROUNDS (2), BUILD (build), run-in-vm.sh's KTLSVM_* variables.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
RESULTS=1
[ "${1:-}" = --no-results ] && RESULTS=0
make -s "$BUILD/siprecd" >&2
mkdir -p "$BUILD/bench"
cc -O2 -Wall -Wextra -o "$BUILD/bench/tls-sip-load" bench/tls-sip-load.c -lssl -lcrypto -lpthread
OUT=$(mktemp /tmp/tls-ktls-bench.XXXXXX)
trap 'rm -f "$OUT"' EXIT
envs=()
for v in BENCH_THREADS BENCH_DEPTH BENCH_SECONDS BENCH_ROUNDS; do
    [ -n "${!v:-}" ] && envs+=(-e "$v=${!v}")
done
set +e
tests/vm/run-in-vm.sh -m 768M "${envs[@]+"${envs[@]}"}" bench/tls-ktls-vm.sh "$BUILD/siprecd" \
    "$BUILD/bench/tls-sip-load" >"$OUT" 2>&1
rc=$?
set -e
if [ $rc -ne 0 ]; then cat "$OUT"; echo "tls-ktls: VM run failed (exit $rc)" >&2; exit 1; fi
accel=$(sed -n 's/.*accel=\([a-z]*\).*/\1/p' "$OUT" | tail -n 1)
kernel=$(sed -n 's/.*(kernel \([^ ]*\) .*/\1/p' "$OUT" | tail -n 1)
table=$(tr -d '\r' <"$OUT" | awk '/^BENCH /{
    for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
    n[v["mode"]]++; msgs[v["mode"]] += v["msgs"]; secs[v["mode"]] += v["secs"]
    ticks[v["mode"]] += v["cpu_ticks"]; tx[v["mode"]] += v["txsw"]; th = v["threads"]; dp = v["depth"]
    printf "| %s (run %d) | %d | %.0f | %.1f | %d |\n", v["mode"], n[v["mode"]], v["msgs"],
        v["msgs"] / v["secs"], v["cpu_ticks"] * 10000 / (v["msgs"] ? v["msgs"] : 1), v["txsw"]
}
END {
    for (m in n)
        printf "| **%s, all runs** | %d | %.0f | %.1f | %d |\n", m, msgs[m], msgs[m] / secs[m],
            ticks[m] * 10000 / (msgs[m] ? msgs[m] : 1), tx[m]
}')
grep -q '^| openssl' <<<"$table" && grep -q '^| ktls' <<<"$table" || { cat "$OUT"; exit 1; }
hdr="| mode | messages | messages/s | siprecd CPU µs/message | kTLS TX sessions (tls_stat) |
| --- | ---: | ---: | ---: | ---: |"
echo "$hdr"
echo "$table"
if [ $RESULTS = 1 ]; then
    {
        echo
        echo "## TLS: kernel TLS vs OpenSSL records (bench/tls-ktls.sh, $(date -u +%Y-%m-%d))"
        echo
        echo "siprecd answering SIP OPTIONS over TLS 1.3 from bench/tls-sip-load" \
            "(${BENCH_THREADS:-2} connections × ${BENCH_DEPTH:-8} in flight, ${BENCH_SECONDS:-3} s a run)," \
            "inside one boot of the kTLS VM ($kernel, accel=$accel, 2 vCPUs, client in the same VM)." \
            "\"openssl\" runs have tls.ko unloaded. CPU is siprecd's utime+stime from /proc (10 ms ticks)."
        [ "$accel" = tcg ] && echo "Under TCG (software emulation) absolute figures are far below real hardware; compare the modes, not the numbers."
        echo
        echo "$hdr"
        echo "$table"
    } >>bench/RESULTS.md
    echo "appended to bench/RESULTS.md"
fi
