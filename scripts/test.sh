#!/usr/bin/env bash
# Runs every Herd test on a fresh Debian machine: installs what the tests need, then builds and
# runs the Swift test suite. This is the README's test command, and .ci/run runs exactly it.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "test.sh: $*"; }

apt_install() {
    if [[ $(id -u) -ne 0 ]]; then
        say "missing $*: run as root so apt-get can install them" >&2
        exit 2
    fi
    say "installing $* with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Python runs the independent checks of the contract in Protocol/tools: it needs jsonschema >= 4.18
# (with referencing) and cryptography; aiosmtpd, the real SMTP server the paging tests send through;
# websockets, which drives Chromium for the dashboard's test (Tests/Browser/cdp.py). Use python3 if it
# has them, else a venv filled from PyPI.
python_has_tools() {
    "$1" -c 'import jsonschema, referencing, aiosmtpd, websockets.asyncio.client, cryptography.hazmat.primitives.asymmetric.ed25519' 2>/dev/null
}
if python_has_tools python3; then
    HERD_PYTHON=$(command -v python3)
else
    venv=.build/python-tools
    if ! python_has_tools "$venv/bin/python"; then
        command -v python3 >/dev/null && python3 -c 'import venv, ensurepip' 2>/dev/null \
            || apt_install python3 python3-venv
        say "creating $venv with jsonschema and cryptography from PyPI"
        rm -rf "$venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet 'jsonschema>=4.18' 'cryptography>=3.4' 'aiosmtpd>=1.4' 'websockets>=13'
    fi
    HERD_PYTHON=$PWD/$venv/bin/python
fi
export HERD_PYTHON

# Real components the agent's tests drive: nginx (writes the error lines the nginx check classifies),
# systemd-journal-remote (builds real journal files that journalctl then reads), redis-server (holds
# Sidekiq-shaped data) and PostgreSQL (initdb/pg_ctl clusters). Each test starts its own on loopback,
# in a temp dir, on a free port, and stops it.
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || missing+=(postgresql)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
# nginx's stream module: the TCP load balancer in front of controller replicas (ReplicaFailoverTests).
[[ -f /usr/lib/nginx/modules/ngx_stream_module.so ]] || missing+=(libnginx-mod-stream)
[[ -x /usr/lib/systemd/systemd-journal-remote || -x /lib/systemd/systemd-journal-remote ]] \
    || missing+=(systemd-journal-remote)
command -v journalctl >/dev/null || missing+=(systemd)
# promtool (Debian's prometheus package) checks the /metrics exposition and deploy/prometheus' rules.
command -v promtool >/dev/null || missing+=(prometheus)
# A real browser for the dashboard's test (HerdLabTests): Debian's chromium, headless.
command -v chromium >/dev/null || missing+=(chromium)
# A real Docker Engine for the agent's container tests (DockerTests starts its own dockerd in a temp
# dir, no bridge, vfs storage); its one image is imported from the static busybox.
[[ -x /usr/sbin/dockerd ]] || missing+=(docker.io)
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q "ok installed" || missing+=(busybox-static)
if ((${#missing[@]})); then apt_install "${missing[@]}"; fi
# Installing nginx on Debian may start it where an init system runs; the tests start their own.

# The project's own modules build without a warning (dependencies' warnings are theirs). A fresh
# clone compiles everything, so CI sees every warning; an incremental build only those it recompiles.
build_log=$(mktemp)
trap 'rm -f "$build_log"' EXIT
swift build --build-tests 2>&1 | tee "$build_log"
if grep -E "^$PWD/(Sources|Tests)/[^:]+:[0-9]+:[0-9]+: warning:" "$build_log" | sort -u | grep .; then
    say "the warnings above are in Herd's own modules: fix them" >&2
    exit 1
fi
# The lab's suites (HerdLabTests: a whole fleet per test: controller, nginx, Redis and PostgreSQL per instance, an
# agent each, faults injected one at a time) load both cores for minutes; beside them, tests that
# give a local server a few seconds to answer time out. So they run on their own, after the rest.
swift test --skip-build --disable-xctest --skip HerdLabTests
swift test --skip-build --disable-xctest --filter HerdLabTests
