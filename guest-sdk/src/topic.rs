//! Which topic an envelope belongs to. The host and the SDK share this one function, so a rule sees exactly the
//! kind and conversation id the host routed on.

/// Every conversation detail topic template starts with this; the kind follows it.
pub const CONVERSATION_TEMPLATE_PREFIX: &str = "v2.detail.events.conversation.{id}.";
const CONVERSATION_TOPIC_PREFIX: &str = "v2.detail.events.conversation.";

/// What the topic of an envelope says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Topic<'a> {
    /// The suffix after the conversation id (`customer.start`, `acw`, ...), for conversation detail events.
    pub kind: Option<&'a str>,
    /// The conversation id from `detail.topicName`, when it is a conversation topic of that same kind.
    pub conversation_id: Option<&'a str>,
}

/// Classifies an envelope by its `detail-type` (the topic template) and `detail.topicName`.
///
/// The template decides the kind, as EventBridge rules match on it: an event whose `detail-type` is not a
/// conversation detail template is not a conversation detail event, whatever its topic name claims. Kinds that
/// Genesys adds later are kinds all the same; rules decide what to do with them.
pub fn classify<'a>(detail_type: &'a str, topic_name: Option<&'a str>) -> Topic<'a> {
    let kind =
        detail_type.strip_prefix(CONVERSATION_TEMPLATE_PREFIX).filter(|kind| !kind.is_empty() && !kind.contains('{'));
    let conversation_id = kind.and_then(|kind| {
        let rest = topic_name?.strip_prefix(CONVERSATION_TOPIC_PREFIX)?;
        let (id, topic_kind) = rest.split_once('.')?;
        (topic_kind == kind && !id.is_empty()).then_some(id)
    });
    Topic { kind, conversation_id }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversation_topics_give_kind_and_id() {
        let topic = classify(
            "v2.detail.events.conversation.{id}.acd.end",
            Some("v2.detail.events.conversation.2f7bf00a-0fc2-4d6a-9b56-92238191433e.acd.end"),
        );
        assert_eq!(topic.kind, Some("acd.end"));
        assert_eq!(topic.conversation_id, Some("2f7bf00a-0fc2-4d6a-9b56-92238191433e"));
    }

    #[test]
    fn the_template_decides_not_the_topic_name() {
        let topic = classify(
            "v2.something.but.conversation.{id}.customer.start",
            Some("v2.detail.events.conversation.2f7bf00a-0fc2-4d6a-9b56-92238191433e.customer.start"),
        );
        assert_eq!(topic, Topic { kind: None, conversation_id: None });
        let audit =
            classify("v2.audits.entitytype.{id}.entityid.{id}", Some("v2.audits.entitytype.OAuthClient.entityid.x"));
        assert_eq!(audit.kind, None);
    }

    #[test]
    fn future_kinds_are_kinds_and_mismatched_topic_names_give_no_id() {
        let topic = classify(
            "v2.detail.events.conversation.{id}.survey.sent",
            Some("v2.detail.events.conversation.c1.survey.sent"),
        );
        assert_eq!(topic, Topic { kind: Some("survey.sent"), conversation_id: Some("c1") });
        let mismatch =
            classify("v2.detail.events.conversation.{id}.acw", Some("v2.detail.events.conversation.c1.acd.end"));
        assert_eq!(mismatch, Topic { kind: Some("acw"), conversation_id: None });
        assert_eq!(classify("v2.detail.events.conversation.{id}.", None).kind, None);
    }
}
