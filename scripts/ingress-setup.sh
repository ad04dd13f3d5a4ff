#!/usr/bin/env bash
# Puts Caddy in front of KWS for app hosts with HTTPS (run as root; idempotent). Installs Debian's
# caddy if missing, writes ONE static JSON config and starts `caddy run` in the background:
#
#   *.<apps host> (and --control-host, if given) → reverse proxy to KWS on 127.0.0.1:<kws port>
#   any other name (people's custom domains) → the same, marked X-Kws-Site: custom-domain, so
#     KWS answers it as a site only (its app, or a 404 page), never with the control plane's pages
#   certificates on demand, each allowed first by KWS: GET /api/v1/ingress/ask?domain=NAME
#     (an app host, a verified custom domain, or the control host)
#
# KWS never changes this config at runtime: in Caddy 2.6 (Debian 12) every admin-API change reloads
# the whole config and closes every proxied websocket, i.e. every open IDE. New apps and domains
# need no change here: the wildcard and catch-all routes already send them to KWS, and their
# certificate comes on first use.
#
#   bash scripts/ingress-setup.sh --apps-url https://kws.app [--control-host kws.example.org]
#        [--kws-port 8080] [--http-port 80] [--https-port 443] [--admin localhost:2019]
#        [--config /etc/kws/caddy.json] [--storage /var/lib/kws-caddy] [--ask-secret S]
#        [--internal-ca] [--no-start]
#
# --internal-ca: certificates from Caddy's own CA (tests, closed networks), nothing installed into
# the system trust store; its root is at the admin API's GET /pki/ca/local/certificates.
# Run KWS with TRUST_PROXY=true behind it (Caddy sets X-Forwarded-For/-Proto/-Host).
set -euo pipefail

say() { printf 'ingress-setup: %s\n' "$*"; }
die() { say "$*" >&2; exit 1; }

APPS_URL="" CONTROL_HOST="" KWS_PORT=8080 HTTP_PORT=80 HTTPS_PORT=443 ADMIN="localhost:2019"
CONFIG=/etc/kws/caddy.json STORAGE=/var/lib/kws-caddy ASK_SECRET="" INTERNAL_CA=0 START=1
while [ $# -gt 0 ]; do
  case "$1" in
    --apps-url) APPS_URL=$2; shift 2 ;;
    --control-host) CONTROL_HOST=$2; shift 2 ;;
    --kws-port) KWS_PORT=$2; shift 2 ;;
    --http-port) HTTP_PORT=$2; shift 2 ;;
    --https-port) HTTPS_PORT=$2; shift 2 ;;
    --admin) ADMIN=$2; shift 2 ;;
    --config) CONFIG=$2; shift 2 ;;
    --storage) STORAGE=$2; shift 2 ;;
    --ask-secret) ASK_SECRET=$2; shift 2 ;;
    --internal-ca) INTERNAL_CA=1; shift ;;
    --no-start) START=0; shift ;;
    *) die "unknown option $1 (see the comment at the top of $0)" ;;
  esac
done

# Every value lands in JSON: each is checked against what it may be, so none needs escaping.
APPS_HOST=$(printf '%s' "$APPS_URL" | sed -E 's#^https?://##; s#[:/].*$##')
host_re='^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$'
[[ $APPS_HOST =~ $host_re ]] || die "--apps-url must be the KWS_APPS_URL, e.g. https://kws.app (got '$APPS_URL')"
[ -z "$CONTROL_HOST" ] || [[ $CONTROL_HOST =~ $host_re ]] || die "--control-host must be a host name"
for p in "$KWS_PORT" "$HTTP_PORT" "$HTTPS_PORT"; do [[ $p =~ ^[0-9]{1,5}$ ]] && [ "$p" -le 65535 ] || die "ports are 1-65535 (got $p)"; done
[[ $ADMIN =~ ^[A-Za-z0-9.:_/-]+$ ]] || die "--admin must be host:port or unix/PATH"
[[ $ASK_SECRET =~ ^[A-Za-z0-9._~-]*$ ]] || die "--ask-secret may hold letters, digits and . _ ~ - only"
[[ $CONFIG =~ ^[A-Za-z0-9._/-]+$ && $STORAGE =~ ^[A-Za-z0-9._/-]+$ ]] || die "--config and --storage must be plain paths"

