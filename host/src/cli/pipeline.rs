//! `weft run` on every core: a reader thread reads and splits the input into slices, workers judge them (each
//! on instances of its own, as concurrent Lambda instances would), and the caller takes the verdicts back in
//! input order. At most [`IN_FLIGHT_PER_WORKER`] slices per worker are between the reader and the caller, so
//! memory does not grow with the input, nor with a worker that falls behind.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use anyhow::Context;
use weft::engine::native::panic_message;
use weft::input::{Slice, Stream};
use weft::judge::Judge;
use weft::rules::RuleSet;
use weft::rules::stats::RuleSetStats;

/// Slices read ahead per worker: enough that no worker waits for the reader, few enough that memory stays flat.
const IN_FLIGHT_PER_WORKER: usize = 2;

/// A slice's verdicts, or what panicked in the host while judging it (a bug in weft: the run stops, rather than
/// wait forever for a slice that will never come).
type Judged = Result<JudgedSlice, String>;

/// A slice's verdicts, one per chunk and in order, with what judging it cost.
pub struct JudgedSlice {
    pub judged: Vec<weft::verdict::Judged>,
    pub stats: RuleSetStats,
    /// Input bytes the slice covered (for the progress bar).
    pub bytes: usize,
}

pub struct Pipeline {
    results: Receiver<(u64, Judged)>,
    in_order: InOrder<Judged>,
    /// One permit per slice in flight: the reader takes one before it sends a slice, the caller gives it back
    /// when it takes that slice.
    permits: Receiver<()>,
    reader: JoinHandle<anyhow::Result<()>>,
    workers: Vec<JoinHandle<()>>,
}

/// Starts reading `files` into slices whose sizes add up to `slice` at a time across files (so deliveries go out
/// full), judged by `workers` threads: the first on `rules`, the others on replicas of it.
pub fn start(files: Vec<PathBuf>, rules: RuleSet, batch: usize, workers: usize, slice: usize) -> Pipeline {
    let workers = workers.max(1);
    let (permit, permits) = sync_channel(workers * IN_FLIGHT_PER_WORKER);
    let (work, queue) = sync_channel::<(u64, Slice)>(workers * IN_FLIGHT_PER_WORKER);
    let (result, results) = channel();
    let reader = std::thread::Builder::new()
        .name("weft-read".into())
        .spawn(move || read(&files, slice, &work, &permit))
        .expect("spawning the reader thread");
    let queue = Arc::new(Mutex::new(queue));
    let mut replicas: Vec<RuleSet> = (1..workers).map(|_| rules.replica()).collect();
    replicas.insert(0, rules);
    let workers = replicas
        .into_iter()
        .enumerate()
        .map(|(index, rules)| {
            let (queue, result) = (queue.clone(), result.clone());
            std::thread::Builder::new()
                .name(format!("weft-judge-{index}"))
                .spawn(move || judge(Judge::new(rules).with_batch_size(batch), &queue, &result))
                .expect("spawning a judge thread")
        })
        .collect();
    Pipeline { results, in_order: InOrder::default(), permits, reader, workers }
}

impl Pipeline {
    /// The next slice in input order; `None` once the input is over (or the reader failed: see [`Pipeline::finish`]).
    pub fn next(&mut self) -> anyhow::Result<Option<JudgedSlice>> {
        loop {
            if let Some(slice) = self.in_order.pop() {
                let _ = self.permits.recv();
                return slice
                    .map(Some)
                    .map_err(|panic| anyhow::anyhow!("weft panicked judging events (a bug): {panic}"));
            }
            match self.results.recv() {
                Ok((index, slice)) => self.in_order.push(index, slice),
                // Every worker has stopped: they stop when the reader does, after sending all they judged.
                Err(_) if self.in_order.is_empty() => return Ok(None),
                Err(_) => {
                    anyhow::bail!("a judge thread stopped before judging slice {} (a bug in weft)", self.in_order.next)
                }
            }
        }
    }

    /// Waits for the threads; a read error surfaces here, after every slice read before it was taken.
    pub fn finish(self) -> anyhow::Result<()> {
        for worker in self.workers {
            if worker.join().is_err() {
                anyhow::bail!("a judge thread panicked (a bug in weft)");
            }
        }
        self.reader.join().map_err(|_| anyhow::anyhow!("the reader thread panicked (a bug in weft)"))?
    }
}

