//! What one call of a rule module may use. The defaults are measured (see docs/guarantees.md, "Limits and containment"): the
//! default rule needs ~10 µs and under 2 MiB per event, so they leave a customer module two to three orders of
//! magnitude of room while still stopping a runaway module long before it hurts the Lambda.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Wall-clock time for one event (a batch gets this times its size).
    pub time_per_event: Duration,
    /// Linear memory of one instance.
    pub memory_bytes: usize,
    /// Records one event may produce.
    pub records_per_event: usize,
    /// Size of one record: partition key plus data. Kinesis accepts at most 1 MiB.
    pub record_bytes: usize,
    /// Size of all the records of one event (a PutRecords call carries at most 5 MiB).
    pub event_bytes: usize,
    /// `lookup` calls one event may make (a batch gets this times its size).
    pub lookups_per_event: usize,
    /// Instances, tables and memories one module instance may create (a component is several core instances).
    pub instances: usize,
    pub tables: usize,
    pub memories: usize,
    /// Elements of one table.
    pub table_elements: usize,
    /// Size of a module's `.wasm` file.
    pub module_bytes: usize,
    /// Log lines one call may write; the rest are counted and dropped.
    pub log_lines_per_call: usize,
    /// Longest log line kept; longer ones are cut.
    pub log_line_bytes: usize,
}

/// The most a batch call's answer may carry, whatever its size: a batch whose answer is larger is retried event
/// by event, each with its own allowance, so only the events that need more than theirs fail.
pub const MAX_BATCH_COPY_BYTES: usize = 32 * 1024 * 1024;

impl Limits {
    /// Bytes the host may copy out of a module in one call of `events` events (wasmtime's "hostcall fuel", which
    /// also bounds each import's arguments): all the records one event may have, their host structures, and a
    /// reason or an error of a few KiB more than weft keeps (text is clipped once it is across), per event.
    pub fn copy_allowance(&self, events: usize) -> usize {
        let per_record = std::mem::size_of::<super::wit::OutputRecordResult>();
        let texts = 3 * crate::privacy::MAX_TEXT_BYTES + 64 * 1024;
        let per_event = self.event_bytes + self.records_per_event * per_record + texts;
        if events <= 1 { per_event } else { (per_event * events).min(MAX_BATCH_COPY_BYTES.max(per_event)) }
    }
}

/// Kinesis' hard limit on one record (data plus partition key).
pub const KINESIS_MAX_RECORD_BYTES: usize = 1024 * 1024;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            time_per_event: Duration::from_millis(100),
            memory_bytes: 64 * 1024 * 1024,
            records_per_event: 100,
            record_bytes: KINESIS_MAX_RECORD_BYTES,
            event_bytes: 5 * 1024 * 1024,
            lookups_per_event: 1_000,
            instances: 64,
            tables: 64,
            memories: 8,
            table_elements: 100_000,
            module_bytes: 20 * 1024 * 1024,
            log_lines_per_call: 20,
            log_line_bytes: 4096,
        }
    }
}
