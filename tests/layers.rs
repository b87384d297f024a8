//! The layering of `src/`, held against the code: every `use crate::…`, `use super::…` and
//! inline `crate::…` path of every file (tests inside a file excepted) is resolved to the
//! file it names. No file may import one of a higher layer, the rooms that must not know
//! each other do not, and no two files import each other through any chain.
//!
//! The layers, top to bottom (a file may import its own layer and those below):
//! cli → router → interface → services → security → store → model → kernel.
//! `src/lib.rs` explains each; a new file must find its place in [`LAYERS`].

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test: a failure is a panic"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Path patterns (relative to `src/`, a trailing `/` means a whole folder) and their layer;
/// the first pattern that matches a file decides. Higher numbers are higher layers.
const LAYERS: &[(&str, u8, &str)] = &[
    ("cli/", 8, "cli"),
    ("config.rs", 8, "cli"),
    ("http/app.rs", 7, "router"),
    ("http/openapi.rs", 7, "router"),
    ("http/", 6, "interface"),
    ("console/", 6, "interface"),
    ("keys/lifecycle.rs", 5, "services"),
    ("workspace/create.rs", 5, "services"),
    ("account/user.rs", 2, "model"),
    ("account/settings.rs", 2, "model"),
    ("account/", 5, "services"),
    ("objects/batch/", 5, "services"),
    ("objects/evolve.rs", 5, "services"),
    ("objects/sweep.rs", 5, "services"),
    ("objects/change.rs", 5, "services"),
    ("objects/worker.rs", 5, "services"),
    ("objects/define.rs", 5, "services"),
    ("objects/cache.rs", 5, "services"),
    ("objects/error.rs", 5, "services"),
    ("auth/", 4, "security"),
    ("authz/", 4, "security"),
    ("store/", 3, "store"),
    ("principal.rs", 2, "model"),
    ("issue.rs", 2, "model"),
    ("keys/", 2, "model"),
    ("workspace.rs", 2, "model"),
    ("objects/", 2, "model"),
    ("id.rs", 1, "kernel"),
    ("duration.rs", 1, "kernel"),
    ("ttl_cache.rs", 1, "kernel"),
    ("request_id.rs", 1, "kernel"),
    ("telemetry.rs", 1, "kernel"),
    ("metrics.rs", 1, "kernel"),
    ("timestamp.rs", 1, "kernel"),
    ("lib.rs", 1, "kernel"),
];

/// Rooms that must not import each other, whatever their layers, with the files that may:
/// authentication and authorization stay independent, and the API's handlers never reach
/// into the console. The router (`app.rs`, `openapi.rs`) composes both, and the shared state
/// carries the console's settings.
const NEVER: &[(&str, &str, &[&str])] = &[
    ("auth/", "authz/", &[]),
    ("authz/", "auth/", &[]),
    (
        "http/",
        "console/",
        &["http/app.rs", "http/openapi.rs", "http/state.rs"],
    ),
];

/// The sea-orm entities name each other in their `Related` impls: the idiomatic shape, and
/// the only mutual import allowed.
const ALLOWED_LOOPS: &[&str] = &["store/entity/"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .expect("src/ is readable")
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/a/b.rs` and `src/a/b/mod.rs` are module `a::b`; `src/lib.rs` is the crate root.
fn module_of(relative: &str) -> Vec<String> {
    let trimmed = relative.trim_end_matches(".rs");
    let mut parts: Vec<String> = trimmed.split('/').map(str::to_owned).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// The file that module path `parts` (or its longest existing prefix) lives in.
fn file_of(parts: &[String], files: &BTreeSet<String>) -> Option<String> {
    (1..=parts.len()).rev().find_map(|n| {
        let base = parts[..n].join("/");
        [format!("{base}.rs"), format!("{base}/mod.rs")]
            .into_iter()
            .find(|candidate| files.contains(candidate))
    })
}

/// The code of a file without its `#[cfg(test)]` module and without comments.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every path a `use` statement names, expanded from its braces: `a::{b, c::d}` gives
/// `a::b` and `a::c::d`.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        return vec![tree.to_owned()];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items
        .into_iter()
        .filter(|item| !item.trim().is_empty())
        .flat_map(expand)
        .map(|path| format!("{prefix}{path}"))
        .collect()
}

