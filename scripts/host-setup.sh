#!/usr/bin/env bash
# Prepares a Debian/Ubuntu host (or a CI machine) for KWS: LXD with a dir pool and a managed
# bridge, WireGuard tools, nftables, dnsmasq-utils (dhcp_release), and a tiny busybox image for fast tests.
# Idempotent: run it as often as you like; it only does what is missing.
#
# Usage: sudo scripts/host-setup.sh [--verify] [--instance-image]
#   --verify          launch a throwaway container from kws/busybox even if nothing was built
#                     (with --instance-image: also check kws/debian-12 end to end, code-server too)
#   --instance-image  also make the btrfs pool kws-btrfs (where the kernel has btrfs) and the
#                     Debian 12 instance image kws/debian-12 with code-server inside
#                     (scripts/instance-image/; a few minutes to build once, cached in
#                     /var/cache/kws; KWS_IMAGE_TRUST_HOST_CAS=1 keeps the host's extra CAs in it)
set -euo pipefail

LXD_LOG=/var/log/kws-lxd.log
POOL=default
BRIDGE=lxdbr0
BRIDGE_CIDR=172.30.0.1/24
# Addresses for containers without a reserved one; KWS reserves from .11 up, so the two never meet.
DHCP_RANGE=172.30.0.2-172.30.0.10
BUSYBOX_ALIAS=kws/busybox
PACKAGES=(lxd lxd-client wireguard-tools wireguard-go nftables busybox-static dnsmasq-utils)
# Only with --instance-image:
INSTANCE_PACKAGES=(debootstrap zstd)
INSTANCE_ALIAS=kws/debian-12
FAST_POOL=kws-btrfs
FAST_POOL_SIZE=30GiB
IMAGE_CACHE=/var/cache/kws
IMAGE_LOG=/var/log/kws-instance-image.log
RECIPE_DIR=$(cd "$(dirname "$0")" && pwd)/instance-image

verify=0
instance_image=0
for arg in "$@"; do
  case "$arg" in
    --verify) verify=1 ;;
    --instance-image) instance_image=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "host-setup: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

started=$(date +%s)
say() { echo "host-setup: $*"; }
die() { echo "host-setup: error: $*" >&2; exit 1; }

# What to remove however the script ends (set -e exits skip RETURN traps, so one EXIT trap does it all).
cleanup_dir=""
cleanup_instance=""
cleanup() {
  [ -z "$cleanup_instance" ] || lxc delete --force "$cleanup_instance" >/dev/null 2>&1 || true
  [ -z "$cleanup_dir" ] || rm -rf "$cleanup_dir"
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || die "run as root"

# --- packages ---------------------------------------------------------------
[ "$instance_image" -eq 0 ] || PACKAGES+=("${INSTANCE_PACKAGES[@]}")
missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]} (takes a few minutes)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
else
  say "packages present"
fi

# --- LXD daemon -------------------------------------------------------------
lxd_answers() { timeout 10 lxc query /1.0 >/dev/null 2>&1; }

if lxd_answers; then
  say "lxd running"
else
  if pidof lxd >/dev/null; then
    say "lxd process found, waiting for it"
  else
    say "starting lxd (log: $LXD_LOG)"
    # setsid + nohup: the daemon must outlive this script and its session (no systemd on CI).
    setsid nohup lxd --group root --logfile "$LXD_LOG" </dev/null >>"$LXD_LOG" 2>&1 &
  fi
  if ! lxd waitready --timeout 60; then
    tail -n 20 "$LXD_LOG" >&2 || true
    die "lxd did not become ready within 60 s"
  fi
  lxd_answers || die "lxd started but its socket does not answer"
fi

# --- storage, network, profile ----------------------------------------------
if lxc storage show "$POOL" >/dev/null 2>&1; then
  say "storage pool $POOL present"
else
  say "creating storage pool $POOL (dir)"
  lxc storage create "$POOL" dir >/dev/null
fi

if lxc network show "$BRIDGE" >/dev/null 2>&1; then
  current=$(lxc network get "$BRIDGE" ipv4.address)
  say "network $BRIDGE present ($current)"
  [ "$current" = "$BRIDGE_CIDR" ] || say "warning: $BRIDGE has ipv4.address=$current, KWS expects $BRIDGE_CIDR"
