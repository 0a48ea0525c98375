//! The host reads usual envelopes in one pass of its own and leaves the rest to serde_json: the event or the error
//! it gives must be exactly serde_json's, on envelopes of every shape, right and wrong. Generated here (seeded, so a
//! failure repeats), with mutations of them.

use fastrand::Rng;
use weft::input::envelope::parse;
use weft_sdk::Event;

/// One of `from`, at random.
fn pick<'a>(random: &mut Rng, from: &[&'a str]) -> &'a str {
    from[random.usize(..from.len())]
}

/// True one time in `one_in`, at random.
fn chance(random: &mut Rng, one_in: usize) -> bool {
    random.usize(..one_in) == 0
}

/// Numbers and literals serde_json reads, and some it refuses.
const SCALARS: &[&str] = &[
    "0", "-0", "12", "1.5", "1e5", "1E-3", "-2.5e+10", "0.0", "true", "false", "null", "01", "1.", ".5", "-", "1e",
    "+1", "0x1", "tru", "nul", "1.5.2", "--1", "1e+",
];
/// Pieces of string content: plain and non-ASCII, then escapes (which the host's reader leaves to serde_json:
/// picked rarely, so that most envelopes are read by both), then what no JSON string may hold (rarer still).
const TEXT: &[&str] = &[
    "a",
    "conversation",
    "é",
    "日本",
    "🙂",
    " ",
    "{",
    "}",
    "[",
    ":",
    ",",
    "\\\"",
    "\\\\",
    "\\n",
    "\\u00e9",
    "\\ud83d\\ude42",
    "\\x",
    "\t",
    "\u{1}",
];
const PLAIN_TEXT: usize = 11;
const JSON_TEXT: usize = 16;
const SPACE: &[&str] = &["", "", "", " ", "\n  ", "\t", "\r\n"];

/// How a field's value is written.
type WriteValue = fn(&mut Writer);

struct Writer<'r> {
    random: &'r mut Rng,
    out: String,
}

impl Writer<'_> {
    fn space(&mut self) {
        let space = pick(self.random, SPACE);
        self.out.push_str(space);
    }

    fn string(&mut self) {
        self.out.push('"');
        for _ in 0..self.random.usize(..6) {
            let choices = match self.random.usize(..1000) {
                0..3 => TEXT.len(),
                3..25 => JSON_TEXT,
                _ => PLAIN_TEXT,
            };
            let piece = TEXT[self.random.usize(..choices)];
            self.out.push_str(piece);
        }
        self.out.push('"');
    }

    fn value(&mut self, depth: usize) {
        match self.random.usize(..if depth > 4 { 3 } else { 6 }) {
            0 | 1 => self.string(),
            2 => {
                let choices = if chance(self.random, 100) { SCALARS } else { &SCALARS[..11] };
                let scalar = pick(self.random, choices);
                self.out.push_str(scalar);
            }
            3 | 4 => self.object(depth + 1, &[]),
            _ => {
                self.out.push('[');
                for n in 0..self.random.usize(..4) {
                    if n > 0 {
                        self.out.push(',');
                    }
                    self.space();
                    self.value(depth + 1);
                    self.space();
                }
                self.out.push(']');
            }
        }
    }

    /// An object with `fields` (name, and how its value is written) among random members, in random order, each
    /// sometimes left out, sometimes twice.
    fn object(&mut self, depth: usize, fields: &[(&str, WriteValue)]) {
        let mut members: Vec<(String, Option<WriteValue>)> = Vec::new();
        for (name, write) in fields {
            let copies = if chance(self.random, 30) {
                0
            } else if chance(self.random, 30) {
                2
            } else {
                1
            };
            members.extend((0..copies).map(|_| (name.to_string(), Some(*write))));
        }
        for n in 0..self.random.usize(..5) {
            members.push((format!("k{n}"), None));
        }
        for i in (1..members.len()).rev() {
            members.swap(i, self.random.usize(..i + 1));
        }
        self.out.push('{');
        for (n, (name, write)) in members.into_iter().enumerate() {
            if n > 0 {
                self.out.push(',');
            }
            self.space();
            self.out.push_str(&format!("\"{name}\""));
            self.space();
            self.out.push(':');
            self.space();
            match write {
                // A field's value is sometimes of another type.
                Some(write) if !chance(self.random, 30) => write(self),
                _ => self.value(depth),
            }
        }
        self.space();
        self.out.push('}');
    }
}

fn envelope(random: &mut Rng) -> String {
    let mut writer = Writer { random, out: String::new() };
    writer.space();
    writer.object(
        1,
        &[
            ("id", |w| w.string()),
            ("detail-type", |w| {
                let empty = chance(w.random, 10);
                w.out.push_str(if empty { "\"\"" } else { "\"v2.detail.events.conversation.{id}.acw\"" });
            }),
            ("detail", |w| {
                w.object(
                    2,
                    &[
                        ("topicName", |w| {
                            let topic = ["\"v2.detail.events.conversation.c1.acw\"", "null", "\"\""];
                            w.out.push_str(pick(w.random, &topic));
                        }),
                        ("eventBody", |w| w.object(3, &[])),
                    ],
                )
            }),
        ],
    );
    writer.space();
    writer.out
}

/// A character taken out, put in or replaced, at a random place.
fn mutate(random: &mut Rng, text: &mut String) {
    let mut at = random.usize(..text.len() + 1);
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    if at < text.len() && chance(random, 2) {
        let taken = text.remove(at);
        if chance(random, 2) {
            // Replaced: a bracket by another is the likeliest to look right.
            let by = match taken {
                '}' => "]",
                ']' => "}",
                '{' => "[",
                '[' => "{",
                _ => pick(random, &["\"", ":", ",", "0", "\\"]),
            };
            text.insert_str(at, by);
        }
    } else {
        let byte = pick(random, &["{", "}", "[", "]", "\"", ":", ",", "\\", "0", "e", "-", ".", " ", "n", "\u{7f}"]);
        text.insert_str(at, byte);
    }
}

/// What the host gave before it had a reader of its own: serde_json's event, or its error, and the checks after.
fn by_serde_json(text: &str) -> Result<Event, String> {
    let event = Event::from_envelope_json(text).map_err(|e| e.message)?;
    if event.id.is_empty() {
        return Err("`id`: is empty (records need it as `_id`)".into());
    }
    if event.detail_type.is_empty() {
        return Err("`detail-type`: is empty".into());
    }
    Ok(event)
}

#[test]
fn every_envelope_gets_serde_json_s_event_or_error() {
    let mut random = Rng::with_seed(0x2545_f491_4f6c_dd1d);
    let (mut events, mut errors, mut plain) = (0, 0, 0);
    for case in 0..30_000 {
        let mut text = envelope(&mut random);
        if case % 3 == 0 {
            for _ in 0..=random.usize(..3) {
                mutate(&mut random, &mut text);
            }
        }
        let expected = by_serde_json(&text);
        let got = parse(text.as_str()).map(|e| e.to_sdk()).map_err(|e| e.reason);
        assert_eq!(got, expected, "{text}");
        if expected.is_ok() {
            events += 1
        } else {
            errors += 1
        }
        if !text.contains('\\') {
            plain += 1
        }
    }
    // Both answers are common, and most envelopes have no backslash (the host's reader reads those).
    assert!(events > 5_000 && errors > 5_000 && plain > 15_000, "{events} events, {errors} errors, {plain} plain");
}
