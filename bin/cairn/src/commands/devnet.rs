//! `cairn devnet up|down|status`.
use crate::{cli::DevnetCmd, config::Settings, output};
use alloy::primitives::Address;
use cairn_chain::Deployment;
use cairn_devnet::{RunningDevnet, UpReport};
use serde_json::json;
use std::{fmt::Write, process::ExitCode};

/// Exit code of `devnet status` when no devnet runs.
const NOT_RUNNING: u8 = 3;

pub(super) async fn run(
    cmd: &DevnetCmd,
    settings: &Settings,
    json: bool,
) -> anyhow::Result<ExitCode> {
    match cmd {
        DevnetCmd::Up(args) => {
            let cfg = settings.devnet(Some(args));
            let report = cairn_devnet::up(&cfg).await?;
            if json {
                output::json(&report);
            } else {
                output::print(&up_summary(&report));
            }
        }
        DevnetCmd::Down => {
            let cfg = settings.devnet(None);
            let stopped = cairn_devnet::down(&cfg).await?;
            if json {
                output::json(&json!({ "stopped": stopped }));
            } else {
                output::print(&match stopped {
                    Some(d) => format!("devnet stopped (pid {}, {})\n", d.pid, d.rpc_url),
                    None => "no devnet was running\n".to_owned(),
                });
            }
        }
        DevnetCmd::Status => {
            let cfg = settings.devnet(None);
            let Some(devnet) = cairn_devnet::status(&cfg).await? else {
                if json {
                    output::json(&json!({ "running": false }));
                } else {
                    output::print("devnet is not running; start it with `cairn devnet up`\n");
                }
                return Ok(ExitCode::from(NOT_RUNNING));
            };
            let chain = cairn_devnet::connect(&devnet, None).await?;
            let block = chain.block_number().await?;
            let deployment =
                Deployment::read(&cfg.manifest_path())?.filter(|d| d.chain_id == devnet.chain_id);
            let mut live = Vec::new();
            if let Some(d) = &deployment {
                for (role, &a) in &d.contracts {
                    live.push((role.clone(), a, chain.has_code(a).await?));
                }
            }
            if json {
                output::json(&json!({
                    "running": true,
                    "devnet": devnet,
                    "chain_id": chain.chain_id(),
                    "block_number": block,
                    "manifest": cfg.manifest_path(),
                    "deployment": deployment,
                    "contracts_live": live.iter().all(|(_, _, ok)| *ok) && !live.is_empty(),
                }));
            } else {
                output::print(&status_text(
                    &devnet,
                    chain.chain_id(),
                    block,
                    deployment.as_ref(),
                    &live,
                ));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn up_summary(r: &UpReport) -> String {
    let d = &r.deployment;
    let mut s = String::new();
    let how = if r.reused_process {
        "already running, reused"
    } else {
        "started"
    };
    let _ = writeln!(
        s,
        "devnet    {}  chain {}  block {}  ({how}, pid {})",
        r.devnet.rpc_url, d.chain_id, d.block_number, r.devnet.pid
    );
    let what = if r.reused_contracts {
        "reused"
    } else {
        "deployed"
    };
    let _ = writeln!(
        s,
        "manifest  {} (contracts {what})",
        r.manifest_path.display()
    );
    s.push_str(&deployment_text(d));
    let _ = writeln!(s, "stop it with `cairn devnet down` (or `make down`)");
    s
}

fn deployment_text(d: &Deployment) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "contracts");
    for (role, a) in &d.contracts {
        let _ = writeln!(s, "  {role:<22} {a}");
    }
    for (sym, t) in &d.tokens {
        let _ = writeln!(
            s,
            "  {:<22} {}",
            format!("{sym} ({} dp)", t.decimals),
            t.address
        );
    }
    let _ = writeln!(s, "pools");
    for (name, p) in &d.pools {
        let _ = writeln!(
            s,
            "  {name:<10} {}  seeded at {:.2} {} ({})",
            p.pair, p.seed_price, p.quote, p.price_source
        );
    }
    if !d.feeds.is_empty() {
        let _ = writeln!(s, "feeds (Chainlink MockV3Aggregator)");
        for (asset, f) in &d.feeds {
            let answer = cairn_chain::parse_units(&f.seed_answer, 0)
                .map(|a| cairn_chain::format_units(a, f.decimals))
                .unwrap_or_else(|_| f.seed_answer.clone());
            let _ = writeln!(
                s,
                "  {:<10} {}  for {asset}, answers {answer} (seed)",
                f.description, f.address
            );
        }
    }
    s
}

fn status_text(
    devnet: &RunningDevnet,
    chain_id: u64,
    block: u64,
    deployment: Option<&Deployment>,
    live: &[(String, Address, bool)],
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "devnet    running at {} (pid {})",
        devnet.rpc_url, devnet.pid
    );
    let _ = writeln!(s, "chain id  {chain_id}");
    let _ = writeln!(s, "block     {block}");
    match deployment {
        Some(d) => {
            s.push_str(&deployment_text(d));
            if live.iter().any(|(_, _, ok)| !ok) {
                let _ = writeln!(
                    s,
                    "warning: some contracts have no code; run `cairn devnet up` to redeploy"
                );
            }
        }
        None => {
            let _ = writeln!(
                s,
                "no deployment manifest for this chain; run `cairn devnet up`"
            );
        }
    }
    s
}
