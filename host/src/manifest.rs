//! The rule set manifest: the JSON document customers write, and loading it into a [`RuleSet`].
//!
//! Loading is all or nothing: every path is compiled, every table and module read, hashed and checked, every
//! module compiled and linked against weft's world, before anything runs. The first problem refuses the whole
//! rule set with an error that names the rule and the field, so a half-loaded rule set never sees an event.
//! Files are read through a [`Fetch`], so the same loader serves local files and (for hot swap) S3.

use std::collections::{BTreeMap, HashMap};
use std::path::Path as FsPath;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::embedded::{self, DEFAULT_RULE};
use crate::engine::{Engine, Limits, LoadError, ModuleId, RuleModule};
use crate::matching::{Matcher, Path, Predicate, Test};
use crate::rules::{Handling, OnError, Output, Quarantine, Rule, RuleSet, RuleSetVersion};
use crate::tables::{Table, TableError, TableFormat, TableSet};

/// A rule set: rules tried in order on every event, and the tables their modules may look up.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Manifest {
    /// A label for people ("wrapups-2026-11"). The rule set's version is this label and the manifest's hash.
    #[serde(default)]
    pub name: Option<String>,
    /// Stamp every record with `_weft`: the rule set version, the rule, and each table's version.
    #[serde(default)]
    pub lineage: bool,
    /// Lookup tables by name, served to modules through `lookup(table, key)`.
    #[serde(default)]
    pub tables: BTreeMap<String, TableSpec>,
    /// The rules. Every rule whose match holds runs (fan-out); an event no rule matches is dropped
    /// ("no rule matched").
    pub rules: Vec<RuleSpec>,
    /// Golden cases for the whole rule set: `weft rules test MANIFEST` runs them.
    #[serde(default)]
    pub tests: Vec<crate::golden::Case>,
}

/// A lookup table file: a JSON object of keys to values, or a CSV file with a header row.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TableSpec {
    /// Path relative to the manifest (`.csv` is read as CSV, anything else as JSON).
    pub file: String,
    /// Hex sha256 of the file; when given, a different file is refused.
    #[serde(default)]
    pub sha256: Option<String>,
    /// CSV: the key column (default: the first).
    #[serde(default)]
    pub key: Option<String>,
    /// CSV: the value column (default: the whole row as a JSON object).
    #[serde(default)]
    pub value: Option<String>,
}

/// One rule: which events, which modules, where the records go, and what a failure costs.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RuleSpec {
    /// Unique in the rule set; named in dead letters, drops and lineage.
    pub name: String,
    /// Which events the rule takes (default: all).
    #[serde(default, rename = "match")]
    pub matches: MatchSpec,
    /// The chain: each module gets the event and the previous module's records, and its outcome replaces them.
    pub modules: Vec<ModuleSpec>,
    /// Where the records go.
    #[serde(default)]
    pub output: OutputSpec,
    /// What happens to an event when a module of this rule fails on it.
    #[serde(default)]
    pub on_error: OnErrorSpec,
    /// Limits for this rule's modules, over the configured ones.
    #[serde(default)]
    pub limits: LimitsSpec,
    /// When to stop calling a failing module for a while.
    #[serde(default)]
    pub quarantine: QuarantineSpec,
}

/// Per-rule limits; each one given replaces the configured value (`WEFT_*`) for this rule's modules.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LimitsSpec {
    /// 1 to 60000.
    pub time_per_event_ms: Option<u64>,
    /// Linear memory per instance, 2 to 4096.
    pub memory_mb: Option<u64>,
    /// 1 to 10000.
    pub records_per_event: Option<usize>,
    /// Partition key plus data, 1 to 1048576 (Kinesis' limit).
    pub record_bytes: Option<usize>,
    /// All records of one event, 1 to 5242880.
    pub event_bytes: Option<usize>,
    /// Log lines per event (more are counted and dropped), 0 to 10000.
    pub log_lines_per_event: Option<usize>,
    /// `lookup` calls per event, 0 to 1000000.
    pub lookups_per_event: Option<usize>,
    /// Size of each `.wasm` file, up to 104857600.
    pub module_bytes: Option<usize>,
}

