#!/usr/bin/env bash
# Installs what weft's build and tests need, idempotently; safe to run any number of times:
# - the pinned Rust toolchain with its wasm target (rust-toolchain.toml);
# - cargo-nextest, the test runner, and cargo-deny, the supply-chain check;
# - a Python virtualenv (.venv) with moto (the AWS API server the tests talk to), the AWS CLI (the tests read the
#   stream back with it once, as an operator would), cargo-lambda (the Lambda runtime API server for the tests,
#   and `cargo lambda build` for deployment), componentize-py (it builds rules written in Python) and Genesys'
#   Python SDK (the models the fake Genesys Cloud API of the tests is checked against);
# - with the machine's Node.js and npm, the tools that build rules written in TypeScript or JavaScript
#   (.node/node_modules/.bin): esbuild (bundles a rule with weft's SDK), typescript (type-checks it) and
#   componentize-qjs (makes the component, on QuickJS); asl-validator, with which the suite checks the backfill state machine, and
#   playwright-core, with which it drives Debian's Chromium (installed last) through `weft studio`;
# - two more virtualenvs for the Terraform checks: checkov (.venv-checkov) and python-hcl2 (.venv-hcl). They cannot
#   share one: checkov bundles its own `hcl2` package, which python-hcl2's would overwrite.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup toolchain install >/dev/null

if ! command -v cargo-nextest >/dev/null 2>&1; then
    cargo install --locked cargo-nextest
fi

# cargo-deny, which checks what may be in the build (deny.toml: licenses, bans, sources), from crates.io.
if [ "$(cargo deny --version 2>/dev/null)" != "cargo-deny 0.20.2" ]; then
    cargo install --locked cargo-deny@0.20.2
fi

# venv DIR PACKAGE...: a virtualenv with exactly these packages, (re)installed only when the list changes.
venv() {
    local dir="$1"
    shift
    local stamp="$dir/.weft-packages"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$*" ]; then
        python3 -m venv "$dir"
        "$dir/bin/pip" install --quiet --disable-pip-version-check "$@"
        echo "$*" > "$stamp"
    fi
}

venv .venv "moto[server]==5.2.1" "awscli==1.45.11" "cargo-lambda==1.9.2" "componentize-py==0.25.1" \
    "PureCloudPlatformClientV2==269.0.0"
venv .venv-checkov "checkov==3.2.469"
venv .venv-hcl "python-hcl2==7.2.1"

# The npm tools, exactly as scripts/js-tools/package-lock.json pins them (the whole tree, not only the three named),
# in .node/; reinstalled only when the lockfile changes.
if ! command -v npm >/dev/null 2>&1; then
    echo "scripts/setup.sh: npm is not on the PATH: install Node.js (18 or later) with npm; the tests build rules written in TypeScript and JavaScript with it" >&2
    exit 1
fi
if ! cmp -s scripts/js-tools/package-lock.json .node/.weft-lock 2>/dev/null; then
    rm -rf .node
    mkdir -p .node
    cp scripts/js-tools/package.json scripts/js-tools/package-lock.json .node/
    npm ci --prefix .node --no-audit --no-fund --loglevel=error
    cp scripts/js-tools/package-lock.json .node/.weft-lock
fi

# Debian's Chromium: the studio's tests drive it headless with playwright-core (above), which cannot download a
# browser of its own here.
if ! command -v chromium >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
