//! History: events that reach weft again. EventBridge replays its archive of the Genesys bus to weft's rule alone
//! (`replay`); the replayed events go through the same path as live ones and are known for what they are
//! (`input::provenance`): counted under their replay, their records stamped with it and keeping the identity the
//! first delivery gave them, and (with `WEFT_REPLAY_STREAM`) written to a stream of their own. History older than
//! the archive sits in S3: the backfill state machine's Distributed Map invokes the same zip in its `backfill` role
//! (`role`) on one object at a time (`object`, `backfill`).

pub mod backfill;
pub mod dry_run;
pub mod execution;
pub mod object;
pub mod replay;
pub mod results;
pub mod role;
pub mod tally;

use crate::input::provenance::replay_name;
use crate::verdict::{Judged, Verdict};

/// Each judged event's replay (`None`: a live event), and with `stream` (`WEFT_REPLAY_STREAM`) every record of a
/// replayed event sent there instead of its own stream, so that live consumers never see history.
pub fn replays(judged: &mut [Judged], stream: Option<&str>) -> Vec<Option<String>> {
    let replays: Vec<Option<String>> = judged.iter().map(|j| replay_name(&j.text)).collect();
    if let Some(stream) = stream {
        for (judged, _) in judged.iter_mut().zip(&replays).filter(|(_, replay)| replay.is_some()) {
            to_stream(judged, stream);
        }
    }
    replays
}

/// Every record of an event to `stream`, whatever stream its rule names: history kept apart from live traffic.
pub(crate) fn to_stream(judged: &mut Judged, stream: &str) {
    if let Verdict::Records(records) = &mut judged.verdict {
        records.iter_mut().for_each(|record| record.stream = Some(stream.to_owned()));
    }
}

/// An AWS error as an operator reads it: the service's code and message (`ResourceAlreadyExistsException: Replay r1
/// already exists.`), or what the SDK says when there is no answer (a connection refused, a timeout).
pub(crate) fn aws_reason<E>(error: &E) -> String
where
    E: std::error::Error + aws_sdk_eventbridge::error::ProvideErrorMetadata + 'static,
{
    match (error.code(), error.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => aws_sdk_eventbridge::error::DisplayErrorContext(error).to_string(),
    }
}
