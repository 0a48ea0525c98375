//! Machine code for the QuickJS engine that every JavaScript rule carries, compiled when weft is built and shipped
//! in its binary: compiling a JavaScript rule then compiles only what differs from it.
//!
//! Why: a JavaScript rule is QuickJS (1.7 MB of wasm) with the rule's code in its data, so Cranelift spent 1.5–2 s
//! of a cold start compiling the same interpreter for every rule. Cranelift's incremental cache keys each function
//! by a hash of the function itself and the compiler's settings, so a function found here is exactly the code
//! Cranelift would have made of it; what it cannot find it compiles as always. The build script compiles
//! `guest-sdk/js/quickjs.wasm` (a JavaScript rule as `weft rules build` makes it with the pinned componentize-qjs)
//! and records every function into one blob; the host looks functions up in that blob where it lies in the binary,
//! with nothing to parse at start-up. Both sides set the same target and settings ([`super::config`]), or no key
//! would match.
//!
//! Compiled into both the host and its build script: the script writes the blob, the host reads it.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Cranelift's key for a function: a sha256.
const KEY: usize = 32;
/// An index entry: the key, then where its code starts and how long it is (u32, little-endian).
const ENTRY: usize = KEY + 8;

/// The blob: the number of entries (u32), the entries sorted by key, then the code they point into.
#[allow(dead_code, reason = "the build script's half")]
pub fn encode(entries: &BTreeMap<Vec<u8>, Vec<u8>>) -> Result<Vec<u8>, String> {
    let entries: Vec<_> = entries.iter().filter(|(key, _)| key.len() == KEY).collect();
    let index = 4 + entries.len() * ENTRY;
    let mut blob = Vec::with_capacity(index + entries.iter().map(|(_, code)| code.len()).sum::<usize>());
    let count = |n: usize| u32::try_from(n).map_err(|_| "the code cache is over 4 GiB".to_owned());
    blob.extend(count(entries.len())?.to_le_bytes());
    let mut at = index;
    for (key, code) in &entries {
        blob.extend(key.iter());
        blob.extend(count(at)?.to_le_bytes());
        blob.extend(count(code.len())?.to_le_bytes());
        at += code.len();
    }
    for (_, code) in &entries {
        blob.extend(code.iter());
    }
    Ok(blob)
}

/// The code recorded under `key`, by binary search over the index (a blob that is not one finds nothing).
pub fn lookup<'a>(blob: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let word = |at: usize| Some(u32::from_le_bytes(blob.get(at..at + 4)?.try_into().ok()?) as usize);
    let entries = word(0)?;
    let index = blob.get(4..4 + entries.checked_mul(ENTRY)?)?;
    let (mut low, mut high) = (0, entries);
    while low < high {
        let middle = (low + high) / 2;
        let entry = &index[middle * ENTRY..(middle + 1) * ENTRY];
        match entry[..KEY].cmp(key) {
            std::cmp::Ordering::Less => low = middle + 1,
            std::cmp::Ordering::Greater => high = middle,
            std::cmp::Ordering::Equal => {
                let start = word(4 + middle * ENTRY + KEY)?;
                let len = word(4 + middle * ENTRY + KEY + 4)?;
                return blob.get(start..start.checked_add(len)?);
            }
        }
    }
    None
}

thread_local! {
    /// Functions looked up on this thread, and how many were found: a compile runs on one thread (weft compiles
    /// on one), so the thread that compiled a module can say how much of it came from here.
    static LOOKUPS: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

/// The lookups on this thread since the last take: (functions, found).
pub fn take_lookups() -> (usize, usize) {
    LOOKUPS.with(|lookups| lookups.replace((0, 0)))
}

/// The shipped blob as Cranelift's cache: read only, so nothing a module compiles is ever kept in it.
#[derive(Debug)]
pub struct Shipped(pub &'static [u8]);

impl wasmtime::CacheStore for Shipped {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        let found = lookup(self.0, key);
        LOOKUPS.with(|lookups| {
            let (functions, hits) = lookups.get();
            lookups.set((functions + 1, hits + usize::from(found.is_some())))
        });
        found.map(Cow::Borrowed)
    }

    fn insert(&self, _key: &[u8], _value: Vec<u8>) -> bool {
        false
    }
}

/// What the build script compiles through: every function Cranelift makes, by key.
#[allow(dead_code, reason = "the build script's half")]
#[derive(Debug, Default)]
pub struct Recorder(pub Mutex<BTreeMap<Vec<u8>, Vec<u8>>>);

impl wasmtime::CacheStore for Recorder {
    fn get(&self, _key: &[u8]) -> Option<Cow<'_, [u8]>> {
        None
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        self.0.lock().map(|mut recorded| recorded.insert(key.to_vec(), value)).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_recorded_function_is_found_by_its_key_and_nothing_else_is() {
        let mut entries = BTreeMap::new();
        for i in 0..200u8 {
            entries.insert(vec![i.wrapping_mul(37); KEY], vec![i; usize::from(i) % 7]);
        }
        entries.insert(vec![1; 5], vec![9]); // not a key Cranelift makes: left out
        let blob = encode(&entries).unwrap();
        for (key, code) in entries.iter().filter(|(key, _)| key.len() == KEY) {
            assert_eq!(lookup(&blob, key), Some(code.as_slice()));
        }
        assert_eq!(lookup(&blob, &[1; 5]), None);
        let mut absent = vec![0; KEY];
        absent[KEY - 1] = 1;
        assert_eq!(lookup(&blob, &absent), None);
        assert_eq!(lookup(&[], &[0; KEY]), None, "an empty blob");
        assert_eq!(lookup(&[9, 0, 0, 0, 1], &[0; KEY]), None, "an index longer than the blob");
    }

    #[test]
    fn the_lookups_of_a_thread_are_counted_for_it() {
        let blob = encode(&BTreeMap::from([(vec![3; KEY], vec![1, 2])])).unwrap();
        let shipped: &'static [u8] = Vec::leak(blob);
        let store = Shipped(shipped);
        take_lookups();
        use wasmtime::CacheStore;
        assert!(store.get(&[3; KEY]).is_some());
        assert!(store.get(&[4; KEY]).is_none());
        assert!(!store.insert(&[4; KEY], vec![1]), "nothing is kept");
        assert!(store.get(&[4; KEY]).is_none());
        assert_eq!(take_lookups(), (3, 1));
        assert_eq!(std::thread::spawn(take_lookups).join().unwrap(), (0, 0));
    }
}
