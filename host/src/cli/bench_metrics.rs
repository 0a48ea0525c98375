//! `weft bench`'s metrics rows: the bytes of an invocation's EMF documents and their CPU cost, for an invocation of
//! one event and of a 1,000-event batch — against the data path for as many events, and against a whole direct
//! invocation through the Lambda handler writing to Kinesis (a local stand-in that answers every PutRecords at once,
//! so what is timed is weft's side: the rules, the signed HTTP call, the answer, the metrics).

use std::hint::black_box;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use serde_json::value::RawValue;
use weft::delivery::kinesis::KinesisSink;
use weft::delivery::retry::Backoff;
use weft::delivery::{Budget, Delivery, LetterPort, RecordPort};
use weft::engine::{Engine, Limits};
use weft::input;
use weft::judge::Judge;
use weft::lambda::Handler;
use weft::metrics::{MetricsConfig, Publisher, Report, emf};
use weft::rules::RuleSet;

pub fn metrics_cost(
    engine: &Engine,
    bytes: &[u8],
    runtime: &tokio::runtime::Runtime,
    per_event: Duration,
    rounds: usize,
) -> anyhow::Result<()> {
    let config = MetricsConfig::new("weft-bench");
    println!();
    let mut write_cost = Duration::ZERO;
    for events in [1, 1000] {
        let report = report_of(engine, bytes, events, runtime)?;
        let size = emf::write(&mut std::io::sink(), &report, &config)?;
        let repeats = 2000;
        let start = Instant::now();
        for _ in 0..repeats {
            black_box(emf::write(&mut std::io::sink(), black_box(&report), &config)?);
        }
        let cost = start.elapsed() / repeats;
        write_cost = write_cost.max(cost);
        let path = per_event * events as u32;
        println!(
            "metrics of an invocation of {events:>4} events: {size} bytes of EMF, {:.1} µs to write: {:.1}% of the {:.0} µs its events take on the data path",
            cost.as_secs_f64() * 1e6,
            share(cost, path),
            path.as_secs_f64() * 1e6
        );
    }
    let (with, without) = invocations(engine, bytes, runtime, rounds)?;
    println!(
        "a direct invocation of one event through the handler to Kinesis: {:.0} µs with metrics, {:.0} µs without ({:+.1}%); writing the documents is {:.1}% of it",
        with.as_secs_f64() * 1e6,
        without.as_secs_f64() * 1e6,
        (with.as_secs_f64() / without.as_secs_f64() - 1.0) * 100.0,
        share(write_cost, without)
    );
    Ok(())
}

fn share(part: Duration, rest: Duration) -> f64 {
    part.as_secs_f64() / (part + rest).as_secs_f64() * 100.0
}

/// The report of an invocation of `events` events through the default rule.
fn report_of(
    engine: &Engine,
    bytes: &[u8],
    events: usize,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<Report> {
    let mut judge = Judge::new(RuleSet::embedded_default(engine, Limits::default())?);
    let mut delivery = Delivery::local(Box::new(std::io::sink()), None, None);
    let judged = judge.judge(input::split(bytes, "bench".into()).take(events));
    let fates = runtime.block_on(delivery.deliver(judged, Budget::from_now(Duration::from_secs(60))))?;
    let mut report = Report { request_id: Some("6f1c1f54-3b1e-4c38-9d7e-0d2a6f5b9c11".into()), ..Report::default() };
    report.count(&fates);
    report.rules = judge.take_stats();
    report.delivery = delivery.take_stats();
    report.time_left = Some(Duration::from_secs(29));
    Ok(report)
}

/// Median time of a direct one-event invocation with and without metrics (to `io::sink`), rounds interleaved.
fn invocations(
    engine: &Engine,
    bytes: &[u8],
    runtime: &tokio::runtime::Runtime,
    rounds: usize,
) -> anyhow::Result<(Duration, Duration)> {
    let endpoint = kinesis_stand_in()?;
    let handler = |metrics: bool| -> anyhow::Result<Handler> {
        let config = aws_sdk_kinesis::Config::builder()
            .behavior_version(aws_sdk_kinesis::config::BehaviorVersion::latest())
            .region(aws_sdk_kinesis::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_kinesis::config::Credentials::new("bench", "bench", None, None, "bench"))
            .endpoint_url(&endpoint)
            .http_client(weft::aws::http_client())
            .build();
        let sink = KinesisSink::new(aws_sdk_kinesis::Client::from_conf(config), "bench".into(), Backoff::default());
        let delivery = Delivery::new(RecordPort::Kinesis(sink), LetterPort::Lines(None), None);
        let handler = Handler::new(Judge::new(RuleSet::embedded_default(engine, Limits::default())?), delivery);
        let publisher = Publisher::new(MetricsConfig::new("weft-bench"), Box::new(std::io::sink()));
        Ok(if metrics { handler.with_metrics(publisher) } else { handler })
    };
    let (with, without) = (handler(true)?, handler(false)?);
    let event = match input::split(bytes, "bench".into()).next() {
        Some(input::Chunk::Object { text, .. }) => text.to_owned(),
        _ => anyhow::bail!("the bench corpus starts with an event"),
    };
    let payload = RawValue::from_string(event)?;
    let mut times = [Vec::new(), Vec::new()];
    for round in 0..=rounds.max(1) * 200 {
        // Alternating which goes first, so neither always finds the other's connection warm.
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for (index, handler) in order.into_iter().map(|i| (i, [&with, &without][i])) {
            let start = Instant::now();
            runtime.block_on(handler.handle(&payload, "bench", Instant::now() + Duration::from_secs(30)))?;
            if round > 10 {
                times[index].push(start.elapsed());
            }
        }
    }
    let [mut with, mut without] = times;
    with.sort();
    without.sort();
    Ok((with[with.len() / 2], without[without.len() / 2]))
}

/// A local HTTP endpoint that answers every PutRecords of one record with success, on keep-alive connections.
fn kinesis_stand_in() -> std::io::Result<String> {
    const ANSWER: &str =
        r#"{"FailedRecordCount":0,"Records":[{"SequenceNumber":"1","ShardId":"shardId-000000000000"}]}"#;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}", listener.local_addr()?);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().expect("a socket clones"));
                let mut writer = stream;
                let _ = writer.set_nodelay(true);
                loop {
                    let mut length = 0;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if let Some((name, value)) = line.split_once(':')
                            && name.eq_ignore_ascii_case("content-length")
                        {
                            length = value.trim().parse().unwrap_or(0);
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.1\r\ncontent-length: {}\r\n\r\n{ANSWER}",
                        ANSWER.len()
                    );
                    if writer.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok(url)
}
