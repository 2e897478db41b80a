use std::process::ExitCode;

use clap::Parser;

use checklist_exporter::cli::{Cli, Command};
use checklist_exporter::daemon::{self, DaemonOptions};
use checklist_exporter::{attest, config, logging, oneshot, webconfig};

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log_level, cli.log_format);
    std::panic::set_hook(Box::new(|info| tracing::error!(panic = %info, "a task panicked")));

    if cli.config_check {
        let valid = match config::load(&cli.config_file) {
            Ok(config) => {
                println!(
                    "{}: valid ({} checks, {} items)",
                    cli.config_file.display(),
                    config.checks.len(),
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
        return if valid && web_valid { ExitCode::SUCCESS } else { ExitCode::from(oneshot::EXIT_BAD_CONFIG as u8) };
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Some(Command::Check { format }) => {
            let code = runtime.block_on(oneshot::run(&cli.config_file, format, &mut std::io::stdout().lock()));
            ExitCode::from(code as u8)
        }
        Some(Command::Baseline { force }) => {
            let code = runtime.block_on(oneshot::record_baseline(&cli.config_file, &cli.baseline_file, force));
            ExitCode::from(code as u8)
        }
        Some(Command::Attest { item_id, by, note }) => {
            ExitCode::from(attest::command(&cli.config_file, &item_id, &by, note) as u8)
        }
        None => {
            let options = DaemonOptions {
                config_file: cli.config_file,
                listen_address: cli.listen_address,
                baseline_file: cli.baseline_file,
                web_config_file: cli.web_config_file,
                lifecycle_enabled: cli.enable_lifecycle,
            };
            match runtime.block_on(daemon::run(options)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(err) => {
                    tracing::error!(error = %anyhow::Error::from(err), "exiting");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
