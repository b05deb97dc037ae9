#!/usr/bin/env bash
# Herd's main job on embedded defaults, on this machine: release binaries, then a lab fleet — a
# controller on 127.0.0.1 with SQLite and its own CA, several simulated Mastodon instances, each with
# real nginx in front of a puma stand-in, its Redis database and PostgreSQL database, and its own agent
# enrolled over mutual TLS — then faults the playbook covers, what Herd detects and diagnoses, and one
# remediation proposed, approved by a second operator and executed by an agent. At the end the lab is
# taken down (nothing left running, nothing left on disk) unless --keep.
#   bash scripts/quickstart.sh [--keep] [--instances N] [--dir DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

keep=0
lab=(--dir /tmp/herd-lab)
instances=(--instances 4)
while [[ $# -gt 0 ]]; do
    case $1 in
    --keep) keep=1 ;;
    --instances) instances=(--instances "${2:?}"); shift ;;
    --dir) lab=(--dir "${2:?}"); shift ;;
    *) echo "usage: bash scripts/quickstart.sh [--keep] [--instances N] [--dir DIR]" >&2; exit 2 ;;
    esac
    shift
done

say() { echo "quickstart: $*"; }
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || missing+=(postgresql)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        say "missing ${missing[*]}: run as root so apt-get can install them" >&2
        exit 2
    fi
    say "installing ${missing[*]} with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# One build of the package: its products share every module, so building them one by one would
# plan (and on a fresh machine, compile) the shared part once per product.
say "building the release binaries (about 13 minutes the first time on 2 cores, seconds after)"
started=$SECONDS
swift build -c release
say "built in $((SECONDS - started)) s"
bin=.build/release

"$bin/herd-lab" down "${lab[@]}" >/dev/null 2>&1 || true
"$bin/herd-lab" up "${lab[@]}" "${instances[@]}"
trap '[[ $keep = 1 ]] || "$bin/herd-lab" down "${lab[@]}"' EXIT
"$bin/herd-lab" demo "${lab[@]}"
if [[ $keep = 1 ]]; then
    say "the lab keeps running: $bin/herd-lab status ${lab[*]}; $bin/herd-lab down ${lab[*]} removes it"
fi