/// The module paths a file's code refers to.
fn referenced_paths(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut lines = code.lines();
    while let Some(line) = lines.next() {
        let line = line.trim_start();
        let Some(statement) = ["use ", "pub use ", "pub(crate) use "]
            .iter()
            .find_map(|start| line.strip_prefix(start))
        else {
            continue;
        };
        let mut statement = statement.to_owned();
        while !statement.contains(';') {
            match lines.next() {
                Some(more) => statement.push_str(more.trim()),
                None => break,
            }
        }
        let end = statement.find(';').unwrap_or(statement.len());
        paths.extend(expand(&statement[..end]));
    }
    let mut inline = code;
    while let Some(at) = inline.find("crate::") {
        let after = &inline[at..];
        let end = after
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(after.len());
        paths.push(after[..end].to_owned());
        inline = &after[end..];
    }
    paths
        .into_iter()
        .filter_map(|path| {
            let path = path.split(" as ").next().unwrap_or_default().trim();
            let mut segments = path.split("::").map(str::trim).filter(|s| !s.is_empty());
            let mut base: Vec<String> = match segments.next()? {
                "crate" => Vec::new(),
                "super" => {
                    let mut parent = module.to_vec();
                    parent.pop();
                    parent
                }
                "self" => module.to_vec(),
                // A path that starts with a child module's name (`use batch::…` inside
                // `objects`) is relative; any other first segment names a crate, and
                // resolves to no file of `src/` or to the importing file itself.
                child => {
                    let mut relative = module.to_vec();
                    relative.push(child.to_owned());
                    relative
                }
            };
            for segment in segments {
                if segment == "super" {
                    base.pop();
                } else if segment != "self" {
                    base.push(segment.to_owned());
                }
            }
            Some(base)
        })
        .collect()
}

fn layer_of(file: &str) -> (u8, &'static str) {
    LAYERS
        .iter()
        .find(|(pattern, _, _)| {
            if pattern.ends_with('/') {
                file.starts_with(pattern)
            } else {
                file == *pattern
            }
        })
        .map(|(_, rank, name)| (*rank, *name))
        .unwrap_or_else(|| panic!("src/{file} has no layer: add it to LAYERS in tests/layers.rs"))
}

/// Every import between two files of `src/`, as (importer, imported).
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let root = src();
    let mut paths = Vec::new();
    rust_files(&root, &mut paths);
    let files: BTreeSet<String> = paths
        .iter()
        .map(|p| {
            p.strip_prefix(&root)
                .expect("under src/")
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    let mut graph = BTreeMap::new();
    for file in &files {
        if file == "main.rs" {
            continue;
        }
        let text = fs::read_to_string(root.join(file)).expect("a source file");
        let module = module_of(file);
        let targets: BTreeSet<String> = referenced_paths(&code_of(&text), &module)
            .iter()
            .filter_map(|parts| file_of(parts, &files))
            .filter(|target| target != file)
            .collect();
        graph.insert(file.clone(), targets);
    }
    graph
}

#[test]
fn no_file_imports_one_of_a_higher_layer() {
    let mut violations = Vec::new();
    for (file, targets) in imports() {
        let (rank, layer) = layer_of(&file);
        for target in targets {
            let (target_rank, target_layer) = layer_of(&target);
            if target_rank > rank {
                violations.push(format!(
                    "src/{file} ({layer}) imports src/{target} ({target_layer}), a higher layer"
                ));
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn rooms_that_must_not_know_each_other_do_not() {
    let mut violations = Vec::new();
    for (file, targets) in imports() {
        for (from, to, except) in NEVER {
            for target in targets.iter().filter(|t| t.starts_with(to)) {
                if file.starts_with(from) && !except.contains(&file.as_str()) {
                    violations.push(format!(
                        "src/{file} imports src/{target}: no file of {from} may import {to}"
                    ));
                }
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn no_files_import_each_other_through_any_chain() {
    let graph = imports();
    let mut loops = Vec::new();
    for (file, targets) in &graph {
        for target in targets {
            if let Some(back) = path_between(&graph, target, file) {
                let allowed = ALLOWED_LOOPS
                    .iter()
                    .any(|room| file.starts_with(room) && target.starts_with(room));
                if !allowed && file < target {
                    loops.push(format!(
                        "src/{file} imports src/{target}, which leads back: {}",
                        back.join(" → ")
                    ));
                }
            }
        }
    }
    assert!(loops.is_empty(), "{}", loops.join("\n"));
}

/// A chain of imports from `from` to `to`, if there is one.
fn path_between(
    graph: &BTreeMap<String, BTreeSet<String>>,
    from: &str,
    to: &str,
) -> Option<Vec<String>> {
    let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([from]);
    let mut seen = BTreeSet::from([from]);
    while let Some(at) = queue.pop_front() {
        if at == to {
            let mut chain = vec![to.to_owned()];
            let mut step = to;
            while let Some(previous) = came_from.get(step) {
                chain.push((*previous).to_owned());
                step = previous;
            }
            chain.reverse();
            return Some(chain);
        }
        for next in graph.get(at).into_iter().flatten() {
            if seen.insert(next.as_str()) {
                came_from.insert(next.as_str(), at);
                queue.push_back(next.as_str());
            }
        }
    }
    None
}

#[test]
fn the_check_sees_imports() {
    let graph = imports();
    let http_error = graph
        .get("http/error.rs")
        .expect("src/http/error.rs is read");
    assert!(
        http_error.contains("auth/mod.rs") && http_error.contains("issue.rs"),
        "the import reader found {http_error:?}"
    );
}
