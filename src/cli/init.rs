//! `checklist-exporter init --from CHECKLIST.md`: turns a Markdown checklist into a config, so a
//! team starts from its own document instead of writing 300 items by hand.
//!
//! Every checkbox line (`- [ ]`, `* [x]`, `1. [ ]`...) becomes an item under the heading above it
//! (its section), with a stable id: the slug of section and title, `_2`, `_3`... for repeats in
//! document order, so running `init` again on the same document gives the same ids. A line
//! with indented checkbox lines under it (a bold parent, "**Server Resources Verified**")
//! becomes a `group` of them; every other line is `attested`, which a person confirms with
//! `checklist-exporter attest`. For lines it recognises (certificates, security headers, disk,
//! memory, CPU, backups, ports, PostgreSQL settings, env keys) a commented-out check of the right
//! kind follows, to switch on in place of the attestation.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::Path;

use regex::Regex;

use super::{EXIT_BAD_CONFIG, EXIT_READY};

/// The section of lines that come before any heading.
const NO_HEADING: &str = "Checklist";

/// One checkbox line of the document.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// 1-based line number in the document.
    pub number: usize,
    pub section: String,
    pub title: String,
    /// Ticked in the document (`- [x]`).
    pub checked: bool,
    /// The line this one is indented under, as an index into the parsed lines.
    pub parent: Option<usize>,
    pub id: String,
}

/// Reads the checkbox lines of a Markdown document, with their sections and nesting.
pub fn parse(document: &str) -> Vec<Line> {
    let mut lines: Vec<Line> = Vec::new();
    let mut section = NO_HEADING.to_string();
    // The open list: (indent, index) of each line a deeper one would nest under.
    let mut open: Vec<(usize, usize)> = Vec::new();
    let mut fence: Option<&str> = None;
    for (index, raw) in document.lines().enumerate() {
        let trimmed = raw.trim_start();
        if let Some(marker) = fence {
            if trimmed.starts_with(marker) {
                fence = None;
            }
            continue;
        }
        if let Some(marker) = ["```", "~~~"].into_iter().find(|m| trimmed.starts_with(m)) {
            fence = Some(marker);
            continue;
        }
        if let Some(heading) = heading_text(raw) {
            section = plain(heading);
            if section.is_empty() {
                section = NO_HEADING.to_string();
            }
            open.clear();
            continue;
        }
        let indent = indent_of(raw);
        let Some((checked, text)) = checkbox(trimmed) else {
            // A paragraph at the margin ends the list ("**Technical Lead Sign-off:**").
            if indent == 0 && !trimmed.is_empty() {
                open.clear();
            }
            continue;
        };
        let title = plain(text);
        if title.is_empty() {
            continue;
        }
        while open.last().is_some_and(|(open_indent, _)| *open_indent >= indent) {
            open.pop();
        }
        let parent = open.last().map(|(_, at)| *at);
        open.push((indent, lines.len()));
        lines.push(Line { number: index + 1, section: section.clone(), title, checked, parent, id: String::new() });
    }
    assign_ids(&mut lines);
    lines
}

/// `## 🎯 Pre-Deployment Phase` → its text; not `#hashtag` (no space).
fn heading_text(raw: &str) -> Option<&str> {
    let hashes = raw.len() - raw.trim_start_matches('#').len();
    if !(1..=6).contains(&hashes) {
        return None;
    }
    raw[hashes..].strip_prefix(' ').map(|text| text.trim_end_matches('#'))
}

fn indent_of(raw: &str) -> usize {
    raw.chars().take_while(|c| c.is_whitespace()).map(|c| if c == '\t' { 4 } else { 1 }).sum()
}

