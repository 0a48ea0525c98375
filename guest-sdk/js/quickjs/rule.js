// The JavaScript rule weft's build compiles to ship the QuickJS engine's machine code (`guest-sdk/js/quickjs.wasm`,
// host/src/engine/code_cache.rs). Every JavaScript rule carries the same engine, with its own code in the data,
// so what this one does does not matter: it drops every event. Rebuilt by scripts/build-examples.sh.

import * as weft from "weft";

weft.rule(() => weft.drop("QuickJS's code for weft's cache, never deployed"));
