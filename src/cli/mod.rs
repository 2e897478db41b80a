//! The commands: [`daemon`] (the long-running exporter with its signals and reloads),
//! [`check`] (evaluate once for a CI gate), [`baseline`] (record the go-live baseline),
//! [`attest`] (record a person's confirmation) and [`init`] (a config from a Markdown checklist); their flags in [`args`] and the log formats in
//! [`logging`]. This is the top layer: it may use every other one.

pub mod args;
pub mod attest;
pub mod baseline;
pub mod check;
pub mod daemon;
pub mod init;
pub mod logging;

use std::process::ExitCode;

use args::{Cli, Command};
use daemon::DaemonOptions;

use crate::config;
use crate::web::webconfig;

/// Exit codes shared by the commands (README, "Exit codes").
pub const EXIT_READY: i32 = 0;
pub const EXIT_NOT_READY: i32 = 1;
pub const EXIT_BAD_CONFIG: i32 = 2;

/// What `--version` prints, in the form of the Prometheus exporters' `--version`.
pub fn version_text() -> String {
    use crate::web::metrics::{BRANCH, BUILD_DATE, BUILD_USER, PLATFORM, REVISION, RUST_VERSION, VERSION};
    format!(
        "checklist-exporter, version {VERSION} (branch: {BRANCH}, revision: {REVISION})\n  build user:       {BUILD_USER}\n  build date:       {BUILD_DATE}\n  rust version:     {RUST_VERSION}\n  platform:         {PLATFORM}\n"
    )
}

/// Runs the command the flags name; returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    if cli.version {
        print!("{}", version_text());
        return ExitCode::SUCCESS;
    }
    let shard = match config::Shard::new(cli.shard_index, cli.shard_count) {
        Ok(shard) => shard,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(EXIT_BAD_CONFIG as u8);
        }
    };
    if cli.config_check {
        let valid = match config::load(&cli.config_file) {
            Ok(config) => {
                // The warnings themselves were logged by the load.
                let warnings = match config.warnings.len() {
                    0 => String::new(),
                    1 => ", 1 warning".to_string(),
                    n => format!(", {n} warnings"),
                };
                println!(
                    "{}: valid ({} checks, {} items{warnings})",
                    cli.config_file.display(),
                    config.deciders.len(),
                    config.item_count()
                );
                true
            }
            Err(err) => {
                eprintln!("{err}");
                false
            }
        };
        let web_valid = match &cli.web_config_file {
            None => true,
            Some(path) => match webconfig::load(path) {
                Ok(settings) => {
                    for warning in &settings.config.warnings {
                        eprintln!("{}: warning: {warning}", path.display());
                    }
                    println!("{}: valid ({})", path.display(), settings.config.summary());
                    true
                }
                Err(err) => {
                    eprintln!("{err}");
                    false
                }
            },
        };
        return if valid && web_valid { ExitCode::SUCCESS } else { ExitCode::from(EXIT_BAD_CONFIG as u8) };
    }

    if let Some(Command::Init { from, output }) = &cli.command {
        return ExitCode::from(init::command(from, output.as_deref()) as u8);
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Some(Command::Check { format, only, environment }) => {
            let scope = check::Scope { shard, environment };
            let code =
                runtime.block_on(check::run(&cli.config_file, &scope, format, only, &mut std::io::stdout().lock()));
            ExitCode::from(code as u8)
        }
        Some(Command::Baseline { force, environment }) => {
            let scope = check::Scope { shard, environment };
            let code = runtime.block_on(baseline::record_baseline(&cli.config_file, &scope, &cli.baseline_file, force));
            ExitCode::from(code as u8)
        }
        Some(Command::Attest { item_id, by, note, environment }) => {
            ExitCode::from(attest::command(&cli.config_file, &item_id, environment.as_deref(), &by, note) as u8)
        }
        Some(Command::Init { .. }) => unreachable!("init returned above, without a runtime"),
        None => {
            let options = DaemonOptions {
                config_file: cli.config_file,
                listen_addresses: cli.listen_addresses,
                systemd_socket: cli.systemd_socket,
                telemetry_path: cli.telemetry_path,
                external_url: cli.external_url,
                route_prefix: cli.route_prefix,
                state_file: cli.state_file.unwrap_or_else(|| cli.baseline_file.with_file_name("state.json")),
                baseline_file: cli.baseline_file,
                web_config_file: cli.web_config_file,
                lifecycle_enabled: cli.enable_lifecycle,
                shard,
                attestation_api_enabled: cli.enable_attestation_api,
            };
            match runtime.block_on(daemon::run(options)) {
                Ok(()) => ExitCode::SUCCESS,
                // A config that cannot be loaded exits as `check` and `--config.check` do.
                Err(err @ daemon::DaemonError::Config(_)) => {
                    tracing::error!(error = %err, "exiting");
                    ExitCode::from(EXIT_BAD_CONFIG as u8)
                }
                Err(err) => {
                    tracing::error!(error = %err, "exiting");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
