//! Reading events from bytes: one JSON event, JSON lines, or JSON objects back to back with no separator (`}{`,
//! as Firehose writes them) — or any mix, pretty-printed or not.
//!
//! The splitter finds each top-level object by tracking braces and strings, without parsing, so that one broken
//! event costs only itself: anything that is not an object becomes a [`Chunk::Broken`] with its position (one per
//! line at the most), and reading resumes at the next object or line. An unterminated object or string ends at the next line that starts with
//! `{` (or at the end of its line, for a string), so one missing brace cannot swallow the rest of a file.

pub mod envelope;
pub(crate) mod head;
pub mod provenance;
mod scan;
mod slice;
mod stream;
mod text;

pub use envelope::Event;
pub use slice::Slice;
pub use stream::Stream;
pub use text::{EventText, SharedText};

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Where an event came from: a place in a file (`weft run`), a Lambda invocation (direct EventBridge
/// delivery), or an SQS message (batched delivery, redrive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", tag = "from")]
pub enum Source {
    File {
        /// The file (`-` for standard input).
        #[schemars(with = "String")]
        file: Arc<str>,
        /// 1-based line of the event's first byte.
        line: usize,
        /// 0-based byte offset of the event's first byte.
        offset: usize,
    },
    Invocation {
        /// The Lambda request id.
        request_id: String,
    },
    Message {
        /// The SQS message id.
        message_id: String,
    },
}

impl Source {
    /// The line in the file, for file sources.
    pub fn line(&self) -> Option<usize> {
        match self {
            Source::File { line, .. } => Some(*line),
            _ => None,
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::File { file, line, offset } => write!(f, "{file}:{line} (byte {offset})"),
            Source::Invocation { request_id } => write!(f, "invocation {request_id}"),
            Source::Message { message_id } => write!(f, "message {message_id}"),
        }
    }
}

/// One piece of input.
#[derive(Debug, Clone, PartialEq)]
pub enum Chunk<'a> {
    /// A complete top-level object (still to be parsed).
    Object { text: &'a str, source: Source },
    /// Bytes that are not an object, or an object that never ends.
    Broken { text: String, source: Source, reason: String },
}

/// Splits `data` from `file` into chunks.
pub fn split<'a>(data: &'a [u8], file: Arc<str>) -> Splitter<'a> {
    Splitter::resume(data, file, 0, 1)
}

pub struct Splitter<'a> {
    data: &'a [u8],
    file: Arc<str>,
    /// Where `data` starts in the file (a [`Stream`] splits one buffer at a time).
    base: usize,
    pos: usize,
    line: usize,
}

impl<'a> Iterator for Splitter<'a> {
    type Item = Chunk<'a>;

    fn next(&mut self) -> Option<Chunk<'a>> {
        self.skip_whitespace();
        if self.pos >= self.data.len() {
            return None;
        }
        let source = Source::File { file: self.file.clone(), line: self.line, offset: self.base + self.pos };
        let start = self.pos;
        if self.data[start] != b'{' {
            // Not an object: up to the next `{` or the end of the line, whichever comes first, is one broken chunk
            // (each line of a JSON-lines file is its own item: `null` then `"a string"` are two dead letters).
            let end = memchr::memchr2(b'{', b'\n', &self.data[start..]).map_or(self.data.len(), |i| start + i);
            self.advance_to(end);
            let text = String::from_utf8_lossy(&self.data[start..end]).trim_end().to_owned();
            let reason =
                format!("{source}: expected a JSON object (an EventBridge envelope), found {}", describe(&text));
            return Some(Chunk::Broken { text, source, reason });
        }
        match scan::object_end(self.data, start) {
            Ok(end) => {
                self.advance_to(end);
                let bytes = &self.data[start..end];
                // simdutf8 says yes or no in an eighth of std's instructions; std still says where bad bytes start.
                let checked = simdutf8::basic::from_utf8(bytes).or_else(|_| std::str::from_utf8(bytes));
                Some(match checked {
                    Ok(text) => Chunk::Object { text, source },
                    Err(e) => Chunk::Broken {
                        text: String::from_utf8_lossy(bytes).into_owned(),
                        reason: format!(
                            "{source}: not UTF-8 (invalid byte at offset {})",
                            self.base + start + e.valid_up_to()
                        ),
                        source,
                    },
                })
            }
            Err((end, why)) => {
                self.advance_to(end);
                let text = String::from_utf8_lossy(&self.data[start..end]).trim_end().to_owned();
                Some(Chunk::Broken { text, reason: format!("{source}: {why}"), source })
            }
        }
    }
}

