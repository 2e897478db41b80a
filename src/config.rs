//! The config file: checklist items grouped under the checks that decide them.
//!
//! Loading reads the whole file, lets `CHECKLIST__…` environment variables override settings,
//! decodes with unknown keys refused, and validates everything before anything runs. A config is
//! either valid as a whole or refused as a whole, so a reload never half-applies.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::checks::{CheckKind, KIND_NAMES};
use crate::units::{format_duration, parse_duration};
use crate::vars::Vars;

/// Environment variables with this prefix override settings: `CHECKLIST__SETTINGS__DEFAULT_INTERVAL=30s`.
pub const ENV_PREFIX: &str = "CHECKLIST";

const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_MAX_CONCURRENT_CHECKS: usize = 16;
/// More items than this is almost certainly a generated config gone wrong.
pub const MAX_ITEMS: usize = 100_000;
/// Titles and sections are label values of every item series; a checklist line is far shorter.
pub const MAX_TITLE_BYTES: usize = 512;
pub const MAX_SECTION_BYTES: usize = 128;

/// Why a config was refused. The message names the file, and for a problem inside a check the
/// check's position, its items and the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read the config file: {reason}")]
    Read { file: String, reason: String },
    #[error("{file}: {reason}")]
    Syntax { file: String, reason: String },
    #[error("{file}: {location}: {reason}")]
    Invalid { file: String, location: String, reason: String },
}

/// How much an item matters; alerts page on critical items.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Critical,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One checklist line, as metrics, the API and reports show it.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub id: String,
    pub section: String,
    pub title: String,
    pub severity: Severity,
    /// The aspect of its check that decides this item.
    pub aspect: &'static str,
}

/// One probe with its schedule and the items it decides.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckSpec {
    pub kind: CheckKind,
    pub interval: Duration,
    pub timeout: Duration,
    pub items: Vec<Item>,
    /// Why the check is switched off for this site (`enabled = false`, usually from a variable
    /// such as `${enable_aws}`); its items are shown as not applicable and never run.
    pub not_applicable: Option<String>,
}

impl CheckSpec {
    /// A short description for logs: `disk /`, `tcp_port 127.0.0.1:5432`.
    pub fn describe(&self) -> String {
        self.kind.describe()
    }

    /// Whether the scheduler runs this check: groups are derived by the store, and switched-off
    /// checks are not applicable.
    pub fn runs(&self) -> bool {
        self.not_applicable.is_none() && !matches!(self.kind, CheckKind::Group(_))
    }

    /// Identifies the check across reloads: an unchanged check keeps running undisturbed.
    /// A 64-bit hash of the whole definition rather than the definition's text, because the
    /// store and the scheduler keep one per check (10,000 checks would keep megabytes of text).
    pub fn fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        format!("{self:?}").hash(&mut hasher);
        hasher.finish()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub default_interval: Duration,
    pub default_timeout: Duration,
    pub max_concurrent_checks: usize,
}

/// A whole, valid config.
#[derive(Clone, Debug)]
pub struct Config {
    pub source: PathBuf,
    pub settings: Settings,
    pub checks: Vec<Arc<CheckSpec>>,
    /// Indices into `checks` of the group checks, members before the groups that contain them.
    pub group_order: Vec<usize>,
}

impl Config {
    pub fn items(&self) -> impl Iterator<Item = (&Arc<CheckSpec>, &Item)> {
        self.checks.iter().flat_map(|check| check.items.iter().map(move |item| (check, item)))
    }

    pub fn item_count(&self) -> usize {
        self.checks.iter().map(|c| c.items.len()).sum()
    }
}

/// The top level as the `config` crate decodes it (settings with environment overrides). The
/// checks are taken out of the document before that and decoded one by one: the `config`
/// crate's value tree (a map with an origin string per value) of a 10,000-check file was the
/// largest allocation peak of the daemon's life.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    settings: RawSettings,
    /// Never present here (taken out before); named so that an unknown key's message lists them.
    #[serde(default)]
    #[allow(dead_code)]
    checks: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    #[allow(dead_code)]
    vars: Option<serde::de::IgnoredAny>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    default_interval: Option<String>,
    default_timeout: Option<String>,
    max_concurrent_checks: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    id: String,
    section: String,
    title: String,
    severity: String,
    decides: Option<String>,
}

