//! `weft bench`: what the sandbox costs, measured in one process on the same events.
//!
//! Four ways through the default rule, each over the same corpus (the shipped samples, repeated):
//! native Rust (the rule's crate linked into this binary), wasm per event with the deadline on and off, and wasm
//! in batches; then `weft run`'s whole data path (split, parse, rules, serialise) end to end. Ratios are
//! against native, so a noisy machine shifts all rows alike.

use std::hint::black_box;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use weft::embedded;
use weft::engine::{Engine, Limits, RuleInstance, Tables, wit, wit_event};
use weft::pipeline::{DEFAULT_BATCH, Pipeline};
use weft::rules::RuleSet;
use weft::sink::local::LocalSink;
use weft_sdk::{Event, IntoOutcome, Outcome};

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
    let events: Vec<Event> = corpus.iter().map(|line| weft::envelope::parse(line)).collect::<Result<_, _>>()?;
    let inputs: Vec<wit::Event> = events.iter().map(wit_event).collect();
    let bytes: Vec<u8> = corpus.iter().flat_map(|line| line.bytes().chain([b'\n'])).collect();
    let mean_size = bytes.len() / corpus.len().max(1);
    println!(
        "weft bench: {} events per round ({} distinct, mean {mean_size} bytes), median of {} rounds\n",
        corpus.len(),
        lines.len(),
        args.rounds
    );

    let rounds = args.rounds.max(1);
    let native = measure(rounds, || {
        for event in &events {
            black_box(native_outcome(event.clone()));
        }
    });

    let with_deadline = Engine::new()?;
    let without_deadline = Engine::with_deadline(false)?;
    let mut on = instance(&with_deadline)?;
    let mut off = instance(&without_deadline)?;
    let wasm_on = measure(rounds, || {
        for input in &inputs {
            black_box(on.process(input).expect("default rule runs"));
        }
    });
    let wasm_off = measure(rounds, || {
        for input in &inputs {
            black_box(off.process(input).expect("default rule runs"));
        }
    });
    let batched = measure(rounds, || {
        for chunk in inputs.chunks(DEFAULT_BATCH) {
            black_box(on.process_batch(chunk).expect("default rule runs"));
        }
    });
    let end_to_end = measure(rounds, || {
        let rules = RuleSet::embedded_default(&with_deadline, Limits::default()).expect("default rule loads");
        let mut sink = LocalSink::new(Box::new(std::io::sink()), None, None);
        let mut pipeline = Pipeline::new(rules, &mut sink);
        pipeline.feed(&bytes, "bench".into()).expect("writing to io::sink");
        black_box(pipeline.finish().expect("writing to io::sink"));
    });

    let n = corpus.len() as f64;
    let rate = |d: Duration| n / d.as_secs_f64();
    println!("{:<44} {:>12} {:>10} {:>9}", "path", "events/s", "µs/event", "× native");
    for (name, d) in [
        ("native (default rule linked in)", native),
        ("wasm, one call per event, deadline on", wasm_on),
        ("wasm, one call per event, deadline off", wasm_off),
        ("wasm, batches of 64, deadline on", batched),
        ("weft run end to end (split+parse+rule+write)", end_to_end),
    ] {
        println!(
            "{name:<44} {:>12.0} {:>10.2} {:>9.2}",
            rate(d),
            d.as_secs_f64() * 1e6 / n,
            d.as_secs_f64() / native.as_secs_f64()
        );
    }
    println!(
        "\ndeadline cost: {:+.1}% per event (on vs off)",
        (wasm_on.as_secs_f64() / wasm_off.as_secs_f64() - 1.0) * 100.0
    );
    Ok(ExitCode::SUCCESS)
}

fn native_outcome(event: Event) -> Outcome {
    weft_rule_default::shared_fields(event).into_outcome()
}

fn instance(engine: &Engine) -> anyhow::Result<RuleInstance> {
    let (module, _) = embedded::default_module(engine)?;
    Ok(RuleInstance::new(module, "null".into(), Arc::new(Tables::new()), Limits::default()))
}

/// Median of `rounds` timed runs, after one warm-up run.
fn measure(rounds: usize, mut f: impl FnMut()) -> Duration {
    f();
    let mut times: Vec<Duration> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}