/// After `after` failed events in a row (0: never) the rule's on-error policy applies without calling its
/// modules, for `coolDownSeconds`; then the next event tries them again.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct QuarantineSpec {
    /// 0 to 1000000.
    #[serde(default = "default_after")]
    pub after: u32,
    /// 0 to 86400.
    #[serde(default = "default_cool_down")]
    pub cool_down_seconds: u64,
}

impl Default for QuarantineSpec {
    fn default() -> QuarantineSpec {
        QuarantineSpec { after: default_after(), cool_down_seconds: default_cool_down() }
    }
}

/// The longest quarantine: a day. Longer is indistinguishable from "off" for an operator and, near `u64::MAX`
/// seconds, overflows the clock.
pub const MAX_COOL_DOWN_SECONDS: u64 = 86_400;

impl QuarantineSpec {
    /// The quarantine, or the field that is out of range and why.
    fn checked(&self) -> Result<Quarantine, (&'static str, String)> {
        if self.after > 1_000_000 {
            return Err(("after", format!("{} is outside 0 to 1000000", self.after)));
        }
        if self.cool_down_seconds > MAX_COOL_DOWN_SECONDS {
            return Err((
                "coolDownSeconds",
                format!("{} is outside 0 to {MAX_COOL_DOWN_SECONDS}", self.cool_down_seconds),
            ));
        }
        Ok(Quarantine { after: self.after, cool_down: std::time::Duration::from_secs(self.cool_down_seconds) })
    }
}

fn default_after() -> u32 {
    crate::rules::Quarantine::default().after
}

fn default_cool_down() -> u64 {
    crate::rules::Quarantine::default().cool_down.as_secs()
}

