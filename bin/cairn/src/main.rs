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
            eprintln!("error: {e:#}{}", hint(&e));
            ExitCode::FAILURE
        }
    }
}

/// What to do about an error the libraries report in their own terms: which flag changes the
/// setting that was wrong, which command starts the missing server.
fn hint(e: &anyhow::Error) -> &'static str {
    use cairn_chain::Error as C;
    use cairn_devnet::Error as D;
    let chain = |c: &C| match c {
        C::Unreachable { .. } => Some(" (--rpc-url)"),
        C::WrongChainId { .. } => Some(" (--rpc-url, --chain-id)"),
        C::KeyFile { .. } | C::KeyEnvMissing { .. } | C::NoSigner { .. } => {
            Some(" (pass --key-file <file>)")
        }
        _ => None,
    };
    for cause in e.chain() {
        let found = if let Some(c) = cause.downcast_ref::<C>() {
            chain(c)
        } else if let Some(cairn_escrow::Error::Chain(c)) = cause.downcast_ref() {
            chain(c)
        } else if let Some(cairn_vault::Error::Chain(c)) = cause.downcast_ref() {
            chain(c)
        } else if let Some(d) = cause.downcast_ref::<D>() {
            match d {
                D::Chain(c) => chain(c),
                D::AnvilMissing { .. } | D::AnvilSpawn { .. } => Some(" (--anvil <path>)"),
                D::PortBusy { .. } => Some(" (--port)"),
                D::StaleManifest { .. } | D::ContractsChanged { .. } => {
                    Some(" (`cairn devnet up --redeploy`; the node's --dir)")
                }
                D::Prices { .. } => Some(" (--prices-dir)"),
                _ => None,
            }
        } else if let Some(cairn_backtest::Error::MissingAsset { .. }) = cause.downcast_ref() {
            Some(" (--data)")
        } else if let Some(cairn_node_client::ClientError::Unreachable { .. }) =
            cause.downcast_ref()
        {
            Some(" (start it with `cairn node serve`, or pass --node <url>)")
        } else if let Some(cairn_log_client::ClientError::Unreachable { .. }) = cause.downcast_ref()
        {
            Some(" (start it with `cairn log serve`, or pass --log <url>)")
        } else {
            None
        };
        if let Some(h) = found {
            return h;
        }
    }
    ""
}
