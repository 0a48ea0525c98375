//! What of a customer module's text may reach weft's logs, metrics and message attributes — enforced here, by the
//! host, because module text is written by customer code over events that carry ani, dnis, names and addresses.
//!
//! The policy:
//! - a module's log lines are logged at `debug` (off in production by default), whatever level the module chose,
//!   unless the operator sets `WEFT_RULE_LOGS=as-written`; either way their text is [`redact`]ed first;
//! - panic messages, drop reasons, error codes and messages never reach a log line, a metric or a message
//!   attribute at all: metrics and attributes carry weft's own words for them (a dead letter's class is
//!   `module-error` when the code is the module's), and the summary line carries counts only;
//! - the dead letter's body keeps everything — the event and the module's words — because it is the customer's
//!   own data in the customer's own queue, and what a redrive needs.
//!
//! Redaction cannot find a name; the level is what keeps names out. It does find what is most often leaked by
//! accident: phone numbers and other long digit runs (ani, dnis, card and account numbers) and e-mail addresses.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};

/// The longest reason, message or panic text kept from a module; longer ones are cut, and say how long they were.
pub const MAX_TEXT_BYTES: usize = 4096;
/// The longest error code kept from a module.
pub const MAX_CODE_CHARS: usize = 64;

/// A module's error code as weft keeps it: at most [`MAX_CODE_CHARS`] of `a-z A-Z 0-9 . _ : -`, anything else as
/// `_` (`_` when nothing is left). A code is a class to filter and count by, not text: it goes into dead letters,
/// SQS attributes and summaries, so it may hold nothing that a terminal, a log or SQS would read as more.
pub fn code(text: &str) -> String {
    let code: String = text
        .chars()
        .take(MAX_CODE_CHARS)
        .map(|c| if c.is_ascii_alphanumeric() || "._:-".contains(c) { c } else { '_' })
        .collect();
    if code.is_empty() { "_".into() } else { code }
}

/// At most `max` bytes of `text` (a module's, or a dead letter's for a summary), cut at a character boundary and
/// marked when cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &text[..end], text.len())
}

/// `text` safe to print on a terminal: control characters (escape sequences, carriage returns, bells) written as
/// `\u{1b}`, so a module's words cannot clear a screen or retitle a window.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars().map(|c| if c.is_control() { c.escape_unicode().to_string() } else { c.to_string() }).collect(),
    )
}

/// Whether module log lines keep their own level (`WEFT_RULE_LOGS=as-written`) instead of `debug`.
static AS_WRITTEN: AtomicBool = AtomicBool::new(false);

/// Where a module's log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleLogs {
    /// At `debug`, whatever the module's level (the default).
    Debug,
    /// At the module's own level: for a rule author's machine (`weft run`, `weft rules test`), or an operator who
    /// decided their rules' lines are safe to keep.
    AsWritten,
}

impl RuleLogs {
    /// The process's policy (the Lambda sets it from `WEFT_RULE_LOGS`, the CLI to `AsWritten`).
    pub fn set(self) {
        AS_WRITTEN.store(self == RuleLogs::AsWritten, Ordering::Relaxed);
    }

    pub fn current() -> RuleLogs {
        if AS_WRITTEN.load(Ordering::Relaxed) { RuleLogs::AsWritten } else { RuleLogs::Debug }
    }

    pub fn parse(text: &str) -> Option<RuleLogs> {
        match text {
            "debug" => Some(RuleLogs::Debug),
            "as-written" => Some(RuleLogs::AsWritten),
            _ => None,
        }
    }
}

/// Fewest digits in a run that is taken for a phone number or an account number.
const DIGITS: usize = 7;

