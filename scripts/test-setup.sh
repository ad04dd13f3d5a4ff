#!/usr/bin/env bash
# Prepares this machine for `npm test` (run as root; idempotent): makes sure PostgreSQL, Redis and
# RabbitMQ answer (starting them where they are installed but stopped), installs Debian's Chromium
# for the browser tests and Caddy for the ingress tests, and prepares LXD, WireGuard and the instance image with
# scripts/host-setup.sh --instance-image.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'test-setup: %s\n' "$*"; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  local port=$1 name=$2
  for _ in $(seq 1 60); do port_open "$port" && return 0; sleep 1; done
  say "$name did not come up on port $port"; return 1
}

ensure_service() {
  local name=$1 port=$2; shift 2
  if port_open "$port"; then say "$name answers on $port"; return 0; fi
  if ! command -v "$1" >/dev/null 2>&1; then
    say "$name is not installed and nothing answers on $port: install it (Debian package) or run on a node-svc machine"
    return 1
  fi
  say "starting $name"
  "$@" >/dev/null 2>&1 || true
  wait_port "$port" "$name"
}

ensure_service PostgreSQL 5432 pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql 2>/dev/null | head -n1)" main start
ensure_service Redis 6379 redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
ensure_service RabbitMQ 5672 rabbitmq-server -detached

if [ ! -x /usr/bin/chromium ]; then
  say "installing chromium"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
say "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo missing)"

# The ingress tests run Debian's Caddy (started by each test on high ports, never as a service).
if ! command -v caddy >/dev/null 2>&1; then
  say "installing caddy"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq caddy >/dev/null
fi
say "caddy: $(caddy version 2>/dev/null || echo missing)"

# The instance tests deploy the Debian image with code-server: built once per machine (cached in
# /var/cache/kws, about 3-4 minutes the first time), imported again in seconds afterwards.
bash scripts/host-setup.sh --instance-image
