//! When to judge again: a fingerprint of the files a judgement read (the events, the manifest's folder, and every
//! module and table the manifest names, wherever it is: a module rebuilt by `weft rules build` into a build folder
//! counts), taken every [`POLL`]. Polling the sizes and times of a few hundred files costs well under a
//! millisecond and needs no platform's file-notification API, nor a crate for one.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often the files are looked at: an edit shows within this plus the time to judge.
pub const POLL: Duration = Duration::from_millis(200);
/// Files looked at per folder at most (a rules repository with a build folder inside must not slow the poll).
const MOST_FILES: usize = 5000;
/// Folders a rules repository keeps beside its manifest that are not the rule set's.
const SKIPPED: [&str; 3] = ["target", "node_modules", ".git"];

/// What to watch: files as given, folders recursively, and the files the manifests name (read again at each poll,
/// so a module added to a manifest is watched from then on).
pub struct Watched {
    paths: Vec<PathBuf>,
    manifests: Vec<PathBuf>,
}

impl Watched {
    /// The events, and the folders of the local manifests (`s3://` ones and the built-in default do not change
    /// under the page).
    pub fn of(events: &[PathBuf], manifests: &[Option<&str>]) -> Watched {
        let mut paths: Vec<PathBuf> = events.to_vec();
        let manifests: Vec<PathBuf> = (manifests.iter().flatten())
            .filter(|m| !m.starts_with("s3://") && !m.starts_with("builtin:"))
            .map(PathBuf::from)
            .collect();
        paths.extend(manifests.iter().map(|manifest| folder(manifest)));
        Watched { paths, manifests }
    }

    /// The names, sizes and modification times of every watched file, hashed.
    pub fn fingerprint(&self) -> u64 {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        let named = self.manifests.iter().flat_map(|manifest| named_files(manifest));
        for path in self.paths.iter().cloned().chain(named) {
            let mut seen = 0;
            visit(&path, &mut hasher, &mut seen);
        }
        hasher.finish()
    }
}

fn folder(manifest: &Path) -> PathBuf {
    let folder = manifest.parent().filter(|p| !p.as_os_str().is_empty());
    folder.map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The local files a manifest names (modules and tables), read by the manifest's own parser and resolved as the
/// loader resolves them: beside it. A manifest that does not parse names none (the loader says why).
fn named_files(manifest: &Path) -> Vec<PathBuf> {
    let parsed = std::fs::read(manifest).ok().and_then(|bytes| weft::rules::manifest::Manifest::parse(&bytes).ok());
    let Some(parsed) = parsed else { return Vec::new() };
    let manifest_folder = folder(manifest);
    let modules = parsed.manifest.rules.iter().flat_map(|rule| rule.modules.iter().map(|m| m.module.as_str()));
    let tables = parsed.manifest.tables.values().map(|table| table.file.as_str());
    (modules.chain(tables))
        .filter(|name| !name.starts_with("builtin:") && !name.starts_with("s3://"))
        .map(|name| manifest_folder.join(name))
        .collect()
}

fn visit(path: &Path, hasher: &mut impl Hasher, seen: &mut usize) {
    if *seen >= MOST_FILES {
        return;
    }
    *seen += 1;
    let Ok(meta) = std::fs::metadata(path) else {
        (path, "missing").hash(hasher);
        return;
    };
    if meta.is_file() {
        (path, meta.len(), meta.modified().ok()).hash(hasher);
        return;
    }
    let Ok(entries) = std::fs::read_dir(path) else { return };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for entry in entries {
        let name = entry.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if !name.starts_with('.') && !SKIPPED.contains(&name.as_str()) {
            visit(&entry, hasher, seen);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edit_in_the_manifests_folder_changes_the_fingerprint_and_a_build_folder_does_not() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("manifest.json"), "{}").unwrap();
        std::fs::create_dir(dir.path().join("target")).unwrap();
        let manifest = dir.path().join("manifest.json");
        let watched = Watched::of(&[], &[Some(manifest.to_str().unwrap())]);
        let first = watched.fingerprint();
        std::fs::write(dir.path().join("target/junk"), "x").unwrap();
        assert_eq!(watched.fingerprint(), first, "the build folder is not the rule set's");
        std::fs::write(dir.path().join("table.csv"), "id,name\n").unwrap();
        assert_ne!(watched.fingerprint(), first, "a new table is an edit");
    }

    #[test]
    fn a_module_the_manifest_names_in_a_build_folder_is_watched() {
        let dir = tempfile::tempdir().unwrap();
        let built = dir.path().join("my-rule/target/rules/weft");
        std::fs::create_dir_all(&built).unwrap();
        std::fs::write(built.join("my-rule.wasm"), "v1").unwrap();
        let manifest = dir.path().join("manifest.json");
        let named = r#"{"rules": [{"name": "r", "modules": [{"module": "my-rule/target/rules/weft/my-rule.wasm"}]}]}"#;
        std::fs::write(&manifest, named).unwrap();
        let watched = Watched::of(&[], &[Some(manifest.to_str().unwrap())]);
        let first = watched.fingerprint();
        std::fs::write(built.join("my-rule.wasm"), "v2, rebuilt").unwrap();
        assert_ne!(watched.fingerprint(), first, "`weft rules build` rewrote the module the manifest names");
    }
}
