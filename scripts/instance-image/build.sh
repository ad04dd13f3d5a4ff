#!/usr/bin/env bash
# Builds the KWS Debian 12 instance image (code-server inside) as an LXD unified tarball
# (metadata.yaml, templates/, rootfs/ at the top, zstd-compressed). Called by
# scripts/host-setup.sh --instance-image, which caches the result and imports it; usable alone:
#
#   sudo scripts/instance-image/build.sh OUTPUT.tar.zst RECIPE_STAMP DNS_SERVER LOGFILE
#
# RECIPE_STAMP is recorded in the image's properties (kws.recipe); DNS_SERVER goes into the
# image's static /etc/resolv.conf (lxdbr0's address: dnsmasq on the bridge answers DNS).
# The host's CA bundle is used for the build only; the image keeps Debian's own bundle, unless
# KWS_IMAGE_TRUST_HOST_CAS=1: then the CAs the host adds to Debian's (host-cas.sh) stay trusted.
# Steps print one line each; their output goes to LOGFILE. Takes 3-20 minutes (2 cores, depending on the mirror).
# The recipe is the one verified in HOST-FACTS.md ("An instance image with code-server").
set -euo pipefail

[ "$#" -eq 4 ] || { sed -n '2,11p' "$0" >&2; exit 2; }
out=$1 stamp=$2 dns=$3 log=$4
here=$(cd "$(dirname "$0")" && pwd)

