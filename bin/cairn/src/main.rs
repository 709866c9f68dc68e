//! `cairn`: the command line of the Cairn verifiable AI network.
//!
//! Thin by design: argument parsing and configuration layering live here, every capability in
//! the library crates. Exit codes: 0 success, 1 error, 2 bad usage, 3 `devnet status` found no
//! running devnet.

mod cli;
mod commands;
mod config;
mod output;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    output::init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
