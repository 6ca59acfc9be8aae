#!/usr/bin/env bash
# The test command: set up the machine, then run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo test "$@"
