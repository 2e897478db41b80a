//! The config file: checklist items grouped under the checks that decide them.
//!
//! Loading reads the whole file, lets `CHECKLIST__…` environment variables override settings,
//! decodes with unknown keys refused, and validates everything before anything runs. A config is
//! either valid as a whole or refused as a whole, so a reload never half-applies.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub mod groups;
mod packed;
pub mod shard;
pub mod vars;

pub use groups::{GroupSpec, GROUP_KIND};
pub use shard::Shard;

use crate::checks::{CheckKind, KeyError, KIND_NAMES};
use crate::support::decode::{decode_value, tidy_error};
use crate::support::units::{format_duration, parse_duration};
use groups::GroupParams;
use packed::PackedChecks;
use vars::Vars;

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
    /// Shared by the items of a section (a checklist has dozens of sections and up to
    /// [`MAX_ITEMS`] items): see [`share_sections`].
    pub section: Arc<str>,
    pub title: String,
    pub severity: Severity,
    /// The aspect of its check that decides this item.
    pub aspect: &'static str,
    /// The environment this instance of the item checks, when the config declares environments
    /// (`[environments.NAME]`); `None` otherwise. An item is identified by (environment, id).
    pub environment: Option<Arc<str>>,
    /// The line of the checklist document the item stands for (`line = 211`), when the config
    /// gives it: the page and the reports order a section's items by it.
    pub line: Option<u32>,
}

impl Item {
    /// What identifies the item in this config: its id, or `environment;id` once the config
    /// declares environments. The store, the baseline and the state file key items by it, and
    /// it is the text shards place the item by ([`shard::placement_value`]).
    pub fn key(&self) -> String {
        self.key_of(&self.id)
    }

    /// The key of the item `id` of the same environment as this one (a group's member).
    pub fn key_of(&self, id: &str) -> String {
        shard::placement_value(self.environment.as_deref(), id)
    }

    /// The environment's name, or "" when the config declares none.
    pub fn environment_name(&self) -> &str {
        self.environment.as_deref().unwrap_or("")
    }
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
    /// The hash of the whole definition as written, secrets included: see [`CheckSpec::fingerprint`].
    definition: DefinitionHash,
}

/// A hash of a check's definition. Its `Debug` prints nothing: the hash covers secrets, and a
/// printed hash of a short password is a guess away from the password.
#[derive(Clone, Copy, PartialEq, Eq)]
struct DefinitionHash(u64);

impl fmt::Debug for DefinitionHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("…")
    }
}

impl DefinitionHash {
    /// Hashes the check's table after variables are filled in (every key, secrets and
    /// sub-second durations as written), the schedule it ends up with (a changed default
    /// interval changes it) and the decoded check (what the loader filled in, such as an
    /// attested check's item id). The `Debug` text alone would not do: it masks secrets and
    /// durations may print rounded.
    fn of(table: &toml::Table, interval: Duration, timeout: Duration, decoded: &str) -> DefinitionHash {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        // A table's text is canonical: keys sorted, values in one notation.
        toml::to_string(table).unwrap_or_else(|_| format!("{table:?}")).hash(&mut hasher);
        interval.hash(&mut hasher);
        timeout.hash(&mut hasher);
        decoded.hash(&mut hasher);
        DefinitionHash(hasher.finish())
    }
}

impl CheckSpec {
    /// A short description for logs: `disk /`, `tcp_port 127.0.0.1:5432`.
    pub fn describe(&self) -> String {
        self.kind.describe()
    }

    /// Whether the scheduler runs this check: switched-off checks are not applicable.
    pub fn runs(&self) -> bool {
        self.not_applicable.is_none()
    }

    /// Identifies the check across reloads: an unchanged check keeps running undisturbed, and
    /// any change (a rotated password of the same length, 1500ms to 1900ms) starts it afresh.
    /// A 64-bit hash of the whole definition rather than the definition's text, because the
    /// store and the scheduler keep one per check (10,000 checks would keep megabytes of text).
    pub fn fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.definition.0.hash(&mut hasher);
        // Items are part of the definition too (their titles are in the table), and the
        // switch: hashed again from the decoded form so that the two can never disagree.
        format!("{:?}{:?}", self.items, self.not_applicable).hash(&mut hasher);
        hasher.finish()
    }

    /// What the check is, whatever its thresholds: its kind and target, unique in a config.
    /// The scheduler derives a check's place in its interval from it, so that a reload that
    /// changes a threshold does not move the check in time.
    pub fn identity(&self) -> String {
        format!("{} {}", self.kind.name(), self.kind.target())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub default_interval: Duration,
    pub default_timeout: Duration,
    pub max_concurrent_checks: usize,
}

