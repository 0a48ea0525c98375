#!/usr/bin/env bash
# Installs what weft's build and tests need, idempotently; safe to run any number of times:
# - the pinned Rust toolchain with its wasm target (rust-toolchain.toml);
# - cargo-nextest, the test runner;
# - a Python virtualenv (.venv) with moto (the AWS API server the tests talk to), the AWS CLI (the tests read the
#   stream back with it once, as an operator would) and cargo-lambda (the Lambda runtime API server for the tests,
#   and `cargo lambda build` for deployment).
set -euo pipefail
cd "$(dirname "$0")/.."

rustup toolchain install >/dev/null

if ! command -v cargo-nextest >/dev/null 2>&1; then
    cargo install --locked cargo-nextest
fi

VENV=.venv
PY_PACKAGES=("moto[server]==5.2.1" "awscli==1.45.11" "cargo-lambda==1.9.2")
stamp="$VENV/.weft-packages"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "${PY_PACKAGES[*]}" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PY_PACKAGES[@]}"
    echo "${PY_PACKAGES[*]}" > "$stamp"
fi
