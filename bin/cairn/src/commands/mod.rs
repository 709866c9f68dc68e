//! One module per noun; each turns settings into library calls and prints the result.
mod agent;
mod agent_run;
mod anchor;
mod attest;
mod bench;
mod bench_agent;
mod bench_compute;
mod bench_log;
mod bench_vault;
mod bench_verify;
mod chain;
mod data;
mod devnet;
mod job;
mod job_dispute;
mod job_verify;
mod keys;
mod log;
mod node;
mod referee;
mod trust;
mod up;
mod vault;
mod verify;
mod worker;

use crate::{
    cli::{Cli, Command},
    config::Settings,
};
use std::process::ExitCode;

/// Runs the parsed command.
pub(crate) async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(&cli)?;
    match &cli.command {
        Command::Up(args) => up::run(args, &settings, cli.json).await,
        Command::Devnet(cmd) => devnet::run(cmd, &settings, cli.json).await,
        Command::Chain(cmd) => chain::run(cmd, &settings, cli.json).await,
        Command::Log(cmd) => log::run(cmd, &settings, cli.json).await,
        Command::Witness(cmd) => log::witness(cmd, &settings, cli.json).await,
        Command::Key(cmd) => attest::run(cmd, &settings, cli.json),
        Command::Attest(cmd) => attest::attest(cmd, &settings, cli.json).await,
        Command::Data(cmd) => data::run(cmd, &settings, cli.json),
        Command::Verify(args) => verify::run(args, &settings, cli.json).await,
        Command::Lineage(args) => verify::lineage(args, cli.json).await,
        Command::Agent(crate::cli::AgentCmd::Vault(cmd)) => {
            vault::run(cmd, &settings, cli.json).await
        }
        Command::Agent(crate::cli::AgentCmd::Run(a)) => {
            agent_run::run(a, &settings, cli.json).await
        }
        Command::Agent(crate::cli::AgentCmd::Mcp(a)) => {
            agent_run::mcp(a, &settings, cli.json).await
        }
        Command::Agent(crate::cli::AgentCmd::Resume(a)) => {
            agent_run::resume(a, &settings, cli.json)
        }
        Command::Agent(crate::cli::AgentCmd::Status(a)) => {
            agent_run::status(a, &settings, cli.json)
        }
        Command::Market(crate::cli::MarketCmd::Replay(a)) => {
            agent_run::replay(a, &settings, cli.json).await
        }
        Command::Agent(cmd) => agent::run(cmd, &settings, cli.json),
        Command::Bench(crate::cli::BenchCmd::Compute(a)) => {
            node::bench(a, &settings, cli.json).await
        }
        Command::Bench(crate::cli::BenchCmd::Agent(a)) => {
            bench_agent::run(a, &settings, cli.json).await
        }
        Command::Bench(crate::cli::BenchCmd::Vault(a)) => {
            bench_vault::run(a, &settings, cli.json).await
        }
        Command::Bench(cmd) => bench::run(cmd, &settings, cli.json),
        Command::Node(cmd) => node::run(cmd, &settings, cli.json).await,
        Command::Worker(args) => worker::run(args, &settings, cli.json).await,
        Command::Job(cmd) => job::run(cmd, &settings, cli.json).await,
        Command::Provider(cmd) => job::providers(cmd, cli.json).await,
        Command::Referee(cmd) => referee::run(cmd, &settings, cli.json).await,
    }
}
