//! The judge surviving a panic in the host, and events sharing the text they were read in.

use std::cell::Cell;

use super::*;
use crate::engine::{Engine, Limits};

thread_local! {
    /// An event id whose processing panics, to prove the host survives a panic in the rules.
    static PANIC_ON: Cell<Option<&'static str>> = const { Cell::new(None) };
}

pub(super) fn panic_if_asked(events: &[Event]) {
    if let Some(id) = PANIC_ON.get()
        && events.iter().any(|e| e.id == id)
    {
        panic!("injected panic");
    }
}

fn event(id: &str) -> String {
    format!(
        r#"{{"id":"{id}","detail-type":"v2.detail.events.conversation.{{id}}.customer.start","detail":{{"topicName":"v2.detail.events.conversation.c1.customer.start","eventBody":{{"conversationId":"c1"}}}}}}"#
    )
}

#[test]
fn a_panic_in_the_rules_dead_letters_only_its_event_and_the_judge_goes_on() {
    let engine = Engine::new().unwrap();
    let mut judge = Judge::new(RuleSet::embedded_default(&engine, Limits::default()).unwrap());
    PANIC_ON.set(Some("boom"));
    let input = [event("a"), event("boom"), event("b")].join("\n");
    let judged = judge.judge(crate::input::split(input.as_bytes(), "t".into()));
    let outcomes: Vec<String> = judged
        .iter()
        .map(|j| match &j.verdict {
            Verdict::Records(r) => format!("{} records", r.len()),
            Verdict::Dropped(d) => d.reason.clone(),
            Verdict::DeadLetter(d) => format!("{:?} {}", d.stage, d.error_class),
        })
        .collect();
    assert_eq!(outcomes, ["1 records", "Rule host-panic", "1 records"]);
    PANIC_ON.set(None);
    let again = judge.judge(crate::input::split(event("boom").as_bytes(), "t".into()));
    assert!(matches!(&again[0].verdict, Verdict::Records(r) if r.len() == 1), "the next call works");
}

#[test]
fn events_of_a_slice_share_its_text_and_free_it_with_the_last_of_them() {
    let engine = Engine::new().unwrap();
    let mut judge = Judge::new(RuleSet::embedded_default(&engine, Limits::default()).unwrap());
    let input = [event("a"), r#"{"id":"b","detail":{}}"#.into(), "not json".into(), event("c")].join("\n");
    let slice = Slice::new(crate::input::split(input.as_bytes(), "t".into()).collect());
    let judged = judge.judge_slice(&slice);
    let texts: Vec<&str> = judged.iter().map(|j| j.text.as_str()).collect();
    assert_eq!(texts, [event("a").as_str(), r#"{"id":"b","detail":{}}"#, "not json", event("c").as_str()]);
    assert!(matches!(&judged[1].verdict, Verdict::DeadLetter(d) if d.error_class == "not-an-envelope"));
    // The three objects (an envelope that is wrong among them) hold the slice's text; the broken line its own.
    assert_eq!(Arc::strong_count(slice.text()), 4);
    let text = slice.text().clone();
    drop((slice, judged));
    assert_eq!(Arc::strong_count(&text), 1, "freed with the last event");
}
