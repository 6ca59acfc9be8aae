#!/usr/bin/env bash
# Set up, build, and replay the
# signed Okta-shaped fixtures and a few attacks through `sso-gateway verify-response`
# with a fixed clock, showing each verdict.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --quiet
BIN=target/release/sso-gateway
F=tests/fixtures
run() {
  "$BIN" verify-response --idp-metadata "$F/idp-metadata.xml" \
    --sp-entity-id https://sso.example.test/saml/acme/metadata \
    --acs-url https://sso.example.test/saml/acme/acs \
    --now 2026-06-01T12:01:00Z --request-id _8f1c2a9e4b7d4c3e9a0b1c2d3e4f5a6b "$@" || true
}
echo "== an Okta-shaped signed response, with every check explained"
run --explain "$F/responses/okta-both-signed.xml" | python3 -m json.tool
echo
echo "== the same assertion again (replay), a wrapping attack, comment injection, a DTD bomb"
run "$F/responses/okta-response-signed.xml" "$F/responses/okta-response-signed.b64" \
    "$F/attacks/xsw4-evil-wraps-original.xml" "$F/attacks/comment-injection-nameid.xml" "$F/attacks/billion-laughs.xml"
