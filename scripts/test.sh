#!/usr/bin/env bash
# The whole test suite: `scripts/test.sh` (the README's test command; .ci/run runs exactly this).
# Starts the local AWS API server (moto) the tests talk to, and stops it when the suite ends.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cargo fmt --all --check
# Every lint is an error: a warning nobody reads is a bug nobody fixes.
cargo clippy --workspace --all-targets --locked -- -D warnings
# Licenses, banned crates, sources (deny.toml); then advisories, against a snapshot of the RustSec database (it is
# published only on GitHub, which CI cannot reach: docs/internals.md, "Supply chain").
cargo deny --locked check licenses bans sources
scripts/advisories.sh

mkdir -p target
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# exec: $! is the server itself, so the trap stops it and nothing is orphaned.
bash -c "exec .venv/bin/moto_server -H 127.0.0.1 -p $port" > target/moto.log 2>&1 &
moto_pid=$!
trap 'kill "$moto_pid" 2>/dev/null || true' EXIT
python3 - "$port" <<'PY'
import sys, time, urllib.request
for _ in range(200):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/", timeout=1)
        sys.exit(0)
    except Exception:
        time.sleep(0.1)
sys.exit("the local AWS API server (moto) did not start; see target/moto.log")
PY
export WEFT_TEST_AWS_ENDPOINT="http://127.0.0.1:$port"

cargo nextest run --workspace --no-fail-fast "$@"
