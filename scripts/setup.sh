#!/usr/bin/env bash
# Install what building and testing sso-gateway needs on a fresh Debian machine.
# Idempotent and quick when everything is already present.
set -euo pipefail

need_apt=()
# Build: samael's default `xmlsec` feature binds libxmlsec1 with bindgen (libclang);
# openssl-sys needs the OpenSSL headers. Tests: the xmlsec1 command (fixture signer).
for pkg in pkg-config libssl-dev libxml2-dev libxmlsec1-dev libxmlsec1-openssl libclang-dev clang xmlsec1; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
if ((${#need_apt[@]})); then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# Tests: lxml is the exclusive-C14N oracle (differential corpus); signxml regenerates/cross-checks fixtures;
# cryptography encrypts the fixtures xmlsec1 cannot (tests/fixtures/pyxmlenc.py);
# prometheus_client's parser checks the /metrics exposition (tests/integration/observability.rs).
if ! python3 -c 'import lxml, signxml, cryptography, prometheus_client' 2>/dev/null; then
  echo "setup: installing Python packages lxml, signxml, cryptography, prometheus_client"
  python3 -m pip install --quiet --disable-pip-version-check lxml signxml cryptography prometheus_client
fi

command -v cargo >/dev/null || { echo "setup: cargo (Rust 1.95+) is required" >&2; exit 1; }
