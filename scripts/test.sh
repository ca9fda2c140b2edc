#!/usr/bin/env bash
# The test command (README "Testing"): formatting, lints, unit/property/integration tests, then
# Redis's own Tcl test suite against a release build of cartwheel.
#   scripts/test.sh            everything
#   SKIP_REDIS_SUITE=1 scripts/test.sh   without the Tcl suite
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --release --all-targets -- -D warnings

echo "== cargo test"
cargo test --release

if [ "${SKIP_REDIS_SUITE:-0}" != 1 ]; then
  echo "== Redis test suite"
  cargo build --release --bin cartwheel
  scripts/redis-suite.sh
fi