/// `- [ ] text`, `* [x] text`, `+ [ ] text`, `1. [ ] text`, `2) [X] text` → (ticked, text).
fn checkbox(trimmed: &str) -> Option<(bool, &str)> {
    let after_marker = match trimmed.chars().next()? {
        '-' | '*' | '+' => trimmed[1..].strip_prefix(' ')?,
        c if c.is_ascii_digit() => {
            let digits = trimmed.len() - trimmed.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            let rest = &trimmed[digits..];
            rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") "))?
        }
        _ => return None,
    };
    let after_marker = after_marker.trim_start();
    let (checked, text) = if let Some(text) = after_marker.strip_prefix("[ ]") {
        (false, text)
    } else if let Some(text) = after_marker.strip_prefix("[x]").or_else(|| after_marker.strip_prefix("[X]")) {
        (true, text)
    } else {
        return None;
    };
    (text.is_empty() || text.starts_with(char::is_whitespace)).then_some((checked, text.trim()))
}

/// The words of a line without its decoration: `**`, `✅`, emoji, a trailing `:`.
pub fn plain(text: &str) -> String {
    let without: String = text.replace("**", "").replace('✅', "");
    without
        .trim_matches(|c: char| c.is_whitespace() || (!c.is_ascii() && !c.is_alphanumeric() && c != '`'))
        .trim_end_matches(':')
        .trim()
        .to_string()
}

/// `section.title` slugs; a repeat gets `_2`, `_3`... in document order.
fn assign_ids(lines: &mut [Line]) {
    let mut used = HashSet::new();
    for line in lines.iter_mut() {
        let base = format!("{}.{}", slug(&line.section, 24), slug(&line.title, 40));
        let mut id = base.clone();
        let mut repeat = 1;
        while !used.insert(id.clone()) {
            repeat += 1;
            id = format!("{base}_{repeat}");
        }
        line.id = id;
    }
}

/// Lower-case ASCII letters and digits joined by `_`, cut at a word boundary within `limit`.
fn slug(text: &str, limit: usize) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            word.push(c.to_ascii_lowercase());
        } else if !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    let mut out = String::new();
    for word in words {
        let extra = if out.is_empty() { word.len() } else { word.len() + 1 };
        if out.len() + extra > limit {
            if out.is_empty() {
                out = word[..limit].to_string();
            }
            break;
        }
        if !out.is_empty() {
            out.push('_');
        }
        out.push_str(&word);
    }
    if out.is_empty() {
        "item".to_string()
    } else {
        out
    }
}

/// The variables the generated checks and suggestions use.
const VARS: &str = r#"[vars]
attestations_file = "/var/lib/checklist-exporter/attestations.json"  # where `attest` records
domain = "app.example.com"                        # the production domain
site_url = "https://app.example.com"              # the public site
tls_host = "app.example.com"                      # where the TLS handshake is made
tls_port = 443
app_root = "/opt/app"                             # the app's directory tree
env_file = "${app_root}/.env"                     # the app's env file
backup_dir = "${app_root}/backups"                # where the backups are written
backup_pattern = "*.sql.gz"                       # the backups' names in backup_dir
database_url = "postgres://app@127.0.0.1:5432/app"  # no password here: see password_env in docs/configuration.md
"#;

/// Writes the config for `lines`; `source` names the document in the header.
pub fn render(lines: &[Line], source: &str) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "# checklist-exporter config made by `checklist-exporter init --from {source}`: every checkbox
# line of the document is one item, in document order, under the heading above it.
# * A line with lines indented under it is a `group` of them: it passes when they all pass.
# * Every other line is `attested`: a person confirms it, and it passes for 90 days:
#     checklist-exporter attest ITEM_ID --by alice --note \"what was done\" --config.file THIS_FILE
# * Where a program can decide a line, a commented-out check of the right kind follows it:
#   set the [vars] below, uncomment the check and delete the attested one above it. Lines that
#   look at one target (one URL, one database) go into one check as several items.
# * Severities are all \"warning\"; make the lines that must pass before go-live \"critical\".
# Validate: checklist-exporter --config.check --config.file THIS_FILE

[settings]
default_interval = \"5m\"

