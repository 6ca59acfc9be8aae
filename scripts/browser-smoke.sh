#!/usr/bin/env bash
# The browser tests, in headless Chromium against `serve --demo`: the users' flows (a
# newcomer, sign-out with single logout, IdP-initiated, deactivated / unlicensed /
# unprovisioned: demo-smoke.mjs), the admins' flows (sign in, an organization and its IdP
# metadata upload, a license, the Federation ID, ending a session: admin-flows.mjs), and
# the Configuration Manager at phone and laptop widths (console.mjs). Installs Debian's chromium and playwright-core (npm, under
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
start=$(date +%s)
cp tests/browser/*.mjs "$PW/"
for t in demo-smoke admin-flows console; do
  SHOTS="${SHOTS:-target/browser/shots}" node "$PW/$t.mjs" "http://127.0.0.1:$port" 2>&1 | tee "$work/$t.out" || status=1
  grep -q ' 0 failed' "$work/$t.out" || status=1
done
p=$(grep -hEo '^browser [a-z-]+: [0-9]+ passed' "$work"/*.out | awk '{s+=$3} END {print s+0}')
f=$(grep -hEo '^browser [a-z-]+: [0-9]+ passed, [0-9]+ failed' "$work"/*.out | awk '{s+=$5} END {print s+0}')
echo "browser: 3 suites in $(( $(date +%s) - start )) s, screenshots in ${SHOTS:-target/browser/shots}"
echo "browser: $p passed, $f failed"
if [ "$status" -ne 0 ]; then
  echo "browser tests failed; the server's log:" >&2
  tail -n 40 "$work/serve.log" >&2
fi
exit "$status"
