//! `weft redrive`: dead letters back through the deployed rules, once their cause is fixed.
//!
//! The rules are the deployment's: `--rules` (a manifest path or `s3://…`, checked with `--public-key`), by default
//! `WEFT_RULES` and `WEFT_RULES_PUBLIC_KEY` exactly as the Lambda reads them; the embedded default rule only when
//! neither is set. A dead letter that names records of its event already in Kinesis (`written`) gets only its
//! other records written, so a redrive never writes a record twice.
//!
//! Each message is deleted only after its event is settled for good: its records are written, the current rules
//! drop it, or it failed again and its new dead letter (the new reason, and every record of it written so far) is
//! on the queue in its place. An event that fails again stays on the queue untouched (it reappears when its visibility
//! timeout ends), so a redrive can never lose one. `--dry-run` writes nothing and deletes nothing: it prints the
//! records that would be written and what would become of each message.

use std::collections::HashSet;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use aws_sdk_sqs::types::Message;
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use weft::aws::Clients;
use weft::delivery::{Budget, Delivery, LetterPort, RecordPort};
use weft::engine::{Engine, Limits};
use weft::input::{Chunk, Source};
use weft::judge::Judge;
use weft::rules::RuleSet;
use weft::verdict::dead_letter::{DeadLetter, DeadLetterMessage, WrittenRecord};
use weft::verdict::{Fate, Judged, Summary, Verdict};

#[derive(clap::Args)]
pub struct RedriveArgs {
    /// The dead-letter queue (URL).
    #[arg(long, value_name = "URL")]
    dlq: String,
    /// The Kinesis stream to write records to.
    #[arg(long, value_name = "NAME", required_unless_present = "dry_run")]
    stream: Option<String>,
    /// Show what would happen; write nothing, delete nothing.
    #[arg(long)]
    dry_run: bool,
    /// Stop after this many messages.
    #[arg(long, value_name = "N")]
    max: Option<usize>,
    /// The rule set to run, as the Lambda loads it: a manifest path or s3://BUCKET/PREFIX/manifest.json
    /// (default: WEFT_RULES; with neither, the embedded default rule).
    #[arg(long, value_name = "MANIFEST", env = "WEFT_RULES")]
    rules: Option<String>,
    /// Refuse a rule set not signed by one of these ed25519 public keys (hex, comma-separated; default:
    /// WEFT_RULES_PUBLIC_KEY).
    #[arg(long, value_name = "HEX", env = "WEFT_RULES_PUBLIC_KEY")]
    public_key: Option<String>,
    /// Redrive only the message with this id (repeatable); every other message is handed straight back.
    #[arg(long = "message-id", value_name = "ID")]
    only: Vec<String>,
}

impl RedriveArgs {
    /// A redrive of the messages `only` from `dlq` into `stream` (`weft studio`'s, on a selection).
    #[cfg(feature = "studio")]
    pub(crate) fn of(dlq: &str, stream: &str, only: Vec<String>) -> RedriveArgs {
        RedriveArgs {
            dlq: dlq.to_owned(),
            stream: Some(stream.to_owned()),
            dry_run: false,
            max: None,
            rules: None,
            public_key: None,
            only,
        }
    }
}

/// What a redrive did: the fates counted, and a line for each message that did not simply succeed.
pub(crate) struct Redriven {
    pub summary: Summary,
    pub notes: Vec<String>,
    pub dry_run: bool,
}

impl std::fmt::Display for Redriven {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (summary, verb) = (&self.summary, if self.dry_run { "would be" } else { "were" });
        write!(
            f,
            "{} dead letters: {} {verb} written ({} records), {} {verb} dropped, {} still failing{}",
            summary.events_in,
            summary.events_written,
            summary.records_out,
            summary.dropped,
            summary.dead_lettered + summary.failed,
            if self.dry_run { " (dry run: nothing written, nothing deleted)" } else { " (left on the queue)" }
        )
    }
}

/// How long a received message stays hidden from other readers while it is redriven.
const VISIBILITY: i32 = 60;