{VARS}"
    );
    let mut has_children = vec![false; lines.len()];
    for line in lines {
        if let Some(parent) = line.parent {
            has_children[parent] = true;
        }
    }
    let mut section = "";
    for (index, line) in lines.iter().enumerate() {
        if line.section != section {
            section = &line.section;
            let _ = writeln!(out, "\n# === {section} {}", "=".repeat(90usize.saturating_sub(section.len())));
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "# line {}: {}", line.number, comment_text(&line.title));
        if line.checked {
            let _ = writeln!(
                out,
                "# (ticked in the document: record who did it with `checklist-exporter attest {}`)",
                line.id
            );
        }
        out.push_str("[[checks]]\n");
        if has_children[index] {
            let members: Vec<String> =
                lines.iter().filter(|l| l.parent == Some(index)).map(|l| toml_string(&l.id)).collect();
            let _ = writeln!(out, "kind = \"group\"\nmembers = [{}]", members.join(", "));
            write_item(&mut out, line, None);
        } else {
            out.push_str(
                "kind = \"attested\"\nfile = \"${attestations_file}\"\nvalidity = \"90d\"\ninterval = \"1h\"\n",
            );
            write_item(&mut out, line, None);
            if let Some(suggestion) = suggest(&line.title) {
                let _ = writeln!(out, "# A check of kind `{}` can decide this line instead:", suggestion.kind);
                let mut block = format!("[[checks]]\nkind = \"{}\"\n{}", suggestion.kind, suggestion.keys);
                write_item(&mut block, line, Some(suggestion.aspect));
                for text in block.lines() {
                    let _ = writeln!(out, "{}", format!("# {text}").trim_end());
                }
            }
        }
    }
    out
}

fn write_item(out: &mut String, line: &Line, decides: Option<&str>) {
    // `line` keeps the page in the document's order when checks are moved or merged later.
    let _ = writeln!(out, "\n  [[checks.items]]\n  id = {}\n  line = {}", toml_string(&line.id), line.number);
    if let Some(aspect) = decides {
        let _ = writeln!(out, "  decides = \"{aspect}\"");
    }
    let _ = writeln!(
        out,
        "  section = {}\n  title = {}\n  severity = \"warning\"",
        toml_string(&line.section),
        toml_string(&line.title)
    );
}

