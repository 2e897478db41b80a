//! Logs as Prometheus exporters write them, one schema in both formats: `ts` (RFC 3339, UTC,
//! milliseconds), `level` (lowercase), `msg`, `caller` (`file:line`), then the event's fields.
//! logfmt (`ts=… level=info msg="…" caller=cli/daemon.rs:80 key=value`) by default, JSON lines
//! with `--log.format=json`, to standard error.

use std::fmt::{self, Write as _};

use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Logfmt,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

impl LogLevel {
    fn directive(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        }
    }
}

/// Installs the global subscriber. Our own crate logs at `level`; dependencies only warnings.
pub fn init(level: LogLevel, format: LogFormat) {
    let filter = EnvFilter::new(format!("warn,checklist_exporter={}", level.directive()));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    // A second init (tests) keeps the first subscriber; that is fine.
    let _ = builder.event_format(Line { format }).try_init();
}

/// Formats one event as a line in `format`.
pub struct Line {
    pub format: LogFormat,
}

/// `file:line` of the code that logged: our own files below `src/`, a dependency's by its last
/// two path parts.
fn caller(file: Option<&str>, line: Option<u32>) -> Option<String> {
    let file = file?;
    let short = match file.strip_prefix("src/") {
        Some(own) => own,
        None => {
            let mut parts = file.rsplitn(3, '/');
            let (name, folder) = (parts.next().unwrap_or(file), parts.next());
            let start = file.len() - name.len() - folder.map_or(0, |f| f.len() + 1);
            &file[start..]
        }
    };
    Some(match line {
        Some(line) => format!("{short}:{line}"),
        None => short.to_string(),
    })
}

impl<S, N> FormatEvent<S, N> for Line
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let meta = event.metadata();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let head = [
            ("ts", Value::from(humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string())),
            ("level", Value::from(meta.level().as_str().to_ascii_lowercase())),
            ("msg", Value::from(fields.message.unwrap_or_default())),
        ];
        let caller = caller(meta.file(), meta.line()).map(|c| ("caller", Value::from(c)));
        let all = head.into_iter().chain(caller).chain(fields.rest.iter().map(|(k, v)| (*k, v.clone())));
        match self.format {
            LogFormat::Json => {
                // Written pair by pair: a JSON map would sort the keys, and `ts`, `level`, `msg`
                // come first in both formats.
                let mut separator = "{";
                for (key, value) in all {
                    write!(writer, "{separator}{}:{value}", Value::from(key))?;
                    separator = ",";
                }
                writeln!(writer, "}}")
            }
            LogFormat::Logfmt => {
                let mut separator = "";
                for (key, value) in all {
                    let text = match value {
                        Value::String(text) => text,
                        other => other.to_string(),
                    };
                    write!(writer, "{separator}{key}={}", quote(&text))?;
                    separator = " ";
                }
                writeln!(writer)
            }
        }
    }
}

/// The event's message and its other fields in order; numbers and booleans stay typed for JSON.
#[derive(Default)]
struct Fields {
    message: Option<String>,
    rest: Vec<(&'static str, Value)>,
}

impl Fields {
    fn add(&mut self, field: &Field, value: Value) {
        match (field.name(), value) {
            ("message", Value::String(text)) => self.message = Some(text),
            (name, value) => self.rest.push((name, value)),
        }
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.add(field, Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.add(field, Value::from(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.add(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.add(field, Value::from(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.add(field, Value::from(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.add(field, Value::from(format!("{value:?}")));
    }
}

/// Quotes a logfmt value when it holds spaces, quotes, `=` or control characters.
pub fn quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value.chars().all(|c| !c.is_whitespace() && !c.is_control() && c != '"' && c != '=' && c != '\\');
    if plain {
        return value.to_string();
    }
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(quoted, "\\u{{{:04x}}}", c as u32);
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::{caller, quote};

    #[test]
    fn the_caller_is_a_short_file_and_line() {
        assert_eq!(caller(Some("src/cli/daemon.rs"), Some(80)).as_deref(), Some("cli/daemon.rs:80"));
        let dependency = "/root/.cargo/registry/src/index/hyper-1.6.0/src/proto/h1/dispatch.rs";
        assert_eq!(caller(Some(dependency), Some(7)).as_deref(), Some("h1/dispatch.rs:7"));
        assert_eq!(caller(Some("main.rs"), None).as_deref(), Some("main.rs"));
        assert_eq!(caller(None, Some(1)), None);
    }

    #[test]
    fn logfmt_values_are_quoted_only_when_needed() {
        assert_eq!(quote("127.0.0.1:9847"), "127.0.0.1:9847");
        assert_eq!(quote("two words"), "\"two words\"");
        assert_eq!(quote("a=b"), "\"a=b\"");
        assert_eq!(quote("say \"hi\"\n"), "\"say \\\"hi\\\"\\n\"");
        assert_eq!(quote(""), "\"\"");
    }
}
