#!/usr/bin/env bash
# Checks the KWS Debian instance image end to end on this host, and prints how long each part took:
# launch, systemd up, IPv4 on eth0 from lxdbr0, ssh active, DNS, a user with a password,
# code-server@USER answering on :8099 (login page 200, right password 302 + cookie, wrong password
# 200, workbench 200 with the cookie), and code-server answering again by itself after a restart.
# The throwaway container is deleted however the script ends.
#
# Usage: sudo scripts/instance-image/verify.sh [--pool POOL] [--alias ALIAS] [--keep]
set -euo pipefail

pool=""
alias=kws/debian-12
keep=0
while [ "$#" -gt 0 ]; do
  case "$1" in
    --pool) pool=$2; shift 2 ;;
    --alias) alias=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "verify: unknown argument: $1" >&2; exit 2 ;;
  esac
done

name="kws-image-check-$$"
user=kwscheck
port=8099
password=$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 20)
failures=0

say() { echo "verify: $*"; }
fail() { echo "verify: FAIL: $*" >&2; failures=$((failures + 1)); }
now_ms() { date +%s%3N; }
secs_since() { awk -v a="$1" -v b="$(now_ms)" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }

cleanup() {
  local rc=$?
  if [ "$keep" -eq 1 ]; then say "kept $name"; else lxc delete --force "$name" >/dev/null 2>&1 || true; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

in_c() { lxc exec "$name" -- "$@"; }

ipv4() { in_c ip -4 -o addr show dev eth0 2>/dev/null | awk '{print $4}' | cut -d/ -f1 | head -n1; }

wait_ipv4() { # prints the address; up to 60 s
  local addr="" _
  for _ in $(seq 1 120); do
    addr=$(ipv4 || true)
    [ -n "$addr" ] && { echo "$addr"; return 0; }
    sleep 0.5
  done
  return 1
}

http_code() { curl -s -o /dev/null -m 5 -w '%{http_code}' "$@" || true; }

wait_login() { # up to 120 s for /login to answer 200
  local _
  for _ in $(seq 1 240); do
    [ "$(http_code "http://$1:$port/login")" = 200 ] && return 0
    sleep 0.5
  done
  return 1
}

pool_args=()
[ -z "$pool" ] || pool_args=(-s "$pool")
say "image $alias, pool ${pool:-"(profile default)"}, container $name"

t=$(now_ms)
lxc launch "$alias" "$name" "${pool_args[@]}" >/dev/null
launch_s=$(secs_since "$t")
say "launch: ${launch_s} s"

t=$(now_ms)
# Early in boot systemctl cannot reach systemd yet ("Failed to connect to bus"): ask again.
state=""
for _ in $(seq 1 240); do
  state=$(in_c systemctl is-system-running --wait 2>/dev/null || true)
  case "$state" in running | degraded | maintenance | stopping) break ;; esac
  sleep 0.5
done
systemd_s=$(secs_since "$t")
say "systemd: '$state' after ${systemd_s} s more"
case "$state" in
  running) ;;
  degraded) say "failed units: $(in_c systemctl list-units --state=failed --no-legend --plain | awk '{print $1}' | tr '\n' ' ')" ;;
  *) fail "systemd did not finish starting ($state)" ;;
esac

t=$(now_ms)
if addr=$(wait_ipv4); then
  say "eth0: $addr, after $(secs_since "$t") s more"
else
  fail "no IPv4 on eth0 within 60 s"
  exit 1
fi

ssh_state=$(in_c systemctl is-active ssh || true)
[ "$ssh_state" = active ] && say "ssh: active" || fail "ssh is $ssh_state"
sshd_conf=$(in_c sshd -T 2>/dev/null | grep -Ei '^(permitrootlogin|passwordauthentication) ' | tr '\n' ' ' || true)
say "sshd: $sshd_conf"
[[ "$sshd_conf" == *"permitrootlogin no"* && "$sshd_conf" == *"passwordauthentication yes"* ]] || fail "sshd config is not PermitRootLogin no + PasswordAuthentication yes"
if in_c test -s /etc/ssh/ssh_host_ed25519_key; then say "ssh host keys: generated on first boot"; else fail "no ssh host keys"; fi