/// A TOML basic string: quotes, backslashes and control characters escaped.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// A title in a `#` comment: on one line.
fn comment_text(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// A check that could decide a line: its kind, its keys (TOML lines) and the aspect.
struct Suggestion {
    kind: &'static str,
    keys: String,
    aspect: &'static str,
}

fn suggestion(kind: &'static str, keys: impl Into<String>, aspect: &'static str) -> Option<Suggestion> {
    Some(Suggestion { kind, keys: keys.into(), aspect })
}

/// The first `20GB`, `4 GB`, `512MiB` in a title, as a byte size the config reads.
fn size_in(title: &str) -> Option<String> {
    let size = Regex::new(r"(?i)\b(\d+(?:\.\d+)?)\s*([KMGT]i?B)\b").expect("a valid pattern");
    size.captures(title).map(|c| format!("{}{}", &c[1], c[2].to_ascii_uppercase().replace("IB", "iB")))
}

/// Recognises what a line is about from its words; `None` when only a person can decide it.
fn suggest(title: &str) -> Option<Suggestion> {
    let lower = title.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    let env_key =
        Regex::new(r"`([A-Z][A-Z0-9_]{2,})(?:=([^`\s]+))?`|\b([A-Z][A-Z0-9_]{2,})=(\w+)\b").expect("a valid pattern");

    // Security headers, by name.
    let headers: [(&[&str], &str); 6] = [
        (&["hsts", "strict-transport", "strict transport"], "hsts"),
        (&["content-security-policy", "content security policy", "csp"], "csp"),
        (&["x-frame-options", "clickjacking"], "frame_options"),
        (&["x-content-type-options", "nosniff"], "content_type_options"),
        (&["x-xss-protection", "xss protection"], "xss_protection"),
        (&["referrer-policy", "referrer policy"], "referrer_policy"),
    ];
    if let Some((_, aspect)) = headers.iter().find(|(words, _)| has(words)) {
        return suggestion("http_headers", "url = \"${site_url}/\"\n", aspect);
    }
    if has(&["certificate", "ssl", "tls"]) && !has(&["permission", "readable", "owner"]) {
        let aspect = if has(&["expir", "renew"]) {
            "expiry"
        } else if has(&["chain", "intermediate"]) {
            "chain_complete"
        } else if has(&["tls 1.0", "tls 1.1", "protocol", "legacy"]) {
            "legacy_refused"
        } else {
            "trusted"
        };
        let keys = "address = \"${tls_host}:${tls_port}\"\nserver_name = \"${domain}\"\nnames = [\"${domain}\"]\nmin_remaining = \"30d\"\n";
        return suggestion("tls", keys, aspect);
    }
    if has(&["backup"]) {
        let aspect = if has(&["encrypt"]) {
            "encryption"
        } else if has(&["retention", "rotat"]) {
            "retention"
        } else {
            "age"
        };
        let keys = "set = \"daily\"\ndirectory = \"${backup_dir}\"\npattern = \"${backup_pattern}\"\nmax_age = \"26h\"\nretention = \"30d\"\nmin_count = 7\n";
        return suggestion("backup", keys, aspect);
    }
    if has(&["memory", " ram"]) {
        let size = size_in(title).unwrap_or_else(|| "4GB".to_string());
        return suggestion("memory", format!("min_total_bytes = \"{size}\"\n"), "minimum");
    }
    if has(&["disk", "storage", "free space"]) && !has(&["cloud storage", "s3", "bucket"]) {
        let size = size_in(title).unwrap_or_else(|| "10GB".to_string());
        return suggestion("disk", format!("path = \"${{app_root}}\"\nmin_free_bytes = \"{size}\"\n"), "minimum");
    }
    if has(&["cpu", "cores"]) {
        let cores = Regex::new(r"(\d+)\s*(?:\+\s*)?(?:cpu\s*)?cores?").expect("a valid pattern");
        let min = cores.captures(&lower).map_or("2".to_string(), |c| c[1].to_string());
        return suggestion("cpu", format!("min_cores = {min}\n"), "minimum");
    }
    if has(&["postgres", "database", "max_connections", "shared_buffers", "effective_cache_size"]) {
        let (aspect, extra) = if has(&["max_connections", "connection limit"]) {
            ("max_connections", "max_connections_range = [50, 400]\n")
        } else if has(&["shared_buffers"]) {
            ("shared_buffers", "")
        } else if has(&["effective_cache_size"]) {
            ("effective_cache_size", "")
        } else if has(&["running", "reachable", "accessible", "connect"]) {
            ("running", "")
        } else {
            ("", "")
        };
        if !aspect.is_empty() {
            return suggestion("postgres", format!("url = \"${{database_url}}\"\n{extra}"), aspect);
        }
    }
    if has(&["port"]) {
        let port = Regex::new(r"\b(\d{2,5})\b").expect("a valid pattern");
        if let Some(number) = port.captures(title).and_then(|c| c[1].parse::<u16>().ok()).filter(|p| *p > 0) {
            let expect = if has(&["block", "closed", "external"]) { "closed" } else { "open" };
            return suggestion(
                "tcp_port",
                format!("address = \"127.0.0.1:{number}\"\nexpect = \"{expect}\"\n"),
                "state",
            );
        }
    }
    if let Some(captures) = env_key.captures(title) {
        let key = captures.get(1).or_else(|| captures.get(3)).map_or("", |m| m.as_str());
        let value = captures.get(2).or_else(|| captures.get(4)).map(|m| m.as_str());
        let rule = match value {
            Some(value) => format!("one_of = [{}]\nsecret = false\n", toml_string(value)),
            None => String::new(),
        };
        return suggestion("env_rule", format!("file = \"${{env_file}}\"\nkey = \"{key}\"\n{rule}"), "rule");
    }
    None
}

/// `init --from FILE [--output FILE]`: 0 when written, 2 when the document cannot be read, has
/// no checkbox line or the output exists already.
pub fn command(from: &Path, output: Option<&Path>) -> i32 {
    let document = match std::fs::read_to_string(from) {
        Ok(document) => document,
        Err(err) => {
            eprintln!("{}: cannot read the checklist: {err}", from.display());
            return EXIT_BAD_CONFIG;
        }
    };
    let lines = parse(&document);
    if lines.is_empty() {
        eprintln!(
            "{}: no checkbox lines (`- [ ] ...`, `* [ ] ...`, `1. [ ] ...`); nothing to make items of",
            from.display()
        );
        return EXIT_BAD_CONFIG;
    }
    let name = from.file_name().map_or_else(|| from.display().to_string(), |n| n.to_string_lossy().to_string());
    let config = render(&lines, &name);
    let Some(output) = output else {
        print!("{config}");
        return EXIT_READY;
    };
    // create_new: an existing config (perhaps edited since) is never replaced.
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(output)
        .and_then(|mut file| std::io::Write::write_all(&mut file, config.as_bytes()));
    match written {
        Ok(()) => {
            let groups = lines.iter().filter_map(|l| l.parent).collect::<HashSet<_>>().len();
            eprintln!(
                "{}: {} items ({} groups) from {}; check it with --config.check --config.file {}",
                output.display(),
                lines.len(),
                groups,
                from.display(),
                output.display()
            );
            EXIT_READY
        }
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {
            eprintln!("{}: exists already; not replacing it (choose another --output, or remove it)", output.display());
            EXIT_BAD_CONFIG
        }
        Err(err) => {
            eprintln!("{}: cannot write: {err}", output.display());
            EXIT_BAD_CONFIG
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkbox_styles_nesting_and_fences_are_read() {
        let document = "# Doc\n- [ ] **Parent** ✅\n  - [x] Child one\n  ```\n  - [ ] not a line\n  ```\n  - [ ] Child two\n\n## Next\n1. [ ] Numbered\n2) [X] Other\n* [ ] Star\n\t+ [ ] Tabbed child\n- [] not a box\n";
        let lines = parse(document);
        let seen: Vec<(&str, &str, bool, Option<usize>)> =
            lines.iter().map(|l| (l.section.as_str(), l.title.as_str(), l.checked, l.parent)).collect();
        assert_eq!(
            seen,
            vec![
                ("Doc", "Parent", false, None),
                ("Doc", "Child one", true, Some(0)),
                ("Doc", "Child two", false, Some(0)),
                ("Next", "Numbered", false, None),
                ("Next", "Other", true, None),
                ("Next", "Star", false, None),
                ("Next", "Tabbed child", false, Some(5)),
            ]
        );
    }

    #[test]
    fn ids_are_slugs_of_section_and_title_and_repeats_are_numbered() {
        let lines = parse("## Go-Live!\n- [ ] Deploy `v1.0` now\n- [ ] Deploy v1.0 now\n- [ ] ✅\n");
        let ids: Vec<&str> = lines.iter().map(|l| l.id.as_str()).collect();
        assert_eq!(ids, ["go_live.deploy_v1_0_now", "go_live.deploy_v1_0_now_2"]);
        assert_eq!(slug("a very long title with many words in it", 16), "a_very_long");
    }

    #[test]
    fn recognised_lines_get_a_check_of_their_kind() {
        let kind = |title: &str| suggest(title).map(|s| (s.kind, s.aspect));
        assert_eq!(kind("HSTS header enabled"), Some(("http_headers", "hsts")));
        assert_eq!(kind("SSL certificate expiry monitoring"), Some(("tls", "expiry")));
        assert_eq!(kind("Memory: Minimum 4GB RAM"), Some(("memory", "minimum")));
        assert_eq!(kind("Storage: Minimum 20GB"), Some(("disk", "minimum")));
        assert_eq!(kind("Daily backups scheduled"), Some(("backup", "age")));
        assert_eq!(kind("Database port (5432) blocked from external access"), Some(("tcp_port", "state")));
        assert_eq!(kind("`max_connections` appropriate"), Some(("postgres", "max_connections")));
        assert_eq!(kind("`SECRET_KEY` generated"), Some(("env_rule", "rule")));
        assert_eq!(kind("Support team trained"), None);
    }
}