/// Items numbered 0, 1, 2, ... arriving in any order, handed out in theirs.
struct InOrder<T> {
    next: u64,
    early: BTreeMap<u64, T>,
}

impl<T> Default for InOrder<T> {
    fn default() -> Self {
        InOrder { next: 0, early: BTreeMap::new() }
    }
}

impl<T> InOrder<T> {
    fn push(&mut self, index: u64, item: T) {
        self.early.insert(index, item);
    }

    /// The next item in order, once it has arrived.
    fn pop(&mut self) -> Option<T> {
        let item = self.early.remove(&self.next)?;
        self.next += 1;
        Some(item)
    }

    fn is_empty(&self) -> bool {
        self.early.is_empty()
    }
}

fn read(
    files: &[PathBuf],
    slice: usize,
    work: &SyncSender<(u64, Slice)>,
    permit: &SyncSender<()>,
) -> anyhow::Result<()> {
    // A slice's buffer comes back here when its last event is delivered (`SharedText`), to be filled again.
    let (mut index, (home, buffers)) = (0, channel());
    // Chunks sent since the last full `slice`: a file's end does not cut a delivery short.
    let mut pending = 0;
    for file in files {
        let (name, reader) = open(file)?;
        let mut stream = Stream::new(reader, name.into());
        loop {
            let chunks = stream.next_chunks(slice - pending).with_context(|| format!("reading {}", file.display()))?;
            if chunks.is_empty() {
                break;
            }
            pending = (pending + chunks.len()) % slice;
            let owned = Slice::in_buffer(chunks, buffers.try_recv().unwrap_or_default(), Some(home.clone()));
            // Both fail only when the caller has stopped taking slices: nothing is left to read for.
            if permit.send(()).is_err() || work.send((index, owned)).is_err() {
                return Ok(());
            }
            index += 1;
        }
    }
    Ok(())
}

fn judge(mut judge: Judge, queue: &Mutex<Receiver<(u64, Slice)>>, results: &Sender<(u64, Judged)>) {
    loop {
        let next = queue.lock().expect("no thread panics holding the queue").recv();
        let Ok((index, slice)) = next else { return };
        // The judge survives panics in the rules (`Judge::guarded`); one elsewhere in the host is reported.
        let judged = catch_unwind(AssertUnwindSafe(|| judge.judge_slice(&slice)))
            .map(|judged| JudgedSlice { judged, stats: judge.take_stats(), bytes: slice.bytes() })
            .map_err(|panic| panic_message(panic.as_ref()).unwrap_or_default().to_owned());
        let failed = judged.is_err();
        if results.send((index, judged)).is_err() || failed {
            return;
        }
    }
}

/// The file to read (standard input for `-`, an object for `s3://BUCKET/KEY`), and its name for positions in dead
/// letters.
pub(crate) fn open(file: &Path) -> anyhow::Result<(String, Box<dyn Read>)> {
    if file.as_os_str() == "-" {
        return Ok(("-".into(), Box::new(std::io::stdin().lock())));
    }
    if let Some(location) = file.to_str().filter(|f| f.starts_with("s3://")) {
        return Ok((location.to_owned(), s3()?.open(location)?));
    }
    let reader = File::open(file).with_context(|| format!("reading {}", file.display()))?;
    Ok((file.display().to_string(), Box::new(reader)))
}

/// Reading history from S3 (`weft run s3://…`), set up once.
pub(super) fn s3() -> anyhow::Result<&'static weft::history::object::Blocking> {
    static S3: std::sync::OnceLock<weft::history::object::Blocking> = std::sync::OnceLock::new();
    if let Some(s3) = S3.get() {
        return Ok(s3);
    }
    let blocking = weft::history::object::Blocking::new().context("starting the S3 reader")?;
    Ok(S3.get_or_init(|| blocking))
}

#[cfg(test)]
mod tests {
    use super::InOrder;

    #[test]
    fn items_come_out_in_their_order_whatever_order_they_arrive_in() {
        let mut in_order = InOrder::default();
        let mut out = Vec::new();
        for index in [2, 0, 3, 1, 5, 4] {
            in_order.push(index, index * 10);
            while let Some(item) = in_order.pop() {
                out.push(item);
            }
            if index == 2 {
                assert!(out.is_empty(), "nothing before item 0 arrives");
            }
        }
        assert_eq!(out, [0, 10, 20, 30, 40, 50]);
        assert!(in_order.is_empty());
    }
}
