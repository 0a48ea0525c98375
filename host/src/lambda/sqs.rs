//! The batched path's wire types (EventBridge → SQS → Lambda).

use serde::{Deserialize, Serialize};

/// What weft reads of an SQS event source mapping's invocation, and its partial-batch answer
/// (`ReportBatchItemFailures`). Ours, a dozen lines, rather than `aws_lambda_events`: its serde_with, darling and
/// chrono cost every first build about a minute of CPU for these four structs.
#[derive(Debug, Deserialize)]
pub(super) struct SqsEvent {
    #[serde(rename = "Records")]
    pub(super) records: Vec<SqsMessage>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SqsMessage {
    pub(super) message_id: Option<String>,
    pub(super) body: Option<String>,
    pub(super) event_source: Option<String>,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SqsBatchResponse {
    pub(super) batch_item_failures: Vec<BatchItemFailure>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BatchItemFailure {
    pub(super) item_identifier: String,
}
