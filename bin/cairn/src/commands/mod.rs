//! One module per noun; each turns settings into library calls and prints the result.
mod chain;
mod devnet;

use crate::{
    cli::{Cli, Command},
    config::Settings,
};
use std::process::ExitCode;

/// Runs the parsed command.
pub(crate) async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(&cli)?;
    match &cli.command {
        Command::Devnet(cmd) => devnet::run(cmd, &settings, cli.json).await,
        Command::Chain(cmd) => chain::run(cmd, &settings, cli.json).await,
    }
}
