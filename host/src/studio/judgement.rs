//! What the page shows of the events: each one judged by the rules being edited (and by the rule set
//! `--against`, compared as `weft rules diff` compares), by `weft run`'s own pipeline and [`Judge`]. A row
//! per event keeps what the list needs and where the event is in its file; the event itself is read and judged
//! again when it is opened, so that 100,000 events cost their rows, not their records.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;
use weft::input::{Chunk, Source};
use weft::judge::{DEFAULT_BATCH, Judge};
use weft::rules::stats::RuleSetStats;
use weft::verdict::compare::{Report, compare};
use weft::verdict::{Judged, Verdict};

use crate::cli::pipeline;

/// Events judged together (the judges' batches inside it), as `weft rules diff` does.
const SLICE: usize = 1000;
/// Event ids named per difference on the diff page.
const EXAMPLES: usize = 5;

/// The judges: the rules being edited, and the rule set they are compared with.
pub struct Judges {
    pub current: Judge,
    pub against: Option<Judge>,
}

/// One event in the list.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    /// The envelope id, or where the input was when it is not an envelope.
    pub id: String,
    pub conversation: Option<String>,
    pub kind: Option<String>,
    /// `records`, `dropped` or `dead-letter`.
    pub verdict: &'static str,
    /// The rules the verdict names (those that made the records, the one that dropped or failed it).
    pub rules: Vec<String>,
    /// The number of records, the drop's reason, or the dead letter's `stage/class: reason`.
    pub summary: String,
    pub records: usize,
    /// Whether the verdict differs from the judgement before this one.
    pub changed: bool,
    #[serde(skip)]
    pub fingerprint: u64,
    #[serde(skip)]
    pub at: At,
}

/// Where an event is, to read it again.
#[derive(Debug, Clone)]
pub enum At {
    File {
        file: Arc<str>,
        line: usize,
        offset: usize,
        len: usize,
    },
    /// What is not an object is kept whole (rare, and short).
    Text(String, Source),
}

/// Every event's row, and what the whole judgement says.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Judgement {
    #[serde(skip)]
    pub rows: Vec<Row>,
    pub counts: Counts,
    /// `weft run`'s timing table, per rule and module.
    pub timing: String,
    pub version: Option<String>,
    pub against_version: Option<String>,
    /// `weft rules diff`'s report, with `--against`.
    pub report: Option<Report>,
    pub changed: usize,
    pub milliseconds: u64,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub events: usize,
    pub records: usize,
    pub written: usize,
    pub dropped: usize,
    pub dead_lettered: usize,
    /// Events per kind (`other` for those that are not conversation detail events) and per rule named.
    pub kinds: BTreeMap<String, usize>,
    pub rules: BTreeMap<String, usize>,
}

/// Judges every event of `files` on every core, by `weft run`'s pipeline (on replicas of the judges' rule sets;
/// the rule set `--against` in a second pipeline, whose slices fall where the first's do); `before` is the previous
/// judgement, whose rows say what changed.
pub fn judge_all(judges: &Judges, files: &[PathBuf], before: &[Row]) -> anyhow::Result<Judgement> {
    let started = Instant::now();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let start = |judge: &Judge| pipeline::start(files.to_vec(), judge.rules().replica(), DEFAULT_BATCH, workers, SLICE);
    let mut current = start(&judges.current);
    let mut against = judges.against.as_ref().map(start);
    let mut out =
        Judgement { report: against.as_ref().map(|_| Report::new(EXAMPLES).showing_values()), ..Judgement::default() };
    let mut stats = RuleSetStats::default();
    while let Some(slice) = current.next()? {
        let other = against.as_mut().map(|a| a.next()).transpose()?.flatten();
        stats.add(slice.stats);
        for (n, judged) in slice.judged.into_iter().enumerate() {
            if let (Some(report), Some(other)) = (&mut out.report, &other) {
                report.add(&event_id(&judged), &compare(&other.judged[n].verdict, &judged.verdict));
            }
            out.add(row(&judged));
        }
    }
    current.finish()?;
    against.map(|a| a.finish()).transpose()?;
    for (row, old) in out.rows.iter_mut().zip(before) {
        row.changed = old.id == row.id && old.fingerprint != row.fingerprint;
    }
    if !before.is_empty() && before.len() != out.rows.len() {
        out.rows.iter_mut().skip(before.len()).for_each(|row| row.changed = true);
    }
    out.changed = out.rows.iter().filter(|r| r.changed).count();
    out.timing = crate::cli::timing::table(&stats);
    out.version = judges.current.rules().version().map(|v| v.0.clone());
    out.against_version = judges.against.as_ref().and_then(|j| j.rules().version().map(|v| v.0.clone()));
    out.milliseconds = started.elapsed().as_millis() as u64;
    Ok(out)
}

