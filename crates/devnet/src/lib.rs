//! A local Ethereum devnet for Cairn.
//!
//! ```text
//!  DevnetConfig ──▶ anvil::spawn ──▶ anvil process (detached, --state under the data dir)
//!                        │                 ▲ pid + rpc in devnet/state.json
//!                        ▼                 │
//!                 stack::ensure ──▶ WETH9, UniswapV2Factory, Router02, USDT/WBTC/WBNB,
//!                        │           pools seeded at the last daily close,
//!                        │           Chainlink MockV3Aggregator feeds (BTC/USD, BNB/USD),
//!                        │           ProvenanceAnchor, ComputeMarket (USDT escrow)
//!                        ▼
//!                 deployment.json (chain id, RPC URL, addresses, block number)
//! ```
//!
//! [`up`] is idempotent: a running devnet is reused, and contracts already deployed (checked by
//! their code on chain, not just the manifest) are not deployed again. [`down`] stops the anvil
//! process, which writes its state file so the next `up` comes back with the same contracts.
//!
//! Keys: the devnet signs with anvil's own development accounts, read from the file anvil writes
//! with `--config-out`; none is compiled into Cairn.

mod anvil;
mod config;
mod error;
mod prices;
mod stack;

pub use anvil::{DevAccounts, RunningDevnet, dev_accounts};
pub use config::{
    DEFAULT_CHAIN_ID, DEFAULT_HOST, DEFAULT_POOL_DEPTH_USDT, DEFAULT_PORT, DevnetConfig,
};
pub use error::{Error, Result};
pub use prices::{SeedPrice, last_close};
pub use stack::{
    COMPUTE_CHALLENGE_WINDOW_SECS, COMPUTE_FEE_BPS, COMPUTE_MIN_STAKE_USDT,
    COMPUTE_OPERATOR_ACCOUNT, COMPUTE_UNBONDING_DELAY_SECS, FEED_DECIMALS, PAIRS, TOKENS,
    deploy_stack, ensure_stack, pair_address,
};

use cairn_chain::{Chain, ChainConfig, Deployment, KeySource};
use serde::Serialize;

/// What `cairn devnet up` did.
#[derive(Debug, Clone, Serialize)]
pub struct UpReport {
    /// The devnet process.
    pub devnet: RunningDevnet,
    /// Whether an already running devnet was reused.
    pub reused_process: bool,
    /// Whether the contracts were already deployed.
    pub reused_contracts: bool,
    /// The deployment.
    pub deployment: Deployment,
    /// Where the manifest was written.
    pub manifest_path: std::path::PathBuf,
}

/// Starts (or reuses) the devnet and makes sure the whole stack is deployed.
pub async fn up(config: &DevnetConfig) -> Result<UpReport> {
    let (devnet, reused_process) = match anvil::running(config).await? {
        Some(d) if d.chain_id != config.chain_id => {
            return Err(Error::AlreadyRunning {
                url: d.rpc_url,
                running: d.chain_id,
                requested: config.chain_id,
            });
        }
        Some(d) => (d, true),
        None => (anvil::spawn(config).await?, false),
    };
    let accounts = anvil::dev_accounts(config)?;
    let chain = connect(&devnet, Some(accounts.deployer_key())).await?;
    let manifest_path = config.manifest_path();
    let (deployment, reused_contracts) = ensure_stack(&chain, config, &manifest_path).await?;
    Ok(UpReport {
        devnet,
        reused_process,
        reused_contracts,
        deployment,
        manifest_path,
    })
}

/// Stops the devnet. Returns the stopped process, or `None` when none was running.
pub async fn down(config: &DevnetConfig) -> Result<Option<RunningDevnet>> {
    anvil::stop(config).await
}

/// The running devnet, if any, checked by asking it for its chain id.
pub async fn status(config: &DevnetConfig) -> Result<Option<RunningDevnet>> {
    anvil::running(config).await
}

/// Connects to a running devnet, optionally signing with one of its dev accounts.
pub async fn connect(devnet: &RunningDevnet, key: Option<KeySource>) -> Result<Chain> {
    let signer = key.map(|k| k.load()).transpose()?;
    let cfg = ChainConfig::new(devnet.rpc_url.clone()).with_chain_id(devnet.chain_id);
    Ok(Chain::connect(&cfg, signer).await?)
}
