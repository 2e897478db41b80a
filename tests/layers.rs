//! The folders of `src/` are layers, lowest first in `LAYERS` (`docs/development.md`): a module
//! may use its own layer and lower ones, never a higher one; outside `src/checks/` nothing names
//! a check family module, and only the config, the scheduler and the commands use the registry;
//! no two modules use each other, directly or round a longer circle (a module and the modules
//! inside it count as one). Read from the `crate::` and `super::` paths in the source (whole
//! `use` lists), tests included.

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

/// The statements of a file with comment lines dropped and every `use` joined onto one line, so
/// that a brace list rustfmt spreads over lines is read whole.
fn statements(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut open_use: Option<String> = None;
    for line in text.lines().map(str::trim).filter(|l| !l.starts_with("//")) {
        if let Some(mut statement) = open_use.take() {
            statement.push_str(line);
            if line.ends_with(';') {
                out.push(statement);
            } else {
                open_use = Some(statement);
            }
            continue;
        }
        let is_use = ["use ", "pub use ", "pub(crate) use ", "pub(super) use "].iter().any(|p| line.starts_with(p));
        if is_use && !line.ends_with(';') {
            open_use = Some(line.to_string());
        } else {
            out.push(line.to_string());
        }
    }
    out.extend(open_use);
    out
}

/// Reads a use tree (`a::b::{c, d::e}` or a plain path `a::b::f`) at the start of `text` and
/// returns every full path it names, as segments.
fn use_tree(text: &str) -> (Vec<Vec<String>>, usize) {
    let mut segments = Vec::new();
    let mut at = 0;
    loop {
        let name: String =
            text[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '*').collect();
        if name.is_empty() {
            break;
        }
        at += name.len();
        segments.push(name);
        match text[at..].strip_prefix("::") {
            Some(_) => at += 2,
            None => return (vec![segments], at),
        }
    }
    if !text[at..].starts_with('{') {
        return (vec![segments], at);
    }
    at += 1;
    let mut paths = Vec::new();
    loop {
        at += text[at..].len() - text[at..].trim_start().len();
        if text[at..].starts_with('}') {
            at += 1;
            break;
        }
        let (subpaths, used) = use_tree(&text[at..]);
        if used == 0 {
            break;
        }
        at += used;
        for sub in subpaths {
            paths.push(segments.iter().cloned().chain(sub).collect());
        }
        at += text[at..].len() - text[at..].trim_start().len();
        if text[at..].starts_with(',') {
            at += 1;
        }
    }
    (paths, at)
}

/// The module paths a file of `module` names with `crate::` or `super::`, longest known module
/// first: `crate::web::api::x` names `web::api`. Comment lines are skipped; `use` lists are read
/// whole, across lines and nested braces; each `super::` is one step up, and inside an inline
/// module (`mod tests { ... }`) the first step is to the file's own module.
fn named_modules(module: &str, text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    let own: Vec<&str> = if module.is_empty() { Vec::new() } else { module.split("::").collect() };
    // Brace depth at which the inline module opened, while inside one.
    let mut inline_at: Option<i64> = None;
    let mut depth: i64 = 0;
    for statement in statements(text) {
        let code: String = statement.split('"').step_by(2).collect(); // string contents dropped
        if inline_at.is_none() && (code.starts_with("mod ") || code.starts_with("pub mod ")) && code.ends_with('{') {
            inline_at = Some(depth);
        }
        let bytes = code.as_bytes();
        let mut index = 0;
        while index < code.len() {
            let rest = &code[index..];
            let starts_path = index == 0
                || !(bytes[index - 1].is_ascii_alphanumeric() || bytes[index - 1] == b'_' || bytes[index - 1] == b':');
            let base: Option<(Vec<&str>, usize)> = if !starts_path {
                None
            } else if rest.starts_with("crate::") {
                Some((Vec::new(), "crate::".len()))
            } else if rest.starts_with("super::") {
                let steps = rest.split("super::").take_while(|piece| piece.is_empty()).count();
                // One step up from the file's module, or none from an inline module's.
                let up = steps - usize::from(inline_at.is_some());
                let base = own[..own.len().saturating_sub(up.min(own.len()))].to_vec();
                Some((base, steps * "super::".len()))
            } else {
                None
            };
            let Some((base, skip)) = base else {
                index += rest.chars().next().map_or(1, char::len_utf8);
                continue;
            };
            let (paths, used) = use_tree(&rest[skip..]);
            for path in paths {
                let mut segments: Vec<String> = base.iter().map(|s| s.to_string()).chain(path).collect();
                while !segments.is_empty() {
                    let candidate = segments.join("::");
                    if modules.contains(&candidate) {
                        named.insert(candidate);
                        break;
                    }
                    segments.pop();
                }
            }
            index += skip + used.max(1);
        }
        depth += code.matches('{').count() as i64 - code.matches('}').count() as i64;
        if inline_at.is_some_and(|opened| depth <= opened) {
            inline_at = None;
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
fn no_module_uses_a_higher_layer_than_its_own() {
    let mut wrong = Vec::new();
    for (module, named) in graph() {
        for other in named.iter().filter(|other| layer(other) > layer(&module)) {
            wrong.push(format!("{module} uses {other}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "higher layers used by lower ones (lowest first: {}):\n{}",
        LAYERS.join(" < "),
        wrong.join("\n")
    );
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
fn only_the_config_the_scheduler_and_the_commands_use_the_check_registry() {
    let mut wrong = Vec::new();
    for (module, named) in graph() {
        let top = module.split("::").next().unwrap_or_default();
        if ["checks", "config", "scheduler", "cli"].contains(&top) {
            continue;
        }
        if named.iter().any(|other| other == "checks" || other.starts_with("checks::")) {
            wrong.push(format!("{module} uses the checks; it should read the config and the store instead"));
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
fn the_reader_sees_paths_in_braces_across_lines_and_up_several_supers() {
    let modules: BTreeSet<String> =
        ["checks", "checks::tls", "checks::http", "web", "web::api", "cli", "cli::args", "support", "support::text"]
            .iter()
            .map(|m| m.to_string())
            .collect();
    let read = |module: &str, text: &str| named_modules(module, text, &modules).into_iter().collect::<Vec<_>>();
    assert_eq!(
        read("web::api", "use crate::checks::{tls, CheckKind};\n// crate::cli::args in a comment\n"),
        ["checks", "checks::tls"]
    );
    assert_eq!(read("web::api", "    let x = crate::web::api::items_document(&inner);"), ["web::api"]);
    assert_eq!(read("checks::http", "use super::tls::{provider, trust_for};"), ["checks::tls"]);
    assert_eq!(read("web::api", "use crate::{checks::tls::TlsCheck};"), ["checks::tls"]);
    assert_eq!(
        read("web::api", "use crate::checks::{\n    http::HttpCheck,\n    CheckKind,\n};"),
        ["checks", "checks::http"]
    );
    assert_eq!(read("support::text", "use super::super::cli::args::Cli;"), ["cli::args"]);
    assert_eq!(
        read("support::text", "#[cfg(test)]\nmod tests {\n    use super::*;\n}\nuse super::super::web::api;"),
        ["support::text", "web::api"]
    );
    assert_eq!(read("web::api", "let s = \"crate::cli::args\";"), Vec::<String>::new(), "text in a string is no path");
}
