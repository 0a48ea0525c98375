#!/usr/bin/env bash
# Builds the deployment artifact: target/lambda/weft/bootstrap.zip for provided.al2023 on arm64 (Graviton).
# cargo-lambda cross-compiles with zig (installed with it); the default rule is precompiled for aarch64 by
# host/build.rs, so the function deserializes it on a cold start instead of compiling it.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
rustup target add aarch64-unknown-linux-gnu >/dev/null   # idempotent; the toolchain is rust-toolchain.toml's
# zig (a dependency of the cargo-lambda wheel) is found on PATH.
PATH="$PWD/.venv/bin:$PATH" cargo-lambda lambda build --release --arm64 --output-format zip -p weft --no-default-features --features precompile-arm64 "$@"
ls -l target/lambda/weft/bootstrap.zip
