#!/usr/bin/env bash
# Installs what weft's build and tests need, idempotently: the pinned Rust toolchain with its wasm target
# (rust-toolchain.toml). Safe to run any number of times; does nothing that is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

# rustup reads rust-toolchain.toml: the pinned toolchain, its targets and components.
rustup toolchain install >/dev/null

if ! command -v cargo-nextest >/dev/null 2>&1; then
    cargo install --locked cargo-nextest
fi
