//! The deployment manifest: one JSON file naming every deployed contract on one chain.
use crate::{Error, Result};
use alloy::primitives::{Address, B256};
use serde::{Deserialize, Serialize};
use std::{collections::BTreeMap, path::Path};

/// An ERC-20 token in the deployment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// Token contract.
    pub address: Address,
    /// Ticker, e.g. `USDT`.
    pub symbol: String,
    /// Decimal places of one unit.
    pub decimals: u8,
}

/// A seeded Uniswap V2 pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolInfo {
    /// The pair contract.
    pub pair: Address,
    /// Base asset symbol (what is bought, e.g. `WBTC`).
    pub base: String,
    /// Quote asset symbol (what pays, `USDT`).
    pub quote: String,
    /// Seed price in quote units per base unit.
    pub seed_price: f64,
    /// Where the seed price came from (file and candle date).
    pub price_source: String,
}

/// A price feed with Chainlink's `AggregatorV3Interface` (on the devnet Chainlink's own
/// `MockV3Aggregator`, answering the seed price).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedInfo {
    /// The aggregator contract.
    pub address: Address,
    /// What it prices, e.g. `BTC/USD`.
    pub description: String,
    /// Decimals of its answer.
    pub decimals: u8,
    /// The answer it was deployed with (`decimals` places), as a decimal integer string.
    pub seed_answer: String,
}

/// Everything a client needs to find Cairn's contracts on a chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// RPC URL the deployment was made through.
    pub rpc_url: String,
    /// Hash of block 0: tells a restarted devnet with the same chain id apart.
    pub genesis_hash: B256,
    /// Block number of the last deployment transaction.
    pub block_number: u64,
    /// The account that deployed and owns the test tokens.
    pub deployer: Address,
    /// Contract addresses by role (`weth9`, `uniswap_v2_factory`, `uniswap_v2_router02`, ...).
    pub contracts: BTreeMap<String, Address>,
    /// Tokens by symbol.
    pub tokens: BTreeMap<String, TokenInfo>,
    /// Pools by name (`WBTC/USDT`).
    pub pools: BTreeMap<String, PoolInfo>,
    /// Init-code hash of the pair bytecode the factory deploys (equal to Router02's).
    pub pair_init_code_hash: B256,
    /// Version of Cairn's own contracts deployed (a hash of their creation code); absent in
    /// manifests written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contracts_version: Option<B256>,
    /// Price feeds by the symbol of the token they price (`WBTC` → BTC/USD); empty in manifests
    /// written before feeds were deployed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub feeds: BTreeMap<String, FeedInfo>,
    /// The second venue's pools (PancakeSwap core, its router in `contracts.pancake_router`),
    /// by name as `pools`; empty in manifests written before it was deployed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pancake_pools: BTreeMap<String, PoolInfo>,
}

impl Deployment {
    /// Address of a contract by role, or a clear error.
    pub fn contract(&self, role: &str) -> Option<Address> {
        self.contracts.get(role).copied()
    }

    /// Reads a manifest file. `Ok(None)` when it does not exist.
    pub fn read(path: &Path) -> Result<Option<Self>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Error::Manifest {
                    path: path.into(),
                    reason: e.to_string(),
                });
            }
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Error::Manifest {
                path: path.into(),
                reason: format!(
                    "not a valid manifest ({e}); delete it and run `cairn devnet up` again"
                ),
            })
    }

    /// Writes the manifest atomically (temp file + rename), creating parent directories.
    pub fn write(&self, path: &Path) -> Result<()> {
        let fail = |e: std::io::Error| Error::Manifest {
            path: path.into(),
            reason: e.to_string(),
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let tmp = path.with_extension("json.tmp");
        let body = serde_json::to_string_pretty(self).expect("manifest serializes");
        std::fs::write(&tmp, body + "\n").map_err(fail)?;
        std::fs::rename(&tmp, path).map_err(fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trips_and_missing_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/deployment.json");
        assert!(Deployment::read(&path).unwrap().is_none());
        let d = Deployment {
            chain_id: 5,
            rpc_url: "http://x".into(),
            genesis_hash: B256::repeat_byte(1),
            block_number: 9,
            deployer: Address::repeat_byte(2),
            contracts: [("weth9".to_owned(), Address::repeat_byte(3))].into(),
            tokens: BTreeMap::new(),
            pools: BTreeMap::new(),
            pair_init_code_hash: B256::ZERO,
            contracts_version: Some(B256::repeat_byte(4)),
            feeds: [(
                "WBTC".to_owned(),
                FeedInfo {
                    address: Address::repeat_byte(5),
                    description: "BTC/USD".into(),
                    decimals: 8,
                    seed_answer: "9000000000000".into(),
                },
            )]
            .into(),
            pancake_pools: BTreeMap::new(),
        };
        d.write(&path).unwrap();
        assert_eq!(Deployment::read(&path).unwrap(), Some(d));
        std::fs::write(&path, "{").unwrap();
        assert!(
            Deployment::read(&path)
                .unwrap_err()
                .to_string()
                .contains("not a valid manifest")
        );
    }
}
