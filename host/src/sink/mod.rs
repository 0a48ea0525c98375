//! Where the pipeline's results go. `weft run` writes them to local files ([`local`]); the Lambda writes records
//! to Kinesis and dead letters to SQS.

pub mod local;

use crate::dead_letter::{DeadLetter, Dropped};
use crate::record::Record;

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("writing {what}: {source}")]
    Io { what: &'static str, source: std::io::Error },
}

pub trait Sink {
    fn record(&mut self, record: &Record) -> Result<(), SinkError>;
    fn dropped(&mut self, dropped: &Dropped) -> Result<(), SinkError>;
    fn dead_letter(&mut self, dead_letter: &DeadLetter) -> Result<(), SinkError>;
    fn flush(&mut self) -> Result<(), SinkError>;
}
