#!/usr/bin/env bash
# Restart PostgreSQL under load and check that the gateway fails fast (503), recovers by
# itself, and loses no acknowledged write. It restarts the machine's PostgreSQL, so it runs
# on its own (after the suite), not inside `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
pg="${SSO_GATEWAY_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}"
if ! pg_isready -q -d "$pg"; then
  echo "fault-postgres: PostgreSQL does not answer at $pg" >&2
  exit 1
fi
SSO_GATEWAY_TEST_POSTGRES="$pg" cargo test --test integration \
  cluster::postgres_restart_under_load_fails_fast_and_recovers -- --ignored --exact --nocapture 2>&1 \
  | grep -Ev '^level=' | tail -n 25
status=${PIPESTATUS[0]}
# Leave PostgreSQL running for whatever comes next.
for _ in $(seq 1 30); do pg_isready -q -d "$pg" && break; sleep 1; done
exit "$status"
