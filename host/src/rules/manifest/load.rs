//! Loading a manifest: every path compiled, every table and module fetched, hashed and checked, every module
//! compiled and linked, before anything runs; the first problem refuses the whole rule set, naming the rule and
//! the field.

use std::collections::HashMap;
use std::path::Path as FsPath;
use std::sync::Arc;

use super::*;
use crate::engine::{CallError, Engine, LoadError, ModuleId, RuleModule, TARGET};
use crate::rules::embedded::{self, DEFAULT_RULE};
use crate::rules::matching::{Matcher, Path, Predicate, Test};
use crate::rules::tables::{Table, TableError, TableSet};
use crate::rules::{Handling, Output, Rule, RuleSet, RuleSetVersion};

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
    #[error("a canary takes 1 to 100 percent of conversations, not {0}")]
    CanaryShare(u8),
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
    #[error("the module could not be started: {0}")]
    Start(CallError),
    #[error("{count} is over the limit of {max}")]
    TooMany { count: usize, max: usize },
}

/// The most rules, modules in one rule's chain, tables and golden cases a manifest may have.
pub const MAX_RULES: usize = 256;
pub const MAX_CHAIN: usize = 16;
pub const MAX_TABLES: usize = 64;
pub const MAX_TESTS: usize = 10_000;

/// Reads a file named in a manifest (relative to it).
pub trait Fetch {
    fn fetch(&self, name: &str) -> Result<Vec<u8>, String>;
}

/// Files beside a manifest on local disk.
pub struct LocalFiles<'a>(pub &'a FsPath);

impl Fetch for LocalFiles<'_> {
    /// Only files under the manifest's folder: a name with `..`, a root or a drive is refused, so a rule set from
    /// disk cannot read (and load as a table, or hash) whatever else the process can read.
    fn fetch(&self, name: &str) -> Result<Vec<u8>, String> {
        let inside = FsPath::new(name)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_) | std::path::Component::CurDir));
        if !inside || name.is_empty() {
            return Err("names a file outside the rule set's folder".into());
        }
        let path = self.0.join(name);
        std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
    }
}

/// A manifest parsed, with the hash of its bytes (the rule set's identity).
pub struct Parsed {
    pub manifest: Manifest,
    pub sha256: String,
    /// Its signature verified with a configured key: the precompiled modules it pins may be loaded as native code.
    pub signed: bool,
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
        manifest.check_counts()?;
        if let Some(super::Rollout::Canary { percent }) = manifest.rollout
            && !(1..=100).contains(&percent)
        {
            return Err(invalid("rollout.percent", Problem::CanaryShare(percent)));
        }
        Ok(Parsed { manifest, sha256: ModuleId::new("", bytes).sha256, signed: false })
    }

    /// How many rules, modules, tables and tests a manifest may name, checked before anything it names is fetched
    /// (a manifest of 10,000 modules must not become 10,000 downloads and compiles).
    fn check_counts(&self) -> Result<(), ManifestError> {
        let counts = [
            ("rules", self.rules.len(), MAX_RULES),
            ("tables", self.tables.len(), MAX_TABLES),
            ("tests", self.tests.len(), MAX_TESTS),
        ];
        let mut chains = self.rules.iter().enumerate().map(|(r, rule)| (r, rule.modules.len()));
        if let Some((r, count)) = chains.find(|(_, count)| *count > MAX_CHAIN) {
            let at = format!("rules[{r}] ({:?}).modules", self.rules[r].name);
            return Err(invalid(at, Problem::TooMany { count, max: MAX_CHAIN }));
        }
        match counts.into_iter().find(|(_, count, max)| count > max) {
            Some((at, count, max)) => Err(invalid(at, Problem::TooMany { count, max })),
            None => Ok(()),
        }
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
                let native = self.signed.then(|| module.precompiled.iter().find(|p| p.target == TARGET)).flatten();
                let loaded = match native.map(|native| load_native(engine, module, native, files, &at)).transpose()? {
                    Some(Some(loaded)) => loaded,
                    _ => load_module(engine, module, files, &mut modules, &at, rule_limits.module_bytes)?,
                };
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
            let mut rule = Rule::new(spec.name.clone(), matcher, chain, handling, &tables, &rule_limits);
            rule.warm().map_err(|(m, error)| invalid(at(&format!(".modules[{m}]")), Problem::Start(error)))?;
            rules.push(rule);
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
        && !crate::verdict::record::valid_stream_name(stream)
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
    let name = file_name(&spec.module);
    let module =
        RuleModule::from_file_limited(engine, &name, &bytes, max_bytes).map_err(|e| invalid(at, Problem::Module(e)))?;
    cache.insert(expected.to_owned(), module.clone());
    Ok(module)
}

/// A module from its precompiled form, pinned by the signed manifest: a file missing or not the one pinned refuses
/// the rule set; one wasmtime refuses (made for another version, target or settings) is `None`, and the caller
/// compiles the module instead.
fn load_native(
    engine: &Engine,
    spec: &ModuleSpec,
    native: &PrecompiledSpec,
    files: &dyn Fetch,
    at: &str,
) -> Result<Option<RuleModule>, ManifestError> {
    let Some(sha256) = spec.sha256.clone() else {
        return Err(invalid(format!("{at}.sha256"), Problem::MissingHash));
    };
    let bytes = fetch_checked(files, &native.file, Some(&native.sha256), &format!("{at}.precompiled"))?;
    let name = file_name(&spec.module);
    let id = ModuleId { name, sha256 };
    // SAFETY: pinned by sha256 in a manifest whose signature verified with a configured key (`Parsed::signed`).
    match unsafe { RuleModule::deserialize(engine, id, &bytes) } {
        Ok(module) => Ok(Some(module)),
        Err(e) => {
            tracing::warn!(module = %spec.module, error = %e, "precompiled module does not fit this weft; compiling it");
            Ok(None)
        }
    }
}

/// A module's name in dead letters and metrics: its file's name.
fn file_name(module: &str) -> String {
    FsPath::new(module).file_name().map_or(module.to_owned(), |n| n.to_string_lossy().into())
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
