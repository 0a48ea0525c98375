//! `weft bench`: what the sandbox costs, measured in one process on the same events.
//!
//! Four ways through the default rule, each over the same corpus (the shipped samples, repeated):
//! native Rust (the rule's crate linked into this binary, as weft runs it), its component in wasm per event with
//! the deadline on and off, and in batches (as weft runs every other module); then `weft run`'s whole data path
//! (split, parse, rules, serialise) end to end, alone and with a shadow candidate (a second copy of the default
//! rule judging every event after it: what shadowing costs). Ratios are against native, so a noisy machine shifts
//! all rows alike.

use std::hint::black_box;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use weft::delivery::Delivery;
use weft::engine::native::default_rule;
use weft::engine::{Engine, Limits, RuleInstance, Tables, wit, wit_event};
use weft::input::{self, Chunk};
use weft::judge::candidate::{Candidate, Settings};
use weft::judge::{DEFAULT_BATCH, Judge};
use weft::rules::RuleSet;
use weft::rules::embedded;
use weft::rules::manifest::Rollout;
use weft::verdict::Summary;
use weft_sdk::Event;

/// The shipped samples: all 16 conversation topics plus two other families.
const SAMPLES: &[&str] = &[
    include_str!("../../../samples/events/voice-inbound-call.jsonl"),
    include_str!("../../../samples/events/chat-to-voicemail.jsonl"),
    include_str!("../../../samples/events/outbound-campaign.jsonl"),
    include_str!("../../../samples/events/other-topics.jsonl"),
];

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Events per round.
    #[arg(long, default_value_t = 50_000)]
    events: usize,
    /// Rounds per measurement; the median round is reported.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
}

pub fn bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let lines: Vec<&str> = SAMPLES.iter().flat_map(|s| s.lines()).collect();
    let corpus: Vec<&str> = lines.iter().cycle().take(args.events).copied().collect();
    let events = parse(&corpus)?;
    let inputs: Vec<wit::Event> = events.iter().map(wit_event).collect();
    let native: Vec<Event> = events.iter().map(input::Event::to_sdk).collect();
    let bytes: Vec<u8> = corpus.iter().flat_map(|line| line.bytes().chain([b'\n'])).collect();
    let (n, distinct, rounds, mean) = (corpus.len(), lines.len(), args.rounds, bytes.len() / corpus.len().max(1));
    println!("weft bench: {n} events per round ({distinct} distinct, mean {mean} bytes), median of {rounds} rounds\n");
    // Events the default rule drops before parsing anything: what remains is the cost of crossing the boundary.
    let foreign: Vec<wit::Event> =
        inputs.iter().filter(|e| e.kind.is_none()).cloned().cycle().take(inputs.len()).collect();
    let foreign_native: Vec<Event> =
        native.iter().filter(|e| e.kind.is_none()).cloned().cycle().take(native.len()).collect();

    let runtime = super::runtime()?;
    let with_deadline = Engine::new()?;
    let without_deadline = Engine::with_deadline(false)?;
    let mut on = instance(&with_deadline)?;
    let mut off = instance(&without_deadline)?;
    let mut paths: Vec<Path<'_>> = vec![
        (
            "native (default rule linked in)",
            Box::new(|| native.iter().for_each(|e| drop(black_box(default_rule(e.clone()))))),
        ),
        ("wasm, one call per event, deadline on", Box::new(|| calls(&mut on, &inputs))),
        ("wasm, one call per event, deadline off", Box::new(|| calls(&mut off, &inputs))),
        (
            "wasm, batches of 64, deadline on",
            Box::new(|| {
                // A second instance: `on` is borrowed by the row above.
                let mut batch = instance(&with_deadline).expect("default rule loads");
                inputs.chunks(DEFAULT_BATCH).for_each(|c| drop(black_box(batch.process_batch(c).expect("runs"))))
            }),
        ),
        (
            "native, event dropped unparsed",
            Box::new(|| foreign_native.iter().for_each(|e| drop(black_box(default_rule(e.clone()))))),
        ),
        (
            "wasm, event dropped unparsed (boundary cost)",
            Box::new(|| calls(&mut instance(&with_deadline).expect("default rule loads"), &foreign)),
        ),
        (
            "weft run path, one thread (split+parse+rule+write)",
            Box::new(|| end_to_end(&with_deadline, &bytes, &runtime, false)),
        ),
        (
            "the same, with a shadow (the default rule again)",
            Box::new(|| end_to_end(&with_deadline, &bytes, &runtime, true)),
        ),
    ];
    let medians = measure(&mut paths, args.rounds);
    let names: Vec<&str> = paths.iter().map(|(name, _)| *name).collect();
    report(&names, &medians, corpus.len() as f64);
    let per_event = medians[6] / corpus.len() as u32;
    super::bench_metrics::metrics_cost(&with_deadline, &bytes, &runtime, per_event, args.rounds)?;
    swap_latency(&with_deadline, &bytes, args.rounds)?;
    Ok(ExitCode::SUCCESS)
}

