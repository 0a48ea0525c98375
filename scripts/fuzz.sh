#!/usr/bin/env bash
# Fuzzes the envelope parser, the manifest loader and the record encoder for a bounded time each (default 60 s),
# with cargo-fuzz on the nightly toolchain. Findings land in fuzz/artifacts/<target>/; each one found becomes a
# regression test in host/tests/fuzz_regressions.rs. Not part of scripts/test.sh: it needs nightly and time.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
# No sanitizer by default: the targets hunt panics and broken invariants in safe Rust, and an AddressSanitizer
# build of wasmtime takes over 20 minutes on 2 cores. FUZZ_SANITIZER=address for the thorough run.
sanitizer="${FUZZ_SANITIZER:-none}"

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
rustup target add wasm32-unknown-unknown --toolchain nightly >/dev/null   # the embedded default rule
mkdir -p fuzz/corpus/envelope fuzz/corpus/manifest fuzz/corpus/record
cp samples/events/*.jsonl fuzz/corpus/envelope/
cp rules/contact-centre.json fuzz/corpus/manifest/
for target in envelope manifest record; do
    echo "== $target (${seconds}s)"
    cargo +nightly fuzz run --sanitizer "$sanitizer" --fuzz-dir fuzz "$target" "fuzz/corpus/$target" -- -max_total_time="$seconds" 2>&1 \
        | grep -E '^(#[0-9]+ +DONE|Done [0-9]+ runs|==[0-9]+==ERROR|SUMMARY|artifact_prefix)' || true
done
ls fuzz/artifacts/*/ 2>/dev/null && echo "findings above: add each to host/tests/fuzz_regressions.rs" || echo "no findings"