/// Reads, decodes and validates the config file at `path`, with environment overrides.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|err| ConfigError::Read {
        file: file.clone(),
        reason: match err.kind() {
            std::io::ErrorKind::NotFound => "no such file".to_string(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            std::io::ErrorKind::IsADirectory => "it is a directory".to_string(),
            std::io::ErrorKind::InvalidData => "it is not UTF-8 text".to_string(),
            _ => err.to_string(),
        },
    })?;
    parse(&file, &text, std::env::vars())
}

/// Decodes and validates config text; `env` supplies the override variables (tests pass their own).
pub fn parse(file: &str, text: &str, env: impl IntoIterator<Item = (String, String)>) -> Result<Config, ConfigError> {
    let syntax = |reason: String| ConfigError::Syntax { file: file.to_string(), reason };
    let invalid = |location: String, reason: String| ConfigError::Invalid { file: file.to_string(), location, reason };
    let mut document: toml::Table = text.parse().map_err(|err: toml::de::Error| syntax(tidy_error(err.to_string())))?;
    let raw_checks = match document.remove("checks") {
        None => Vec::new(),
        Some(toml::Value::Array(checks)) => checks,
        Some(_) => return Err(invalid("checks".into(), "must be an array of tables ([[checks]])".into())),
    };
    let mut vars = match document.remove("vars") {
        None => Vars::default(),
        Some(toml::Value::Table(table)) => {
            Vars::from_table(table).map_err(|(location, reason)| invalid(location, reason))?
        }
        Some(_) => return Err(invalid("vars".into(), "must be a table ([vars])".into())),
    };

    // The rest (settings) goes through the config crate, which layers the environment over it.
    let (var_overrides, overrides): (HashMap<String, String>, HashMap<String, String>) = env
        .into_iter()
        .filter(|(key, _)| key.starts_with(&format!("{ENV_PREFIX}__")))
        .partition(|(key, _)| key.starts_with(crate::vars::ENV_VAR_PREFIX));
    vars.override_from_env(var_overrides).map_err(|(location, reason)| invalid(location, reason))?;
    let rest = toml::to_string(&document).map_err(|err| syntax(err.to_string()))?;
    let tree = config::Config::builder()
        .add_source(config::File::from_str(&rest, config::FileFormat::Toml))
        .add_source(
            config::Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .source(Some(overrides)),
        )
        .build()
        .map_err(|err| syntax(tidy_error(err.to_string())))?;
    let raw: RawFile = tree.try_deserialize().map_err(|err| syntax(tidy_error(err.to_string())))?;
    let settings =
        validate_settings(&raw.settings).map_err(|(key, reason)| invalid(format!("settings.{key}"), reason))?;

    let mut checks = Vec::with_capacity(raw_checks.len());
    let mut first_use: HashMap<String, usize> = HashMap::new();
    let mut targets: HashMap<(String, String), usize> = HashMap::new();
    // Consumed one by one, so each check's raw table is freed as soon as it is decoded.
    for (index, mut value) in raw_checks.into_iter().enumerate() {
        // Remembered before expansion, so that a switched-off item can say which variable did it.
        let enabled_by = value.get("enabled").and_then(toml::Value::as_str).and_then(Vars::sole_reference);
        let enabled_by = enabled_by.map(str::to_string);
        vars.expand(&mut value).map_err(|reason| invalid(format!("checks[{index}]"), reason))?;
        let check = decode_check(index, value, &settings, enabled_by.as_deref())
            .map_err(|(location, reason)| invalid(location, reason))?;
        for item in &check.items {
            if let Some(earlier) = first_use.insert(item.id.clone(), index) {
                return Err(invalid(
                    format!("checks[{index}], item {}", item.id),
                    format!(
                        "id `{}` is already used by an item of checks[{earlier}]; item ids must be unique",
                        item.id
                    ),
                ));
            }
        }
        let target_key = (check.kind.name().to_string(), check.kind.target());
        let shares_series = !matches!(check.kind, CheckKind::Group(_));
        if let Some(earlier) = targets.insert(target_key, index).filter(|_| shares_series) {
            return Err(invalid(
                location_of(index, &check.kind, &check.items),
                format!(
                    "checks[{earlier}] is already a {} check; add the items to that check instead",
                    check.kind.describe()
                ),
            ));
        }
        checks.push(Arc::new(check));
    }
    let item_count: usize = checks.iter().map(|c| c.items.len()).sum();
    if item_count > MAX_ITEMS {
        return Err(invalid("checks".into(), format!("{item_count} items; at most {MAX_ITEMS} are allowed")));
    }
    let group_order = resolve_groups(&mut checks).map_err(|(location, reason)| invalid(location, reason))?;
    Ok(Config { source: PathBuf::from(file), settings, checks, group_order })
}

