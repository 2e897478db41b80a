//! checklist-exporter re-evaluates a production deployment checklist on a schedule and exposes
//! every item as a Prometheus gauge.
//!
//! Layout, following the flow of one evaluation:
//! - [`config`] reads the TOML file into [`config::CheckSpec`]s, each a probe with a schedule
//!   and the checklist items it decides; the whole file is validated before anything runs.
//! - [`checks`] holds one module per check family and the [`checks::CheckKind`] enum over them.
//!   A check measures, then decides each aspect with a pure function that returns a verdict
//!   and a reason.
//! - [`scheduler`] runs every check on its interval under its timeout with a global concurrency
//!   cap, isolating hangs and panics, and writes results into the [`state::Store`].
//! - [`metrics`], [`api`], [`page`], [`report`] and [`server`] read the store: the exposition,
//!   the JSON API, the live checklist page, the sign-off reports and the HTTP endpoints;
//!   [`connections`] caps the connections clients may hold. Scrapes never run checks.
//!   [`webconfig`] (with [`basic_auth`]) secures those endpoints: TLS, client certificates,
//!   basic auth, headers and a rate limit from `--web.config.file`.
//! - [`baseline`] keeps the go-live baseline that regressions are measured against.
//! - [`daemon`] wires the long-running mode with signals and reloads; [`oneshot`] is the
//!   `check` command for CI gates.
//! - [`attest`] keeps the attestations people record for items no program can decide.
//! - [`units`] parses and prints durations, byte sizes and percentages; [`logging`] writes
//!   logfmt or JSON; [`secret`] keeps secrets out of every output; [`dotenv`] reads env files.

pub mod api;
pub mod attest;
pub mod baseline;
pub mod basic_auth;
pub mod checks;
pub mod cli;
pub mod config;
pub mod connections;
pub mod daemon;
pub mod dotenv;
pub mod logging;
pub mod metrics;
pub mod oneshot;
pub mod page;
pub mod report;
pub mod scheduler;
pub mod secret;
pub mod server;
pub mod state;
pub mod units;
pub mod vars;
pub mod webconfig;