impl LimitsSpec {
    /// `base` with this rule's values in place; an error names the field and its range.
    fn apply(&self, base: &Limits) -> Result<Limits, (&'static str, String)> {
        fn check<T: PartialOrd + std::fmt::Display + Copy>(
            field: &'static str,
            value: Option<T>,
            min: T,
            max: T,
        ) -> Result<Option<T>, (&'static str, String)> {
            match value {
                Some(v) if v < min || v > max => Err((field, format!("{v} is outside {min} to {max}"))),
                other => Ok(other),
            }
        }
        let mut limits = base.clone();
        if let Some(ms) = check("timePerEventMs", self.time_per_event_ms, 1, 60_000)? {
            limits.time_per_event = std::time::Duration::from_millis(ms);
        }
        if let Some(mb) = check("memoryMb", self.memory_mb, 2, 4096)? {
            limits.memory_bytes = mb as usize * 1024 * 1024;
        }
        if let Some(n) = check("recordsPerEvent", self.records_per_event, 1, 10_000)? {
            limits.records_per_event = n;
        }
        if let Some(n) = check("recordBytes", self.record_bytes, 1, crate::engine::KINESIS_MAX_RECORD_BYTES)? {
            limits.record_bytes = n;
        }
        if let Some(n) = check("eventBytes", self.event_bytes, 1, 5 * 1024 * 1024)? {
            limits.event_bytes = n;
        }
        if let Some(n) = check("logLinesPerEvent", self.log_lines_per_event, 0, 10_000)? {
            limits.log_lines_per_call = n;
        }
        if let Some(n) = check("lookupsPerEvent", self.lookups_per_event, 0, 1_000_000)? {
            limits.lookups_per_event = n;
        }
        if let Some(n) = check("moduleBytes", self.module_bytes, 1, 100 * 1024 * 1024)? {
            limits.module_bytes = n;
        }
        Ok(limits)
    }
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MatchSpec {
    /// Topic kinds: `acw`, `customer.end`, a family such as `customer.*`, or `*` (any conversation kind).
    /// Omitted: every event, conversation or not.
    #[serde(default)]
    pub kinds: Option<Vec<String>>,
    /// JSONPath predicates over the EventBridge event; all must hold.
    #[serde(default, rename = "where")]
    pub predicates: Vec<PredicateSpec>,
}

/// Holds when the path selects a node (and, with `equals` or `in`, a node with one of those values).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PredicateSpec {
    /// An RFC 9535 JSONPath over the event, e.g. `$.detail.eventBody.mediaType`.
    pub path: String,
    #[serde(default)]
    pub equals: Option<Value>,
    #[serde(default, rename = "in")]
    pub one_of: Option<Vec<Value>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ModuleSpec {
    /// `builtin:default`, or a `.wasm` file relative to the manifest.
    pub module: String,
    /// Hex sha256 of the `.wasm` file (required for files).
    #[serde(default)]
    pub sha256: Option<String>,
    /// Parameters, as the module reads them with `weft_sdk::params()`.
    #[serde(default)]
    pub params: Value,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OutputSpec {
    /// Kinesis stream for this rule's records (default: the configured stream). A record whose module named a
    /// stream keeps it.
    #[serde(default)]
    pub stream: Option<String>,
    /// JSONPath over each record's data for its partition key (default: the key the module chose, which the
    /// SDK and the default rule make the conversation id).
    #[serde(default)]
    pub partition_key: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OnErrorSpec {
    /// Dead-letter the event, with the module and the reason (nothing of it is written).
    #[default]
    DeadLetter,
    /// Go on without this rule's records (counted as a drop of this rule if nothing else is written).
    Skip,
    /// Write the default rule's record for the event instead of this rule's.
    Default,
}

/// Why a rule set was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("rule set manifest: {0}")]
    Unreadable(String),
    #[error("rule set manifest: {at}: {message}")]
    Document { at: String, message: String },
    #[error("rule set manifest: {at}: {problem}")]
    Invalid { at: String, problem: Problem },
}

/// What is wrong at a place in the manifest.
#[derive(Debug, thiserror::Error)]
pub enum Problem {
    #[error("the rule set has no rules")]
    NoRules,
    #[error("a rule needs at least one module")]
    NoModules,
    #[error("another rule is already named `{0}`")]
    DuplicateRule(String),
    #[error("{0}")]
    BadPath(String),
    #[error("{0}")]
    BadKind(String),
    #[error("give `equals` or `in`, not both")]
    EqualsAndIn,
    #[error("`{0}` is not a valid Kinesis stream name (1 to 128 of a-z A-Z 0-9 _ . -)")]
    BadStream(String),
    #[error("a module file needs its `sha256` (the hex sha256 of the file)")]
    MissingHash,
    #[error("`{0}` is not a hex sha256 (64 characters 0-9 a-f)")]
    BadHash(String),
    #[error("{file}: sha256 is {actual}, the manifest says {expected}")]
    HashMismatch { file: String, expected: String, actual: String },
    #[error("{file}: {reason}")]
    Unfetchable { file: String, reason: String },
    #[error(transparent)]
    Module(#[from] LoadError),
    #[error("{file}: {error}")]
    Table { file: String, error: TableError },
    #[error("{0}")]
    BadLimit(String),
}

/// Reads a file named in a manifest (relative to it).
pub trait Fetch {
    fn fetch(&self, name: &str) -> Result<Vec<u8>, String>;
}

/// Files beside a manifest on local disk.
pub struct LocalFiles<'a>(pub &'a FsPath);

impl Fetch for LocalFiles<'_> {
    fn fetch(&self, name: &str) -> Result<Vec<u8>, String> {
        let path = self.0.join(name);
        std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    }
}

/// A manifest parsed, with the hash of its bytes (the rule set's identity).
pub struct Parsed {
    pub manifest: Manifest,
    pub sha256: String,
}

impl Manifest {
    /// Parses a manifest; an error names the field (`rules[1].match.kinds`) and the line.
    pub fn parse(bytes: &[u8]) -> Result<Parsed, ManifestError> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let manifest: Manifest = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let at = e.path().to_string();
            ManifestError::Document {
                at: if at == "." { "document".into() } else { at },
                message: e.into_inner().to_string(),
            }
        })?;
        de.end().map_err(|e| ManifestError::Document { at: "document".into(), message: e.to_string() })?;
        Ok(Parsed { manifest, sha256: ModuleId::new("", bytes).sha256 })
    }

    /// Reads and loads a manifest file; the files it names are read beside it.
    pub fn load_file(path: &FsPath, engine: &Engine, limits: &Limits) -> Result<RuleSet, ManifestError> {
        let bytes = std::fs::read(path).map_err(|e| ManifestError::Unreadable(format!("{}: {e}", path.display())))?;
        let dir = path.parent().unwrap_or(FsPath::new("."));
        Manifest::parse(&bytes)?.load(engine, limits, &LocalFiles(dir))
    }
}