/// `text` with e-mail addresses replaced by `[email]` and runs of 7 or more digits (spaces, dots, dashes and
/// brackets between them allowed, a `+` before them) by `[number]`.
pub fn redact(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if let Some(end) = email_at(&chars, i) {
            out.push_str("[email]");
            i = end;
        } else if let Some(end) = number_at(&chars, i) {
            out.push_str("[number]");
            i = end;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

fn local_part(c: char) -> bool {
    c.is_alphanumeric() || "._%+-'".contains(c)
}

fn domain_part(c: char) -> bool {
    c.is_alphanumeric() || ".-".contains(c)
}

/// The end of an e-mail address starting at `start` (only at the start of its local part).
fn email_at(chars: &[char], start: usize) -> Option<usize> {
    if !local_part(chars[start]) || start > 0 && local_part(chars[start - 1]) {
        return None;
    }
    let at = (start..chars.len()).find(|&i| !local_part(chars[i]))?;
    if chars[at] != '@' || at == start {
        return None;
    }
    let end = (at + 1..chars.len()).find(|&i| !domain_part(chars[i])).unwrap_or(chars.len());
    let domain: String = chars[at + 1..end].iter().collect();
    let domain = domain.trim_end_matches(['.', '-']);
    (domain.contains('.') && !domain.starts_with('.')).then_some(at + 1 + domain.chars().count())
}

/// The end of a digit run of at least [`DIGITS`] digits starting at `start` (a digit, or `+` before one).
fn number_at(chars: &[char], start: usize) -> Option<usize> {
    let first = if chars[start] == '+' { start + 1 } else { start };
    if !chars.get(first).is_some_and(char::is_ascii_digit) || start > 0 && chars[start - 1].is_ascii_digit() {
        return None;
    }
    let (mut digits, mut end, mut gap) = (0, first, 0);
    for (i, &c) in chars.iter().enumerate().skip(first) {
        if c.is_ascii_digit() {
            digits += 1;
            end = i + 1;
            gap = 0;
        } else if " .-()/".contains(c) && gap < 2 {
            gap += 1;
        } else {
            break;
        }
    }
    (digits >= DIGITS && !is_date(&chars[start..end])).then_some(end)
}

/// `YYYY-MM-DD`: a date in a log line is not a number to hide.
fn is_date(span: &[char]) -> bool {
    span.len() == 10
        && span.iter().enumerate().all(|(i, c)| if i == 4 || i == 7 { *c == '-' } else { c.is_ascii_digit() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_short_and_safe_text_is_clipped_and_printable() {
        let hostile = format!("\u{1b}[2J{}\u{0}", "x".repeat(1 << 20));
        assert_eq!(code(&hostile).len(), MAX_CODE_CHARS);
        assert!(code(&hostile).starts_with("__2Jxxx"));
        assert_eq!((code(""), code("kinesis-throttled")), ("_".to_owned(), "kinesis-throttled".to_owned()));
        let long = clip(&"é".repeat(5000), MAX_TEXT_BYTES);
        assert!(long.len() < MAX_TEXT_BYTES + 40 && long.ends_with("(10000 bytes in all)"), "{}", long.len());
        assert_eq!(clip("short", MAX_TEXT_BYTES), "short");
        assert_eq!(printable("clear\u{1b}[2J\r\n"), "clear\\u{1b}[2J\\u{d}\\u{a}");
        assert!(matches!(printable("plain"), Cow::Borrowed("plain")));
    }

    #[test]
    fn phone_numbers_account_numbers_and_addresses_are_redacted() {
        let cases = [
            ("call +1 (317) 555-0100 now", "call [number] now"),
            ("ani tel:+13175550100", "ani tel:[number]"),
            ("dnis 0044 20 7946 0958.", "dnis [number]."),
            ("card 4111-1111-1111-1111", "card [number]"),
            ("mail jane.o'hara+ivr@contact.example.co.uk, please", "mail [email], please"),
            ("Jane <jane@example.com>", "Jane <[email]>"),
            ("queue 12345 and wrap-up 42", "queue 12345 and wrap-up 42"),
            ("at 2026-11-30T18:49:41Z", "at 2026-11-30T18:49:41Z"),
            ("user@localhost and a@b.", "user@localhost and a@b."),
            ("née 0612345678 café", "née [number] café"),
        ];
        for (text, expected) in cases {
            assert_eq!(redact(text), expected, "{text}");
        }
    }
}
