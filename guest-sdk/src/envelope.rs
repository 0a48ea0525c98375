//! The EventBridge envelope Genesys Cloud events arrive in.

use serde::{Deserialize, Serialize};

/// An EventBridge event from the Genesys Cloud partner source. `B` is the type of `detail.eventBody`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Envelope<B> {
    /// EventBridge's envelope version, `"0"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Identifies this delivery's event; weft writes it as the record's `_id`.
    pub id: String,
    /// The topic template, e.g. `v2.detail.events.conversation.{id}.customer.end` (`{id}` kept literally).
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    /// `aws.partner/genesys.com/cloud/<orgId>/<suffix>` (`genesys.com.test` for test orgs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Second precision; order events by `eventBody.eventTime`, never by this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<String>>,
    pub detail: Detail<B>,
}

/// The Genesys notification inside the envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Detail<B> {
    /// The concrete topic, e.g. `v2.detail.events.conversation.<conversationId>.customer.end`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_name: Option<String>,
    /// The notification version, the string `"2"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub event_body: B,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// Millisecond precision, ISO 8601.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Metadata {
    #[serde(rename = "CorrelationId", default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
}

impl<B> Envelope<B> {
    /// The same envelope with another body.
    pub fn map_body<C>(self, f: impl FnOnce(B) -> C) -> Envelope<C> {
        let Envelope { version, id, detail_type, source, account, time, region, resources, detail } = self;
        let Detail { topic_name, version: detail_version, event_body, metadata, timestamp } = detail;
        Envelope {
            version,
            id,
            detail_type,
            source,
            account,
            time,
            region,
            resources,
            detail: Detail { topic_name, version: detail_version, event_body: f(event_body), metadata, timestamp },
        }
    }
}
