//! Devnet settings, with the defaults `make up` uses.
use std::path::{Path, PathBuf};

/// Interface anvil listens on.
pub const DEFAULT_HOST: &str = "127.0.0.1";
/// Port anvil listens on.
pub const DEFAULT_PORT: u16 = 8545;
/// Chain id of the devnet (anvil's own default). Nothing outside the devnet assumes it.
pub const DEFAULT_CHAIN_ID: u64 = 31337;
/// USDT on each side of every seeded pool (so 2 × this much value sits in each pool).
pub const DEFAULT_POOL_DEPTH_USDT: u64 = 10_000_000;

/// How to run the devnet.
#[derive(Debug, Clone, PartialEq)]
pub struct DevnetConfig {
    /// Cairn's data directory; the devnet keeps its files under `<data_dir>/devnet/`.
    pub data_dir: PathBuf,
    /// Interface to listen on.
    pub host: String,
    /// Port to listen on; 0 lets anvil choose a free one.
    pub port: u16,
    /// Chain id.
    pub chain_id: u64,
    /// Seconds between blocks; `None` mines a block per transaction (automine).
    pub block_time: Option<u64>,
    /// The anvil binary; `None` searches `node_modules` upward from the working directory, then
    /// `PATH`.
    pub anvil: Option<PathBuf>,
    /// Keep chain state in `<data_dir>/devnet/state.json` across restarts.
    pub persist_state: bool,
    /// Directory with `BTCUSDT_1d.csv` and `BNBUSDT_1d.csv` whose last closes seed the pools.
    pub prices_dir: PathBuf,
    /// USDT on each side of each seeded pool.
    pub pool_depth_usdt: u64,
    /// How long to wait for anvil to answer after starting it.
    pub start_timeout: std::time::Duration,
    /// Deploy a new stack when the manifest names contracts this chain does not have (its
    /// state was lost). Off by default: services bound to the old contracts (a compute node's
    /// database, escrowed jobs) would silently diverge, so the user must ask for it.
    pub redeploy: bool,
}

impl Default for DevnetConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from(".cairn"),
            host: DEFAULT_HOST.to_owned(),
            port: DEFAULT_PORT,
            chain_id: DEFAULT_CHAIN_ID,
            block_time: None,
            anvil: None,
            persist_state: true,
            prices_dir: PathBuf::from("data/market"),
            pool_depth_usdt: DEFAULT_POOL_DEPTH_USDT,
            start_timeout: std::time::Duration::from_secs(20),
            redeploy: false,
        }
    }
}

impl DevnetConfig {
    /// With [`DevnetConfig::redeploy`] set.
    pub fn with_redeploy(mut self, redeploy: bool) -> Self {
        self.redeploy = redeploy;
        self
    }

    /// A config for tests: its own data dir, port 0 (anvil picks a free one), no state file.
    pub fn test(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            port: 0,
            persist_state: false,
            ..Self::default()
        }
    }

    /// Use this data directory.
    pub fn with_data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = dir.into();
        self
    }

    /// Use this anvil binary.
    pub fn with_anvil(mut self, path: impl Into<PathBuf>) -> Self {
        self.anvil = Some(path.into());
        self
    }

    /// Use this directory of daily candles for seed prices.
    pub fn with_prices_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.prices_dir = dir.into();
        self
    }

    /// `<data_dir>/devnet`.
    pub fn devnet_dir(&self) -> PathBuf {
        self.data_dir.join("devnet")
    }

    /// The deployment manifest: `<data_dir>/deployment.json`.
    pub fn manifest_path(&self) -> PathBuf {
        self.data_dir.join("deployment.json")
    }

    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.devnet_dir().join(name)
    }

    /// The RPC URL this config would serve on.
    pub fn rpc_url(&self) -> String {
        format!("http://{}:{}", self.host, self.port)
    }
}

/// `node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil`, relative to a package root.
pub(crate) const NPM_ANVIL: &str = "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil";

/// Finds anvil: `node_modules` in `start` or any parent, then `PATH`.
pub(crate) fn find_anvil(start: &Path) -> Option<PathBuf> {
    let from_npm = start
        .ancestors()
        .map(|d| d.join(NPM_ANVIL))
        .find(|p| p.is_file());
    from_npm.or_else(|| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("anvil"))
                .find(|p| p.is_file())
        })
    })
}