/// Error messages of the TOML and config crates, said in terms of this file. The TOML crate
/// quotes the offending line under the position; that line may hold a password (a `url` with
/// `user:password@`), so the quote is dropped and the position and the problem are kept.
fn tidy_error(message: String) -> String {
    let message = message.replace("TOML parse error", "TOML syntax error");
    let is_quote = |line: &&str| {
        let line = line.trim_start();
        line.starts_with('|') || line.split_once(" |").is_some_and(|(number, _)| number.parse::<u64>().is_ok())
    };
    if !message.lines().any(|line| is_quote(&line)) {
        return message.trim_end().to_string();
    }
    let said: Vec<&str> = message.lines().filter(|line| !is_quote(line) && !line.trim().is_empty()).collect();
    said.join(": ")
}

/// Decodes a TOML value into `T`, naming the key a problem is at (`... for key `min_cores``).
pub(crate) fn decode_value<T: serde::de::DeserializeOwned>(value: toml::Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let mut message = tidy_error(err.into_inner().to_string());
        // The toml crate adds its own, shorter "\nin `key`"; the full path replaces it.
        if let Some(own_path) = message.find("\nin `") {
            message.truncate(own_path);
        }
        if path == "." || path.is_empty() || message.contains(&format!("`{path}`")) {
            message
        } else {
            format!("{message} for key `{path}`")
        }
    })
}

fn validate_settings(raw: &RawSettings) -> Result<Settings, (&'static str, String)> {
    let default_interval = optional_duration(raw.default_interval.as_deref(), DEFAULT_INTERVAL)
        .map_err(|reason| ("default_interval", reason))?;
    let default_timeout = optional_duration(raw.default_timeout.as_deref(), DEFAULT_TIMEOUT)
        .map_err(|reason| ("default_timeout", reason))?;
    let max_concurrent_checks = raw.max_concurrent_checks.unwrap_or(DEFAULT_MAX_CONCURRENT_CHECKS);
    if max_concurrent_checks == 0 {
        return Err(("max_concurrent_checks", "must be at least 1".to_string()));
    }
    Ok(Settings { default_interval, default_timeout, max_concurrent_checks })
}

fn optional_duration(text: Option<&str>, default: Duration) -> Result<Duration, String> {
    let Some(text) = text else { return Ok(default) };
    let duration = parse_duration(text)?;
    if duration.is_zero() {
        return Err("must be longer than 0s".to_string());
    }
    Ok(duration)
}

/// `checks[3] (disk /var; items: a, b)`: where a problem is, in words a person can find.
fn location_of(index: usize, kind: &CheckKind, items: &[Item]) -> String {
    let ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
    location_of_raw(index, kind, &ids)
}