else
  say "creating network $BRIDGE ($BRIDGE_CIDR)"
  lxc network create "$BRIDGE" ipv4.address="$BRIDGE_CIDR" ipv4.nat=true ipv6.address=none >/dev/null
fi
if [ "$(lxc network get "$BRIDGE" ipv4.dhcp.ranges)" != "$DHCP_RANGE" ]; then
  say "limiting $BRIDGE's dynamic DHCP range to $DHCP_RANGE"
  lxc network set "$BRIDGE" ipv4.dhcp.ranges="$DHCP_RANGE"
fi

profile_devices=$(lxc profile device list default)
if ! grep -qx root <<<"$profile_devices"; then
  say "adding root disk to the default profile"
  lxc profile device add default root disk path=/ pool="$POOL" >/dev/null
fi
if ! grep -qx eth0 <<<"$profile_devices"; then
  say "adding eth0 nic to the default profile"
  lxc profile device add default eth0 nic network="$BRIDGE" name=eth0 >/dev/null
fi

sysctl -q -w net.ipv4.ip_forward=1

# --- busybox test image -----------------------------------------------------
build_busybox_image() {
  local work rootfs applet
  work=$(mktemp -d /tmp/kws-busybox.XXXXXX)
  cleanup_dir=$work
  rootfs="$work/rootfs"
  mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc/init.d,usr/share/udhcpc,proc,sys,dev,run,tmp,root,var/log}
  chmod 1777 "$rootfs/tmp"
  chmod 0700 "$rootfs/root"

  install -m 0755 /bin/busybox "$rootfs/bin/busybox"
  while read -r applet; do
    [ "$applet" = bin/busybox ] && continue
    [ -e "$rootfs/$applet" ] || ln -s /bin/busybox "$rootfs/$applet"
  done < <(/bin/busybox --list-full)

  cat >"$rootfs/etc/inittab" <<'EOF'
::sysinit:/etc/init.d/rcS
::respawn:/sbin/udhcpc -f -i eth0 -s /usr/share/udhcpc/default.script
::shutdown:/bin/umount -a -r
EOF

  cat >"$rootfs/etc/init.d/rcS" <<'EOF'
#!/bin/sh
# LXD usually mounts proc and sys already; only mount what is missing.
grep -q " /proc " /proc/mounts 2>/dev/null || mount -t proc proc /proc
grep -q " /sys " /proc/mounts || mount -t sysfs sysfs /sys
grep -q " /run " /proc/mounts || mount -t tmpfs -o mode=0755 tmpfs /run
[ -f /etc/hostname ] && hostname -F /etc/hostname
ip link set lo up
exit 0
EOF
  chmod 0755 "$rootfs/etc/init.d/rcS"

  cat >"$rootfs/usr/share/udhcpc/default.script" <<'EOF'
#!/bin/sh
# udhcpc hands the lease over in environment variables: ip, mask (prefix length), router, dns, domain.
case "$1" in
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set "$interface" up
    ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    if [ -n "$router" ]; then
      while ip route del default dev "$interface" 2>/dev/null; do :; done
      for r in $router; do
        ip route add default via "$r" dev "$interface"
        break
      done
    fi
    : >/etc/resolv.conf
    [ -n "$domain" ] && echo "search $domain" >>/etc/resolv.conf
    for d in $dns; do
      echo "nameserver $d" >>/etc/resolv.conf
    done
    ;;
esac
exit 0
EOF
  chmod 0755 "$rootfs/usr/share/udhcpc/default.script"

  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
  printf 'root::0:0:99999:7:::\n' >"$rootfs/etc/shadow"
  chmod 0600 "$rootfs/etc/shadow"
  echo busybox >"$rootfs/etc/hostname"
  : >"$rootfs/etc/resolv.conf"

  cat >"$work/metadata.yaml" <<EOF
architecture: x86_64
creation_date: $(date +%s)
properties:
  description: KWS busybox test image (busybox $(/bin/busybox | head -n1 | awk '{print $2}'))
  os: busybox
  release: "$(dpkg-query -W -f='${Version}' busybox-static)"
