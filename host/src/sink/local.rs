//! JSON lines on local writers: records on one (standard output for `weft run`), drops and dead letters on
//! others when asked for.

use std::io::Write;

use serde::Serialize;

use super::{Sink, SinkError};
use crate::dead_letter::{DeadLetter, Dropped};
use crate::record::Record;

pub struct LocalSink {
    records: Box<dyn Write>,
    dropped: Option<Box<dyn Write>>,
    dead_letters: Option<Box<dyn Write>>,
}

impl LocalSink {
    pub fn new(
        records: Box<dyn Write>,
        dropped: Option<Box<dyn Write>>,
        dead_letters: Option<Box<dyn Write>>,
    ) -> LocalSink {
        LocalSink { records, dropped, dead_letters }
    }
}

fn line(out: &mut dyn Write, value: &impl Serialize, what: &'static str) -> Result<(), SinkError> {
    let io = |source| SinkError::Io { what, source };
    serde_json::to_writer(&mut *out, value).map_err(|e| io(e.into()))?;
    out.write_all(b"\n").map_err(io)
}

impl Sink for LocalSink {
    fn record(&mut self, record: &Record) -> Result<(), SinkError> {
        line(&mut self.records, record, "records")
    }

    fn dropped(&mut self, dropped: &Dropped) -> Result<(), SinkError> {
        match &mut self.dropped {
            Some(out) => line(out, dropped, "dropped events"),
            None => Ok(()),
        }
    }

    fn dead_letter(&mut self, dead_letter: &DeadLetter) -> Result<(), SinkError> {
        match &mut self.dead_letters {
            Some(out) => line(out, dead_letter, "dead letters"),
            None => Ok(()),
        }
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        for (out, what) in [
            (Some(&mut self.records), "records"),
            (self.dropped.as_mut(), "dropped events"),
            (self.dead_letters.as_mut(), "dead letters"),
        ] {
            if let Some(out) = out {
                out.flush().map_err(|source| SinkError::Io { what, source })?;
            }
        }
        Ok(())
    }
}
