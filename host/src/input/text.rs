//! An event's text as it arrived, shared with the input it was read in.
//!
//! The judge, the rules and delivery all need the event's text (a module gets it, a dead letter carries it), and
//! the text can live long after the judge is done with its event: until delivery knows where its records went. A
//! copy per event cost `weft run` about a tenth of its CPU: a kilobyte copied, and an allocation just over what
//! glibc serves from its per-thread cache, freed on another thread. So an event read from a [`super::Slice`] keeps
//! a count on the slice's text instead, and the slice's text is freed with its last event.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// The text of one event: a range of a shared input, or text of its own.
#[derive(Clone)]
pub struct EventText(Repr);

#[derive(Clone)]
enum Repr {
    Own(String),
    Shared { whole: Arc<String>, start: usize, end: usize },
}

impl EventText {
    /// `part` of `whole`, sharing `whole`; `None` when `part` does not lie within it.
    pub fn within(whole: &Arc<String>, part: &str) -> Option<EventText> {
        let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
        let end = start + part.len();
        whole.get(start..end)?;
        Some(EventText(Repr::Shared { whole: whole.clone(), start, end }))
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Own(text) => text,
            Repr::Shared { whole, start, end } => &whole[*start..*end],
        }
    }
}

impl Deref for EventText {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl Default for EventText {
    fn default() -> Self {
        EventText(Repr::Own(String::new()))
    }
}

impl From<String> for EventText {
    fn from(text: String) -> Self {
        EventText(Repr::Own(text))
    }
}

impl From<&str> for EventText {
    fn from(text: &str) -> Self {
        EventText(Repr::Own(text.to_owned()))
    }
}

impl PartialEq for EventText {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<str> for EventText {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl fmt::Debug for EventText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for EventText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_a_part_of_the_whole_and_refuses_what_lies_outside_it() {
        let whole = Arc::new(String::from(r#"{"a":1}{"b":2}"#));
        let second = EventText::within(&whole, &whole[7..]).expect("within");
        assert_eq!(second.as_str(), r#"{"b":2}"#);
        assert_eq!(Arc::strong_count(&whole), 2, "shared, not copied");
        let elsewhere = String::from(r#"{"b":2}"#);
        assert!(EventText::within(&whole, &elsewhere).is_none());
        assert_eq!(second, EventText::from(r#"{"b":2}"#), "equal by text, however held");
        drop(second);
        assert_eq!(Arc::strong_count(&whole), 1);
    }
}