impl<'a> Splitter<'a> {
    /// Splits `data`, which starts at byte `base` and line `line` of `file`.
    fn resume(data: &'a [u8], file: Arc<str>, base: usize, line: usize) -> Splitter<'a> {
        Splitter { data, file, base, pos: 0, line }
    }

    /// Bytes of `data` split so far, and the line reached.
    fn position(&self) -> (usize, usize) {
        (self.pos, self.line)
    }

    /// Whether splitting has reached the end of `data`: a broken chunk that ends there may only be cut short.
    fn at_end(&self) -> bool {
        self.pos >= self.data.len()
    }

    fn skip_whitespace(&mut self) {
        while let Some(&b) = self.data.get(self.pos) {
            match b {
                b'\n' => self.line += 1,
                b' ' | b'\t' | b'\r' => {}
                // A byte-order mark at the start of a file is not an error.
                0xEF if self.data[self.pos..].starts_with(&[0xEF, 0xBB, 0xBF]) => {
                    self.pos += 3;
                    continue;
                }
                _ => return,
            }
            self.pos += 1;
        }
    }

    fn advance_to(&mut self, end: usize) {
        self.line += memchr::memchr_iter(b'\n', &self.data[self.pos..end]).count();
        self.pos = end;
    }
}

fn describe(text: &str) -> String {
    let shown: String = text.chars().take(20).collect();
    if shown.is_empty() {
        "nothing".to_owned()
    } else {
        format!("`{shown}`{}", if text.chars().count() > 20 { "..." } else { "" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(input: &str) -> Vec<Chunk<'_>> {
        split(input.as_bytes(), "t".into()).collect()
    }

    fn objects(input: &str) -> Vec<(&str, usize, usize)> {
        chunks(input)
            .into_iter()
            .map(|c| match c {
                Chunk::Object { text, source: Source::File { line, offset, .. } } => (text, line, offset),
                Chunk::Object { .. } => unreachable!("files give file sources"),
                Chunk::Broken { reason, .. } => panic!("unexpected broken chunk: {reason}"),
            })
            .collect()
    }

    #[test]
    fn json_lines_back_to_back_and_pretty_printed() {
        assert_eq!(objects("{\"a\":1}\n{\"b\":2}\n"), vec![("{\"a\":1}", 1, 0), ("{\"b\":2}", 2, 8)]);
        assert_eq!(objects("{\"a\":1}{\"b\":\"}{\"}"), vec![("{\"a\":1}", 1, 0), ("{\"b\":\"}{\"}", 1, 7)]);
        let pretty = "{\n  \"a\": {\n    \"b\": [1, {\"c\": \"\\\"}\"}]\n  }\n}\n\n{\"d\":1}";
        let found = objects(pretty);
        assert_eq!(found.len(), 2);
        assert_eq!(found[1], ("{\"d\":1}", 7, pretty.find("{\"d\"").unwrap()));
    }

    #[test]
    fn garbage_between_objects_is_one_broken_chunk_with_its_position() {
        let all = chunks("{\"a\":1}\nnot json\n{\"b\":2}");
        assert_eq!(all.len(), 3);
        match &all[1] {
            Chunk::Broken { text, source, reason } => {
                assert_eq!(text, "not json");
                assert_eq!(source, &Source::File { file: "t".into(), line: 2, offset: 8 });
                assert!(reason.starts_with("t:2 (byte 8): expected a JSON object"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&all[2], Chunk::Object { text: "{\"b\":2}", source } if source.line() == Some(3)));
    }

    #[test]
    fn each_line_that_is_not_an_object_is_its_own_broken_chunk() {
        let all = chunks("null\n\"a string\"\n{\"a\":1}\n[1,\n2] {\"b\":2}");
        let broken: Vec<(&str, Option<usize>)> = all
            .iter()
            .filter_map(|c| match c {
                Chunk::Broken { text, source, .. } => Some((text.as_str(), source.line())),
                Chunk::Object { .. } => None,
            })
            .collect();
        assert_eq!(broken, [("null", Some(1)), ("\"a string\"", Some(2)), ("[1,", Some(4)), ("2]", Some(5))]);
        assert_eq!(all.len(), 6, "and both objects");
    }

    #[test]
    fn an_unterminated_object_stops_at_the_next_line_that_starts_an_object() {
        let all = chunks("{\"a\": {\"x\": 1}\n{\"b\":2}\n");
        assert!(matches!(&all[0], Chunk::Broken { reason, .. } if reason.contains("unterminated object")));
        assert!(matches!(&all[1], Chunk::Object { text: "{\"b\":2}", .. }));
        let string = chunks("{\"a\": \"open\n{\"b\":2}");
        assert!(matches!(&string[0], Chunk::Broken { reason, .. } if reason.contains("unterminated string")));
        assert!(matches!(&string[1], Chunk::Object { text: "{\"b\":2}", .. }));
        let tail = chunks("{\"a\":1}\n{\"b\":");
        assert!(
            matches!(&tail[1], Chunk::Broken { reason, source, .. } if reason.contains("end of the input") && source.line() == Some(2))
        );
    }

    #[test]
    fn empty_input_and_bom() {
        assert!(chunks("").is_empty());
        assert!(chunks(" \n\t\r\n").is_empty());
        assert_eq!(objects("\u{feff}{\"a\":1}").len(), 1);
    }

    #[test]
    fn invalid_utf8_is_broken_and_the_next_object_survives() {
        let mut data = b"{\"a\":\"".to_vec();
        data.push(0xff);
        data.extend_from_slice(b"\"}\n{\"b\":2}");
        let all: Vec<_> = split(&data, "t".into()).collect();
        assert!(matches!(&all[0], Chunk::Broken { reason, .. } if reason.contains("not UTF-8")));
        assert!(matches!(&all[1], Chunk::Object { text: "{\"b\":2}", .. }));
    }
}