if ! command -v caddy >/dev/null 2>&1; then
  say "installing caddy (Debian package)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq caddy >/dev/null
fi
# Debian's package starts caddy.service with its own Caddyfile where systemd runs; this config replaces it.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet caddy 2>/dev/null; then systemctl disable --now caddy >/dev/null 2>&1 || true; fi

HOSTS="\"*.$APPS_HOST\""
[ -z "$CONTROL_HOST" ] || HOSTS="$HOSTS, \"$CONTROL_HOST\""
ASK="http://127.0.0.1:$KWS_PORT/api/v1/ingress/ask"
[ -z "$ASK_SECRET" ] || ASK="$ASK?secret=$ASK_SECRET"
ISSUERS=""
[ "$INTERNAL_CA" = 0 ] || ISSUERS=', "issuers": [{"module": "internal"}]'

mkdir -p "$(dirname "$CONFIG")" "$STORAGE"
cat >"$CONFIG.tmp" <<JSON
{
  "admin": {"listen": "$ADMIN", "config": {"persist": false}},
  "storage": {"module": "file_system", "root": "$STORAGE"},
  "apps": {
    "http": {
      "http_port": $HTTP_PORT,
      "https_port": $HTTPS_PORT,
      "servers": {
        "kws": {
          "listen": [":$HTTPS_PORT"],
          "routes": [
            {
              "match": [{"host": [$HOSTS]}],
              "handle": [{"handler": "reverse_proxy", "upstreams": [{"dial": "127.0.0.1:$KWS_PORT"}], "flush_interval": -1}],
              "terminal": true
            },
            {
              "handle": [
                {
                  "handler": "reverse_proxy",
                  "upstreams": [{"dial": "127.0.0.1:$KWS_PORT"}],
                  "flush_interval": -1,
                  "headers": {"request": {"set": {"X-Kws-Site": ["custom-domain"]}}}
                }
              ],
              "terminal": true
            }
          ]
        }
      }
    },
    "tls": {
      "automation": {
        "on_demand": {"ask": "$ASK"},
        "policies": [{"on_demand": true$ISSUERS}]
      }
    },
    "pki": {"certificate_authorities": {"local": {"install_trust": false}}}
  }
}
JSON
caddy validate --config "$CONFIG.tmp" >/dev/null 2>&1 || { caddy validate --config "$CONFIG.tmp" || true; die "caddy refused the config (above)"; }
mv "$CONFIG.tmp" "$CONFIG"
say "wrote $CONFIG: *.$APPS_HOST${CONTROL_HOST:+ and $CONTROL_HOST} and custom domains on :$HTTPS_PORT → 127.0.0.1:$KWS_PORT, certificates on demand (ask $ASK)"

[ "$START" = 1 ] || exit 0
PIDFILE="$CONFIG.pid"
if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  # A new static config, applied at setup time only: open websockets through this Caddy close once, here.
  say "caddy (pid $(cat "$PIDFILE")) is running: stopping it to start with the new config"
  kill "$(cat "$PIDFILE")"
  for _ in $(seq 1 50); do kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break; sleep 0.1; done
fi
nohup caddy run --config "$CONFIG" >"$CONFIG.log" 2>&1 &
echo $! >"$PIDFILE"
for _ in $(seq 1 100); do
  if caddy_up=$(curl -fsS "http://$ADMIN/config/" 2>/dev/null) && [ -n "$caddy_up" ]; then
    say "caddy runs (pid $(cat "$PIDFILE"), log $CONFIG.log)"
    exit 0
  fi
  kill -0 "$(cat "$PIDFILE")" 2>/dev/null || { cat "$CONFIG.log" >&2; die "caddy exited"; }
  sleep 0.1
done
die "caddy did not answer on its admin address $ADMIN (log: $CONFIG.log)"