fn decode_check(
    index: usize,
    value: toml::Value,
    settings: &Settings,
    enabled_by: Option<&str>,
) -> Result<CheckSpec, (String, String)> {
    let here = format!("checks[{index}]");
    let toml::Value::Table(mut table) = value else { return Err((here, "must be a table".to_string())) };
    let interval = table.remove("interval");
    let timeout = table.remove("timeout");
    let raw_items = table.remove("items");
    let enabled = table.remove("enabled");

    // Decode items first, so later messages can name them.
    let no_items = || (here.clone(), "has no items; add at least one [[checks.items]]".to_string());
    let item_values = match raw_items {
        None => return Err(no_items()),
        Some(toml::Value::Array(values)) => values,
        Some(_) => return Err((format!("{here}.items"), "must be an array of tables ([[checks.items]])".to_string())),
    };
    if item_values.is_empty() {
        return Err(no_items());
    }
    let mut raw_items = Vec::with_capacity(item_values.len());
    for (position, value) in item_values.into_iter().enumerate() {
        let id = value.get("id").and_then(|v| v.as_str()).map(str::to_string);
        let name = id.map_or_else(|| format!("{here}.items[{position}]"), |id| format!("{here}, item {id}"));
        let item: RawItem = decode_value(value).map_err(|reason| (name, reason))?;
        raw_items.push(item);
    }
    let owned_ids: Vec<String> = raw_items.iter().map(|i| i.id.clone()).collect();
    let ids: Vec<&str> = owned_ids.iter().map(String::as_str).collect();
    let named = format!("{here} (items: {})", ids.join(", "));

    let kind_name = match table.remove("kind") {
        None => return Err((named, format!("kind: missing; one of {}", KIND_NAMES.join(", ")))),
        Some(toml::Value::String(kind)) => kind,
        Some(other) => other.to_string(),
    };
    let kind = CheckKind::decode(&kind_name, toml::Value::Table(table))
        .map_err(|reason| (format!("{here} ({kind_name}; items: {})", ids.join(", ")), reason))?;
    let not_applicable = match enabled {
        None | Some(toml::Value::Boolean(true)) => None,
        Some(toml::Value::Boolean(false)) => Some(match enabled_by {
            Some(var) => format!(
                "not applicable: switched off by vars.{var} = false (set it to true, or {}{}=true, to check it)",
                crate::vars::ENV_VAR_PREFIX,
                var.to_ascii_uppercase()
            ),
            None => "not applicable: switched off in the config (enabled = false)".to_string(),
        }),
        Some(_) => {
            return Err((location_of_raw(index, &kind, &ids), "enabled: must be true or false".to_string()));
        }
    };
    if matches!(kind, CheckKind::Group(_)) {
        if interval.is_some() || timeout.is_some() {
            return Err((
                location_of_raw(index, &kind, &ids),
                "a group has no interval or timeout of its own; it is decided whenever one of its members is"
                    .to_string(),
            ));
        }
        if ids.len() != 1 {
            return Err((
                location_of_raw(index, &kind, &ids),
                "a group check decides exactly one item; give each group its own check".to_string(),
            ));
        }
    }

    let duration_key = |key: &str, value: Option<toml::Value>, default: Duration| {
        let location = location_of_raw(index, &kind, &ids);
        match value {
            None => Ok(default),
            Some(toml::Value::String(text)) => {
                optional_duration(Some(&text), default).map_err(|reason| (location, format!("{key}: {reason}")))
            }
            Some(_) => Err((location, format!("{key}: must be a duration string like \"30s\""))),
        }
    };
    let interval = duration_key("interval", interval, settings.default_interval)?;
    let timeout = duration_key("timeout", timeout, settings.default_timeout.min(interval))?;
    if timeout > interval {
        return Err((
            location_of_raw(index, &kind, &ids),
            format!(
                "timeout: {} is longer than the interval {}; a check must finish before it is due again",
                format_duration(timeout),
                format_duration(interval)
            ),
        ));
    }
    // A probe's own connect timeout must end first, so that a silent peer gets a verdict that
    // says so rather than the scheduler's generic timeout.
    let connect_timeout = match &kind {
        CheckKind::TcpPort(port) => Some((port.connect_timeout.0, "a silent port must be seen as filtered")),
        CheckKind::Postgres(pg) => {
            Some((pg.connect_timeout.0, "a server that accepts and never answers must be reported as such"))
        }
        _ => None,
    };
    if let Some((connect_timeout, why)) = connect_timeout {
        if connect_timeout >= timeout {
            return Err((
                location_of_raw(index, &kind, &ids),
                format!(
                    "connect_timeout: {} is not shorter than the timeout {}; {why} before the check times out",
                    format_duration(connect_timeout),
                    format_duration(timeout)
                ),
            ));
        }
    }

    if let CheckKind::Command(command) = &kind {
        if command.command_timeout.0 >= timeout {
            return Err((
                location_of_raw(index, &kind, &ids),
                format!(
                    "command_timeout: {} is not shorter than the timeout {}; the command's process group must be killed before the check times out",
                    format_duration(command.command_timeout.0),
                    format_duration(timeout)
                ),
            ));
        }
    }
    let mut kind = kind;
    if let CheckKind::Attested(attested) = &mut kind {
        // The attestation is recorded under the item's id, so the check decides exactly one.
        if ids.len() != 1 {
            return Err((
                location_of_raw(index, &kind, &ids),
                "an attested check decides exactly one item; give each attested item its own check".to_string(),
            ));
        }
        attested.item_id = ids[0].to_string();
    }
    let mut items = Vec::with_capacity(raw_items.len());
    for raw in raw_items {
        let item = decode_item(raw, &kind).map_err(|reason| (location_of_raw(index, &kind, &ids), reason))?;
        items.push(item);
    }
    Ok(CheckSpec { kind, interval, timeout, items, not_applicable })
}

