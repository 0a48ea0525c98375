//! An envelope's `id`, `detail-type` and `detail.topicName`, read in one pass over its text, for envelopes of the
//! usual shape.
//!
//! Every event's envelope is checked before a rule sees it: JSON, with those fields. serde_json did that at 0.54 µs
//! per 1 KB event, about a tenth of `weft run`'s CPU, most of it spent per token (each key and value passes through
//! its visitors). Here the strings are found from 64-byte masks (the splitter's, [`super::scan`]), checked for
//! control characters there, and only the bytes between strings are read one at a time.
//!
//! It answers only where serde_json would give the same answer: an envelope with a backslash anywhere, a field of
//! another type, a field twice, anything that is not JSON, nesting deeper than 100 or a text over 4 KiB gets
//! `None`, and serde_json reads it (and says what is wrong, in its words). A test compares the two on generated
//! envelopes and on mutations of them.

use super::scan::{Masks, block_at, prefix_xor};

/// The three fields, borrowed from the envelope.
#[derive(Debug, PartialEq)]
pub(super) struct Head<'a> {
    pub id: &'a str,
    pub detail_type: &'a str,
    pub topic_name: Option<&'a str>,
}

/// Texts longer than this many 64-byte blocks are left to serde_json (EventBridge events are 1-2 KB).
const MAX_BLOCKS: usize = 64;
/// Nesting deeper than this is left to serde_json, whose limit is 128.
const MAX_DEPTH: usize = 100;

/// The envelope's head, when the text is JSON of the usual shape; `None` leaves the answer to serde_json.
pub(super) fn read(text: &str) -> Option<Head<'_>> {
    whole(text, |reader| reader.envelope())
}

/// Whether `text` is one JSON value (whitespace around it allowed), when this reader can tell: `false` also
/// where it cannot (a backslash, nesting deeper than 100, over 4 KiB), and serde_json decides. Records are
/// checked with it: serde_json took 4.5k instructions for a default rule's record, a tenth of an event's path.
pub(crate) fn surely_json(text: &str) -> bool {
    whole(text, |reader| reader.value(0)).is_some()
}

/// What `read` makes of all of `text`, whitespace around it allowed; `None` where the one pass cannot tell.
fn whole<'a, T>(text: &'a str, read: impl for<'q> FnOnce(&mut Reader<'a, 'q>) -> Option<T>) -> Option<T> {
    let mut quotes = [0u64; MAX_BLOCKS];
    let quotes = find_quotes(text.as_bytes(), &mut quotes)?;
    let mut reader = Reader { text, quotes, at: 0 };
    reader.whitespace();
    let value = read(&mut reader)?;
    reader.whitespace();
    (reader.at == text.len()).then_some(value)
}

/// Per 64-byte block, where its quotes are (in `quotes`, of which the blocks of `bytes` are returned). `None` for a
/// backslash anywhere (so every quote opens or closes a string), for a control character inside a string (not
/// JSON), or for a text too long.
fn find_quotes<'q>(bytes: &[u8], quotes: &'q mut [u64; MAX_BLOCKS]) -> Option<&'q [u64]> {
    if bytes.len() > MAX_BLOCKS * 64 {
        return None;
    }
    let mut in_string = 0u64;
    for (block_index, at) in (0..bytes.len()).step_by(64).enumerate() {
        let (block, valid) = block_at(bytes, at);
        let masks = Masks::of(&block);
        let inside = prefix_xor(masks.quote) ^ in_string;
        in_string = ((inside as i64) >> 63) as u64;
        if (masks.backslash | (masks.control & inside)) & valid != 0 {
            return None;
        }
        quotes[block_index] = masks.quote & valid;
    }
    Some(&quotes[..bytes.len().div_ceil(64)])
}

struct Reader<'a, 'q> {
    text: &'a str,
    quotes: &'q [u64],
    at: usize,
}

