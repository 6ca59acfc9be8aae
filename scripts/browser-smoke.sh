#!/usr/bin/env bash
# Sign in to the demo in headless Chromium, as a newcomer would. Installs Debian's
# chromium and playwright-core (npm, under target/browser) when missing, starts
# `serve --demo` on a free port with a throwaway database, and stops it afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ]; then
  echo "browser-smoke: installing chromium"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
PW=target/browser
if [ ! -d "$PW/node_modules/playwright-core" ]; then
  echo "browser-smoke: installing playwright-core"
  mkdir -p "$PW"
  (cd "$PW" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund playwright-core@1 >/dev/null)
fi
cargo build --quiet
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
target/debug/sso-gateway serve --demo --listen "127.0.0.1:$port" --database "sqlite://$work/demo.db" > "$work/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 50); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
cp tests/browser/demo-smoke.mjs "$PW/demo-smoke.mjs"
SHOTS="${SHOTS:-target/browser/shots}" node "$PW/demo-smoke.mjs" "http://127.0.0.1:$port"
