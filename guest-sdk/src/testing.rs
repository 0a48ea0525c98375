//! Running a rule natively, for unit tests and benchmarks: set the parameters and lookup tables a test needs,
//! call the rule function, and read what it logged.
//!
//! ```ignore
//! weft_sdk::testing::set_table("queues", [("q1", "Billing")]);
//! let event = weft_sdk::Event::from_envelope_json(include_str!("../tests/acw.json"))?;
//! let outcome = weft_sdk::IntoOutcome::into_outcome(my_rule(event));
//! ```

use std::cell::RefCell;
use std::collections::HashMap;

use crate::Level;

#[derive(Default)]
struct NativeHost {
    params: Option<String>,
    tables: HashMap<String, HashMap<String, String>>,
    logs: Vec<(Level, String)>,
}

thread_local! {
    static HOST: RefCell<NativeHost> = RefCell::new(NativeHost::default());
}

/// Sets the parameters (JSON text) the rule reads on this thread.
pub fn set_params(json: impl Into<String>) {
    HOST.with(|h| h.borrow_mut().params = Some(json.into()));
}

/// Replaces the lookup table `name` on this thread.
pub fn set_table<K: Into<String>, V: Into<String>>(name: &str, entries: impl IntoIterator<Item = (K, V)>) {
    let table = entries.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
    HOST.with(|h| h.borrow_mut().tables.insert(name.to_owned(), table));
}

/// Takes the lines logged on this thread so far.
pub fn take_logs() -> Vec<(Level, String)> {
    HOST.with(|h| std::mem::take(&mut h.borrow_mut().logs))
}

/// Forgets parameters, tables and logs of this thread.
pub fn reset() {
    HOST.with(|h| *h.borrow_mut() = NativeHost::default());
}

#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
pub(crate) mod native {
    use super::HOST;
    use crate::Level;

    pub fn log(level: Level, message: &str) {
        HOST.with(|h| h.borrow_mut().logs.push((level, message.to_owned())));
    }

    pub fn lookup(table: &str, key: &str) -> Option<String> {
        HOST.with(|h| h.borrow().tables.get(table)?.get(key).cloned())
    }

    pub fn params() -> String {
        HOST.with(|h| h.borrow().params.clone().unwrap_or_else(|| "null".to_owned()))
    }
}
