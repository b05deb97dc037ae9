#!/bin/bash
# Installs herd-agent on a Mastodon host (Debian 12): the binary (built with --static-swift-stdlib,
# so the host needs no Swift runtime), the `herd` system user, /etc/herd (agent.conf, allowlist,
# trust file — root's, never overwritten once there), /var/lib/herd-agent, the hardened unit, the
# herd-tootctl@ template and the polkit rule. Idempotent: run it again to upgrade the binary and
# units. Prints the next step (enroll). See deploy/README.md.
set -euo pipefail

usage() {
    cat <<'USAGE'
usage: deploy/install-agent.sh [--binary PATH] [--destdir DIR] [--uninstall [--purge]]
  --binary PATH  a release herd-agent to install (default: build one from this checkout)
  --destdir DIR  install into DIR instead of / (packaging, tests): no users, no systemctl
  --uninstall    stop and remove the binary, units and polkit rule; keep /etc/herd and the state
  --purge        with --uninstall: also remove /etc/herd, /var/lib/herd-agent and the herd user
USAGE
}

root="" binary="" uninstall=0 purge=0
while [ $# -gt 0 ]; do
    case $1 in
    --binary) binary=${2:?--binary needs a path}; shift ;;
    --destdir) root=${2:?--destdir needs a directory}; shift ;;
    --uninstall) uninstall=1 ;;
    --purge) purge=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
    shift
done
die() { echo "install-agent: $*" >&2; exit 1; }
[ -n "$root" ] || [ "$(id -u)" = 0 ] || die "run as root (or with --destdir)"
[ $purge = 0 ] || [ $uninstall = 1 ] || die "--purge goes with --uninstall"
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
live_systemd() { [ -z "$root" ] && [ -d /run/systemd/system ]; }
files=(
    /usr/local/bin/herd-agent /etc/systemd/system/herd-agent.service /etc/systemd/system/herd-tootctl@.service
    /etc/polkit-1/rules.d/50-herd-agent.rules
)

if [ $uninstall = 1 ]; then
    if live_systemd; then systemctl disable --now herd-agent.service 2>/dev/null || true; fi
    for file in "${files[@]}"; do rm -f "$root$file"; done
    rm -rf "$root/usr/local/share/doc/herd/Agent"
    if [ $purge = 1 ]; then
        rm -rf "$root/etc/herd" "$root/var/lib/herd-agent"
        if [ -z "$root" ] && id herd >/dev/null 2>&1; then userdel herd; fi
    fi
    if live_systemd; then systemctl daemon-reload; fi
    echo "herd-agent removed$([ $purge = 1 ] && echo ", with its configuration and state" || echo "; /etc/herd and /var/lib/herd-agent kept")"
    exit 0
fi

if [ -z "$binary" ]; then
    (cd "$repo" && swift build -c release --product herd-agent --static-swift-stdlib)
    binary="$repo/.build/release/herd-agent"
fi
[ -x "$binary" ] || die "$binary is not an executable"

if [ -z "$root" ]; then
    getent group herd >/dev/null || groupadd --system herd
    id herd >/dev/null 2>&1 ||
        useradd --system --gid herd --home-dir /var/lib/herd-agent --no-create-home --shell /usr/sbin/nologin herd
    for group in systemd-journal adm; do
        if getent group "$group" >/dev/null; then usermod --append --groups "$group" herd; fi
    done
fi

install -d -m 0755 "$root/usr/local/bin" "$root/etc/herd" "$root/etc/systemd/system" "$root/etc/polkit-1/rules.d" \
    "$root/usr/local/share/doc/herd/Agent"
install -m 0755 "$binary" "$root/usr/local/bin/herd-agent"
install -m 0644 "$here/systemd/herd-agent.service" "$here/systemd/herd-tootctl@.service" "$root/etc/systemd/system/"
install -m 0644 "$here/polkit/50-herd-agent.rules" "$root/etc/polkit-1/rules.d/"
install -m 0644 "$repo/Agent/README.md" "$repo/Agent/checks.md" "$root/usr/local/share/doc/herd/Agent/"

# The host's own word: root's files, written once, never replaced by an upgrade.
if [ ! -e "$root/etc/herd/agent.conf" ]; then
    install -m 0644 "$repo/Agent/agent.conf.example" "$root/etc/herd/agent.conf"
fi
if [ ! -e "$root/etc/herd/allowlist.conf" ]; then
    install -m 0644 "$repo/Agent/allowlist.conf.example" "$root/etc/herd/allowlist.conf"
fi
if [ ! -e "$root/etc/herd/trust.conf" ]; then
    # No operator is trusted until root adds one: until then every command is refused.
    grep -v '^operator\.' "$repo/Agent/trust.conf.example" > "$root/etc/herd/trust.conf"
    chmod 0644 "$root/etc/herd/trust.conf"
fi
if [ "$(id -u)" = 0 ]; then chown root:root "$root/etc/herd" "$root"/etc/herd/*.conf; fi

install -d -m 0700 "$root/var/lib/herd-agent"
if [ -z "$root" ]; then chown herd:herd "$root/var/lib/herd-agent"; fi
if live_systemd; then systemctl daemon-reload; fi

cat <<NEXT
herd-agent $("$binary" --version) installed.
Next:
  1. On an operator's machine:  herdctl agents token --instance THIS.INSTANCE.DOMAIN
  2. Here, as the herd user:    runuser -u herd -- herd-agent enroll --controller URL --token TOKEN --ca-fingerprint SHA256
  3. Trust operators:           add each operator's \`herdctl operators trust-line\` to /etc/herd/trust.conf
  4. Start it:                  systemctl enable --now herd-agent
NEXT
