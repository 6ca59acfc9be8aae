#!/usr/bin/env bash
# The browser tests, in headless Chromium against `serve --demo`: a newcomer signs in to
# the demo (demo-smoke.mjs), and the Configuration Manager at phone and laptop widths
# (console.mjs). Installs Debian's chromium and playwright-core (npm, under
# target/browser) when missing, starts `serve --demo` on a free port with a throwaway
# database, and stops it afterwards. Screenshots: $SHOTS (default target/browser/shots).
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
status=0
for t in demo-smoke console; do
  cp "tests/browser/$t.mjs" "$PW/$t.mjs"
  SHOTS="${SHOTS:-target/browser/shots}" node "$PW/$t.mjs" "http://127.0.0.1:$port" || status=1
done
if [ "$status" -ne 0 ]; then
  echo "browser tests failed; the server's log:" >&2
  tail -n 40 "$work/serve.log" >&2
fi
exit "$status"
