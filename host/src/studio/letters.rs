//! Dead letters on the page: from a file, or peeked from the SQS queue — received out of sight for a moment and
//! handed straight back, so nothing is consumed — opened as `weft redrive` opens them (a letter stored in S3 is
//! fetched), judged with the current rules to show what a redrive would write, and redriven on a selection by
//! `weft redrive` itself.

use std::collections::HashSet;
use std::path::Path;

use anyhow::Context;
use serde_json::{Value, json};
use tokio::runtime::Handle;
use weft::aws::Clients;
use weft::input::Source;
use weft::verdict::DeadLetter;

use super::Studio;
use crate::cli::redrive::{self, RedriveArgs};

/// Letters shown at most: a queue deeper than this is shown in part, and says so.
const MOST: usize = 10_000;
/// How long a peeked message stays out of sight before it is handed back (it is handed back at once after the
/// peek; this bounds the time should the studio stop half way).
const PEEK_VISIBILITY: i32 = 30;

/// Where the letters came from, and the letters.
#[derive(Default)]
pub struct Letters {
    queue: Option<String>,
    file: Option<String>,
    letters: Vec<Letter>,
    /// Whether the queue held more than [`MOST`].
    more: bool,
}

/// One dead letter: its message id (or its line in the file) and what it says, or why it cannot be read.
pub struct Letter {
    id: String,
    letter: Result<DeadLetter, String>,
}

impl Letters {
    pub async fn load(queue: Option<&str>, file: Option<&Path>) -> anyhow::Result<Letters> {
        let mut letters = Letters {
            queue: queue.map(str::to_owned),
            file: file.map(|f| f.display().to_string()),
            ..Letters::default()
        };
        if let Some(file) = file {
            let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
            letters.letters = (text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty()))
                .map(|(n, line)| Letter { id: format!("line {}", n + 1), letter: parse(line) })
                .collect();
        }
        if let Some(queue) = queue {
            (letters.letters, letters.more) = peek(&Clients::load().await, queue).await?;
        }
        Ok(letters)
    }

    /// The list: one row per letter, for the page to group by stage, class and rule.
    pub fn list(&self) -> Value {
        let rows: Vec<Value> = (self.letters.iter().enumerate())
            .map(|(index, Letter { id, letter })| match letter {
                Ok(l) => json!({
                    "index": index, "id": id, "stage": l.stage.as_str(), "class": l.error_class, "rule": l.rule,
                    "reason": l.reason, "eventId": l.event_id, "failedAt": l.failed_at,
                }),
                Err(error) => {
                    json!({ "index": index, "id": id, "stage": "unreadable", "class": "unreadable", "reason": error })
                }
            })
            .collect();
        json!({ "queue": self.queue, "file": self.file, "letters": rows, "more": self.more })
    }
}

fn parse(text: &str) -> Result<DeadLetter, String> {
    serde_json::from_str::<DeadLetter>(text)
        .or_else(|e| DeadLetter::from_foreign(text).ok_or(e))
        .map_err(|e| format!("not a weft dead letter, a Lambda destination record or an event: {e}"))
}

/// Every message on the queue (up to [`MOST`]), each received once and then made visible again.
async fn peek(clients: &Clients, queue: &str) -> anyhow::Result<(Vec<Letter>, bool)> {
    let (mut seen, mut handles, mut letters) = (HashSet::new(), Vec::new(), Vec::new());
    let mut empty_polls = 0;
    while empty_polls < 2 && letters.len() < MOST {
        let received = (clients.sqs.receive_message().queue_url(queue))
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .visibility_timeout(PEEK_VISIBILITY)
            .send()
            .await
            .with_context(|| format!("receiving from {queue}"))?;
        let messages = received.messages.unwrap_or_default();
        empty_polls = if messages.is_empty() { empty_polls + 1 } else { 0 };
        for message in messages {
            handles.extend(message.receipt_handle.clone());
            let id = message.message_id.clone().unwrap_or_default();
            if seen.insert(id.clone()) {
                let letter = redrive::open(clients, message.body.as_deref().unwrap_or("")).await;
                letters.push(Letter { id, letter: letter.map_err(|e| format!("{e:#}")) });
            }
        }
    }
    for handle in handles {
        let back = clients.sqs.change_message_visibility().queue_url(queue).receipt_handle(handle);
        back.visibility_timeout(0).send().await.with_context(|| format!("handing a message back to {queue}"))?;
    }
    let more = letters.len() >= MOST;
    Ok((letters, more))
}

/// One letter: what it says, its event, and what the current rules would make of it (what a redrive would write).
pub fn open(studio: &Studio, index: Option<usize>) -> anyhow::Result<Value> {
    let letters = studio.letters.lock().expect("letters");
    let Letter { id, letter } =
        index.and_then(|i| letters.letters.get(i)).ok_or_else(|| anyhow::anyhow!("no dead letter at that index"))?;
    let letter = letter.as_ref().map_err(|e| anyhow::anyhow!("{e}"))?;
    let text = letter.event.text().to_owned();
    let mut guard = studio.judges.lock().expect("judges");
    let judges = guard.as_mut().ok_or_else(|| anyhow::anyhow!("the rules have not loaded yet"))?;
    let mut judged =
        super::judgement::judge_one(&mut judges.current, &text, Source::Message { message_id: id.clone() });
    redrive::skip_written(&mut judged, letter.written.clone());
    Ok(json!({
        "id": id,
        "letter": super::api::without_event(letter),
        "event": serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text)),
        "preview": super::api::verdict_json(&judged.verdict),
        "canRedrive": letters.queue.is_some() && studio.args.stream.is_some(),
    }))
}

/// Peeks at the queue again (or reads the file again).
pub fn reload(studio: &Studio, runtime: &Handle) -> anyhow::Result<Value> {
    let fresh = runtime.block_on(Letters::load(studio.args.dlq.as_deref(), studio.args.dead_letters.as_deref()))?;
    let mut letters = studio.letters.lock().expect("letters");
    *letters = fresh;
    Ok(letters.list())
}

/// `weft redrive` of the selected messages (`{"ids": [...]}`) with the rules on show, into `--stream`; then the
/// queue is peeked again, so the page shows what is left on it.
pub fn redrive(studio: &Studio, body: &[u8], runtime: &Handle) -> anyhow::Result<Value> {
    #[derive(serde::Deserialize)]
    struct Selection {
        ids: Vec<String>,
    }
    let Selection { ids } = serde_json::from_slice(body).context("expected {\"ids\": [message ids]}")?;
    let (Some(queue), Some(stream)) = (&studio.args.dlq, &studio.args.stream) else {
        anyhow::bail!("a redrive needs the queue (--dlq) and the stream to write to (--stream)");
    };
    anyhow::ensure!(!ids.is_empty(), "no dead letters selected");
    let rules = {
        let judges = studio.judges.lock().expect("judges");
        judges.as_ref().map(|j| j.current.rules().replica()).context("the rules have not loaded yet")?
    };
    let redriven = runtime.block_on(redrive::redrive_with(RedriveArgs::of(queue, stream, ids), rules))?;
    let list = reload(studio, runtime)?;
    Ok(json!({ "said": format!("weft redrive: {redriven}"), "notes": redriven.notes, "letters": list }))
}
