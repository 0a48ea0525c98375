//! `host/src` stays readable: no file over 400 lines, no function over 60 (the house rules of issue 12, kept by
//! this test rather than by memory). Functions are found by their `fn` line and measured to their closing brace.

use std::path::{Path, PathBuf};

const MAX_FILE_LINES: usize = 400;
const MAX_FN_LINES: usize = 60;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("host/src is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The line with its string and character literals and its comment taken out, so braces in them do not count.
fn code(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '\'' if matches!(chars.clone().nth(1), Some('\'')) => {
                chars.next();
                chars.next();
            }
            '/' if chars.peek() == Some(&'/') => break,
            c => out.push(c),
        }
    }
    out
}

/// Whether a line starts a function item (`pub(crate) async fn name`, …).
fn starts_fn(line: &str) -> bool {
    let mut rest = line.trim_start();
    if let Some(after) = rest.strip_prefix("pub") {
        rest = after.trim_start();
        if rest.starts_with('(') {
            rest = rest.split_once(')').map_or("", |(_, r)| r).trim_start();
        }
    }
    for qualifier in ["const ", "async ", "unsafe "] {
        rest = rest.strip_prefix(qualifier).unwrap_or(rest);
    }
    rest.starts_with("fn ")
}

/// Functions longer than the limit: (line number, length).
fn long_functions(text: &str) -> Vec<(usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut long = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if !starts_fn(lines[i]) {
            i += 1;
            continue;
        }
        let (mut depth, mut opened, mut end) = (0i32, false, i);
        for (j, line) in lines.iter().enumerate().skip(i) {
            let code = code(line);
            for c in code.chars() {
                match c {
                    '{' => (depth, opened) = (depth + 1, true),
                    '}' => depth -= 1,
                    _ => {}
                }
            }
            end = j;
            if (opened && depth == 0) || (!opened && code.trim_end().ends_with(';')) {
                break;
            }
        }
        if end + 1 - i > MAX_FN_LINES {
            long.push((i + 1, end + 1 - i));
        }
        i = if opened { end + 1 } else { i + 1 };
    }
    long
}

#[test]
fn no_file_over_400_lines_and_no_function_over_60() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 30, "found the sources: {files:?}");
    let mut problems = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable");
        let name = file.strip_prefix(&src).unwrap_or(&file).display().to_string();
        let lines = text.lines().count();
        if lines > MAX_FILE_LINES {
            problems.push(format!("{name}: {lines} lines"));
        }
        for (at, length) in long_functions(&text) {
            problems.push(format!("{name}:{at}: a function of {length} lines"));
        }
    }
    assert!(problems.is_empty(), "over the house limits:\n{}", problems.join("\n"));
}

#[test]
fn the_measure_finds_a_long_function_and_ignores_braces_in_text() {
    let body: String = (0..61).map(|i| format!("    let x{i} = \"{{\";\n")).collect();
    let text = format!("pub(crate) async fn long() {{\n{body}}}\nfn short() {{ '}}'; }}\n");
    assert_eq!(long_functions(&text), [(1, 63)]);
}

/// The stages of `host/src`, in the order an event meets them, then what sits on top; a module may use only the
/// ones before its own (docs/internals.md, "The data path").
const STAGES: &[&str] = &[
    "input", "privacy", "engine", "verdict", "rules", "judge", "delivery", "rollout", "metrics", "aws", "logs",
    "lambda", "schema",
];

#[test]
fn no_stage_uses_one_that_comes_after_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut upward = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        let stage = relative.iter().next().unwrap().to_string_lossy().trim_end_matches(".rs").to_owned();
        let Some(own) = STAGES.iter().position(|s| *s == stage) else { continue };
        let text = std::fs::read_to_string(&file).unwrap();
        for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for (at, _) in line.match_indices("crate::") {
                let used: String = line[at + 7..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if STAGES.iter().position(|s| *s == used).is_some_and(|other| other > own) {
                    upward.push(format!("{}: uses {used}: {}", relative.display(), line.trim()));
                }
            }
        }
    }
    assert!(upward.is_empty(), "arrows running back up the data path:\n{}", upward.join("\n"));
}