EOF

  tar --numeric-owner --owner=0 --group=0 -C "$work" -czf "$work/image.tar.gz" metadata.yaml rootfs
  lxc image import "$work/image.tar.gz" --alias "$BUSYBOX_ALIAS" >/dev/null
  rm -rf "$work"
  cleanup_dir=""
}

# Launches a throwaway container and checks it runs, gets an address on the bridge, and can exec.
verify_busybox_image() {
  local name="kws-setup-check-$$" addr="" prefix="${BRIDGE_CIDR%.*}." _
  cleanup_instance=$name
  lxc launch "$BUSYBOX_ALIAS" "$name" >/dev/null || { say "verify: launch failed"; return 1; }
  for _ in $(seq 1 30); do
    addr=$(lxc exec "$name" -- /bin/busybox ip -4 -o addr show dev eth0 2>/dev/null | awk '{print $4}' | cut -d/ -f1 || true)
    [ -n "$addr" ] && break
    sleep 0.5
  done
  [ "$(lxc list "$name" -c s --format csv)" = RUNNING ] || { say "verify: $name is not RUNNING"; return 1; }
  [ -n "$addr" ] || { say "verify: $name got no IPv4 address on eth0 within 15 s"; return 1; }
  [ "${addr#"$prefix"}" != "$addr" ] || { say "verify: $name got $addr, not an address on $BRIDGE"; return 1; }
  [ "$(lxc exec "$name" -- busybox echo hi)" = hi ] || { say "verify: exec in $name failed"; return 1; }
  lxc delete --force "$name" >/dev/null
  cleanup_instance=""
  say "verified $BUSYBOX_ALIAS: RUNNING, eth0 $addr, exec ok"
}

if lxc image alias list --format csv | cut -d, -f1 | grep -qx "$BUSYBOX_ALIAS"; then
  say "image $BUSYBOX_ALIAS present"
  if [ "$verify" -eq 1 ]; then
    verify_busybox_image || die "$BUSYBOX_ALIAS does not work; delete it (lxc image delete $BUSYBOX_ALIAS) and run again to rebuild"
  fi
else
  say "building image $BUSYBOX_ALIAS"
  build_busybox_image
  if ! verify_busybox_image; then
    # Drop the broken image so the next run rebuilds it instead of trusting it.
    lxc image delete "$BUSYBOX_ALIAS" >/dev/null 2>&1 || true
    die "the freshly built $BUSYBOX_ALIAS failed its check (see above); lxd log: $LXD_LOG"
  fi
fi

# --- fast storage pool and the Debian instance image (--instance-image) --------
instance_pool=$POOL

# btrfs on a loop file: a launch snapshots the image unpacked once instead of unpacking the whole
# image (1.5 GB) again for every container (dir).
ensure_fast_pool() {
  local driver err
  if lxc storage show "$FAST_POOL" >/dev/null 2>&1; then
    driver=$(lxc storage show "$FAST_POOL" | awk '/^driver:/ {print $2}')
    say "storage pool $FAST_POOL present ($driver): launch instances with -s $FAST_POOL"
    instance_pool=$FAST_POOL
    return 0
  fi
  if ! grep -qw btrfs /proc/filesystems && ! modprobe btrfs 2>/dev/null; then
    say "this kernel has no btrfs: no fast pool; instances use $POOL (dir, unpacks the whole image per launch: 8-60 s)"
    return 0
  fi
  if ! command -v mkfs.btrfs >/dev/null 2>&1; then
    say "installing btrfs-progs"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq btrfs-progs >/dev/null
  fi
  if err=$(lxc storage create "$FAST_POOL" btrfs size="$FAST_POOL_SIZE" 2>&1 >/dev/null); then
    say "created storage pool $FAST_POOL (btrfs on a $FAST_POOL_SIZE loop file): launch instances with -s $FAST_POOL ($POOL stays dir, for the busybox tests)"
    instance_pool=$FAST_POOL
  else
    say "could not create a btrfs pool ($err): instances use $POOL (dir, 8-60 s per launch)"
  fi
}

