//! An event's text as it arrived, shared with the input it was read in.
//!
//! The judge, the rules and delivery all need the event's text (a module gets it, a dead letter carries it), and
//! the text can live long after the judge is done with its event: until delivery knows where its records went. A
//! copy per event cost `weft run` about a tenth of its CPU: a kilobyte copied, and an allocation just over what
//! glibc serves from its per-thread cache, freed on another thread. So an event read from a [`super::Slice`] keeps
//! a count on the slice's text instead, and the slice's text goes back to its reader with its last event.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::mpsc::Sender;

/// A string that events share (a slice's text), sent back `home` once the last of them is gone, to be filled
/// again: a fresh megabyte per slice cost page faults, and memory freed on another thread than the one that
/// allocated it is what an allocator reuses slowest.
pub struct SharedText {
    text: String,
    home: Option<Sender<String>>,
}

impl SharedText {
    pub fn new(text: String, home: Option<Sender<String>>) -> Arc<SharedText> {
        Arc::new(SharedText { text, home })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl Drop for SharedText {
    fn drop(&mut self) {
        if let Some(home) = &self.home {
            // A home that is gone (the reader has stopped) wants nothing back.
            let _ = home.send(std::mem::take(&mut self.text));
        }
    }
}

/// The text of one event: a range of a shared input, or text of its own.
#[derive(Clone)]
pub struct EventText(Repr);

#[derive(Clone)]
enum Repr {
    Own(String),
    Shared { whole: Arc<SharedText>, start: usize, end: usize },
}

impl EventText {
    /// `part` of `whole`, sharing `whole`; `None` when `part` does not lie within it.
    pub fn within(whole: &Arc<SharedText>, part: &str) -> Option<EventText> {
        let start = (part.as_ptr() as usize).checked_sub(whole.text.as_ptr() as usize)?;
        let end = start + part.len();
        whole.text.get(start..end)?;
        Some(EventText(Repr::Shared { whole: whole.clone(), start, end }))
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Own(text) => text,
            Repr::Shared { whole, start, end } => &whole.text[*start..*end],
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
        let (home, returned) = std::sync::mpsc::channel();
        let whole = SharedText::new(String::from(r#"{"a":1}{"b":2}"#), Some(home));
        let second = EventText::within(&whole, &whole.as_str()[7..]).expect("within");
        assert_eq!(second.as_str(), r#"{"b":2}"#);
        assert_eq!(Arc::strong_count(&whole), 2, "shared, not copied");
        let elsewhere = String::from(r#"{"b":2}"#);
        assert!(EventText::within(&whole, &elsewhere).is_none());
        assert_eq!(second, EventText::from(r#"{"b":2}"#), "equal by text, however held");
        drop(whole);
        assert!(returned.try_recv().is_err(), "still in use");
        drop(second);
        assert_eq!(returned.try_recv().unwrap(), r#"{"a":1}{"b":2}"#, "home with the last of its events");
    }
}
