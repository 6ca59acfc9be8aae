#!/usr/bin/env bash
# Interoperability with an IdP nobody here wrote: pysaml2 (with xmlsec1) as the IdP, against
# `serve` (not --demo) with a throwaway SQLite database on a free port. The only set-up outside
# HTTP is the operator (`admin create-operator`, password through the environment); the
# tenant, pysaml2's metadata, the settings, a SCIM token, the user (over SCIM) and its license
# go through the gateway's admin API and SCIM. See tests/interop/pysaml2_idp.py.
# Installs pysaml2 and requests (pip) and xmlsec1 (Debian) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v xmlsec1 >/dev/null; then
  echo "interop: installing xmlsec1"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq xmlsec1 >/dev/null
fi
if ! python3 -c 'import saml2, requests' 2>/dev/null; then
  echo "interop: installing pysaml2 and requests"
  python3 -m pip install --quiet --disable-pip-version-check pysaml2 requests ||
    python3 -m pip install --quiet --disable-pip-version-check --break-system-packages pysaml2 requests
fi
cargo build --quiet
bin=target/debug/sso-gateway
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
db="sqlite://$work/interop.db"
base="http://127.0.0.1:$port"
export OPERATOR_EMAIL=operator@interop.test
OPERATOR_PASSWORD="interop-$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
export OPERATOR_PASSWORD
$bin migrate --database "$db" >/dev/null 2>&1 || true
SSO_GATEWAY_ADMIN_PASSWORD="$OPERATOR_PASSWORD" $bin admin --database "$db" create-operator --email "$OPERATOR_EMAIL"
$bin serve --listen "127.0.0.1:$port" --public-url "$base" --database "$db" > "$work/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
  curl -fs "$base/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
status=0
python3 tests/interop/pysaml2_idp.py "$base" || status=1
if [ "$status" -ne 0 ]; then
  echo "interop failed; the server's log:" >&2
  tail -n 40 "$work/serve.log" >&2
fi
exit "$status"
