//! The local AWS API server (moto, started by scripts/test.sh) and helpers to set up and read back streams,
//! queues and buckets on it.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_kinesis::types::ShardIteratorType;
use weft::aws::Clients;

/// The server's URL. scripts/test.sh starts it and sets this; running the tests without it is a setup error.
pub fn endpoint() -> String {
    std::env::var("WEFT_TEST_AWS_ENDPOINT").expect(
        "WEFT_TEST_AWS_ENDPOINT is not set: run the suite with scripts/test.sh, which starts the local AWS API server",
    )
}

/// Environment for a `weft` process that should talk to the local server.
pub fn env() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_DEFAULT_REGION", "us-east-1".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ]
}

pub async fn sdk_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(weft::aws::http_client())
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_kinesis::config::Credentials::new("testing", "testing", None, None, "weft-tests"))
        .endpoint_url(endpoint)
        .retry_config(RetryConfig::disabled())
        .timeout_config(TimeoutConfig::builder().operation_attempt_timeout(Duration::from_secs(5)).build())
        .load()
        .await
}

/// Clients whose Kinesis, SQS and S3 each go to their own endpoint (a proxy, a closed port, or the server).
pub async fn clients(kinesis: &str, sqs: &str, s3: &str) -> Clients {
    Clients {
        kinesis: aws_sdk_kinesis::Client::new(&sdk_config(kinesis).await),
        sqs: aws_sdk_sqs::Client::new(&sdk_config(sqs).await),
        s3: aws_sdk_s3::Client::new(&sdk_config(s3).await),
    }
}

/// A loopback address where nothing listens.
pub fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

/// A name no other test uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{:08x}", fastrand::u32(..))
}

/// Creates a stream and waits until it is ACTIVE.
pub async fn create_stream(clients: &Clients, name: &str, shards: i32) {
    clients.kinesis.create_stream().stream_name(name).shard_count(shards).send().await.unwrap();
    for _ in 0..100 {
        let summary = clients.kinesis.describe_stream_summary().stream_name(name).send().await.unwrap();
        if summary.stream_description_summary().is_some_and(|s| s.stream_status().as_str() == "ACTIVE") {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("stream {name} never became ACTIVE");
}

pub async fn create_queue(clients: &Clients, name: &str) -> String {
    clients.sqs.create_queue().queue_name(name).send().await.unwrap().queue_url.unwrap()
}

pub async fn create_bucket(clients: &Clients, name: &str) {
    clients.s3.create_bucket().bucket(name).send().await.unwrap();
}

/// Every record in the stream, shard by shard, as (partition key, data).
pub async fn read_stream(clients: &Clients, stream: &str) -> Vec<(String, String)> {
    let shards = clients.kinesis.list_shards().stream_name(stream).send().await.unwrap();
    let mut out = Vec::new();
    for shard in shards.shards() {
        let mut iterator = clients
            .kinesis
            .get_shard_iterator()
            .stream_name(stream)
            .shard_id(shard.shard_id())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator;
        while let Some(current) = iterator {
            let page = clients.kinesis.get_records().shard_iterator(current).send().await.unwrap();
            for record in page.records() {
                out.push((
                    record.partition_key().unwrap_or_default().to_owned(),
                    String::from_utf8(record.data().as_ref().to_vec()).unwrap(),
                ));
            }
            if page.records().is_empty() {
                break;
            }
            iterator = page.next_shard_iterator().map(str::to_owned);
        }
    }
    out
}

/// Every message on the queue (body and the stage/errorClass attributes), left on it and visible again.
pub async fn drain_queue(clients: &Clients, url: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut handles = Vec::new();
    loop {
        let received = clients
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .message_attribute_names("All")
            .visibility_timeout(60)
            .send()
            .await
            .unwrap();
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for m in messages {
            let attribute = |name: &str| {
                m.message_attributes().and_then(|a| a.get(name)).and_then(|v| v.string_value()).unwrap_or("").to_owned()
            };
            out.push((m.body().unwrap_or("").to_owned(), attribute("stage"), attribute("errorClass")));
            handles.push(m.receipt_handle().unwrap_or("").to_owned());
        }
    }
    for handle in handles {
        clients
            .sqs
            .change_message_visibility()
            .queue_url(url)
            .receipt_handle(handle)
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
    }
    out
}

pub async fn queue_depth(clients: &Clients, url: &str) -> usize {
    use aws_sdk_sqs::types::QueueAttributeName as Name;
    let attributes = clients
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(Name::ApproximateNumberOfMessages)
        .attribute_names(Name::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap();
    let get = |name: Name| attributes.get(&name).and_then(|n| n.parse::<usize>().ok()).unwrap_or(0);
    get(Name::ApproximateNumberOfMessages) + get(Name::ApproximateNumberOfMessagesNotVisible)
}