impl Parsed {
    /// Builds the rule set: every part fetched, checked and compiled, or the whole set refused.
    pub fn load(&self, engine: &Engine, limits: &Limits, files: &dyn Fetch) -> Result<RuleSet, ManifestError> {
        let manifest = &self.manifest;
        let version = RuleSetVersion::new(manifest.name.as_deref(), &self.sha256);
        if manifest.rules.is_empty() {
            return Err(invalid("rules", Problem::NoRules));
        }
        let tables = load_tables(manifest, files)?;
        let mut modules: HashMap<String, RuleModule> = HashMap::new();
        let mut rules = Vec::with_capacity(manifest.rules.len());
        let mut names = std::collections::HashSet::new();
        for (r, spec) in manifest.rules.iter().enumerate() {
            let at = |field: &str| format!("rules[{r}] ({:?}){field}", spec.name);
            if !names.insert(spec.name.as_str()) {
                return Err(invalid(at(".name"), Problem::DuplicateRule(spec.name.clone())));
            }
            let matcher = build_matcher(&spec.matches, &at)?;
            if spec.modules.is_empty() {
                return Err(invalid(at(".modules"), Problem::NoModules));
            }
            let rule_limits = spec
                .limits
                .apply(limits)
                .map_err(|(field, problem)| invalid(at(&format!(".limits.{field}")), Problem::BadLimit(problem)))?;
            let mut chain = Vec::with_capacity(spec.modules.len());
            for (m, module) in spec.modules.iter().enumerate() {
                let at = at(&format!(".modules[{m}]"));
                let loaded = load_module(engine, module, files, &mut modules, &at, rule_limits.module_bytes)?;
                chain.push((loaded, Arc::<str>::from(module.params.to_string())));
            }
            let output = build_output(&spec.output, &at)?;
            let on_error = match spec.on_error {
                OnErrorSpec::DeadLetter => OnError::DeadLetter,
                OnErrorSpec::Skip => OnError::Skip,
                OnErrorSpec::Default => OnError::Default,
            };
            let quarantine = spec
                .quarantine
                .checked()
                .map_err(|(field, problem)| invalid(at(&format!(".quarantine.{field}")), Problem::BadLimit(problem)))?;
            let handling = Handling { output, on_error, quarantine };
            rules.push(Rule::new(spec.name.clone(), matcher, chain, handling, &tables, &rule_limits));
        }
        RuleSet::from_rules(engine, rules, version, manifest.lineage.then_some(tables.versions.clone()), limits)
            .map_err(|e| invalid("rules", Problem::Module(e)))
    }
}

fn invalid(at: impl Into<String>, problem: Problem) -> ManifestError {
    ManifestError::Invalid { at: at.into(), problem }
}

fn load_tables(manifest: &Manifest, files: &dyn Fetch) -> Result<TableSet, ManifestError> {
    let mut tables = Vec::with_capacity(manifest.tables.len());
    for (name, spec) in &manifest.tables {
        let at = format!("tables.{name}");
        let bytes = fetch_checked(files, &spec.file, spec.sha256.as_deref(), &at)?;
        let format = TableFormat::of(FsPath::new(&spec.file));
        let table = Table::parse(&bytes, format, spec.key.as_deref(), spec.value.as_deref())
            .map_err(|error| invalid(&at, Problem::Table { file: spec.file.clone(), error }))?;
        tables.push((name.clone(), table));
    }
    Ok(TableSet::new(tables))
}