/// What decides an item: a check the scheduler runs, or a group derived from other items.
#[derive(Clone, Debug, PartialEq)]
pub enum Decider {
    Check(Arc<CheckSpec>),
    Group(Arc<GroupSpec>),
}

impl Decider {
    /// The items it decides: a check's, or the group's one item.
    pub fn items(&self) -> &[Item] {
        match self {
            Decider::Check(check) => &check.items,
            Decider::Group(group) => std::slice::from_ref(&group.item),
        }
    }

    /// The `kind` of the `[[checks]]` table it came from.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Decider::Check(check) => check.kind.name(),
            Decider::Group(_) => GROUP_KIND,
        }
    }

    pub fn interval(&self) -> Duration {
        match self {
            Decider::Check(check) => check.interval,
            Decider::Group(group) => group.interval,
        }
    }

    pub fn timeout(&self) -> Duration {
        match self {
            Decider::Check(check) => check.timeout,
            Decider::Group(group) => group.timeout,
        }
    }

    /// Why its items do not apply to this site, when a switch in the config turned them off.
    pub fn not_applicable(&self) -> Option<&str> {
        match self {
            Decider::Check(check) => check.not_applicable.as_deref(),
            Decider::Group(group) => group.not_applicable.as_deref(),
        }
    }

    /// What its check looks at (an address, a file, a backup set); empty for a group or a
    /// host-wide check. Alerts group on it: one broken target, one notification.
    pub fn target(&self) -> String {
        match self {
            Decider::Check(check) => check.kind.target(),
            Decider::Group(_) => String::new(),
        }
    }

    /// `disk /`, `group of 3 items`: for logs and messages.
    pub fn describe(&self) -> String {
        match self {
            Decider::Check(check) => check.describe(),
            Decider::Group(group) => group.describe(),
        }
    }

    /// Marks its items as the instances of `environment`. While loading, before anything else
    /// holds the decider, so nothing is copied.
    fn set_environment(&mut self, environment: &Arc<str>) {
        let items = match self {
            Decider::Check(check) => {
                let check = Arc::make_mut(check);
                check.kind.bind_environment(environment);
                &mut check.items
            }
            Decider::Group(group) => std::slice::from_mut(&mut Arc::make_mut(group).item),
        };
        for item in items {
            item.environment = Some(environment.clone());
        }
    }
}

/// A whole, valid config.
#[derive(Clone, Debug)]
pub struct Config {
    pub source: PathBuf,
    pub settings: Settings,
    /// What decides the items, in file order: the order metrics, the API and reports list
    /// items in.
    pub deciders: Vec<Decider>,
    /// The checks among them, in file order.
    pub checks: Vec<Arc<CheckSpec>>,
    /// The groups among them, members before the groups that contain them.
    pub groups: Vec<Arc<GroupSpec>>,
    /// What the load noticed but did not refuse (an undeclared `CHECKLIST__VARS__*`); logged by
    /// [`load`].
    pub warnings: Vec<String>,
    /// The environments the config declares (`[environments.NAME]`), in name order; empty when
    /// it declares none, and then no item has an environment.
    pub environments: Vec<String>,
}

impl Config {
    pub fn items(&self) -> impl Iterator<Item = (&Decider, &Item)> {
        self.deciders.iter().flat_map(|decider| decider.items().iter().map(move |item| (decider, item)))
    }

    pub fn item_count(&self) -> usize {
        self.deciders.iter().map(|d| d.items().len()).sum()
    }

