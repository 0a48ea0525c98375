//! The default rule ships precompiled: a cold start must deserialize it, never compile it.

use weft::engine::Engine;
use weft::rules::embedded::{DEFAULT_RULE, Loaded, default_module};

#[test]
fn the_embedded_default_rule_loads_precompiled() {
    let engine = Engine::new().unwrap();
    let (module, loaded) = default_module(&engine).unwrap();
    assert_eq!(loaded, Loaded::Precompiled, "the build script's engine settings drifted from the host's");
    assert_eq!(module.id().name, DEFAULT_RULE);
    assert_eq!(module.id().sha256.len(), 64);
}

#[test]
fn an_engine_with_other_settings_compiles_it_instead() {
    let engine = Engine::with_deadline(false).unwrap();
    let (_, loaded) = default_module(&engine).unwrap();
    assert_eq!(loaded, Loaded::Compiled);
}
