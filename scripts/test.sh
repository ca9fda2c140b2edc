#!/usr/bin/env bash
# The test command (README "Testing"): formatting, lints, unit/property/integration tests,
# Redis's own Tcl test suite against a release build of cartwheel, then the container image and
# the three-node compose cluster (scripts/docker-test.sh; skipped loudly without a Docker engine).
#   scripts/test.sh            everything
#   SKIP_REDIS_SUITE=1 scripts/test.sh   without the Tcl suite
#   SKIP_DOCKER=1 scripts/test.sh        without the Docker test
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

if [ "${SKIP_DOCKER:-0}" != 1 ]; then
  echo "== Docker image and compose cluster"
  scripts/docker-test.sh
fi