# Version of the recipe: what goes into the image (build.sh, host-cas.sh, files/, templates/), the
# DNS address baked in and, with KWS_IMAGE_TRUST_HOST_CAS=1, the host's own CAs; not verify.sh.
instance_recipe_stamp() {
  (
    cd "$RECIPE_DIR"
    find build.sh host-cas.sh files templates -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
    echo "dns=${BRIDGE_CIDR%/*}"
    [ "${KWS_IMAGE_TRUST_HOST_CAS:-0}" != 1 ] || echo "host-cas=$(./host-cas.sh | sha256sum)"
  ) | sha256sum | cut -c1-16
}

instance_alias_exists() { lxc image alias list --format csv | cut -d, -f1 | grep -qx "$INSTANCE_ALIAS"; }

ensure_instance_image() {
  local stamp cached have fp t0 old
  stamp=$(instance_recipe_stamp)
  cached="$IMAGE_CACHE/debian-12-code-server-$stamp.tar.zst"
  if instance_alias_exists; then
    have=$(lxc image get-property "$INSTANCE_ALIAS" kws.recipe 2>/dev/null || true)
    say "image $INSTANCE_ALIAS present"
    [ "$have" = "$stamp" ] ||
      say "note: $INSTANCE_ALIAS was built from recipe ${have:-unknown}, scripts/instance-image/ is now $stamp (lxc image delete $INSTANCE_ALIAS and run again to switch)"
    return 0
  fi
  mkdir -p "$IMAGE_CACHE"
  # One build at a time; whoever waited finds the image (or the tarball) made by the other.
  exec 9>"$IMAGE_CACHE/instance-image.lock"
  flock -n 9 || { say "another host-setup is building $INSTANCE_ALIAS, waiting for it"; flock 9; }
  if instance_alias_exists; then say "image $INSTANCE_ALIAS present"; exec 9>&-; return 0; fi

  if [ -f "$cached" ]; then
    say "using the cached tarball $cached (recipe $stamp)"
  else
    say "building $INSTANCE_ALIAS (recipe $stamp) into $cached: 3-20 minutes, details in $IMAGE_LOG"
    t0=$(date +%s)
    "$RECIPE_DIR/build.sh" "$cached" "$stamp" "${BRIDGE_CIDR%/*}" "$IMAGE_LOG"
    say "image built in $(( $(date +%s) - t0 )) s"
    for old in "$IMAGE_CACHE"/debian-12-code-server-*.tar.zst; do
      [ "$old" = "$cached" ] || rm -f "$old"
    done
  fi

  t0=$(date +%s)
  # A unified tarball's fingerprint is its sha256: the image may still be there without its alias.
  fp=$(sha256sum "$cached" | cut -d' ' -f1)
  if lxc image info "$fp" >/dev/null 2>&1; then
    lxc image alias create "$INSTANCE_ALIAS" "$fp" >/dev/null
    say "image ${fp:0:12} was still there: gave it the alias $INSTANCE_ALIAS"
  elif ! lxc image import "$cached" --alias "$INSTANCE_ALIAS" >/dev/null; then
    if ! zstd -tq "$cached" 2>/dev/null; then
      rm -f "$cached"
      die "the cached tarball was damaged and is removed; run again to rebuild"
    fi
    die "lxc image import $cached failed; lxd log: $LXD_LOG"
  else
    say "imported $INSTANCE_ALIAS (${fp:0:12}, $(du -h "$cached" | cut -f1)) in $(( $(date +%s) - t0 )) s"
  fi
  exec 9>&-
}

if [ "$instance_image" -eq 1 ]; then
  ensure_fast_pool
  ensure_instance_image
  if [ "$verify" -eq 1 ]; then
    "$RECIPE_DIR/verify.sh" --pool "$instance_pool" --alias "$INSTANCE_ALIAS" ||
      die "$INSTANCE_ALIAS failed its check (see above); to rebuild: lxc image delete $INSTANCE_ALIAS && rm -f $IMAGE_CACHE/debian-12-code-server-*.tar.zst"
  fi
  say "instances: lxc launch $INSTANCE_ALIAS NAME -s $instance_pool"
fi

say "done in $(( $(date +%s) - started )) s"
