//! Any bytes as a rule set manifest: parsed, and when it parses, loaded (builtin modules only; files are absent):
//! a clear error or a rule set, never a panic.
#![no_main]

use std::collections::HashMap;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use weft::engine::{Engine, Limits};
use weft::rules::manifest::Manifest;
use weft::rollout::source::Prefetched;

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::new().expect("engine"))
}

fuzz_target!(|data: &[u8]| {
    if let Ok(parsed) = Manifest::parse(data) {
        let _ = parsed.load(engine(), &Limits::default(), &Prefetched(HashMap::new()));
    }
});
