//! What the host offers a rule: its parameters, lookup tables and a log.
//!
//! In wasm these call the host; compiled natively (unit tests, benchmarks) they read the [`crate::testing`]
//! stand-ins of the current thread.

use serde::de::DeserializeOwned;

use crate::RuleError;

/// Log levels, as the host's `log` import takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

/// Writes a log line; the host tags it with the module and the event, and rate-limits it.
/// Never log personal data (ani, dnis, addresses).
pub fn log(level: Level, message: &str) {
    imp::log(level, message)
}

/// Looks `key` up in the lookup table `table` attached to this rule.
pub fn lookup(table: &str, key: &str) -> Option<String> {
    imp::lookup(table, key)
}

/// This module's parameters as JSON text (`null` when the rule set gives none).
pub fn params_json() -> String {
    imp::params()
}

/// This module's parameters, read into a type of yours; none given reads as `{}`, so a struct whose fields all
/// have defaults needs no parameters. Parse once and keep the result (e.g. in a `std::sync::OnceLock`): they do
/// not change for the life of the instance.
pub fn params<T: DeserializeOwned>() -> Result<T, RuleError> {
    let json = params_json();
    let json = if json.trim() == "null" { "{}" } else { json.as_str() };
    serde_json::from_str(json).map_err(|e| RuleError::new("invalid-params", format!("module parameters: {e}")))
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::Level;
    use crate::__private::bindings::weft::rules::host::{self, Level as WitLevel};

    pub fn log(level: Level, message: &str) {
        let level = match level {
            Level::Trace => WitLevel::Trace,
            Level::Debug => WitLevel::Debug,
            Level::Info => WitLevel::Info,
            Level::Warn => WitLevel::Warn,
            Level::Error => WitLevel::Error,
        };
        host::log(level, message)
    }

    pub fn lookup(table: &str, key: &str) -> Option<String> {
        host::lookup(table, key)
    }

    pub fn params() -> String {
        host::params()
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    pub use crate::testing::native::{log, lookup, params};
}
