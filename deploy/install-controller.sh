#!/bin/bash
# Installs herd-controller and herdctl on the controller machine (Debian 12): the binaries, the
# `herd-controller` system user, the hardened unit, and — once — `herd-controller init` (the fleet CA,
# the server certificate, the database, the first operator's herdctl identity for the user running
# this). Idempotent: run it again to upgrade; the data directory is never re-initialised.
set -euo pipefail

usage() {
    cat <<'USAGE'
usage: deploy/install-controller.sh [--bin-dir DIR] [--listen HOST:PORT] [--server-name NAME]...
                                    [--operator NAME] [--herdctl-dir DIR] [--store URL]
                                    [--replica-of DIR] [--destdir DIR] [--uninstall [--purge]]
  --bin-dir DIR      where release herd-controller and herdctl are (default: build them here)
  --listen HOST:PORT the controller's address (default 0.0.0.0:8443; first install only)
  --server-name NAME the name agents reach it by, in its certificate; repeat (default: this host's
                     FQDN, localhost, 127.0.0.1; first install only)
  --operator NAME    the first operator (default admin; first install only)
  --herdctl-dir DIR  where the first operator's herdctl identity goes (default ~/.config/herdctl)
  --store URL        keep the store in PostgreSQL (postgresql://…; first install only; see
                     Controller/README.md, "PostgreSQL and replicas")
  --replica-of DIR   install a replica: copy controller.conf, ca/ and tls/ from DIR (the first
                     replica's data directory, copied here) instead of running init
  --destdir DIR      install into DIR instead of / (packaging, tests): no users, no systemctl
  --uninstall        stop and remove binaries and unit; keep /var/lib/herd-controller
  --purge            with --uninstall: also remove the data directory (the CA and the database!)
USAGE
}

root="" bin="" listen="0.0.0.0:8443" operator="admin" names=() herdctl_dir="${HOME:-/root}/.config/herdctl"
uninstall=0 purge=0 store=() replica_of=""
while [ $# -gt 0 ]; do
    case $1 in
    --bin-dir) bin=${2:?}; shift ;;
    --listen) listen=${2:?}; shift ;;
    --operator) operator=${2:?}; shift ;;
    --server-name) names+=(--server-name "${2:?}"); shift ;;
    --herdctl-dir) herdctl_dir=${2:?}; shift ;;
    --store) store=(--store "${2:?}"); shift ;;
    --replica-of) replica_of=${2:?}; shift ;;
    --destdir) root=${2:?}; shift ;;
    --uninstall) uninstall=1 ;;
    --purge) purge=1 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
    shift
done
die() { echo "install-controller: $*" >&2; exit 1; }
[ -n "$root" ] || [ "$(id -u)" = 0 ] || die "run as root (or with --destdir)"
[ $purge = 0 ] || [ $uninstall = 1 ] || die "--purge goes with --uninstall"
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
data="$root/var/lib/herd-controller"
live_systemd() { [ -z "$root" ] && [ -d /run/systemd/system ]; }

if [ $uninstall = 1 ]; then
    if live_systemd; then systemctl disable --now herd-controller.service 2>/dev/null || true; fi
    rm -f "$root/usr/local/bin/herd-controller" "$root/usr/local/bin/herdctl" \
        "$root/etc/systemd/system/herd-controller.service"
    rm -rf "$root/usr/local/share/doc/herd/Controller"
    if [ $purge = 1 ]; then
        rm -rf "$data"
        if [ -z "$root" ] && id herd-controller >/dev/null 2>&1; then userdel herd-controller; fi
    fi
    if live_systemd; then systemctl daemon-reload; fi
    echo "herd-controller removed$([ $purge = 1 ] && echo ", with its data" || echo "; $data kept")"
    exit 0
fi

if [ -z "$bin" ]; then
    (cd "$repo" && swift build -c release --product herd-controller && swift build -c release --product herdctl)
    bin="$repo/.build/release"
fi
for tool in herd-controller herdctl; do [ -x "$bin/$tool" ] || die "$bin/$tool is not an executable"; done

if [ -z "$root" ]; then
    getent group herd-controller >/dev/null || groupadd --system herd-controller
    id herd-controller >/dev/null 2>&1 ||
        useradd --system --gid herd-controller --home-dir /var/lib/herd-controller --no-create-home \
            --shell /usr/sbin/nologin herd-controller
fi
install -d -m 0755 "$root/usr/local/bin" "$root/etc/systemd/system" "$root/usr/local/share/doc/herd/Controller"
install -m 0755 "$bin/herd-controller" "$bin/herdctl" "$root/usr/local/bin/"
install -m 0644 "$here/systemd/herd-controller.service" "$root/etc/systemd/system/"
install -m 0644 "$repo/Controller/README.md" "$repo/Controller/controller.conf.example" \
    "$root/usr/local/share/doc/herd/Controller/"

if [ ! -e "$data/controller.conf" ] && [ -n "$replica_of" ]; then
    # A replica: the same configuration (store = the shared PostgreSQL), CA and server certificate.
    for part in controller.conf ca tls; do
        [ -e "$replica_of/$part" ] || die "--replica-of $replica_of has no $part"
    done
    grep -q '^store = postgres' "$replica_of/controller.conf" ||
        die "--replica-of: replicas share a PostgreSQL store; $replica_of/controller.conf has none"
    install -d -m 0700 "$data"
    cp -a "$replica_of/controller.conf" "$replica_of/ca" "$replica_of/tls" "$data/"
elif [ ! -e "$data/controller.conf" ]; then
    if [ ${#names[@]} = 0 ]; then
        names=(--server-name localhost --server-name 127.0.0.1)
        fqdn=$(hostname --fqdn 2>/dev/null || true)
        if [ -n "$fqdn" ] && [ "$fqdn" != localhost ]; then names+=(--server-name "$fqdn"); fi
    fi
    "$bin/herd-controller" init "${names[@]}" --data-dir "$data" --herdctl-dir "$herdctl_dir" --listen "$listen" \
        --operator "$operator" ${store[@]+"${store[@]}"}
fi
if [ -z "$root" ]; then chown -R herd-controller:herd-controller "$data"; fi
if live_systemd; then systemctl daemon-reload; fi

cat <<NEXT
herd-controller $("$bin/herd-controller" --version) installed; data in $data, herdctl identity in $herdctl_dir.
Next:
  1. Start it:              systemctl enable --now herd-controller
  2. Check it:              herdctl status
  3. On each Mastodon host: deploy/install-agent.sh, then the enroll command \`herdctl agents token --instance DOMAIN\` prints
  4. More operators:        herdctl operators request (on their machine), herdctl operators add, herdctl operators install
NEXT
