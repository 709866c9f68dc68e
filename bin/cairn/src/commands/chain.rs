//! `cairn chain status|deploy` against any EVM JSON-RPC endpoint; `cairn chain profiles`.
use crate::{cli::ChainCmd, config::Settings, output};
use anyhow::Context;
use cairn_chain::Chain;
use std::process::ExitCode;

pub(super) async fn run(
    cmd: &ChainCmd,
    settings: &Settings,
    json: bool,
) -> anyhow::Result<ExitCode> {
    match cmd {
        ChainCmd::Profiles { name } => {
            let all = match name {
                Some(n) => vec![(n.clone(), settings.chain_profile(n)?)],
                None => settings.chain_profiles(),
            };
            if json {
                output::json(&serde_json::json!({
                    "profiles": all.iter().map(|(n, p)| serde_json::json!({ "id": n, "profile": p })).collect::<Vec<_>>()
                }));
            } else {
                let mut s = String::new();
                for (n, p) in &all {
                    s.push_str(&format!(
                        "{n}: {} (chain id {}, block time {} ms)\n  stable  {} {} ({} decimals)\n",
                        p.name,
                        p.chain_id,
                        p.block_time_ms,
                        p.stable.symbol,
                        p.stable.address,
                        p.stable.decimals
                    ));
                    for a in &p.assets {
                        s.push_str(&format!(
                            "  asset   {:<5} {}  feed {} (heartbeat {} s)\n",
                            a.symbol, a.token, a.feed, a.heartbeat_secs
                        ));
                    }
                    for r in &p.routers {
                        s.push_str(&format!(
                            "  router  {:<10} {}  factory {}  fee {} bps\n",
                            r.name, r.router, r.factory, r.fee_bps
                        ));
                    }
                }
                output::print(&s);
            }
        }
        ChainCmd::Status(args) => {
            let (cfg, key) = settings.chain(args)?;
            let signer = key.map(|k| k.load()).transpose()?;
            let chain = Chain::connect(&cfg, signer).await?;
            let info = chain.info().await?;
            if json {
                output::json(&info);
            } else {
                let mut s = format!(
                    "rpc       {}\nchain id  {}\nblock     {}\ngenesis   {}\n",
                    info.rpc_url, info.chain_id, info.block_number, info.genesis_hash
                );
                if let (Some(a), Some(b)) = (info.account, info.balance_wei) {
                    s.push_str(&format!("account   {a}\nbalance   {b} wei\n"));
                }
                output::print(&s);
            }
        }
        ChainCmd::Deploy(args) => {
            let (cfg, key) = settings.chain(args)?;
            let key = key.ok_or(cairn_chain::Error::NoSigner {
                var: cairn_chain::PRIVATE_KEY_ENV,
            })?;
            let chain = Chain::connect(&cfg, Some(key.load()?)).await?;
            let prices = settings.prices_dir(args);
            let depth = cairn_devnet::DEFAULT_POOL_DEPTH_USDT;
            // Outside the devnet the deployer operates the ComputeMarket (hand the role to the
            // node's key with setOperator).
            let operator = chain.require_signer()?;
            let deployment = cairn_devnet::deploy_stack(&chain, &prices, depth, operator).await?;
            let path = settings
                .data_dir
                .join(format!("deployment-{}.json", chain.chain_id()));
            deployment
                .write(&path)
                .with_context(|| "writing the deployment manifest")?;
            if json {
                output::json(&deployment);
            } else {
                output::print(&format!(
                    "deployed to chain {} at block {}; manifest {}\n",
                    deployment.chain_id,
                    deployment.block_number,
                    path.display()
                ));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
