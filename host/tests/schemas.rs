//! The checked-in JSON Schemas are what the code generates.

mod common;

#[test]
fn checked_in_schemas_are_up_to_date() {
    let dir = common::repo().join("schemas");
    let generated = weft::schema::all();
    for (name, text) in &generated {
        let on_disk = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        assert!(on_disk == *text, "schemas/{name} differs from the code: run `cargo run -p weft -- schemas`");
    }
    let files = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(files, generated.len(), "schemas/ holds a file the code no longer generates");
}

#[test]
fn the_envelope_schema_knows_every_topic_body() {
    let (_, text) = weft::schema::all().into_iter().find(|(name, _)| *name == "envelope.schema.json").unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    let defs = schema["$defs"].as_object().unwrap();
    for body in [
        "CustomerStart",
        "CustomerEnd",
        "FlowStart",
        "FlowEnd",
        "FlowOutcome",
        "AcdStart",
        "AcdEnd",
        "UserStart",
        "UserEnd",
        "AfterCallWork",
        "Wrapup",
        "OutboundInit",
        "VoicemailStart",
        "VoicemailEnd",
        "AttributeUpdate",
        "ContactUpdate",
    ] {
        assert!(defs.contains_key(body), "{body} missing from the envelope schema");
    }
    assert!(defs["AcdEnd"]["properties"]["acdOutcome"].is_object());
}
