//! Choosing the chain, key and contract that anchor a log.
use crate::{cli::AnchorArgs, config::Settings};
use alloy::primitives::Address;
use anyhow::{Context, Result, anyhow};
use cairn_anchor::Anchorer;
use cairn_chain::{Chain, Deployment};

/// Explicit `--rpc-url`/`--key-file` (or their config/env) win; otherwise the local devnet,
/// signing with its deployer account. The contract is `--anchor-contract` or the deployment
/// manifest's `provenance_anchor`.
pub(crate) async fn anchorer(
    settings: &Settings,
    args: &AnchorArgs,
    origin: &str,
) -> Result<Anchorer> {
    let (cfg, key) = settings.chain(&args.chain)?;
    let explicit = args.chain.rpc_url.is_some() || key.is_some();
    let chain = if explicit {
        let key = key.ok_or(cairn_chain::Error::NoSigner {
            var: cairn_chain::PRIVATE_KEY_ENV,
        })?;
        Chain::connect(&cfg, Some(key.load()?)).await?
    } else {
        let dcfg = settings.devnet(None);
        let devnet = cairn_devnet::status(&dcfg).await?.ok_or_else(|| {
            anyhow!("no chain to anchor on: start the devnet (`cairn devnet up`) or pass --rpc-url and --key-file")
        })?;
        let dev = cairn_devnet::dev_accounts(&dcfg)?;
        cairn_devnet::connect(&devnet, Some(dev.deployer_key())).await?
    };
    let contract: Address = match args.anchor_contract {
        Some(a) => a,
        None => {
            let candidates = [
                settings.data_dir.join("deployment.json"),
                settings
                    .data_dir
                    .join(format!("deployment-{}.json", chain.chain_id())),
            ];
            let mut found = None;
            for path in &candidates {
                if let Some(d) = Deployment::read(path)?.filter(|d| d.chain_id == chain.chain_id())
                {
                    found = d.contract("provenance_anchor");
                    if found.is_some() {
                        break;
                    }
                }
            }
            found.ok_or_else(|| {
                anyhow!(
                    "no ProvenanceAnchor known for chain {}: pass --anchor-contract <address> or deploy with `cairn devnet up` / `cairn chain deploy`",
                    chain.chain_id()
                )
            })?
        }
    };
    if !chain
        .has_code(contract)
        .await
        .context("checking the anchor contract")?
    {
        return Err(anyhow!(
            "no contract code at {contract} on chain {}: check --anchor-contract",
            chain.chain_id()
        ));
    }
    Ok(Anchorer::new(chain, contract, origin))
}
