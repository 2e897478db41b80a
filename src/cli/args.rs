//! Command-line flags, named as Prometheus and its exporters name theirs.

use std::path::PathBuf;

use clap::{ArgAction, Parser, Subcommand, ValueEnum};

use crate::cli::logging::{LogFormat, LogLevel};

/// The default port. Not used by any exporter we know of (node 9100, blackbox 9115,
/// postgres 9187, nginx 9113, mysqld 9104, redis 9121, process 9256, ...).
pub const DEFAULT_PORT: u16 = 9847;

#[derive(Debug, Parser)]
#[command(
    name = "checklist-exporter",
    disable_version_flag = true,
    about = "Re-evaluates a production deployment checklist on a schedule and exposes every item as a Prometheus gauge."
)]
pub struct Cli {
    /// Print the version, git branch and revision, build user and date, Rust version and
    /// platform, as Prometheus exporters do, and exit.
    #[arg(long, short = 'V', action = ArgAction::SetTrue)]
    pub version: bool,

    /// Checklist config file (TOML).
    #[arg(long = "config.file", value_name = "FILE", default_value = "config/checklist.toml", global = true)]
    pub config_file: PathBuf,

    /// Validate the config file (and the --web.config.file, if given) and exit: 0 when valid, 2 when not.
    #[arg(long = "config.check")]
    pub config_check: bool,

    /// The go-live baseline file (written by `baseline` and `POST /api/v1/baseline`).
    #[arg(long = "baseline.file", value_name = "FILE", default_value = "data/baseline.json", global = true)]
    pub baseline_file: PathBuf,

    /// Where the daemon keeps the last verdicts across restarts (default: `state.json` beside the
    /// baseline file). Written atomically on change and at exit, read at start.
    #[arg(long = "state.file", value_name = "FILE")]
    pub state_file: Option<PathBuf>,

    /// Address to serve metrics, the API and health endpoints on; `:9847` means every interface.
    /// Repeat the flag to listen on several addresses.
    #[arg(long = "web.listen-address", value_name = "ADDRESS", default_value = ":9847", action = ArgAction::Append)]
    pub listen_addresses: Vec<String>,

    /// Serve on the listening sockets systemd passes (socket activation) instead of
    /// --web.listen-address.
    #[arg(long = "web.systemd-socket")]
    pub systemd_socket: bool,

    /// Path under which the metrics are exposed (below --web.route-prefix).
    #[arg(long = "web.telemetry-path", value_name = "PATH", default_value = "/metrics")]
    pub telemetry_path: String,

    /// The URL under which the exporter is reachable from outside (a reverse proxy's, say), used
    /// in `checklist_web_info` for links to the page. Default: http://<first listen address>/.
    #[arg(long = "web.external-url", value_name = "URL")]
    pub external_url: Option<String>,

    /// Prefix of every route (the page, /metrics, the API, /-/...). Defaults to the path of
    /// --web.external-url.
    #[arg(long = "web.route-prefix", value_name = "PATH")]
    pub route_prefix: Option<String>,

    /// Web config file (YAML, the exporter-toolkit format): TLS, client certificates, basic auth,
    /// response headers and a rate limit for every endpoint. Re-read on reload.
    #[arg(long = "web.config.file", value_name = "FILE")]
    pub web_config_file: Option<PathBuf>,

    /// Enable the endpoints that change the daemon's state: `POST|PUT /-/reload` and
    /// `POST /api/v1/baseline`. Off by default, as in Prometheus; they answer 403 then.
    #[arg(long = "web.enable-lifecycle")]
    pub enable_lifecycle: bool,

    /// Enable `POST /api/v1/attestations`, for CI pipelines to attest items. Off by default;
    /// without basic auth in the web config only loopback clients may use it.
    #[arg(long = "web.enable-attestation-api")]
    pub enable_attestation_api: bool,

    /// Only log messages with this level or above.
    #[arg(long = "log.level", value_enum, default_value = "info", global = true)]
    pub log_level: LogLevel,

    /// Log line format.
    #[arg(long = "log.format", value_enum, default_value = "logfmt", global = true)]
    pub log_format: LogFormat,

    /// Which shard of the items this replica evaluates and exports, from 0: an item is on shard
    /// `hashmod(id, --shard.count)`, as Prometheus's hashmod relabelling computes it; a group
    /// goes with its members (docs/kubernetes.md).
    #[arg(long = "shard.index", value_name = "INDEX", default_value_t = 0, global = true)]
    pub shard_index: u64,

    /// How many replicas share the items; 1 evaluates every item.
    #[arg(long = "shard.count", value_name = "COUNT", default_value_t = 1, global = true)]
    pub shard_count: u64,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Evaluate every item once and print the results; exit 0 when every critical item passes,
    /// 1 when any critical item fails or cannot be decided, 2 when the config is invalid.
    Check {
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: OutputFormat,
        /// Show only these items (text format); the summary and the exit code still count all.
        #[arg(long, value_enum, value_name = "ITEMS")]
        only: Option<OnlyItems>,
        /// Evaluate only this environment of a config that declares `[environments.NAME]`
        /// (default: every environment, grouped).
        #[arg(long, value_name = "NAME")]
        environment: Option<String>,
    },
    /// Evaluate every item once and record which pass as the go-live baseline; from then on an
    /// item that passed at the baseline and fails is reported as regressed.
    Baseline {
        /// Replace an existing baseline file, readable or not (it is never replaced silently).
        #[arg(long)]
        force: bool,
        /// Record only this environment's items, keeping the other environments' baseline.
        #[arg(long, value_name = "NAME")]
        environment: Option<String>,
    },
    /// Record that a person confirmed an item decided by an `attested` check: who, now, and an
    /// optional note. The item passes until the attestation is older than the check's validity.
    Attest {
        /// The item's id in the config.
        item_id: String,
        /// Who confirms the item.
        #[arg(long)]
        by: String,
        /// What was done, for whoever reads the item later.
        #[arg(long)]
        note: Option<String>,
        /// The environment signed off, in a config that declares `[environments.NAME]`; needed
        /// when the item's environments keep their attestations in different files.
        #[arg(long, value_name = "NAME")]
        environment: Option<String>,
    },
    /// Make a config from a Markdown checklist: every checkbox line an attested item under its
    /// heading, indented lines grouped under their parent, and a commented-out check for lines a
    /// program can decide. Exit 0 when written, 2 when the checklist cannot be read or the output exists.
    Init {
        /// The Markdown checklist.
        #[arg(long, value_name = "CHECKLIST.md")]
        from: PathBuf,
        /// Write the config here (never over an existing file) instead of to standard output.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// A table for a terminal.
    Text,
    /// The `/api/v1/items` document.
    Json,
    /// JUnit XML, one testcase per item, for CI systems.
    Junit,
    /// The Deployment Certification sheet in Markdown, for a ticket.
    Markdown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OnlyItems {
    /// Failing, undecidable and stale items: what needs a person.
    Attention,
}
