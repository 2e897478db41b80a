use std::process::ExitCode;

use clap::Parser;

use checklist_exporter::cli::{self, args::Cli, logging};

fn main() -> ExitCode {
    checklist_exporter::support::memory::tune_allocator();
    let args = Cli::parse();
    logging::init(args.log_level, args.log_format);
    std::panic::set_hook(Box::new(|info| tracing::error!(panic = %info, "a task panicked")));
    cli::run(args)
}