    /// The part of this config that checks `environment`: its checks and groups only. Refused
    /// with the declared names when the config declares no such environment.
    pub fn restricted_to_environment(self, environment: &str) -> Result<Config, String> {
        if !self.environments.iter().any(|name| name == environment) {
            return Err(match self.environments.is_empty() {
                true => format!("--environment {environment}: the config declares no environments"),
                false => format!(
                    "--environment {environment}: the config declares no such environment; declared: {}",
                    self.environments.join(", ")
                ),
            });
        }
        let mine = |decider: &Decider| decider.items().iter().all(|item| item.environment_name() == environment);
        let deciders: Vec<Decider> = self.deciders.iter().filter(|decider| mine(decider)).cloned().collect();
        let checks = checks_of(&deciders);
        let groups = self.groups.iter().filter(|group| group.item.environment_name() == environment).cloned().collect();
        let environments = vec![environment.to_string()];
        Ok(Config { deciders, checks, groups, environments, ..self })
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
    #[serde(default)]
    #[allow(dead_code)]
    environments: Option<serde::de::IgnoredAny>,
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
    line: Option<u32>,
}

/// The checks among `deciders`, in their order.
fn checks_of(deciders: &[Decider]) -> Vec<Arc<CheckSpec>> {
    deciders
        .iter()
        .filter_map(|decider| match decider {
            Decider::Check(check) => Some(check.clone()),
            Decider::Group(_) => None,
        })
        .collect()
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
    let config = parse(&file, &text, std::env::vars())?;
    for warning in &config.warnings {
        tracing::warn!(file = %file, "{warning}");
    }
    Ok(config)
}

/// Decodes and validates config text; `env` supplies the override variables (tests pass their own).
pub fn parse(file: &str, text: &str, env: impl IntoIterator<Item = (String, String)>) -> Result<Config, ConfigError> {
    let syntax = |reason: String| ConfigError::Syntax { file: file.to_string(), reason };
    let invalid = |location: String, reason: String| ConfigError::Invalid { file: file.to_string(), location, reason };
    let mut document: toml::Table = text.parse().map_err(|err: toml::de::Error| syntax(tidy_error(err.to_string())))?;
    let raw_checks = match document.remove("checks") {
        None => PackedChecks::default(),
        Some(toml::Value::Array(checks)) => PackedChecks::pack(checks, text.len()).map_err(syntax)?,
        Some(_) => return Err(invalid("checks".into(), "must be an array of tables ([[checks]])".into())),
    };
    let mut vars = match document.remove("vars") {
        None => Vars::default(),
        Some(toml::Value::Table(table)) => {
            Vars::from_table(table).map_err(|(location, reason)| invalid(location, reason))?
        }
        Some(_) => return Err(invalid("vars".into(), "must be a table ([vars])".into())),
    };
    let environment_tables = match document.remove("environments") {
        None => None,
        Some(toml::Value::Table(table)) => Some(table),
        Some(_) => {
            return Err(invalid("environments".into(), "must be a table of environments ([environments.NAME])".into()))
        }
    };

    // The rest (settings) goes through the config crate, which layers the environment over it.
    let (var_overrides, overrides): (HashMap<String, String>, HashMap<String, String>) = env
        .into_iter()
        .filter(|(key, _)| key.starts_with(&format!("{ENV_PREFIX}__")))
        .partition(|(key, _)| key.starts_with(crate::config::vars::ENV_VAR_PREFIX));
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

    // Absolute, for the hints that print a command naming the file (run from anywhere).
    let source = std::path::absolute(file).unwrap_or_else(|_| PathBuf::from(file));
    let warnings = vars.warnings().to_vec();
    let environments = match environment_tables {
        None => None,
        Some(tables) => Some(vars.environments(tables).map_err(|(location, reason)| invalid(location, reason))?),
    };
    let mut deciders = Vec::with_capacity(raw_checks.len() * environments.as_ref().map_or(1, Vec::len));
    let mut groups = Vec::new();
    let environment_names: Vec<String>;
    match environments {
        None => {
            vars.resolve().map_err(|(location, reason)| invalid(location, reason))?;
            let scope = Scope { file, vars: &vars, environment: None, settings: &settings, source: &source };
            decode_checks(&scope, raw_checks.values(), &mut deciders)?;
            groups = groups::resolve(&mut deciders).map_err(|(location, reason)| invalid(location, reason))?;
            environment_names = Vec::new();
        }
        Some(environments) => {
            // Every check once per environment, each with the environment's variables; ids and
            // targets are unique within an environment, and groups take members of their own.
            environment_names = environments.iter().map(|(name, _)| name.to_string()).collect();
            for (name, mut environment_vars) in environments {
                let within = |location: String| format!("environments.{name}: {location}");
                environment_vars.resolve().map_err(|(location, reason)| invalid(within(location), reason))?;
                let scope = Scope {
                    file,
                    vars: &environment_vars,
                    environment: Some(name.clone()),
                    settings: &settings,
                    source: &source,
                };
                let start = deciders.len();
                decode_checks(&scope, raw_checks.values(), &mut deciders)?;
                let resolved = groups::resolve(&mut deciders[start..])
                    .map_err(|(location, reason)| invalid(within(location), reason))?;
                groups.extend(resolved);
            }
        }
    }
    let item_count: usize = deciders.iter().map(|d| d.items().len()).sum();
    if item_count == 0 {
        // A gate that checks nothing says "ready": an empty, truncated or mis-generated file
        // must not pass CI.
        return Err(invalid(
            "checks".into(),
            "the file declares no items, and a checklist with nothing to check would pass every gate (an empty or cut-short file?); add at least one [[checks]] with its [[checks.items]]".into(),
        ));
    }
    if item_count > MAX_ITEMS {
        return Err(invalid("checks".into(), format!("{item_count} items; at most {MAX_ITEMS} are allowed")));
    }
    share_sections(&mut deciders);
    let checks = checks_of(&deciders);
    Ok(Config {
        source: PathBuf::from(file),
        settings,
        deciders,
        checks,
        groups,
        warnings,
        environments: environment_names,
    })
}

/// What the checks of one environment (or of the config without environments) are decoded with.
struct Scope<'a> {
    file: &'a str,
    vars: &'a Vars,
    environment: Option<Arc<str>>,
    settings: &'a Settings,
    source: &'a Path,
}

