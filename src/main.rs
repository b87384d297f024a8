//! The `andi` binary: parse the command line, start telemetry, run the command.

use std::process::ExitCode;

use andi::cli::{Cli, Command, run};
use andi::telemetry;
use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_filter = if matches!(cli.command, Command::Serve(_)) {
        "info"
    } else {
        "warn"
    };
    let _telemetry = match telemetry::init(default_filter) {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("error: cannot start telemetry: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    match run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
