#!/bin/sh
# SPDX-License-Identifier: MIT
# Instructions per SIPREC call of the setup work outside io_uring (bench/setup-cost.c: the
# catalog's rows, trail entries and barriers; the SDP offer; the RFC 7865 metadata and its JSON;
# the media worker's stream set-up and finalize through the storage writer, user space only;
# the recording keys' derivation),
# counted by callgrind: deterministic, unlike wall clock on a shared machine. Each piece runs
# LOW and HIGH calls; (Ir(HIGH) - Ir(LOW)) / (HIGH - LOW) takes start-up out. GROUP calls share
# one catalog batch (1: each call alone, as at a low rate; more: as at a high rate, where the
# INVITEs waiting while a batch commits go into the next one). Nothing is asserted.
#
# usage: bench/setup-cost.sh [--low N] [--high N] [--group G] [--top N] [PIECE...]
# BUILD=dir picks the build (default build; make bench builds build/bench/setup-cost).
set -u
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD=$SRCDIR/$BUILD ;; esac
LOW=50 HIGH=250 GROUP=1 TOP=0 PIECES=""
while [ $# -gt 0 ]; do
	case "$1" in
	--low) LOW=$2; shift ;;
	--high) HIGH=$2; shift ;;
	--group) GROUP=$2; shift ;;
	--top) TOP=$2; shift ;;
	catalog | sdp | metadata | stream | keys) PIECES="$PIECES $1" ;;
	*) echo "usage: $0 [--low N] [--high N] [--group G] [--top N] [catalog|sdp|metadata|stream|keys...]" >&2; exit 1 ;;
	esac
	shift
done
[ -n "$PIECES" ] || PIECES="catalog sdp metadata stream keys"
for c in valgrind callgrind_annotate; do
	command -v $c >/dev/null 2>&1 || { echo "SKIP: $c not installed"; exit 77; }
done
BIN=$BUILD/bench/setup-cost
[ -x "$BIN" ] || { echo "setup-cost: $BIN not built (make bench)"; exit 1; }
OUT=$(mktemp -d /var/tmp/siprecd-setup-cost.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

ir() { # ir FILE: total instructions in a callgrind output file
	awk '/^(summary|totals):/ {print $2; exit}' "$1"
}
echo "== setup-cost: $(date -u +%FT%TZ) $BIN ($LOW and $HIGH calls, group $GROUP)"
for p in $PIECES; do
	for n in $LOW $HIGH; do
		valgrind -q --tool=callgrind --callgrind-out-file="$OUT/$p.$n" "$BIN" "$p" "$n" "$GROUP" 2>/dev/null ||
			{ echo "setup-cost: $p $n failed"; exit 1; }
	done
	lo=$(ir "$OUT/$p.$LOW")
	hi=$(ir "$OUT/$p.$HIGH")
	echo "RESULT $p: $(((hi - lo) / (HIGH - LOW))) instructions per call"
	if [ "$TOP" -gt 0 ]; then
		callgrind_annotate --threshold=99 "$OUT/$p.$HIGH" 2>/dev/null |
			grep -E '^ *[0-9,]+ ' | head -n "$TOP"
	fi
done
