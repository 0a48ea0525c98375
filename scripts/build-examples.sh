#!/usr/bin/env bash
# Rebuilds the example rule modules into rules/dist/ and pins their new hashes in rules/contact-centre.json.
# Run it after changing an example's source (the tests run each example's golden cases on a fresh build, and the
# rule set's own tests on what rules/dist/ holds).
set -euo pipefail
cd "$(dirname "$0")/.."

for example in wrapup-names queue-names redact-pii; do
    cargo run -q -p weft -- rules build "rules/examples/$example"
    cp "target/rules/weft/weft-example-$example.wasm" "rules/dist/$example.wasm"
done
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
