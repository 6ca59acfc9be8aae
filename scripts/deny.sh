#!/usr/bin/env bash
# cargo deny over the dependency graph (deny.toml): licenses, bans and sources always;
# advisories against RustSec's database when it can be fetched. Installs cargo-deny when
# missing. Exits non-zero on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=0.20.2
if ! cargo deny --version 2>/dev/null | grep -q "$VERSION"; then
  echo "deny: installing cargo-deny $VERSION (a few minutes, once)"
  cargo install --quiet --locked cargo-deny --version "$VERSION"
fi
# The advisory database lives on GitHub. Fetch it with a deadline; a machine that reaches
# only package registries cannot, and then says so instead of pretending.
if timeout 60 cargo deny fetch db >/dev/null 2>&1; then
  cargo deny --log-level error check
  echo "deny: advisories, bans, licenses and sources: ok"
else
  cargo deny --log-level error check bans licenses sources
  echo "deny: bans, licenses and sources: ok"
  echo "deny: ADVISORIES NOT CHECKED: RustSec's database (github.com/rustsec/advisory-db) is not reachable from this machine"
  if [ "${DENY_REQUIRE_ADVISORIES:-0}" = 1 ]; then exit 1; fi
fi
