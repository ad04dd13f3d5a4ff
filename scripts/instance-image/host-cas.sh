#!/usr/bin/env bash
# Prints (PEM) the CA certificates this host trusts beyond Debian's ca-certificates package: the
# ones a local admin or a TLS-inspecting proxy added to /etc/ssl/certs/ca-certificates.crt.
# Only with KWS_IMAGE_TRUST_HOST_CAS=1: build.sh then installs them into the instance image (so
# HTTPS from instances works through the same TLS-inspecting proxy as on the host), and
# host-setup.sh puts their hash into the image's recipe stamp.
# Certificates Debian ships (or once shipped and then removed) are never printed.
set -euo pipefail
bundle=${1:-/etc/ssl/certs/ca-certificates.crt}
[ -r "$bundle" ] || exit 0
known=$(mktemp)
trap 'rm -f "$known"' EXIT
if [ -d /usr/share/ca-certificates ]; then
  find /usr/share/ca-certificates -type f -name '*.crt' -exec cat {} + >"$known"
fi
awk -v known="$known" '
  function norm(s) { sub(/[ \t\r]+$/, "", s); return s }
  BEGIN {
    while ((getline line < known) > 0) {
      line = norm(line)
      if (line == "-----BEGIN CERTIFICATE-----") { cur = ""; inside = 1 }
      if (inside) cur = cur line "\n"
      if (line == "-----END CERTIFICATE-----") { seen[cur] = 1; inside = 0 }
    }
  }
  { l = norm($0) }
  l == "-----BEGIN CERTIFICATE-----" { cur = ""; inside = 1 }
  inside { cur = cur l "\n" }
  l == "-----END CERTIFICATE-----" { inside = 0; if (!(cur in seen) && !(cur in printed)) { printf "%s", cur; printed[cur] = 1 } }
' "$bundle"