/// Checks that every group names existing items and no group contains itself, gives each group
/// the longest interval among its members (it is as fresh as they are), and marks a group not
/// applicable when all its members are. Returns the group checks' indices, members first.
fn resolve_groups(checks: &mut [Arc<CheckSpec>]) -> Result<Vec<usize>, (String, String)> {
    let owner: HashMap<&str, usize> = checks
        .iter()
        .enumerate()
        .flat_map(|(index, check)| check.items.iter().map(move |item| (item.id.as_str(), index)))
        .collect();
    let groups: Vec<usize> =
        (0..checks.len()).filter(|&index| matches!(checks[index].kind, CheckKind::Group(_))).collect();
    let members_of = |index: usize| -> &[String] {
        match &checks[index].kind {
            CheckKind::Group(group) => &group.members,
            _ => &[],
        }
    };
    let location = |index: usize| location_of(index, &checks[index].kind, &checks[index].items);
    let mut member_checks: HashMap<usize, Vec<usize>> = HashMap::new();
    for &index in &groups {
        let mut resolved = Vec::new();
        for member in members_of(index) {
            match owner.get(member.as_str()) {
                None => {
                    return Err((
                        location(index),
                        format!("members: `{member}` is not the id of an item in this config"),
                    ))
                }
                Some(&owner_index) if owner_index == index => {
                    return Err((location(index), "members: a group cannot contain itself".to_string()))
                }
                Some(&owner_index) => resolved.push(owner_index),
            }
        }
        member_checks.insert(index, resolved);
    }

    // Depth-first, members before their groups; a group met again while still open is a cycle.
    let mut order = Vec::with_capacity(groups.len());
    let mut state: HashMap<usize, bool> = HashMap::new(); // false: open, true: done
    fn visit(
        index: usize,
        member_checks: &HashMap<usize, Vec<usize>>,
        state: &mut HashMap<usize, bool>,
        order: &mut Vec<usize>,
        path: &mut Vec<usize>,
    ) -> Result<(), Vec<usize>> {
        match state.get(&index) {
            Some(true) => return Ok(()),
            Some(false) => {
                let start = path.iter().position(|&p| p == index).unwrap_or(0);
                let mut cycle = path[start..].to_vec();
                cycle.push(index);
                return Err(cycle);
            }
            None => {}
        }
        state.insert(index, false);
        path.push(index);
        for member in member_checks.get(&index).into_iter().flatten() {
            if member_checks.contains_key(member) {
                visit(*member, member_checks, state, order, path)?;
            }
        }
        path.pop();
        state.insert(index, true);
        order.push(index);
        Ok(())
    }
    for &index in &groups {
        visit(index, &member_checks, &mut state, &mut order, &mut Vec::new()).map_err(|cycle| {
            let ids: Vec<&str> = cycle.iter().map(|&i| checks[i].items[0].id.as_str()).collect();
            (location(cycle[0]), format!("members: groups contain each other in a cycle: {}", ids.join(" -> ")))
        })?;
    }

    for &index in &order {
        let members = &member_checks[&index];
        let interval = members.iter().map(|&m| checks[m].interval).max().unwrap_or(checks[index].interval);
        let all_not_applicable = members.iter().all(|&m| checks[m].not_applicable.is_some());
        let group = Arc::get_mut(&mut checks[index]).expect("checks are not shared while the config loads");
        group.interval = interval;
        group.timeout = group.timeout.min(interval);
        if all_not_applicable && group.not_applicable.is_none() {
            group.not_applicable = Some("not applicable: none of its members applies to this site".to_string());
        }
    }
    Ok(order)
}