MIRROR=${KWS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${KWS_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
SUITE=bookworm
CODE_SERVER_VERSION=4.89.1 # the last line that runs on Debian 12's Node 18
BOOTSTRAP_INCLUDE=openssh-server,sudo,ca-certificates,iproute2,systemd-sysv
# What code-server's native modules need to build, plus what a developer's shell needs
# (git for code-server's git extension, dbus for systemd/logind, procps for ps/top), plus udev:
# LXD mounts /sys read-write here, so systemd-networkd waits for udev to initialise eth0 and
# without udevd it stays "pending" forever (no DHCP, no IPv4).
CHROOT_PACKAGES=(nodejs npm build-essential pkg-config python3 libkrb5-dev libx11-dev libxkbfile-dev
  libsecret-1-dev ripgrep git dbus procps less curl nano udev)
STEP_TIMEOUT=45m # no single step may hang forever (npm without the proxy's CA does)

[ "$(id -u)" -eq 0 ] || { echo "instance-image: run as root" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "instance-image: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }
command -v zstd >/dev/null || { echo "instance-image: zstd is missing (apt-get install zstd)" >&2; exit 1; }

started=$(date +%s)
step_started=$started
say() { echo "instance-image: $*"; }
step() {
  local now
  now=$(date +%s)
  say "[$((now - started)) s, previous step $((now - step_started)) s] $*"
  step_started=$now
  printf '\n===== %s: %s\n' "$(date -Is)" "$*" >>"$log"
}

work=$(mktemp -d /var/tmp/kws-instance-image.XXXXXX)
root=$work/rootfs
child="" # the step running now (a timeout process leading its own process group)

# Long steps run in the background and are waited for: bash runs a signal's trap only after the
# foreground command ends, but interrupts `wait` at once.
run() {
  timeout "$STEP_TIMEOUT" "$@" >>"$log" 2>&1 &
  child=$!
  wait "$child"
  child=""
}

chroot_pids() {
  local p r
  for p in /proc/[0-9]*; do
    r=$(readlink "$p/root" 2>/dev/null) || continue
    case "$r" in "$root" | "$root"/*) echo "${p#/proc/}" ;; esac
  done
}

unmount_all() {
  local pid m
  # An interrupted step: timeout passes the signal on to its whole process group.
  if [ -n "$child" ]; then
    kill -TERM "$child" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$child" 2>/dev/null || break; sleep 0.5; done
    child=""
  fi
  # Anything still running inside the chroot holds the mounts.
  for pid in $(chroot_pids); do kill -9 "$pid" 2>/dev/null || true; done
  # Ours and any debootstrap left behind, deepest (latest) first.
  while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done < <(mounts_under_work | tac)
}

mounts_under_work() { awk -v w="$work" '$2 == w || index($2, w "/") == 1 { print $2 }' /proc/self/mounts; }

still_mounted() { [ -n "$(mounts_under_work)" ]; }

cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  set +e
  unmount_all
  rm -f "$out.partial"
  if still_mounted; then
    # Never rm -rf a tree that still has the host's /dev or /proc bound into it.
    say "error: something is still mounted under $work; left it in place (umount it, then rm -rf it)" >&2
  else
    rm -rf --one-file-system "$work"
  fi
  [ "$rc" -eq 0 ] || say "failed after $(($(date +%s) - started)) s (exit $rc); details in $log" >&2
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

bind() { # bind SOURCE TARGET-INSIDE-ROOT
  mkdir -p "$root$2"
  mount --bind "$1" "$root$2"
}

in_chroot() {
  run chroot "$root" /usr/bin/env -i \
    HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive \
    NODE_EXTRA_CA_CERTS=/root/kws-build-ca.crt npm_config_cafile=/root/kws-build-ca.crt \
    npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false \
    npm_config_loglevel=warn \
    "$@"
}

: >"$log"
say "building in $work (log: $log)"

# --- base system --------------------------------------------------------------
step "debootstrap $SUITE minbase (about 2 minutes)"
run debootstrap --variant=minbase --include="$BOOTSTRAP_INCLUDE" "$SUITE" "$root" "$MIRROR"

# The host reaches the internet through a proxy whose CA is only in the host's bundle: without it
# npm inside the chroot hangs. Copied in first (the recipe), and kept aside for npm and node,
# because the ca-certificates trigger regenerates the bundle whenever apt touches it.
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
install -m 0644 /etc/ssl/certs/ca-certificates.crt "$root/root/kws-build-ca.crt"
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
cat >"$root/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
EOF
# No daemon may start inside the chroot (the host has no systemd anyway).
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"

bind /proc /proc
bind /dev /dev
bind /dev/pts /dev/pts
bind /sys /sys

step "apt-get upgrade + install ${CHROOT_PACKAGES[*]} (a few minutes)"
in_chroot apt-get update
in_chroot apt-get -y upgrade
in_chroot apt-get install -y --no-install-recommends "${CHROOT_PACKAGES[@]}"
say "node $(chroot "$root" node --version), npm $(chroot "$root" npm --version)"

# --- code-server ----------------------------------------------------------------
step "npm install -g code-server@$CODE_SERVER_VERSION (about 2 minutes)"
in_chroot npm install -g --unsafe-perm "code-server@$CODE_SERVER_VERSION"
cs_dir="$(chroot "$root" npm root -g)/code-server"
[ -f "$root$cs_dir/package.json" ] || { say "error: code-server is not in $cs_dir" >&2; exit 1; }
[ -x "$root/usr/local/bin/code-server" ] || { say "error: /usr/local/bin/code-server is missing (npm prefix: $(chroot "$root" npm prefix -g))" >&2; exit 1; }

# code-server's postinstall leaves lib/vscode without its dependencies: the kerberos addon does not
# compile against Debian's Node 18 headers without -fpermissive, and @vscode/ripgrep downloads a
# binary from GitHub (unreachable). Install without scripts, give ripgrep Debian's rg (its
# postinstall skips the download when bin/ exists), then build the native addons.
step "lib/vscode: npm install --ignore-scripts"
in_chroot sh -c "cd '$cs_dir/lib/vscode' && npm install --ignore-scripts --legacy-peer-deps --omit=dev"
mkdir -p "$root$cs_dir/lib/vscode/node_modules/@vscode/ripgrep/bin"
ln -sf /usr/bin/rg "$root$cs_dir/lib/vscode/node_modules/@vscode/ripgrep/bin/rg"

step "lib/vscode: CXXFLAGS=-fpermissive npm rebuild (native addons, a few minutes)"
in_chroot sh -c "cd '$cs_dir/lib/vscode' && CXXFLAGS=-fpermissive npm rebuild --unsafe-perm"

step "lib/vscode/extensions: npm install"
in_chroot sh -c "cd '$cs_dir/lib/vscode/extensions' && npm install --unsafe-perm --legacy-peer-deps --omit=dev"

say "code-server $(chroot "$root" /usr/local/bin/code-server --version 2>/dev/null | tail -n1)"
# Starting it, even for --version, wrote root a config with a random password: not for the image.
rm -rf "$root/root/.config/code-server" "$root/root/.local/share/code-server"

# --- system configuration ---------------------------------------------------------
step "configure networkd, resolv.conf, ssh, code-server@.service"
install -m 0644 "$here/files/eth0.network" "$root/etc/systemd/network/20-eth0.network"
in_chroot systemctl enable systemd-networkd.service
# systemd-resolved is not in minbase: a static resolver, dnsmasq on the bridge.
rm -f "$root/etc/resolv.conf"
printf 'nameserver %s\n' "$dns" >"$root/etc/resolv.conf"

install -m 0644 "$here/files/sshd-kws.conf" "$root/etc/ssh/sshd_config.d/10-kws.conf"
rm -f "$root"/etc/ssh/ssh_host_*
install -m 0644 "$here/files/kws-ssh-hostkeys.service" "$root/etc/systemd/system/kws-ssh-hostkeys.service"
in_chroot systemctl enable kws-ssh-hostkeys.service ssh.service

install -m 0644 "$here/files/code-server@.service" "$root/etc/systemd/system/code-server@.service"

# A container cannot register binary formats (python3 ships one): the unit would only fail and
# leave systemd "degraded".
ln -sf /dev/null "$root/etc/systemd/system/systemd-binfmt.service"

# Every container gets its own machine id on first boot (networkd derives its DHCP client id from it).
: >"$root/etc/machine-id"
[ -L "$root/var/lib/dbus/machine-id" ] || rm -f "$root/var/lib/dbus/machine-id"
rm -f "$root/etc/hostname" # written by LXD's template at create time

# --- clean up and pack --------------------------------------------------------------
step "clean caches, restore Debian's CA bundle"
in_chroot update-ca-certificates --fresh
if [ "${KWS_IMAGE_TRUST_HOST_CAS:-0}" = 1 ]; then
  mkdir -p "$root/usr/local/share/ca-certificates/kws-host"
  "$here/host-cas.sh" | awk -v dir="$root/usr/local/share/ca-certificates/kws-host" '
    /-----BEGIN CERTIFICATE-----/ { n++; f = sprintf("%s/host-%02d.crt", dir, n) }
    f { print > f }
    /-----END CERTIFICATE-----/ { close(f); f = "" }'
  in_chroot update-ca-certificates
  say "KWS_IMAGE_TRUST_HOST_CAS=1: the image trusts $(find "$root/usr/local/share/ca-certificates/kws-host" -name '*.crt' | wc -l) CA(s) the host adds to Debian's"
fi
in_chroot apt-get clean
rm -f "$root/usr/sbin/policy-rc.d" "$root/root/kws-build-ca.crt"
unmount_all
still_mounted && { say "error: could not unmount everything under $work" >&2; exit 1; }
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/debconf/*-old \
  "$root"/root/.npm "$root"/root/.cache "$root"/root/.node-gyp "$root"/tmp/* "$root"/var/tmp/*
mkdir -p "$root/var/lib/apt/lists/partial"
find "$root/var/log" -type f -exec truncate -s 0 {} +

cat >"$work/metadata.yaml" <<EOF
architecture: x86_64
creation_date: $(date +%s)
properties:
  description: KWS Debian 12 (bookworm) with code-server $CODE_SERVER_VERSION
  os: debian
  release: bookworm
  variant: code-server
  kws.recipe: "$stamp"
templates:
  /etc/hostname:
    when: [create, copy]
    template: hostname.tpl
  /etc/hosts:
    when: [create, copy]
    template: hosts.tpl
EOF
cp -r "$here/templates" "$work/templates"

step "pack rootfs ($(du -sh --one-file-system "$root" | cut -f1)) as $out"
mkdir -p "$(dirname "$out")"
tar -C "$work" --numeric-owner --xattrs --xattrs-include='*' -cf - metadata.yaml templates rootfs |
  zstd -q -T0 -o "$out.partial"
mv -f "$out.partial" "$out"
step "done: $(du -h "$out" | cut -f1)"