if dns=$(in_c getent hosts deb.debian.org); then say "dns: $(echo "$dns" | head -n1)"; else fail "getent hosts deb.debian.org failed"; fi
say "https from inside (information only): $(in_c curl -sS -o /dev/null -m 8 -w '%{http_code}' https://registry.npmjs.org/ 2>&1 | head -n1 || true)"
say "hostname: $(in_c hostname), /etc/hosts has it: $(in_c grep -c "$name" /etc/hosts || true)"

# The password goes in on stdin (not on a command line that ps would show), lives in an
# environment variable inside the container and reaches chpasswd on its stdin.
printf '%s\n' "$password" | lxc exec "$name" --env KWS_USER="$user" --env KWS_PORT="$port" -- bash -c '
  set -eu
  IFS= read -r KWS_PASSWORD
  export KWS_PASSWORD
  useradd --create-home --shell /bin/bash "$KWS_USER"
  printf "%s:%s\n" "$KWS_USER" "$KWS_PASSWORD" | chpasswd
  home=/home/$KWS_USER
  install -d -o "$KWS_USER" -g "$KWS_USER" -m 0700 "$home/.config" "$home/.config/code-server"
  umask 077
  printf "bind-addr: 0.0.0.0:%s\nauth: password\npassword: \"%s\"\ncert: false\n" "$KWS_PORT" "$KWS_PASSWORD" >"$home/.config/code-server/config.yaml"
  chown "$KWS_USER:$KWS_USER" "$home/.config/code-server/config.yaml"
'
say "user $user created with a password; config.yaml written"

t=$(now_ms)
in_c systemctl enable --now "code-server@$user" >/dev/null 2>&1
if wait_login "$addr"; then
  say "code-server@$user: /login 200 after $(secs_since "$t") s"
else
  fail "code-server@$user: /login did not answer 200 within 120 s"
  in_c journalctl -u "code-server@$user" --no-pager -n 30 >&2 || true
  exit 1
fi

headers=$(printf '%s' "$password" | curl -s -m 10 -o /dev/null -D - --data-urlencode password@- "http://$addr:$port/login" | tr -d '\r')
code=$(awk 'NR == 1 {print $2}' <<<"$headers")
cookie=$(awk -F': ' 'tolower($1) == "set-cookie" {split($2, a, ";"); print a[1]; exit}' <<<"$headers")
if [ "$code" = 302 ] && [ -n "$cookie" ]; then say "POST /login right password: 302, cookie ${cookie%%=*}"; else fail "POST /login right password: $code, cookie '${cookie%%=*}'"; fi

wrong=$(http_code --data-urlencode "password=not-the-password" "http://$addr:$port/login")
[ "$wrong" = 200 ] && say "POST /login wrong password: 200" || fail "POST /login wrong password: $wrong"

if [ -n "$cookie" ]; then
  page=$(curl -s -m 10 -b "$cookie" -w '\n%{http_code}' "http://$addr:$port/" || true)
  code=$(tail -n1 <<<"$page")
  if [ "$code" = 200 ] && grep -qi workbench <<<"$page"; then say "GET / with the cookie: 200, workbench"; else fail "GET / with the cookie: $code"; fi
fi

t=$(now_ms)
lxc restart "$name" >/dev/null
restart_s=$(secs_since "$t")
addr2=$(wait_ipv4) || { fail "no IPv4 after restart"; exit 1; }
[ "$addr2" = "$addr" ] || say "note: address changed on restart: $addr -> $addr2"
if wait_login "$addr2"; then
  say "after lxc restart (${restart_s} s): code-server answers again by itself, $(secs_since "$t") s from the restart"
else
  fail "code-server did not come back after lxc restart"
fi

if [ "$failures" -eq 0 ]; then say "all checks passed"; else say "$failures check(s) failed"; exit 1; fi