/// Decodes the `[[checks]]` tables with the scope's variables into `deciders`, refusing an id
/// or a target used twice within the scope.
fn decode_checks(
    scope: &Scope<'_>,
    raw_checks: impl Iterator<Item = Result<toml::Value, String>>,
    deciders: &mut Vec<Decider>,
) -> Result<(), ConfigError> {
    let Scope { file, vars, settings, source, .. } = scope;
    let (settings, source) = (*settings, *source);
    let invalid = |location: String, reason: String| ConfigError::Invalid {
        file: file.to_string(),
        location: match &scope.environment {
            Some(name) => format!("environments.{name}: {location}"),
            None => location,
        },
        reason,
    };
    let start = deciders.len();
    for (index, value) in raw_checks.enumerate() {
        let mut value = value.map_err(|reason| invalid(format!("checks[{index}]"), reason))?;
        // Remembered before expansion, so that a switched-off item can say which variable did it.
        let enabled_by = value.get("enabled").and_then(toml::Value::as_str).and_then(Vars::sole_reference);
        let enabled_by = enabled_by.map(str::to_string);
        // The keys written with variables, so a refused path can say where its value came from.
        let written = written_with_vars(&value);
        vars.expand(&mut value).map_err(|reason| invalid(format!("checks[{index}]"), reason))?;
        let mut decider = decode_table(index, value, settings, enabled_by.as_deref(), source)
            .map_err(|(location, reason)| invalid(location, explain_path(vars, &written, reason)))?;
        if let Some(environment) = &scope.environment {
            decider.set_environment(environment);
        }
        deciders.push(decider);
    }
    // Compared once all are decoded, so that the keys of these maps (transient) are allocated
    // above the long-lived checks instead of between them (see `PackedChecks`).
    let mut first_use: HashMap<&str, usize> = HashMap::new();
    let mut targets: HashMap<(&'static str, String), usize> = HashMap::new();
    for (index, decider) in deciders[start..].iter().enumerate() {
        for item in decider.items() {
            if let Some(earlier) = first_use.insert(&item.id, index) {
                return Err(invalid(
                    format!("checks[{index}], item {}", item.id),
                    format!(
                        "id `{}` is already used by an item of checks[{earlier}]; item ids must be unique",
                        item.id
                    ),
                ));
            }
        }
        // Groups export no series, so two may share members (two sign-off lines over one set of
        // items); only checks are compared by target.
        if let Decider::Check(check) = &decider {
            if let Some(earlier) = targets.insert((check.kind.name(), check.kind.target()), index) {
                return Err(invalid(
                    location_of(index, &check.describe(), &check.items),
                    format!(
                        "checks[{earlier}] is already a {} check; add the items to that check instead",
                        check.describe()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// A check's top-level keys whose text uses a variable, as written.
fn written_with_vars(value: &toml::Value) -> Vec<(String, String)> {
    let Some(table) = value.as_table() else { return Vec::new() };
    table
        .iter()
        .filter_map(|(key, value)| Some((key.clone(), value.as_str().filter(|text| text.contains("${"))?.to_string())))
        .collect()
}

/// "file: `opt/x` is not an absolute path" gains where `opt/x` came from, when variables made it.
fn explain_path(vars: &Vars, written: &[(String, String)], reason: String) -> String {
    if !reason.ends_with("is not an absolute path") {
        return reason;
    }
    match written.iter().find(|(key, _)| reason.starts_with(&format!("{key}:"))) {
        Some((_, text)) => format!("{reason}{}", vars.explain(text)),
        None => reason,
    }
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
fn location_of(index: usize, described: &str, items: &[Item]) -> String {
    let ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
    location_of_raw(index, described, &ids)
}

fn location_of_raw(index: usize, described: &str, ids: &[&str]) -> String {
    format!("checks[{index}] ({described}; items: {})", ids.join(", "))
}

/// The kinds a config may name: the check kinds and `group`, listed beside `attested` (the two
/// kinds whose items no probe decides), or last should `attested` ever go.
fn kind_names() -> String {
    let mut names: Vec<&str> = KIND_NAMES.to_vec();
    let beside = names.iter().position(|name| *name == "attested").map_or(names.len(), |at| at + 1);
    names.insert(beside, GROUP_KIND);
    names.join(", ")
}

/// Decodes one `[[checks]]` table into the check or the group it declares.
fn decode_table(
    index: usize,
    value: toml::Value,
    settings: &Settings,
    enabled_by: Option<&str>,
    source: &Path,
) -> Result<Decider, (String, String)> {
    let here = format!("checks[{index}]");
    let toml::Value::Table(mut table) = value else { return Err((here, "must be a table".to_string())) };
    // Kept for the fingerprint only, before the keys are taken apart; dropped once hashed.
    let written = table.clone();
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
        None => return Err((named, format!("kind: missing; one of {}", kind_names()))),
        Some(toml::Value::String(kind)) => kind,
        Some(other) => other.to_string(),
    };
    if kind_name != GROUP_KIND && !KIND_NAMES.contains(&kind_name.as_str()) {
        return Err((
            format!("{here} ({kind_name}; items: {})", ids.join(", ")),
            format!("kind: unknown kind `{kind_name}`; one of {}", kind_names()),
        ));
    }
    let decoded = if kind_name == GROUP_KIND {
        decode_value(toml::Value::Table(table)).map(Decoded::Group)
    } else {
        CheckKind::decode(&kind_name, toml::Value::Table(table)).map(Decoded::Check)
    };
    let mut decoded = decoded.map_err(|reason| (format!("{here} ({kind_name}; items: {})", ids.join(", ")), reason))?;
    let described = decoded.describe();
    let location = || location_of_raw(index, &described, &ids);
    let not_applicable = match enabled {
        None | Some(toml::Value::Boolean(true)) => None,
        Some(toml::Value::Boolean(false)) => Some(match enabled_by {
            Some(var) => format!(
                "not applicable: switched off by vars.{var} = false (set it to true, or {}{}=true, to check it)",
                crate::config::vars::ENV_VAR_PREFIX,
                var.to_ascii_uppercase()
            ),
            None => "not applicable: switched off in the config (enabled = false)".to_string(),
        }),
        Some(_) => return Err((location(), "enabled: must be true or false".to_string())),
    };
    if let Decoded::Group(_) = decoded {
        if interval.is_some() || timeout.is_some() {
            return Err((
                location(),
                "a group has no interval or timeout of its own; it is decided whenever one of its members is"
                    .to_string(),
            ));
        }
        if ids.len() != 1 {
            return Err((
                location(),
                "a group check decides exactly one item; give each group its own check".to_string(),
            ));
        }
    }

    let duration_key = |key: &str, value: Option<toml::Value>, default: Duration| match value {
        None => Ok(default),
        Some(toml::Value::String(text)) => {
            optional_duration(Some(&text), default).map_err(|reason| (location(), format!("{key}: {reason}")))
        }
        Some(_) => Err((location(), format!("{key}: must be a duration string like \"30s\""))),
    };
    let interval = duration_key("interval", interval, settings.default_interval)?;
    let timeout = duration_key("timeout", timeout, settings.default_timeout.min(interval))?;
    if timeout > interval {
        return Err((
            location(),
            format!(
                "timeout: {} is longer than the interval {}; a check must finish before it is due again",
                format_duration(timeout),
                format_duration(interval)
            ),
        ));
    }
    if let Decoded::Check(kind) = &mut decoded {
        kind.validate_timeout(timeout).map_err(|err| (location(), format!("{}: {}", err.key, err.message)))?;
        kind.bind_items(&ids).map_err(|reason| (location(), reason))?;
        kind.bind_config_file(source);
    }
    // Said again: binding may have completed the target (an attested check's item id).
    let location = location_of_raw(index, &decoded.describe(), &ids);
    let mut items = Vec::with_capacity(raw_items.len());
    for raw in raw_items {
        items.push(decode_item(raw, &decoded).map_err(|reason| (location.clone(), reason))?);
    }
    Ok(match decoded {
        Decoded::Check(kind) => {
            let definition = DefinitionHash::of(&written, interval, timeout, &format!("{kind:?}"));
            Decider::Check(Arc::new(CheckSpec { kind, interval, timeout, items, not_applicable, definition }))
        }
        Decoded::Group(params) => Decider::Group(Arc::new(GroupSpec {
            members: params.members,
            item: items.remove(0),
            interval,
            timeout,
            not_applicable,
        })),
    })
}

/// The parameters of a `[[checks]]` table, decoded by its kind. Short-lived: one per table
/// while the file loads, so the size difference between its variants costs nothing.
#[allow(clippy::large_enum_variant)]
enum Decoded {
    Check(CheckKind),
    Group(GroupParams),
}

impl Decoded {
    fn describe(&self) -> String {
        match self {
            Decoded::Check(kind) => kind.describe(),
            Decoded::Group(params) => groups::describe(params.members.len()),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Decoded::Check(kind) => kind.name(),
            Decoded::Group(_) => GROUP_KIND,
        }
    }

    fn aspects(&self) -> &'static [&'static str] {
        match self {
            Decoded::Check(kind) => kind.aspects(),
            Decoded::Group(_) => groups::ASPECTS,
        }
    }

    fn validate(&self, aspect: &str) -> Result<(), KeyError> {
        match self {
            Decoded::Check(kind) => kind.validate(aspect),
            Decoded::Group(params) => params.validate(),
        }
    }
}

/// Gives the items of one section one shared string instead of a copy each (about 40 bytes an
/// item). A decider already shared elsewhere (a group, also held by the config's group list)
/// keeps its own copy: there are few of those.
fn share_sections(deciders: &mut [Decider]) {
    let mut known: HashSet<Arc<str>> = HashSet::new();
    for decider in deciders {
        let items = match decider {
            Decider::Check(check) => Arc::get_mut(check).map(|check| &mut check.items[..]),
            Decider::Group(group) => Arc::get_mut(group).map(|group| std::slice::from_mut(&mut group.item)),
        };
        for item in items.into_iter().flatten() {
            match known.get(&item.section) {
                Some(shared) => item.section = Arc::clone(shared),
                None => {
                    known.insert(Arc::clone(&item.section));
                }
            }
        }
    }
}

fn decode_item(raw: RawItem, kind: &Decoded) -> Result<Item, String> {
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
    if raw.line == Some(0) {
        return Err("line: 0 is no line of a document; lines count from 1".to_string());
    }
    Ok(Item { id, section: raw.section.into(), title: raw.title, severity, aspect, environment: None, line: raw.line })
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
        assert_eq!(config.checks.len(), 3, "the store derives groups; the scheduler never runs them");
        let group = &config.groups[0];
        assert_eq!(group.item.id, "infra.resources");
        assert_eq!(group.interval, Duration::from_secs(300));
        assert!(group.not_applicable.is_none());
        assert_eq!(
            config.groups[1].not_applicable.as_deref(),
            Some("not applicable: none of its members applies to this site")
        );
        let kinds: Vec<&str> = config.deciders.iter().map(Decider::kind_name).collect();
        assert_eq!(kinds, ["cpu", "disk", "tcp_port", "group", "group"], "items keep their place in the file");
    }

    #[test]
    fn nested_groups_are_ordered_members_first_and_cycles_are_refused() {
        // The sign-off group comes first in the file, but after its member groups in the order.
        let signoff = "[[checks]]\nkind = \"group\"\nmembers = [\"infra.resources\", \"aws.all\"]\n  [[checks.items]]\n  id = \"signoff\"\n  section = \"Sign-off\"\n  title = \"All technical requirements verified\"\n  severity = \"critical\"\n";
        let nested = SITE.replacen("[[checks]]", &format!("{signoff}[[checks]]"), 1);
        let order: Vec<String> = parse_text(&nested).unwrap().groups.iter().map(|g| g.item.id.clone()).collect();
        assert_eq!(order, ["infra.resources", "aws.all", "signoff"]);
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
    fn a_file_without_items_is_refused_rather_than_passed_as_an_empty_checklist() {
        for text in ["", "\n# cut short\n", "[settings]\ndefault_interval = \"30s\"\n", "[vars]\nroot = \"/srv\"\n"] {
            let err = parse_text(text).unwrap_err().to_string();
            assert!(err.starts_with("test.toml: checks: the file declares no items"), "{text:?}: {err}");
        }
    }

    const ENVIRONMENTS: &str = r#"
[vars]
root = "/srv/dnd"
port = 5432
dir = "${root}/uploads"

[environments.staging.vars]
root = "/srv/staging"

[environments.production.vars]
port = 6432

[[checks]]
kind = "tcp_port"
address = "127.0.0.1:${port}"
expect = "open"
  [[checks.items]]
  id = "db.port"
  section = "Database"
  title = "Port ${port}"
  severity = "critical"
[[checks]]
kind = "disk"
path = "${dir}"
min_free_bytes = 1
  [[checks.items]]
  id = "disk"
  section = "Infrastructure"
  title = "Uploads"
  severity = "critical"
  decides = "minimum"
[[checks]]
kind = "group"
members = ["db.port", "disk"]
  [[checks.items]]
  id = "all"
  section = "Sign-off"
  title = "All"
  severity = "critical"
"#;

    #[test]
    fn each_environment_has_every_item_once_with_its_own_variables() {
        let config = parse_text(ENVIRONMENTS).unwrap();
        assert_eq!(config.environments, ["production", "staging"]);
        let items: Vec<(String, String)> =
            config.items().map(|(_, item)| (item.environment_name().to_string(), item.key())).collect();
        assert_eq!(items.len(), 6);
        assert_eq!(items[0], ("production".to_string(), "production;db.port".to_string()));
        assert_eq!(items[3], ("staging".to_string(), "staging;db.port".to_string()));
        let targets: Vec<String> = config.checks.iter().map(|check| check.kind.target()).collect();
        assert_eq!(targets, ["127.0.0.1:6432", "/srv/dnd/uploads", "127.0.0.1:5432", "/srv/staging/uploads"]);
        assert_eq!(config.checks[0].items[0].title, "Port 6432");
        assert_eq!(config.groups.len(), 2, "one group per environment");
        let section = |check: usize| &config.checks[check].items[0].section;
        assert!(Arc::ptr_eq(section(0), section(2)), "one Database string for both environments");
        assert_eq!((&**section(1), &**section(3)), ("Infrastructure", "Infrastructure"));
        assert!(Arc::ptr_eq(section(1), section(3)));
        assert_ne!(config.checks[0].fingerprint(), config.checks[2].fingerprint());
        let staging = config.clone().restricted_to_environment("staging").unwrap();
        assert_eq!(staging.item_count(), 3);
        assert!(staging.items().all(|(_, item)| item.environment_name() == "staging"));
        assert_eq!(
            config.restricted_to_environment("qa").unwrap_err(),
            "--environment qa: the config declares no such environment; declared: production, staging"
        );
        let plain = parse_text(SITE).unwrap();
        assert!(plain.environments.is_empty() && plain.items().all(|(_, item)| item.environment.is_none()));
        assert_eq!(plain.items().next().map(|(_, item)| item.key()), Some("infra.cpu".to_string()));
    }

    #[test]
    fn a_bad_environment_is_refused_naming_it_and_the_reason() {
        let refused = |text: String| parse_text(&text).unwrap_err().to_string();
        assert_eq!(
            refused(ENVIRONMENTS.replace("port = 6432", "prot = 6432")),
            "test.toml: environments.production.vars.prot: `prot` is not declared in [vars]; declared: dir, port, root"
        );
        assert_eq!(
            refused(ENVIRONMENTS.replace("port = 6432", "port = \"6432\"")),
            "test.toml: environments.production.vars.port: `port` is declared in [vars] as integer, not string"
        );
        assert!(refused(ENVIRONMENTS.replace("[environments.staging.vars]", "[environments.\"\".vars]"))
            .starts_with("test.toml: environments.\"\": an environment name is a label value"));
        assert!(refused(ENVIRONMENTS.replace("[environments.staging.vars]", "[environments.Staging.vars]"))
            .starts_with("test.toml: environments.\"Staging\": an environment name is a label value"));
        let twice = refused(ENVIRONMENTS.replace("[environments.production.vars]", "[environments.staging.vars]"));
        assert!(twice.contains("duplicate key") && twice.contains("line"), "{twice}");
        assert_eq!(
            refused(
                ENVIRONMENTS
                    .replace("[environments.staging.vars]", "[environments.staging]\nvar = 1\n[environments.qa.vars]")
            ),
            "test.toml: environments.staging.var: unknown key; an environment has only `vars`"
        );
        assert!(
            refused(format!("[environments]\n{SITE}")).starts_with("test.toml: environments: declares no environment")
        );
        // A problem inside a check names the environment whose values caused it.
        assert_eq!(
            refused(ENVIRONMENTS.replace("root = \"/srv/staging\"", "root = \"srv/staging\"")),
            "test.toml: environments.staging: checks[1] (disk srv/staging/uploads; items: disk): path: `srv/staging/uploads` is not an absolute path (written \"${dir}\"; vars.dir = \"${root}/uploads\" = \"srv/staging/uploads\", vars.root = \"srv/staging\")"
        );
    }

    const POSTGRES: &str = r#"
[[checks]]
kind = "postgres"
url = "postgres://app:first-secret@127.0.0.1:5432/app?sslmode=disable"
connect_timeout = "1500ms"
  [[checks.items]]
  id = "db.running"
  decides = "running"
  section = "Database"
  title = "PostgreSQL running"
  severity = "critical"
"#;

    #[test]
    fn fingerprints_see_a_rotated_password_of_the_same_length() {
        let before = parse_text(POSTGRES).unwrap();
        let after = parse_text(&POSTGRES.replace("first-secret", "other-secret")).unwrap();
        assert_eq!("first-secret".len(), "other-secret".len());
        assert_ne!(before.checks[0].fingerprint(), after.checks[0].fingerprint());
        assert_eq!(before.checks[0].fingerprint(), parse_text(POSTGRES).unwrap().checks[0].fingerprint(), "stable");
        let debug = format!("{:?}", after.checks[0]);
        assert!(!debug.contains("other-secret"), "{debug}");
    }

    #[test]
    fn fingerprints_see_a_sub_second_change_of_a_duration() {
        let before = parse_text(POSTGRES).unwrap();
        let after = parse_text(&POSTGRES.replace("1500ms", "1900ms")).unwrap();
        assert_ne!(before.checks[0].fingerprint(), after.checks[0].fingerprint());
    }

    #[test]
    fn fingerprints_see_a_changed_default_interval_the_check_inherits() {
        let before = parse_text(POSTGRES).unwrap();
        let after = parse_text(&format!("[settings]\ndefault_interval = \"90s\"\n{POSTGRES}")).unwrap();
        assert_ne!(before.checks[0].fingerprint(), after.checks[0].fingerprint());
    }
}