pub fn redrive(args: RedriveArgs) -> anyhow::Result<ExitCode> {
    let runtime = super::runtime()?;
    let redriven = runtime.block_on(async {
        let engine = Engine::new()?;
        let rules = match &args.rules {
            Some(location) => super::load_rules(location, args.public_key.as_deref(), &engine).await?,
            None => RuleSet::embedded_default(&engine, Limits::default())?,
        };
        let version = rules.version().map_or("builtin:default (embedded)".into(), |v| v.0.clone());
        eprintln!("weft redrive: rules {version}");
        redrive_with(args, rules).await
    })?;
    for note in &redriven.notes {
        eprintln!("{note}");
    }
    eprintln!("weft redrive: {redriven}");
    let summary = &redriven.summary;
    Ok(if summary.dead_lettered + summary.failed > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Redrives the queue's messages (those `args.only` names, when it names any) through `rules`.
pub(crate) async fn redrive_with(args: RedriveArgs, rules: RuleSet) -> anyhow::Result<Redriven> {
    let clients = Clients::load().await;
    let records = match (&args.stream, args.dry_run) {
        (Some(stream), false) => RecordPort::Kinesis(clients.kinesis_sink(stream)),
        _ => RecordPort::Lines(Box::new(std::io::stdout())),
    };
    // An event that fails again gets a new dead letter, which replaces its message (a dry run sends nothing).
    let letters = match args.dry_run {
        true => LetterPort::Lines(None),
        false => LetterPort::Queue(clients.dead_letter_queue(&args.dlq, None)),
    };
    let progress = ProgressBar::new(queue_length(&clients, &args.dlq).await);
    progress.set_style(
        ProgressStyle::with_template("{spinner} {pos}/{len} dead letters {wide_bar} {per_sec}")
            .expect("a valid template"),
    );
    let mut redrive = Redrive {
        judge: Judge::new(rules),
        delivery: Delivery::new(records, letters, None),
        clients,
        args,
        progress,
        summary: Summary::default(),
        seen: HashSet::new(),
        events: HashSet::new(),
        handed_back: Vec::new(),
        notes: Vec::new(),
    };
    let mut empty_polls = 0;
    while empty_polls < 2 && redrive.args.max.is_none_or(|max| redrive.seen.len() < max) && !redrive.found_all() {
        let received = redrive.receive().await?;
        if received.is_empty() {
            empty_polls += 1;
            continue;
        }
        empty_polls = 0;
        redrive.run(received).await?;
    }
    redrive.finish().await
}

/// One redrive: the queue, the rules, and what became of the messages so far.
struct Redrive {
    clients: Clients,
    args: RedriveArgs,
    judge: Judge,
    delivery: Delivery,
    progress: ProgressBar,
    summary: Summary,
    /// Message ids received so far (a message seen again is not run twice).
    seen: HashSet<String>,
    /// The events run so far, by digest: one that failed again has a new dead letter on the queue, not run twice.
    events: HashSet<Vec<u8>>,
    /// Messages to make visible again at the end: all of a dry run's, and those a selection leaves out.
    handed_back: Vec<String>,
    /// A line for each message that did not simply succeed.
    notes: Vec<String>,
}

impl Redrive {
    /// The next messages not seen before in this run.
    async fn receive(&mut self) -> anyhow::Result<Vec<Message>> {
        let received = (self.clients.sqs.receive_message())
            .queue_url(&self.args.dlq)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .visibility_timeout(VISIBILITY)
            .send()
            .await
            .with_context(|| format!("receiving from {}", self.args.dlq))?;
        let mut received = received.messages.unwrap_or_default();
        received.retain(|m| self.seen.insert(m.message_id.clone().unwrap_or_default()));
        if self.args.only.is_empty() {
            return Ok(received);
        }
        // Messages outside the selection stay hidden until the end, so that each receive brings new ones.
        let (chosen, others): (Vec<_>, Vec<_>) =
            received.into_iter().partition(|m| self.args.only.iter().any(|id| Some(id) == m.message_id.as_ref()));
        self.handed_back.extend(others.into_iter().filter_map(|m| m.receipt_handle));
        Ok(chosen)
    }

    /// Whether every message of a selection has been received (never, without one).
    fn found_all(&self) -> bool {
        !self.args.only.is_empty() && self.args.only.iter().all(|id| self.seen.contains(id))
    }

    /// Runs the messages' events through the rules and delivery, then settles each message.
    async fn run(&mut self, received: Vec<Message>) -> anyhow::Result<()> {
        let mut messages = Vec::with_capacity(received.len());
        let mut texts = Vec::with_capacity(received.len());
        let mut already = Vec::with_capacity(received.len());
        for message in received {
            let letter = open(&self.clients, message.body.as_deref().unwrap_or("")).await?;
            let text = letter.event.text().to_owned();
            // An event that failed again in this run has a new dead letter on the queue: it is not run twice in
            // one redrive (it stays hidden until its visibility timeout ends, for the next redrive).
            if !self.events.insert(Sha256::digest(text.as_bytes()).to_vec()) {
                continue;
            }
            already.push(letter.written);
            texts.push(text);
            messages.push(message);
        }
        let chunks: Vec<Chunk> = texts
            .iter()
            .zip(&messages)
            .map(|(text, m)| Chunk::Object {
                text,
                source: Source::Message { message_id: m.message_id.clone().unwrap_or_default() },
            })
            .collect();
        let mut judged = self.judge.judge(chunks);
        for (item, written) in judged.iter_mut().zip(already) {
            skip_written(item, written);
        }
        let budget = Budget::from_now(Duration::from_secs(VISIBILITY as u64 - 5));
        let fates = self.delivery.deliver(judged, budget).await?;
        self.summary.count(&fates);
        for (message, fate) in messages.iter().zip(&fates) {
            self.settle(message, fate).await?;
        }
        self.progress.inc(messages.len() as u64);
        Ok(())
    }

    /// Deletes a message whose event is settled for good; leaves one still failing (or every one, in a dry run).
    async fn settle(&mut self, message: &Message, fate: &Fate) -> anyhow::Result<()> {
        let handle = message.receipt_handle.clone().unwrap_or_default();
        let id = message.message_id.as_deref().unwrap_or("");
        if self.args.dry_run {
            self.notes.push(format!("{id}: would be {}", describe(fate)));
            self.handed_back.push(handle);
            return Ok(());
        }
        match fate {
            Fate::Failed { .. } => {
                self.notes.push(format!("{id}: still failing, left on the queue: {}", describe(fate)));
                return Ok(());
            }
            Fate::DeadLettered { class, .. } => {
                self.notes.push(format!("{id}: still failing ({class}); its new dead letter replaces it"));
            }
            Fate::Written { .. } | Fate::Dropped { .. } => {}
        }
        let delete = self.clients.sqs.delete_message().queue_url(&self.args.dlq).receipt_handle(handle);
        delete.send().await.with_context(|| format!("deleting message {id}"))?;
        Ok(())
    }

    /// Hands back the messages it was not to settle (a dry run's, those outside a selection).
    async fn finish(mut self) -> anyhow::Result<Redriven> {
        for handle in std::mem::take(&mut self.handed_back) {
            let queue = self.clients.sqs.change_message_visibility().queue_url(&self.args.dlq);
            queue.receipt_handle(handle).visibility_timeout(0).send().await?;
        }
        self.delivery.flush()?;
        self.progress.finish_and_clear();
        std::io::stdout().flush()?;
        Ok(Redriven { summary: self.summary, notes: self.notes, dry_run: self.args.dry_run })
    }
}

/// Leaves out of `item`'s records those its dead letter says are in Kinesis already (same rule, same index), and
/// carries them over to the new dead letter should the event fail again.
pub(crate) fn skip_written(item: &mut Judged, written: Vec<WrittenRecord>) {
    match &mut item.verdict {
        Verdict::Records(records) => records.retain(|record| !written.iter().any(|w| w.id == record.id)),
        Verdict::DeadLetter(letter) => letter.written.extend(written.iter().cloned()),
        Verdict::Dropped(_) => {}
    }
    item.written = written;
}

/// The dead letter in a message body, fetched from S3 when the message only points at it.
pub(crate) async fn open(clients: &Clients, body: &str) -> anyhow::Result<DeadLetter> {
    let message = match serde_json::from_str::<DeadLetterMessage>(body) {
        Ok(message) => message,
        Err(e) => {
            return DeadLetter::from_foreign(body).with_context(|| {
                format!(
                    "a message on the queue is not a weft dead letter, a Lambda destination record or an event: {e}"
                )
            });
        }
    };
    match message {
        DeadLetterMessage::Inline(letter) => Ok(*letter),
        DeadLetterMessage::Stored(stored) => {
            let object = clients
                .s3
                .get_object()
                .bucket(&stored.stored_in.bucket)
                .key(&stored.stored_in.key)
                .send()
                .await
                .with_context(|| format!("fetching s3://{}/{}", stored.stored_in.bucket, stored.stored_in.key))?;
            let bytes = object.body.collect().await?.into_bytes();
            Ok(serde_json::from_slice(&bytes).context("the stored dead letter is not a weft dead letter")?)
        }
    }
}

async fn queue_length(clients: &Clients, url: &str) -> u64 {
    let attributes = clients
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await;
    attributes
        .ok()
        .and_then(|a| a.attributes)
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages).and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn describe(fate: &Fate) -> String {
    match fate {
        Fate::Written { records } => format!("written ({records} records)"),
        Fate::Dropped { reason } => format!("dropped: {reason}"),
        Fate::DeadLettered { class, .. } => format!("failing again: {class}"),
        Fate::Failed { reason } => format!("failing again: {reason}"),
    }
}
