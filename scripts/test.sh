#!/usr/bin/env bash
# The test command: set up the machine, run the whole suite on SQLite (the embedded default),
# then the integration suite again on PostgreSQL, every test in a fresh schema.
# PostgreSQL: $SSO_GATEWAY_TEST_POSTGRES, else postgres://postgres@127.0.0.1:5432/test when a
# server answers there. Without one the PostgreSQL pass is skipped, except in CI (CI=true),
# where a missing PostgreSQL is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
pg="${SSO_GATEWAY_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}"
# First pass: SQLite (tests that need PostgreSQL skip themselves here and run below).
env -u SSO_GATEWAY_TEST_POSTGRES cargo test "$@"
ci=false; [ "${CI:-}" = "true" ] || [ "${CI:-}" = "1" ] && ci=true
if ! pg_isready -q -d "$pg" 2>/dev/null; then
  if $ci && [ -d /etc/postgresql ]; then
    echo "test: starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
    for _ in $(seq 1 30); do pg_isready -q -d "$pg" && break; sleep 1; done
  fi
fi
if ! pg_isready -q -d "$pg" 2>/dev/null; then
  if $ci; then
    echo "test: PostgreSQL is required in CI but does not answer at $pg" >&2
    exit 1
  fi
  echo "test: no PostgreSQL at $pg; the PostgreSQL pass is skipped (set SSO_GATEWAY_TEST_POSTGRES)"
  exit 0
fi
# Schemas left by earlier runs (each test creates t_<random>).
psql -q -d "$pg" -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SELECT format('DROP SCHEMA %I CASCADE', nspname) FROM pg_namespace WHERE nspname LIKE 't\_%' \gexec
SQL
echo "test: the integration suite again, on PostgreSQL ($pg)"
SSO_GATEWAY_TEST_POSTGRES="$pg" cargo test --test integration "$@"
