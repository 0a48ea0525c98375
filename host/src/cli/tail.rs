//! `weft tail`: a Kinesis stream's records as JSON lines, across all its shards — what an operator otherwise
//! does with `aws kinesis get-shard-iterator`, `get-records`, `jq` and `base64 -d`.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use aws_sdk_kinesis::primitives::DateTime;
use aws_sdk_kinesis::types::ShardIteratorType;
use serde_json::value::RawValue;
use weft::aws::Clients;

#[derive(clap::Args)]
pub struct TailArgs {
    /// The stream to read.
    #[arg(long, value_name = "NAME")]
    stream: String,
    /// Where to start: `trim-horizon` (the oldest record kept), `latest` (only new records), or an RFC 3339
    /// timestamp such as 2025-11-27T10:00:00Z.
    #[arg(long, default_value = "trim-horizon", value_name = "POSITION")]
    from: String,
    /// Keep reading new records; without it, stop once every shard is read to its end.
    #[arg(long)]
    follow: bool,
    /// Stop after this many records.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
}

/// One line of output: the record as `weft run` prints it, plus where it sits in the stream.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Line<'a> {
    partition_key: &'a str,
    data: Data<'a>,
    shard_id: &'a str,
    sequence_number: &'a str,
}

#[derive(serde::Serialize)]
#[serde(untagged)]
enum Data<'a> {
    Json(&'a RawValue),
    /// Not JSON (written by something other than weft): the bytes as text, lossily.
    Text(String),
}

pub fn tail(args: TailArgs) -> anyhow::Result<ExitCode> {
    super::runtime()?.block_on(tail_async(args))
}

async fn tail_async(args: TailArgs) -> anyhow::Result<ExitCode> {
    let (kind, timestamp) = match args.from.as_str() {
        "trim-horizon" => (ShardIteratorType::TrimHorizon, None),
        "latest" => (ShardIteratorType::Latest, None),
        other => {
            let at = humantime::parse_rfc3339_weak(other)
                .with_context(|| format!("--from `{other}`: expected trim-horizon, latest or an RFC 3339 timestamp"))?;
            (ShardIteratorType::AtTimestamp, Some(DateTime::from(at)))
        }
    };
    let kinesis = Clients::load().await.kinesis;
    // An ARN names a stream of the account and region the credentials are for; its name is what the reads take.
    let stream = args.stream.rsplit_once(":stream/").map_or(args.stream.as_str(), |(_, name)| name);
    let mut iterators: Vec<(String, Option<String>)> = Vec::new();
    for shard in shards(&kinesis, stream).await? {
        let iterator = (kinesis.get_shard_iterator())
            .stream_name(stream)
            .shard_id(&shard)
            .shard_iterator_type(kind.clone())
            .set_timestamp(timestamp)
            .send()
            .await
            .with_context(|| format!("opening shard {shard}"))?
            .shard_iterator;
        iterators.push((shard, iterator));
    }
    let mut printed = 0;
    loop {
        let mut caught_up = true;
        for (shard, iterator) in &mut iterators {
            let Some(current) = iterator.take() else { continue };
            let request = kinesis.get_records().shard_iterator(&current).limit(1000);
            let page = request.send().await.with_context(|| format!("reading shard {shard}"))?;
            for record in page.records() {
                print(record, shard)?;
                printed += 1;
                if args.limit.is_some_and(|limit| printed >= limit) {
                    return Ok(ExitCode::SUCCESS);
                }
            }
            if !page.records().is_empty() || page.millis_behind_latest().unwrap_or(0) > 0 {
                caught_up = false;
            }
            *iterator = page.next_shard_iterator().map(str::to_owned);
        }
        let open = iterators.iter().any(|(_, iterator)| iterator.is_some());
        if !open || (caught_up && !args.follow) {
            return Ok(ExitCode::SUCCESS);
        }
        if caught_up {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// Every shard of the stream, through every page of ListShards.
async fn shards(kinesis: &aws_sdk_kinesis::Client, stream: &str) -> anyhow::Result<Vec<String>> {
    let mut shards = Vec::new();
    let mut next_token = None;
    loop {
        let request = match &next_token {
            Some(token) => kinesis.list_shards().next_token(token),
            None => kinesis.list_shards().stream_name(stream),
        };
        let page = request.send().await.with_context(|| format!("listing the shards of {stream}"))?;
        shards.extend(page.shards().iter().map(|s| s.shard_id().to_owned()));
        next_token = page.next_token().map(str::to_owned);
        if next_token.is_none() {
            return Ok(shards);
        }
    }
}

/// One record as a JSON line on stdout: its data as JSON when it is, else as text.
fn print(record: &aws_sdk_kinesis::types::Record, shard: &str) -> anyhow::Result<()> {
    let bytes = record.data().as_ref();
    let data = match std::str::from_utf8(bytes).ok().and_then(|text| serde_json::from_str::<&RawValue>(text).ok()) {
        Some(json) => Data::Json(json),
        None => Data::Text(String::from_utf8_lossy(bytes).into_owned()),
    };
    let line = Line {
        partition_key: record.partition_key().unwrap_or_default(),
        data,
        shard_id: shard,
        sequence_number: record.sequence_number(),
    };
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &line)?;
    std::io::Write::write_all(&mut out, b"\n")?;
    Ok(())
}