impl Judgement {
    fn add(&mut self, row: Row) {
        let counts = &mut self.counts;
        counts.events += 1;
        counts.records += row.records;
        match row.verdict {
            "records" => counts.written += 1,
            "dropped" => counts.dropped += 1,
            _ => counts.dead_lettered += 1,
        }
        *counts.kinds.entry(row.kind.clone().unwrap_or_else(|| "other".into())).or_default() += 1;
        for rule in &row.rules {
            *counts.rules.entry(rule.clone()).or_default() += 1;
        }
        self.rows.push(row);
    }
}

/// The id the diff's examples name an event by (as `weft rules diff` does).
pub fn event_id(judged: &Judged) -> String {
    judged.event_id.clone().unwrap_or_else(|| judged.source.to_string())
}

/// Where the event is: its place in its file, or (what did not come from a file) its text.
fn at(judged: &Judged) -> At {
    match &judged.source {
        Source::File { file, line, offset } => {
            At::File { file: file.clone(), line: *line, offset: *offset, len: judged.text.len() }
        }
        source => At::Text(judged.text.to_string(), source.clone()),
    }
}

fn row(judged: &Judged) -> Row {
    let event = weft::input::envelope::parse(judged.text.clone()).ok();
    let (verdict, rules, summary) = describe(&judged.verdict);
    Row {
        id: event_id(judged),
        conversation: event.as_ref().and_then(|e| e.conversation_id.clone()),
        kind: event.as_ref().and_then(|e| e.kind.as_ref().map(|k| k.as_str().to_owned())),
        verdict,
        rules,
        summary,
        records: match &judged.verdict {
            Verdict::Records(records) => records.len(),
            _ => 0,
        },
        changed: false,
        fingerprint: fingerprint(&judged.verdict),
        at: at(judged),
    }
}

/// A verdict in the list's words: its kind, the rules it names, and one line.
fn describe(verdict: &Verdict) -> (&'static str, Vec<String>, String) {
    match verdict {
        Verdict::Records(records) => {
            let mut rules: Vec<String> = records.iter().map(|r| r.id.rule.to_string()).collect();
            rules.dedup();
            let streams: std::collections::BTreeSet<&str> =
                records.iter().map(|r| r.stream.as_deref().unwrap_or("(default stream)")).collect();
            let streams: Vec<&str> = streams.into_iter().collect();
            let plural = if records.len() == 1 { "" } else { "s" };
            ("records", rules, format!("{} record{plural} → {}", records.len(), streams.join(", ")))
        }
        Verdict::Dropped(dropped) => ("dropped", dropped.rule.iter().cloned().collect(), dropped.reason.clone()),
        Verdict::DeadLetter(letter) => (
            "dead-letter",
            letter.rule.iter().cloned().collect(),
            format!("{}/{}: {}", letter.stage.as_str(), letter.error_class, letter.reason),
        ),
    }
}

/// What decides whether a verdict changed: its records (stream, key, data), or its drop or failure and why
/// (not when, which changes every time).
fn fingerprint(verdict: &Verdict) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    match verdict {
        Verdict::Records(records) => {
            for record in records {
                (&record.stream, &record.partition_key, record.data.get(), &*record.id.rule).hash(&mut hasher);
            }
        }
        Verdict::Dropped(dropped) => ("dropped", &dropped.rule, &dropped.reason).hash(&mut hasher),
        Verdict::DeadLetter(letter) => {
            ("dead-letter", letter.stage.as_str(), &letter.error_class, &letter.reason, &letter.rule).hash(&mut hasher)
        }
    }
    hasher.finish()
}

/// The event at `at`, read again from its file.
pub fn text_at(at: &At) -> anyhow::Result<(String, Source)> {
    match at {
        At::Text(text, source) => Ok((text.clone(), source.clone())),
        At::File { file, line, offset, len } => {
            use std::io::{Read, Seek, SeekFrom};
            let mut reader = std::fs::File::open(&**file).with_context(|| format!("reading {file}"))?;
            reader.seek(SeekFrom::Start(*offset as u64))?;
            let mut bytes = vec![0; *len];
            reader
                .read_exact(&mut bytes)
                .with_context(|| format!("reading {file} (it changed since it was judged)"))?;
            let text = String::from_utf8(bytes).context("not UTF-8 (the file changed since it was judged)")?;
            Ok((text, Source::File { file: file.clone(), line: *line, offset: *offset }))
        }
    }
}

/// One event judged again, as it would be now: for the page's view of an event or a dead letter.
pub fn judge_one(judge: &mut Judge, text: &str, source: Source) -> Judged {
    judge.judge([Chunk::Object { text, source }]).pop().expect("a verdict for each chunk")
}