/// The corpus parsed, as a copy made in one pass. Where the parser left them, interleaved with its leftovers, the
/// events cost each wasm call 0.3 µs of cache misses copying the envelope in: the data path never pays those (it
/// lowers each event right after parsing it), and they said nothing about the sandbox.
fn parse(corpus: &[&str]) -> anyhow::Result<Vec<input::Event>> {
    let parsed: Vec<input::Event> =
        corpus.iter().map(|&line| input::envelope::parse(line)).collect::<Result<_, _>>()?;
    Ok(parsed.clone())
}

/// A way through the default rule, by name: one round over the corpus.
type Path<'a> = (&'a str, Box<dyn FnMut() + 'a>);

/// One call per event.
fn calls(instance: &mut RuleInstance, inputs: &[wit::Event]) {
    inputs.iter().for_each(|e| drop(black_box(instance.process(e).expect("runs"))))
}

/// The same steps as `weft run`: slices of 1,000 events judged, then delivered (here to io::sink); `shadowed`:
/// with a shadow candidate on every event (no budget).
fn end_to_end(engine: &Engine, bytes: &[u8], runtime: &tokio::runtime::Runtime, shadowed: bool) {
    let rules = || RuleSet::embedded_default(engine, Limits::default()).expect("default rule loads");
    let mut judge = Judge::new(rules());
    if shadowed {
        let unbounded = Settings { shadow_budget_percent: u32::MAX, ..Settings::default() };
        judge.set_candidate(Some(Candidate::new(rules(), Rollout::Shadow, unbounded)));
    }
    let mut delivery = Delivery::local(Box::new(std::io::sink()), None, None);
    let mut summary = Summary::default();
    // Read as `weft run` reads a file: a buffer at a time.
    let mut stream = input::Stream::new(bytes, "bench".into());
    loop {
        let chunks = stream.next_chunks(1000).expect("reading memory");
        if chunks.is_empty() {
            break;
        }
        let judged = judge.judge_slice(&input::Slice::new(chunks));
        let far = weft::delivery::Budget::from_now(Duration::from_secs(60));
        summary.count(&runtime.block_on(delivery.deliver(judged, far)).expect("writing to io::sink"));
    }
    black_box(summary);
}

