#!/usr/bin/env bash
# Instructions per operation of one herd-bench phase, counted by valgrind (callgrind). Unlike time,
# the count does not move with the load on a shared VM. Usage:
#   scripts/instructions-per-op.sh PHASE-SUBSTRING [BENCH-SUBCOMMAND]
# e.g. scripts/instructions-per-op.sh "decode + validate" protocol
set -euo pipefail
cd "$(dirname "$0")/.."
phase=${1:?usage: $0 PHASE-SUBSTRING [BENCH-SUBCOMMAND]}
subcommand=${2:-protocol}
command -v valgrind >/dev/null || { echo "valgrind is required (apt-get install valgrind)" >&2; exit 2; }
swift build -c release --product herd-bench >/dev/null
# valgrind cannot read Swift 6.3's debug info, so it counts a stripped copy.
stripped=$(mktemp)
trap 'rm -f "$stripped"' EXIT
strip -o "$stripped" .build/release/herd-bench
count() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$stripped" "$subcommand" --only "$phase" \
        --iterations "$1" --rounds 1 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
# Each run does its iterations plus a tenth as warm-up: 220 and 1320 operations, 1100 apart.
low=$(count 200)
high=$(count 1200)
echo "$phase: $(((high - low) / 1100)) instructions/op"
