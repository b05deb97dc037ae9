#!/usr/bin/env bash
# Heap allocations per cycle of each service check, counted by valgrind (memcheck's "total heap usage": count and bytes).
# Runs `herd-bench services --only ID` twice with different cycle counts and divides the difference,
# so the servers' setup and the process's start cancel out.
#   bash scripts/bench-allocations.sh [SMALL] [LARGE]     (default 5 and 25 cycles)
set -euo pipefail
cd "$(dirname "$0")/.."
small=${1:-5}
large=${2:-25}
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
swift build -c release --product herd-bench >/dev/null
bench=$(swift build -c release --show-bin-path)/herd-bench
# measure() runs max(1, n/10) warm-up cycles before the n it times.
runs() { local n=$1; local w=$((n / 10)); [ "$w" -lt 1 ] && w=1; echo $((n + w)); }
allocs() {
    valgrind --tool=memcheck --leak-check=no --trace-children=no "$bench" services --only "$1" --cycles "$2" 2>&1 \
        | sed -n 's/.*total heap usage: \([0-9,]*\) allocs, [0-9,]* frees, \([0-9,]*\) bytes allocated.*/\1 \2/p' | tr -d ,
}
echo "| check | allocations per cycle | bytes allocated per cycle |"
echo "|---|---|---|"
for check in sidekiq postgresql mastodon.http mastodon.api_probe; do
    read -r a abytes < <(allocs "$check" "$small")
    read -r b bbytes < <(allocs "$check" "$large")
    cycles=$(($(runs "$large") - $(runs "$small")))
    echo "| \`$check\` | $(((b - a) / cycles)) | $(((bbytes - abytes) / cycles / 1024)) KiB |"
done
