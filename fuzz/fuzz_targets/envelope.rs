//! Any bytes through the input splitter and the envelope parser: no panic, and every chunk is accounted for.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weft::input::{Chunk, split};

fuzz_target!(|data: &[u8]| {
    for chunk in split(data, "fuzz".into()) {
        if let Chunk::Object { text, .. } = chunk {
            if let Ok(event) = weft::input::envelope::parse(text) {
                assert!(!event.id.is_empty() || text.contains("\"id\""));
            }
        }
    }
});
