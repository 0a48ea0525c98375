#!/usr/bin/env bash
# The whole test suite: `scripts/test.sh` (the README's test command; .ci/run runs exactly this).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cargo fmt --all --check
cargo nextest run --workspace --no-fail-fast "$@"
