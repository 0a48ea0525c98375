#!/usr/bin/env bash
# Rebuilds the example rule modules into rules/dist/ and pins their new hashes in rules/contact-centre.json, and the
# QuickJS engine the build compiles into weft's code cache.
# Run it after changing an example's source (the tests run each example's golden cases on a fresh build, and the
# rule set's own tests on what rules/dist/ holds).
set -euo pipefail
cd "$(dirname "$0")/.."

for example in wrapup-names queue-names redact-pii; do
    cargo run -q -p weft -- rules build "rules/examples/$example"
    cp "target/rules/weft/weft-example-$example.wasm" "rules/dist/$example.wasm"
done
# The QuickJS engine whose machine code weft ships (host/src/engine/code_cache.rs): a JavaScript rule built with
# the pinned componentize-qjs. Rebuild it when that pin changes; host/tests/js_rules.rs fails until then.
WEFT_JS_TOOLS="${WEFT_JS_TOOLS:-$PWD/.node}" cargo run -q -p weft -- rules build guest-sdk/js/quickjs
cp guest-sdk/js/quickjs/build/quickjs.wasm guest-sdk/js/quickjs.wasm
python3 - <<'PY'
import hashlib, json, pathlib
path = pathlib.Path("rules/contact-centre.json")
manifest = json.loads(path.read_text())
for rule in manifest["rules"]:
    for module in rule["modules"]:
        if module["module"].endswith(".wasm"):
            module["sha256"] = hashlib.sha256((path.parent / module["module"]).read_bytes()).hexdigest()
path.write_text(json.dumps(manifest, indent=2) + "\n")
PY
echo "pinned rules/dist/*.wasm in rules/contact-centre.json"
