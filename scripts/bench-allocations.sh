#!/usr/bin/env bash
# Heap allocations per cycle of each service check, counted by an LD_PRELOAD shim around glibc's malloc
# (scripts/malloc-count; valgrind's memcheck crashes on Swift 6.3 binaries here). Runs
# `herd-bench services --only ID` with two cycle counts and divides the difference, so the servers'
# setup and the process's start cancel out.
#   bash scripts/bench-allocations.sh [SMALL] [LARGE]     (default 5 and 25 cycles)
set -euo pipefail
cd "$(dirname "$0")/.."
small=${1:-5}
large=${2:-25}
swift build -c release --product herd-bench >/dev/null
bench=$(swift build -c release --show-bin-path)/herd-bench
shim=$(mktemp --suffix=.so)
trap 'rm -f "$shim"' EXIT
clang -O2 -shared -fPIC -o "$shim" scripts/malloc-count/malloc-count.c -ldl
# measure() runs max(1, n/10) warm-up cycles before the n it times.
runs() { local n=$1; local w=$((n / 10)); [ "$w" -lt 1 ] && w=1; echo $((n + w)); }
allocs() {
    LD_PRELOAD=$shim "$bench" services --only "$1" --cycles "$2" 2>&1 >/dev/null |
        sed -n "s/^malloc-count: herd-bench \([0-9]*\) allocations, \([0-9]*\) bytes$/\1 \2/p"
}
echo "| check | allocations per cycle | bytes allocated per cycle |"
echo "|---|---|---|"
for check in sidekiq postgresql mastodon.http mastodon.api_probe; do
    read -r a abytes < <(allocs "$check" "$small")
    read -r b bbytes < <(allocs "$check" "$large")
    cycles=$(($(runs "$large") - $(runs "$small")))
    echo "| \`$check\` | $(((b - a) / cycles)) | $(((bbytes - abytes) / cycles / 1024)) KiB |"
done
