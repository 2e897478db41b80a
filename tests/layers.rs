//! The folders of `src/` are layers (`docs/development.md`): a module may use its own layer and
//! the layers below it, never one above; outside `src/checks/` nothing names a check family
//! module, only the registry in `checks/mod.rs`; and no two modules use each other, directly or
//! round a longer circle (a module and the modules inside it count as one). Read from the
//! `crate::` and `super::` paths in the source, tests included.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first.
const LAYERS: &[&str] = &["support", "model", "persist", "checks", "config", "state", "scheduler", "web", "cli"];

fn source_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            source_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `web::api` for `src/web/api.rs`, `checks::tls` for `src/checks/tls/mod.rs`.
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts.join("::")
}

/// The module paths a file of `module` names with `crate::` or `super::`, longest known module
/// first: `crate::web::api::x` names `web::api`. Comment lines are skipped.
fn named_modules(module: &str, text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    let parent = module.rsplit_once("::").map_or("", |(parent, _)| parent);
    // Inside an inline `mod tests { ... }` (or any inline module), `super::` is the file's own
    // module rather than its parent.
    let mut inline_module = false;
    for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
        let trimmed = line.trim_start();
        if (trimmed.starts_with("mod ") || trimmed.starts_with("pub mod ")) && trimmed.ends_with('{') {
            inline_module = true;
        }
        let base = if inline_module { module } else { parent };
        let line =
            &line.replace("super::", &if base.is_empty() { "crate::".to_string() } else { format!("crate::{base}::") });
        for (at, _) in line.match_indices("crate::") {
            let path: String = line[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let mut segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
            // `use crate::checks::{tls, CheckKind}` names `checks::tls` too.
            let rest = &line[at + "crate::".len() + path.len()..];
            let braced: Vec<String> = match rest.strip_prefix('{') {
                Some(inner) => inner
                    .split('}')
                    .next()
                    .unwrap_or_default()
                    .split(',')
                    .map(|name| name.trim().split("::").next().unwrap_or_default().to_string())
                    .collect(),
                None => Vec::new(),
            };
            while !segments.is_empty() {
                let candidate = segments.join("::");
                if modules.contains(&candidate) {
                    for name in &braced {
                        let inner = format!("{candidate}::{name}");
                        if modules.contains(&inner) {
                            named.insert(inner);
                        }
                    }
                    named.insert(candidate);
                    break;
                }
                segments.pop();
            }
        }
    }
    named
}

/// Whether one module is the other or contains it.
fn related(a: &str, b: &str) -> bool {
    let inside = |inner: &str, outer: &str| inner == outer || inner.starts_with(&format!("{outer}::"));
    inside(a, b) || inside(b, a)
}

fn layer(module: &str) -> usize {
    let top = module.split("::").next().unwrap();
    LAYERS.iter().position(|l| *l == top).unwrap_or_else(|| panic!("`{top}` is in no layer; add it to LAYERS"))
}

/// Every module of `src/` (but the crate root and main) with the modules it names.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    source_files(&src, &mut files);
    let files: Vec<PathBuf> = files.into_iter().filter(|f| !f.ends_with("lib.rs") && !f.ends_with("main.rs")).collect();
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
    files
        .iter()
        .map(|file| {
            let module = module_of(&src, file);
            let text = std::fs::read_to_string(file).unwrap();
            let mut named = named_modules(&module, &text, &modules);
            // A module and the modules inside it are one unit: the parent declares its children
            // and they use its items, as Rust's module tree intends.
            named.retain(|other| !related(&module, other));
            (module, named)
        })
        .collect()
}

#[test]
fn no_module_uses_a_layer_above_its_own() {
    let mut wrong = Vec::new();
    for (module, named) in graph() {
        for other in named.iter().filter(|other| layer(other) > layer(&module)) {
            wrong.push(format!("{module} uses {other}"));
        }
    }
    assert!(wrong.is_empty(), "layers used from below (order: {}):\n{}", LAYERS.join(" < "), wrong.join("\n"));
}

#[test]
fn only_the_checks_folder_names_a_check_family() {
    let mut wrong = Vec::new();
    for (module, named) in graph() {
        if module.starts_with("checks") {
            continue;
        }
        for family in named.iter().filter(|other| other.starts_with("checks::")) {
            wrong.push(format!("{module} names {family}; use the registry (crate::checks) instead"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn no_two_modules_use_each_other_even_round_a_circle() {
    let graph = graph();
    // Depth-first search for a back edge.
    fn visit(
        module: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|m| m == module) {
            let mut cycle = path[start..].to_vec();
            cycle.push(module.to_string());
            return Some(cycle);
        }
        if done.contains(module) {
            return None;
        }
        path.push(module.to_string());
        for next in graph.get(module).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, done, path) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(module.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        if let Some(cycle) = visit(module, &graph, &mut done, &mut Vec::new()) {
            panic!("modules use each other: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn the_reader_sees_a_cycle_and_a_family_named_in_braces() {
    let modules: BTreeSet<String> =
        ["checks", "checks::tls", "web", "web::api"].iter().map(|m| m.to_string()).collect();
    let named =
        named_modules("web::page", "use crate::checks::{tls, CheckKind};\n// crate::web::api in a comment\n", &modules);
    assert_eq!(named.into_iter().collect::<Vec<_>>(), ["checks", "checks::tls"]);
    let named = named_modules("web::page", "    let x = crate::web::api::items_document(&inner);", &modules);
    assert_eq!(named.into_iter().collect::<Vec<_>>(), ["web::api"]);
    let named = named_modules("checks::http", "use super::tls::{provider, trust_for};", &modules);
    assert_eq!(named.into_iter().collect::<Vec<_>>(), ["checks::tls"]);
}
