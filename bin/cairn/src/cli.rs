//! Command-line surface: `cairn <noun> <verb>`.
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Cairn: verifiable compute, data lineage and a risk-aware DCA agent on EVM chains.
#[derive(Debug, Parser)]
#[command(name = "cairn", version, about, propagate_version = true)]
pub(crate) struct Cli {
    /// Configuration file (TOML). Default: ./cairn.toml when it exists.
    #[arg(long, global = true, env = "CAIRN_CONFIG", value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Data directory for devnet state, manifests, logs and blobs. Default: ./.cairn
    #[arg(long, global = true, env = "CAIRN_DATA_DIR", value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the local Ethereum devnet (anvil + Uniswap V2 + test tokens).
    #[command(subcommand)]
    Devnet(DevnetCmd),
    /// Inspect or deploy to any EVM chain by RPC URL.
    #[command(subcommand)]
    Chain(ChainCmd),
}

#[derive(Debug, Subcommand)]
pub(crate) enum DevnetCmd {
    /// Start anvil (or reuse the running one), deploy the contracts, seed the pools, write the
    /// deployment manifest.
    Up(DevnetArgs),
    /// Stop the devnet (its state file keeps the contracts for the next `up`).
    Down,
    /// Report chain id, block height and contract addresses of the running devnet.
    Status,
}

#[derive(Debug, Args)]
pub(crate) struct DevnetArgs {
    /// Port for anvil's JSON-RPC (0: any free port).
    #[arg(long, env = "CAIRN_DEVNET_PORT")]
    pub(crate) port: Option<u16>,
    /// Interface to listen on.
    #[arg(long, env = "CAIRN_DEVNET_HOST")]
    pub(crate) host: Option<String>,
    /// Chain id of the devnet.
    #[arg(long, env = "CAIRN_DEVNET_CHAIN_ID")]
    pub(crate) chain_id: Option<u64>,
    /// Seconds between blocks (0: mine a block per transaction).
    #[arg(long, env = "CAIRN_DEVNET_BLOCK_TIME")]
    pub(crate) block_time: Option<u64>,
    /// Path to the anvil binary. Default: node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil.
    #[arg(long, env = "CAIRN_ANVIL")]
    pub(crate) anvil: Option<PathBuf>,
    /// Do not keep chain state across restarts.
    #[arg(long)]
    pub(crate) no_state: bool,
    /// Directory of daily candles whose last close seeds the pools.
    #[arg(long, env = "CAIRN_PRICES_DIR")]
    pub(crate) prices_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ChainCmd {
    /// Check that the RPC answers on the expected chain; show head block and account balance.
    Status(ChainArgs),
    /// Deploy Uniswap V2, the test tokens and seeded pools to the chain (for test networks),
    /// writing the deployment manifest.
    Deploy(ChainArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ChainArgs {
    /// JSON-RPC URL of the chain.
    #[arg(long, env = "CAIRN_RPC_URL")]
    pub(crate) rpc_url: Option<String>,
    /// Chain id the RPC must report.
    #[arg(long, env = "CAIRN_CHAIN_ID")]
    pub(crate) chain_id: Option<u64>,
    /// File holding the hex private key that signs transactions (else $CAIRN_PRIVATE_KEY).
    #[arg(long, env = "CAIRN_KEY_FILE")]
    pub(crate) key_file: Option<PathBuf>,
    /// Seconds to wait for each RPC answer.
    #[arg(long, env = "CAIRN_RPC_TIMEOUT")]
    pub(crate) timeout: Option<u64>,
    /// Directory of daily candles whose last close seeds the pools (deploy only).
    #[arg(long, env = "CAIRN_PRICES_DIR")]
    pub(crate) prices_dir: Option<PathBuf>,
}