impl<'a> Reader<'a, '_> {
    /// The top-level object: `id` and `detail-type` strings and a `detail` object, once each, other members any
    /// JSON (as serde_json's derived reader for these three fields takes them).
    fn envelope(&mut self) -> Option<Head<'a>> {
        let (mut id, mut detail_type, mut topic_name) = (None, None, None);
        self.object(1, |reader, key, depth| match key {
            "id" => once(&mut id, reader.string_value()?),
            "detail-type" => once(&mut detail_type, reader.string_value()?),
            "detail" => once(&mut topic_name, reader.detail(depth + 1)?),
            _ => reader.value(depth),
        })?;
        Some(Head { id: id?, detail_type: detail_type?, topic_name: topic_name? })
    }

    /// `detail`: an object whose `topicName`, if there, is a string or null.
    fn detail(&mut self, depth: usize) -> Option<Option<&'a str>> {
        let mut topic_name = None;
        self.object(depth, |reader, key, depth| match key {
            "topicName" if reader.peek()? == b'n' => once(&mut topic_name, reader.literal(b"null").map(|()| None)?),
            "topicName" => once(&mut topic_name, Some(reader.string_value()?)),
            _ => reader.value(depth),
        })?;
        Some(topic_name.flatten())
    }

    fn value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'{' => self.object(depth + 1, |reader, _, depth| reader.value(depth)),
            b'[' => self.array(depth + 1),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    /// An object, each member's value read by `member(reader, key, depth)`.
    fn object(&mut self, depth: usize, mut member: impl FnMut(&mut Self, &'a str, usize) -> Option<()>) -> Option<()> {
        self.items(depth, *b"{}", |reader, depth| {
            let key = reader.string_value()?;
            reader.whitespace();
            reader.eat(b':')?;
            reader.whitespace();
            member(reader, key, depth)
        })
    }

    fn array(&mut self, depth: usize) -> Option<()> {
        self.items(depth, *b"[]", |reader, depth| reader.value(depth))
    }

    /// `open`, then items read by `item(reader, depth)` and separated by commas, then `close`.
    fn items(
        &mut self,
        depth: usize,
        [open, close]: [u8; 2],
        mut item: impl FnMut(&mut Self, usize) -> Option<()>,
    ) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.eat(open)?;
        self.whitespace();
        if self.eat(close).is_some() {
            return Some(());
        }
        loop {
            item(self, depth)?;
            if self.close(close)? {
                return Some(());
            }
        }
    }

    /// After an item: `,` (then more: `false`) or `end` (`true`).
    fn close(&mut self, end: u8) -> Option<bool> {
        self.whitespace();
        let byte = self.peek()?;
        self.at += 1;
        self.whitespace();
        match byte {
            b',' => Some(false),
            _ if byte == end => Some(true),
            _ => None,
        }
    }

    fn string_value(&mut self) -> Option<&'a str> {
        if self.peek()? != b'"' {
            return None;
        }
        self.string()
    }

    /// The string whose opening quote is at `at`: up to the next quote, since no quote is escaped here.
    fn string(&mut self) -> Option<&'a str> {
        let start = self.at + 1;
        let end = self.next_quote(start)?;
        self.at = end + 1;
        self.text.get(start..end)
    }

    fn next_quote(&self, from: usize) -> Option<usize> {
        let mut block = from / 64;
        let mut mask = self.quotes.get(block)? & (u64::MAX << (from % 64));
        while mask == 0 {
            block += 1;
            mask = *self.quotes.get(block)?;
        }
        Some(block * 64 + mask.trailing_zeros() as usize)
    }

    /// serde_json's grammar: `-`, then `0` or digits not starting with `0`, then optionally `.` and digits, then
    /// optionally `e` or `E`, a sign, digits.
    fn number(&mut self) -> Option<()> {
        let _ = self.eat(b'-');
        match self.peek()? {
            // A digit after a leading `0` is then refused by the caller, which expects `,` or a bracket.
            b'0' => self.at += 1,
            b'1'..=b'9' => self.digits()?,
            _ => return None,
        }
        if self.eat(b'.').is_some() {
            self.digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.digits()?;
        }
        Some(())
    }

    /// One digit or more.
    fn digits(&mut self) -> Option<()> {
        let start = self.at;
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
        (self.at > start).then_some(())
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        self.text.as_bytes()[self.at..].starts_with(word).then(|| self.at += word.len())
    }

    fn whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }
}

/// Fills `slot`, which must be empty: serde_json's derived readers refuse a field that comes twice.
fn once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    slot.is_none().then(|| *slot = Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENVELOPE: &str = r#"{"version":"0","id":"e1","detail-type":"v2.detail.events.conversation.{id}.acw","source":"s","resources":[],"detail":{"topicName":"v2.detail.events.conversation.c1.acw","version":"2","eventBody":{"eventTime":1649237504949,"durationMs":-1.5e+3,"ids":["a",{"b":[true,false,null]}]},"metadata":{}}}"#;

    #[test]
    fn the_usual_envelope_is_read_here() {
        let head = read(ENVELOPE).expect("read without serde_json");
        let topic_name = Some("v2.detail.events.conversation.c1.acw");
        assert_eq!(head, Head { id: "e1", detail_type: "v2.detail.events.conversation.{id}.acw", topic_name });
        let pretty =
            serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(ENVELOPE).unwrap()).unwrap();
        assert_eq!(read(&pretty).map(|h| h.id), Some("e1"));
        assert_eq!(
            read(r#" {"id":"e","detail-type":"t","detail":{"topicName":null}} "#).map(|h| h.topic_name),
            Some(None)
        );
    }

    #[test]
    fn what_it_cannot_be_sure_of_is_left_to_serde_json() {
        for text in [
            r#"{"id":"e\u0031","detail-type":"t","detail":{}}"#,
            "{\"id\":\"e\u{1}\",\"detail-type\":\"t\",\"detail\":{}}",
            r#"{"id":"e","id":"f","detail-type":"t","detail":{}}"#,
            r#"{"id":"e","detail-type":"t","detail":{"topicName":"a","topicName":"b"}}"#,
            r#"{"id":5,"detail-type":"t","detail":{}}"#,
            r#"{"id":"e","detail-type":"t","detail":[]}"#,
            r#"{"id":"e","detail-type":"t"}"#,
            r#"{"id":"e","detail-type":"t","detail":{},"n":01}"#,
            r#"{"id":"e","detail-type":"t","detail":{},"n":1.}"#,
            r#"{"id":"e","detail-type":"t","detail":{},"n":tru}"#,
            r#"{"id":"e","detail-type":"t","detail":{},}"#,
            r#"{"id":"e","detail-type":"t","detail":{}} x"#,
            r#"["e","t",{}]"#,
        ] {
            assert_eq!(read(text), None, "{text}");
        }
        let deep =
            format!(r#"{{"id":"e","detail-type":"t","detail":{{}},"n":{}1{}}}"#, "[".repeat(100), "]".repeat(100));
        assert_eq!(read(&deep), None);
        let long = format!(r#"{{"id":"e","detail-type":"t","detail":{{}},"n":"{}"}}"#, "x".repeat(64 * MAX_BLOCKS));
        assert_eq!(read(&long), None);
    }
}
