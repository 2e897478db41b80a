//! checklist-exporter re-evaluates a production deployment checklist on a schedule and exposes
//! every item as a Prometheus gauge.
//!
//! The folders are layers; each may use the lower ones (earlier in this list) and none higher
//! (`docs/development.md`, guarded by `tests/layers.rs`):
//! - [`support`]: small pieces with no knowledge of checklists: units, secrets and URLs, env
//!   files, account lookups, the rustls verifier helper, text from targets, TOML decoding.
//! - [`model`]: the verdict model every layer stands on: [`model::Verdict`], [`model::Cause`],
//!   [`model::Outcome`], the [`model::Report`] of one run and the value [`model::Sample`]s.
//! - [`persist`]: what the daemon keeps on disk: the go-live baseline and the attestations.
//! - [`checks`]: one module per check family and the registry over them
//!   ([`checks::CheckKind`]). A check measures, then decides each aspect with a pure function
//!   that returns a verdict and a reason. Only the registry is used from outside `checks/`.
//! - [`config`]: reads the TOML file into [`config::CheckSpec`]s (a check with a schedule and
//!   the items it decides) and [`config::GroupSpec`]s (items derived from other items); the
//!   whole file is validated before anything runs.
//! - [`state`]: the results store, the last verdict of every item; it derives group items.
//! - [`scheduler`]: runs every check on its interval under its timeout with a global
//!   concurrency cap, isolating hangs and panics, and writes results into the store.
//! - [`web`]: reads the store: the exposition, the JSON API, the live checklist page, the
//!   sign-off reports, the HTTP server and its security (TLS, basic auth, connection caps).
//!   Scrapes never run checks.
//! - [`cli`]: the commands: the daemon with its signals and reloads, `check` for CI gates,
//!   `baseline` and `attest`; and logging.

pub mod checks;
pub mod cli;
pub mod config;
pub mod model;
pub mod persist;
pub mod scheduler;
pub mod state;
pub mod support;
pub mod web;
