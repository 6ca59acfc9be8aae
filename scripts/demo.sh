#!/usr/bin/env bash
# The run command: set up a fresh machine, build, and start the gateway with the demo
# (embedded SQLite in data/, a demo tenant and users, the development IdP, a demo app).
# Equivalent to `cargo run --release -- serve --demo` once scripts/setup.sh has run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec cargo run --release -- serve --demo "$@"