fn location_of_raw(index: usize, kind: &CheckKind, ids: &[&str]) -> String {
    format!("checks[{index}] ({}; items: {})", kind.describe(), ids.join(", "))
}

fn decode_item(raw: RawItem, kind: &CheckKind) -> Result<Item, String> {
    let id = raw.id;
    let valid_id = !id.is_empty()
        && id.len() <= 128
        && id.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-'));
    if !valid_id {
        return Err(format!(
            "item `{id}`: id: use lower-case letters, digits, `_`, `.` and `-` (at most 128), starting with a letter or digit"
        ));
    }
    if raw.section.trim().is_empty() {
        return Err(format!("item {id}: section: must not be empty"));
    }
    if raw.section.len() > MAX_SECTION_BYTES {
        return Err(format!("item {id}: section: {} bytes; at most {MAX_SECTION_BYTES}", raw.section.len()));
    }
    if raw.title.trim().is_empty() {
        return Err(format!("item {id}: title: must not be empty"));
    }
    if raw.title.len() > MAX_TITLE_BYTES {
        return Err(format!("item {id}: title: {} bytes; at most {MAX_TITLE_BYTES}", raw.title.len()));
    }
    let severity = match raw.severity.as_str() {
        "critical" => Severity::Critical,
        "warning" => Severity::Warning,
        "info" => Severity::Info,
        other => return Err(format!("item {id}: severity: `{other}` is not one of critical, warning, info")),
    };
    let aspects = kind.aspects();
    let aspect = match raw.decides.as_deref() {
        None if aspects.len() == 1 => aspects[0],
        None => {
            return Err(format!(
                "item {id}: decides: missing; a {} check decides one of {}",
                kind.name(),
                aspects.join(", ")
            ))
        }
        Some(name) => aspects.iter().copied().find(|a| *a == name).ok_or_else(|| {
            format!("item {id}: decides: a {} check cannot decide `{name}`; one of {}", kind.name(), aspects.join(", "))
        })?,
    };
    kind.validate(aspect).map_err(|err| format!("{}: {}", err.key, err.message))?;
    Ok(Item { id, section: raw.section, title: raw.title, severity, aspect })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_toml_syntax_error_keeps_the_position_and_drops_the_quoted_line() {
        let text = "[[checks]]\nkind = \"postgres\"\nurl = \"postgres://app:hunter2-canary@db/x\n";
        let err = text.parse::<toml::Table>().unwrap_err();
        assert!(err.to_string().contains("hunter2-canary"), "the TOML crate quotes the line");
        let tidy = tidy_error(err.to_string());
        assert_eq!(tidy, "TOML syntax error at line 3, column 42: invalid basic string, expected `\"`");
        assert_eq!(
            tidy_error("invalid type: string \"x\", expected usize\n".into()),
            "invalid type: string \"x\", expected usize"
        );
    }

    const GOOD: &str = r#"
[settings]
default_interval = "30s"

[[checks]]
kind = "disk"
path = "/"
min_free_bytes = "1GiB"
min_free_ratio = 0.05
interval = "2m"
timeout = "5s"

  [[checks.items]]
  id = "infra.storage"
  decides = "minimum"
  section = "Infrastructure Readiness"
  title = "Storage: Minimum 20GB"
  severity = "critical"

  [[checks.items]]
  id = "infra.storage_ratio"
  decides = "free_ratio"
  section = "Infrastructure Readiness"
  title = "Disk has 5% free"
  severity = "warning"

[[checks]]
kind = "tcp_port"
address = "127.0.0.1:5432"
expect = "open"

  [[checks.items]]
  id = "net.pg_port"
  section = "Network Configuration"
  title = "Required ports available (5432)"
  severity = "critical"
"#;

    fn parse_text(text: &str) -> Result<Config, ConfigError> {
        parse("test.toml", text, Vec::new())
    }

    #[test]
    fn a_good_config_decodes_with_defaults_filled_in() {
        let config = parse_text(GOOD).unwrap();
        assert_eq!(config.checks.len(), 2);
        assert_eq!(config.item_count(), 3);
        let disk = &config.checks[0];
        assert_eq!(disk.interval, Duration::from_secs(120));
        assert_eq!(disk.timeout, Duration::from_secs(5));
        assert_eq!(disk.items[1].aspect, "free_ratio");
        let port = &config.checks[1];
        assert_eq!(port.interval, Duration::from_secs(30));
        assert_eq!(port.timeout, Duration::from_secs(10));
        assert_eq!(port.items[0].aspect, "state", "a kind with one aspect needs no `decides`");
    }

    #[test]
    fn environment_overrides_settings() {
        let env = vec![("CHECKLIST__SETTINGS__MAX_CONCURRENT_CHECKS".to_string(), "3".to_string())];
        let config = parse("test.toml", GOOD, env).unwrap();
        assert_eq!(config.settings.max_concurrent_checks, 3);
    }

    #[test]
    fn fingerprints_differ_when_a_threshold_changes() {
        let a = parse_text(GOOD).unwrap();
        let b = parse_text(&GOOD.replace("min_free_ratio = 0.05", "min_free_ratio = 0.06")).unwrap();
        assert_ne!(a.checks[0].fingerprint(), b.checks[0].fingerprint());
        assert_eq!(a.checks[1].fingerprint(), b.checks[1].fingerprint());
    }

    const SITE: &str = r#"
[vars]
root = "/srv/dnd"
enable_aws = false
min_cores = 2

[[checks]]
kind = "cpu"
min_cores = "${min_cores}"
  [[checks.items]]
  id = "infra.cpu"
  section = "Infrastructure"
  title = "CPU"
  severity = "critical"
  decides = "minimum"
[[checks]]
kind = "disk"
path = "${root}/uploads"
min_free_bytes = 1
interval = "5m"
  [[checks.items]]
  id = "infra.storage"
  section = "Infrastructure"
  title = "Storage under ${root}"
  severity = "critical"
  decides = "minimum"
[[checks]]
kind = "tcp_port"
address = "127.0.0.1:1"
expect = "open"
enabled = "${enable_aws}"
  [[checks.items]]
  id = "aws.alb"
  section = "AWS"
  title = "ALB"
  severity = "warning"
[[checks]]
kind = "group"
members = ["infra.cpu", "infra.storage", "aws.alb"]
  [[checks.items]]
  id = "infra.resources"
  section = "Infrastructure"
  title = "Server Resources Verified"
  severity = "critical"
[[checks]]
kind = "group"
members = ["aws.alb"]
  [[checks.items]]
  id = "aws.all"
  section = "AWS"
  title = "AWS Resources"
  severity = "warning"
"#;

    #[test]
    fn variables_fill_in_targets_with_their_types_and_the_environment_overrides_them() {
        let config = parse_text(SITE).unwrap();
        assert!(
            matches!(&config.checks[0].kind, CheckKind::Cpu(cpu) if cpu.min_cores == Some(2)),
            "{:?}",
            config.checks[0].kind
        );
        assert_eq!(config.checks[1].kind.target(), "/srv/dnd/uploads");
        assert_eq!(config.checks[1].items[0].title, "Storage under /srv/dnd");
        let env = vec![("CHECKLIST__VARS__ROOT".to_string(), "/opt/dndstory".to_string())];
        let config = parse("site.toml", SITE, env).unwrap();
        assert_eq!(config.checks[1].kind.target(), "/opt/dndstory/uploads");
    }

    #[test]
    fn a_switched_off_check_says_which_variable_switched_it_off() {
        let config = parse_text(SITE).unwrap();
        assert!(config.checks[0].not_applicable.is_none() && config.checks[0].runs());
        assert_eq!(
            config.checks[2].not_applicable.as_deref(),
            Some("not applicable: switched off by vars.enable_aws = false (set it to true, or CHECKLIST__VARS__ENABLE_AWS=true, to check it)")
        );
        assert!(!config.checks[2].runs());
        let env = vec![("CHECKLIST__VARS__ENABLE_AWS".to_string(), "true".to_string())];
        assert!(parse("site.toml", SITE, env).unwrap().checks[2].runs());
    }

    #[test]
    fn groups_take_their_longest_member_interval_and_are_not_applicable_when_no_member_is() {
        let config = parse_text(SITE).unwrap();
        let group = &config.checks[3];
        assert!(!group.runs(), "the store derives groups; the scheduler never runs them");
        assert_eq!(group.interval, Duration::from_secs(300));
        assert!(group.not_applicable.is_none());
        assert_eq!(
            config.checks[4].not_applicable.as_deref(),
            Some("not applicable: none of its members applies to this site")
        );
        assert_eq!(config.group_order, vec![3, 4]);
    }

    #[test]
    fn nested_groups_are_ordered_members_first_and_cycles_are_refused() {
        // The sign-off group comes first in the file, but after its member groups in the order.
        let signoff = "[[checks]]\nkind = \"group\"\nmembers = [\"infra.resources\", \"aws.all\"]\n  [[checks.items]]\n  id = \"signoff\"\n  section = \"Sign-off\"\n  title = \"All technical requirements verified\"\n  severity = \"critical\"\n";
        let nested = SITE.replacen("[[checks]]", &format!("{signoff}[[checks]]"), 1);
        assert_eq!(parse_text(&nested).unwrap().group_order, vec![4, 5, 0]);
        let cyclic = SITE
            .replace(r#"members = ["aws.alb"]"#, r#"members = ["infra.resources"]"#)
            .replace(r#"members = ["infra.cpu", "infra.storage", "aws.alb"]"#, r#"members = ["infra.cpu", "aws.all"]"#);
        let err = parse_text(&cyclic).unwrap_err().to_string();
        assert!(
            err.ends_with(
                "members: groups contain each other in a cycle: infra.resources -> aws.all -> infra.resources"
            ),
            "{err}"
        );
        let unknown = SITE.replace(r#""aws.alb"]"#, r#""aws.elb"]"#);
        let err = parse_text(&unknown).unwrap_err().to_string();
        assert!(err.ends_with("members: `aws.elb` is not the id of an item in this config"), "{err}");
    }

    #[test]
    fn an_unknown_variable_names_the_check_and_the_reference() {
        let err = parse_text(&SITE.replace("${root}/uploads", "${rot}/uploads")).unwrap_err().to_string();
        assert_eq!(err, "test.toml: checks[1]: `${rot}` names no variable; declared: enable_aws, min_cores, root");
    }

    #[test]
    fn an_empty_file_is_a_valid_empty_checklist() {
        assert_eq!(parse_text("").unwrap().item_count(), 0);
    }
}