/// The median time of each path. Rounds interleave the paths, so a burst of noise on this shared machine lands on
/// all of them alike; round 0 warms up.
fn measure(paths: &mut [Path<'_>], rounds: usize) -> Vec<Duration> {
    let mut times = vec![Vec::new(); paths.len()];
    for round in 0..=rounds.max(1) {
        for (index, (_, path)) in paths.iter_mut().enumerate() {
            let start = Instant::now();
            path();
            if round > 0 {
                times[index].push(start.elapsed());
            }
        }
    }
    times
        .into_iter()
        .map(|mut t| {
            t.sort();
            t[t.len() / 2]
        })
        .collect()
}

/// The table: events/s, µs per event and the ratio to native (the first path) for each path; then the deadline's
/// cost and the boundary's.
fn report(names: &[&str], medians: &[Duration], n: f64) {
    let rate = |d: Duration| n / d.as_secs_f64();
    let native = medians[0];
    println!("{:<46} {:>11} {:>9} {:>9}", "path", "events/s", "µs/event", "× native");
    for (name, d) in names.iter().zip(medians) {
        println!(
            "{name:<46} {:>11.0} {:>9.2} {:>9.2}",
            rate(*d),
            d.as_secs_f64() * 1e6 / n,
            d.as_secs_f64() / native.as_secs_f64()
        );
    }
    let pct = |a: Duration, b: Duration| (a.as_secs_f64() / b.as_secs_f64() - 1.0) * 100.0;
    println!("\ndeadline cost: {:+.1}% per event (on vs off)", pct(medians[1], medians[2]));
    println!(
        "wasm over native: {:.2} µs per event, of which the boundary (call, copies, glue): {:.2} µs",
        (medians[1].as_secs_f64() - native.as_secs_f64()) * 1e6 / n,
        (medians[5].as_secs_f64() - medians[4].as_secs_f64()) * 1e6 / n
    );
    println!(
        "shadow cost: {:+.1}% on the run path (a candidate as costly as the active set)",
        pct(medians[7], medians[6])
    );
}

/// The combined example rule set, as `weft rules publish` would lay it out, for compiling in the background.
const SWAP_MANIFEST: &[u8] = include_bytes!("../../../rules/contact-centre.json");
const SWAP_FILES: &[(&str, &[u8])] = &[
    ("dist/queue-names.wasm", include_bytes!("../../../rules/dist/queue-names.wasm")),
    ("dist/wrapup-names.wasm", include_bytes!("../../../rules/dist/wrapup-names.wasm")),
    ("dist/redact-pii.wasm", include_bytes!("../../../rules/dist/redact-pii.wasm")),
    ("tables/wrapup-codes.csv", include_bytes!("../../../rules/tables/wrapup-codes.csv")),
    ("tables/queues.json", include_bytes!("../../../rules/tables/queues.json")),
];

/// Event latency while a hot swap compiles: batches of 64 events through the active rule set, timed one by one,
/// steady and while another thread compiles (Cranelift) and self-tests a new rule set over and over, as the
/// reloader does in the background.
fn swap_latency(engine: &Engine, bytes: &[u8], rounds: usize) -> anyhow::Result<()> {
    let files =
        weft::rollout::source::Prefetched(SWAP_FILES.iter().map(|(k, v)| (k.to_string(), v.to_vec())).collect());
    let fetched = weft::rollout::source::FetchedManifest {
        bytes: SWAP_MANIFEST.to_vec(),
        etag: None,
        signature: None,
        published: None,
    };
    let started = Instant::now();
    compile_rule_set(&fetched, &files, engine)?;
    let compile_time = started.elapsed();

    let chunks: Vec<Chunk> = input::split(bytes, "bench".into()).collect();
    let mut judge = Judge::new(RuleSet::embedded_default(engine, Limits::default())?);
    let mut batch_times = |batches: usize| -> Vec<Duration> {
        let mut times = Vec::with_capacity(batches);
        for batch in chunks.chunks(DEFAULT_BATCH).cycle().take(batches) {
            let start = Instant::now();
            black_box(judge.judge(batch.iter().cloned()));
            times.push(start.elapsed());
        }
        times.sort();
        times
    };
    let batches = 400 * rounds.max(1);
    batch_times(50);
    let steady = batch_times(batches);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let compiler = {
        let (stop, engine) = (stop.clone(), engine.clone());
        std::thread::spawn(move || {
            let mut compiled = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                black_box(compile_rule_set(&fetched, &files, &engine).is_ok());
                compiled += 1;
            }
            compiled
        })
    };
    let swapping = batch_times(batches);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let compiled = compiler.join().expect("the compile thread");
    let at = |t: &[Duration], q: f64| t[((t.len() as f64 * q) as usize).min(t.len() - 1)];
    println!(
        "
hot swap: compiling and self-testing rules/contact-centre.json takes {:.0} ms ({compiled} times while measuring)",
        compile_time.as_secs_f64() * 1e3
    );
    println!("{:<46} {:>11} {:>11}", "latency of a batch of 64 events", "p50 µs", "p99 µs");
    for (name, t) in [("steady", &steady), ("while a new rule set compiles", &swapping)] {
        println!("{name:<46} {:>11.0} {:>11.0}", at(t, 0.5).as_secs_f64() * 1e6, at(t, 0.99).as_secs_f64() * 1e6);
    }
    println!(
        "during a swap / steady: p50 {:.2}×, p99 {:.2}× (goal: within 2×)",
        at(&swapping, 0.5).as_secs_f64() / at(&steady, 0.5).as_secs_f64(),
        at(&swapping, 0.99).as_secs_f64() / at(&steady, 0.99).as_secs_f64()
    );
    Ok(())
}

/// What the reloader does with a fetched rule set: every check, compile and self-test.
fn compile_rule_set(
    fetched: &weft::rollout::source::FetchedManifest,
    files: &weft::rollout::source::Prefetched,
    engine: &Engine,
) -> Result<weft::rollout::source::Accepted, weft::rollout::source::SourceError> {
    let parsed = weft::rollout::source::verify(fetched, &Default::default())?;
    weft::rollout::source::build(&parsed, files, engine, &Limits::default(), None)
}

/// The default rule's component, run in wasm as any module is (weft itself runs the rule natively).
fn instance(engine: &Engine) -> anyhow::Result<RuleInstance> {
    let (module, _) = embedded::default_component(engine)?;
    Ok(RuleInstance::new(module, "null".into(), Arc::new(Tables::new()), Limits::default()))
}
