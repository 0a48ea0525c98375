//! AWS clients, built once per container. The SDK's own retries are off for the sinks, which retry with their
//! own backoff bounded by the time the invocation has left; rule sets are read with the SDK's standard retry. Endpoints follow `AWS_ENDPOINT_URL` (and its per-service
//! forms), which is how the tests reach a local AWS API server.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;

use crate::delivery::dead_letters::DeadLetterQueue;
use crate::delivery::kinesis::KinesisSink;
use crate::delivery::retry::Backoff;

/// The HTTPS client of every AWS call: hyper on rustls with ring, the one TLS stack weft compiles.
pub fn http_client() -> aws_sdk_kinesis::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https()
}

/// The SDK configuration every client of weft's shares: one HTTPS stack, no SDK retries (weft retries what it
/// sends, and counts it), short timeouts.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::from_env()
        .http_client(http_client())
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(10))
                .build(),
        )
        .load()
        .await
}

pub struct Clients {
    pub kinesis: aws_sdk_kinesis::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub s3: aws_sdk_s3::Client,
}

impl Clients {
    pub async fn load() -> Clients {
        let config = sdk_config().await;
        // S3 picks path-style addressing by itself for an IP endpoint (a local server on 127.0.0.1).
        Clients {
            kinesis: aws_sdk_kinesis::Client::new(&config),
            sqs: aws_sdk_sqs::Client::new(&config),
            s3: aws_sdk_s3::Client::new(&config),
        }
    }

    /// An S3 client for reading rule sets: with the SDK's standard retry (3 attempts, backoff, transient errors and
    /// throttling told apart by the SDK). Rule sets load off the invocation path or at a cold start, where no
    /// invocation deadline needs our own bounded loop; the dead-letter writes, which have one, keep retries off.
    pub fn rules_s3(&self) -> aws_sdk_s3::Client {
        let config = self.s3.config().to_builder().retry_config(RetryConfig::standard().with_max_attempts(3)).build();
        aws_sdk_s3::Client::from_conf(config)
    }

    pub fn kinesis_sink(&self, stream: &str) -> KinesisSink {
        KinesisSink::new(self.kinesis.clone(), stream.to_owned(), Backoff::default())
    }

    pub fn dead_letter_queue(&self, url: &str, bucket: Option<&str>) -> DeadLetterQueue {
        let overflow = bucket.map(|b| (self.s3.clone(), b.to_owned()));
        DeadLetterQueue::new(self.sqs.clone(), url.to_owned(), overflow, Backoff::default())
    }
}