fn build_matcher(spec: &MatchSpec, at: &dyn Fn(&str) -> String) -> Result<Matcher, ManifestError> {
    let mut predicates = Vec::with_capacity(spec.predicates.len());
    for (p, predicate) in spec.predicates.iter().enumerate() {
        let at = at(&format!(".match.where[{p}]"));
        let path = Path::parse(&predicate.path).map_err(|e| invalid(format!("{at}.path"), Problem::BadPath(e)))?;
        let test = match (&predicate.equals, &predicate.one_of) {
            (Some(_), Some(_)) => return Err(invalid(at, Problem::EqualsAndIn)),
            (Some(value), None) => Test::Equals(value.clone()),
            (None, Some(values)) => Test::OneOf(values.clone()),
            (None, None) => Test::Exists,
        };
        predicates.push(Predicate { path, test });
    }
    Matcher::new(spec.kinds.as_deref(), predicates)
        .map_err(|(k, e)| invalid(at(&format!(".match.kinds[{k}]")), Problem::BadKind(e)))
}

fn build_output(spec: &OutputSpec, at: &dyn Fn(&str) -> String) -> Result<Output, ManifestError> {
    if let Some(stream) = &spec.stream
        && !crate::record::valid_stream_name(stream)
    {
        return Err(invalid(at(".output.stream"), Problem::BadStream(stream.clone())));
    }
    let partition_key = spec
        .partition_key
        .as_deref()
        .map(Path::parse)
        .transpose()
        .map_err(|e| invalid(at(".output.partitionKey"), Problem::BadPath(e)))?;
    Ok(Output { stream: spec.stream.clone(), partition_key })
}

fn load_module(
    engine: &Engine,
    spec: &ModuleSpec,
    files: &dyn Fetch,
    cache: &mut HashMap<String, RuleModule>,
    at: &str,
    max_bytes: usize,
) -> Result<RuleModule, ManifestError> {
    if spec.module == DEFAULT_RULE {
        if let Some(module) = cache.get(DEFAULT_RULE) {
            return Ok(module.clone());
        }
        let (module, _) = embedded::default_module(engine).map_err(|e| invalid(at, Problem::Module(e)))?;
        cache.insert(DEFAULT_RULE.into(), module.clone());
        return Ok(module);
    }
    let Some(expected) = spec.sha256.as_deref() else {
        return Err(invalid(format!("{at}.sha256"), Problem::MissingHash));
    };
    if let Some(module) = cache.get(expected) {
        return Ok(module.clone());
    }
    let bytes = fetch_checked(files, &spec.module, Some(expected), at)?;
    let name = FsPath::new(&spec.module).file_name().map_or(spec.module.clone(), |n| n.to_string_lossy().into());
    let module =
        RuleModule::from_file_limited(engine, &name, &bytes, max_bytes).map_err(|e| invalid(at, Problem::Module(e)))?;
    cache.insert(expected.to_owned(), module.clone());
    Ok(module)
}

/// Fetches a file and, when a hash is given, checks it.
fn fetch_checked(files: &dyn Fetch, file: &str, sha256: Option<&str>, at: &str) -> Result<Vec<u8>, ManifestError> {
    if let Some(expected) = sha256
        && !(expected.len() == 64 && expected.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
    {
        return Err(invalid(format!("{at}.sha256"), Problem::BadHash(expected.to_owned())));
    }
    let bytes =
        files.fetch(file).map_err(|reason| invalid(at, Problem::Unfetchable { file: file.to_owned(), reason }))?;
    if let Some(expected) = sha256 {
        let actual = ModuleId::new("", &bytes).sha256;
        if actual != expected {
            let problem = Problem::HashMismatch { file: file.to_owned(), expected: expected.to_owned(), actual };
            return Err(invalid(at, problem));
        }
    }
    Ok(bytes)
}
