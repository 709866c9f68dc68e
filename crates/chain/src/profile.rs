//! Chain profiles: what a real chain's agent needs to know (chain id, block time, the
//! stablecoin, the assets with their Chainlink feeds, the V2-style routers), selectable by name.
//!
//! Built in: `bnb` (BNB Smart Chain) and `base` (Base, an Ethereum L2), from
//! `crates/chain/profiles/*.toml`; `cairn.toml` may add or replace profiles under
//! `[chains.<name>]` with the same keys. Every profile is validated before use: EIP-55
//! checksummed addresses (a mistyped hex digit fails the checksum), no address used twice,
//! plausible decimals, block time and heartbeats. Nothing here touches the network.
use alloy::primitives::{Address, B256};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A token the profile names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileToken {
    /// Its symbol.
    pub symbol: String,
    /// Its contract (EIP-55 checksummed).
    pub address: String,
    /// Its decimals.
    pub decimals: u8,
}

/// An asset the agent may buy, and its price feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileAsset {
    /// The plan's symbol (`BTC`).
    pub symbol: String,
    /// The token bought (EIP-55 checksummed).
    pub token: String,
    /// Its decimals.
    pub decimals: u8,
    /// Its Chainlink feed against USD (EIP-55 checksummed).
    pub feed: String,
    /// The oldest feed answer the vault accepts, in seconds.
    pub heartbeat_secs: u32,
}

/// A Uniswap V2-style router and its pairs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileRouter {
    /// Its name (`pancake`, `uniswap-v2`).
    pub name: String,
    /// The router (EIP-55 checksummed).
    pub router: String,
    /// Its factory (EIP-55 checksummed).
    pub factory: String,
    /// Its pairs' init-code hash.
    pub init_code_hash: B256,
    /// Its pairs' fee in basis points.
    pub fee_bps: u32,
}

/// One chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainProfile {
    /// Human name.
    pub name: String,
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// Average block time in milliseconds.
    pub block_time_ms: u64,
    /// The stablecoin the vault holds.
    pub stable: ProfileToken,
    /// Assets the agent may buy.
    pub assets: Vec<ProfileAsset>,
    /// Routers the vault may allow-list.
    pub routers: Vec<ProfileRouter>,
}

/// The built-in profiles' names, in order.
pub const BUILTIN_PROFILES: [&str; 2] = ["bnb", "base"];

fn builtin_text(name: &str) -> Option<&'static str> {
    match name {
        "bnb" => Some(include_str!("../profiles/bnb.toml")),
        "base" => Some(include_str!("../profiles/base.toml")),
        _ => None,
    }
}

/// What is wrong with a profile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("chain profile {profile}: {reason}")]
pub struct ProfileError {
    /// The profile's name.
    pub profile: String,
    /// What is wrong, naming the key.
    pub reason: String,
}

fn checksummed(field: &str, s: &str) -> Result<Address, String> {
    Address::parse_checksummed(s, None).map_err(|e| {
        format!("{field} = {s:?} is not an EIP-55 checksummed address ({e}); copy it from the chain's explorer")
    })
}

impl ChainProfile {
    /// A built-in profile by name (`bnb`, `base`), validated.
    pub fn builtin(name: &str) -> Option<ChainProfile> {
        let text = builtin_text(name)?;
        // Built-ins are tested to parse and validate; a failure here is a build defect.
        let p: ChainProfile = toml::from_str(text).ok()?;
        p.validate(name).ok()?;
        Some(p)
    }

    /// Parses and validates a profile from TOML text (the keys of `crates/chain/profiles/*.toml`).
    pub fn from_toml(name: &str, text: &str) -> Result<ChainProfile, ProfileError> {
        let p: ChainProfile = toml::from_str(text).map_err(|e| ProfileError {
            profile: name.to_owned(),
            reason: e.message().to_owned(),
        })?;
        p.validate(name)?;
        Ok(p)
    }

    /// Checks every field (see the module docs).
    pub fn validate(&self, name: &str) -> Result<(), ProfileError> {
        self.check().map_err(|reason| ProfileError {
            profile: name.to_owned(),
            reason,
        })
    }

    fn check(&self) -> Result<(), String> {
        if self.chain_id == 0 {
            return Err("chain_id must not be 0".into());
        }
        if !(50..=60_000).contains(&self.block_time_ms) {
            return Err(format!(
                "block_time_ms = {} is not between 50 and 60000",
                self.block_time_ms
            ));
        }
        let mut seen = BTreeSet::new();
        let mut once = |field: &str, a: Address| {
            if a.is_zero() {
                return Err(format!("{field} is the zero address"));
            }
            if !seen.insert(a) {
                return Err(format!("{field} = {a} is used twice in the profile"));
            }
            Ok(())
        };
        once(
            "stable.address",
            checksummed("stable.address", &self.stable.address)?,
        )?;
        if !(1..=36).contains(&self.stable.decimals) {
            return Err(format!(
                "stable.decimals = {} is not between 1 and 36",
                self.stable.decimals
            ));
        }
        if self.assets.is_empty() {
            return Err("no [[assets]]".into());
        }
        for (i, a) in self.assets.iter().enumerate() {
            let f = |k: &str| format!("assets[{i}] ({}).{k}", a.symbol);
            if a.symbol.is_empty() || !a.symbol.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(format!("{} = {:?} is not a symbol", f("symbol"), a.symbol));
            }
            once(&f("token"), checksummed(&f("token"), &a.token)?)?;
            once(&f("feed"), checksummed(&f("feed"), &a.feed)?)?;
            if !(1..=36).contains(&a.decimals) {
                return Err(format!(
                    "{} = {} is not between 1 and 36",
                    f("decimals"),
                    a.decimals
                ));
            }
            if !(60..=172_800).contains(&a.heartbeat_secs) {
                return Err(format!(
                    "{} = {} is not between 60 and 172800 (two days)",
                    f("heartbeat_secs"),
                    a.heartbeat_secs
                ));
            }
        }
        if self.routers.is_empty() {
            return Err("no [[routers]]".into());
        }
        for (i, r) in self.routers.iter().enumerate() {
            let f = |k: &str| format!("routers[{i}] ({}).{k}", r.name);
            once(&f("router"), checksummed(&f("router"), &r.router)?)?;
            once(&f("factory"), checksummed(&f("factory"), &r.factory)?)?;
            if r.init_code_hash.is_zero() {
                return Err(format!("{} is zero", f("init_code_hash")));
            }
            if r.fee_bps == 0 || r.fee_bps > 1_000 {
                return Err(format!(
                    "{} = {} is not between 1 and 1000",
                    f("fee_bps"),
                    r.fee_bps
                ));
            }
        }
        Ok(())
    }

    /// The stablecoin's address.
    pub fn stable_address(&self) -> Address {
        self.stable.address.parse().unwrap_or_default()
    }

    /// The routers' addresses.
    pub fn router_addresses(&self) -> Vec<Address> {
        self.routers
            .iter()
            .map(|r| r.router.parse().unwrap_or_default())
            .collect()
    }

    /// Each asset's `(token, feed, heartbeat)`.
    pub fn feeds(&self) -> Vec<(Address, Address, u32)> {
        self.assets
            .iter()
            .map(|a| {
                (
                    a.token.parse().unwrap_or_default(),
                    a.feed.parse().unwrap_or_default(),
                    a.heartbeat_secs,
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_profiles_parse_and_validate() {
        for name in BUILTIN_PROFILES {
            let text = builtin_text(name).unwrap();
            let p = ChainProfile::from_toml(name, text).unwrap_or_else(|e| panic!("{e}"));
            assert!(ChainProfile::builtin(name).is_some());
            assert!(!p.assets.is_empty() && !p.routers.is_empty());
        }
        let bnb = ChainProfile::builtin("bnb").unwrap();
        assert_eq!(bnb.chain_id, 56);
        assert_eq!(bnb.routers[0].fee_bps, 25);
        let base = ChainProfile::builtin("base").unwrap();
        assert_eq!(base.chain_id, 8453);
        // Base's Uniswap V2 pairs are Uniswap's own bytecode: the same init-code hash.
        assert_eq!(
            base.routers[0].init_code_hash,
            cairn_contracts_hash_free::UNISWAP_V2_INIT_CODE_HASH
        );
        assert!(ChainProfile::builtin("solana").is_none());
    }

    /// Uniswap V2's pair init-code hash, written out here (cairn-chain does not depend on
    /// cairn-contracts).
    mod cairn_contracts_hash_free {
        use alloy::primitives::{B256, b256};
        pub(super) const UNISWAP_V2_INIT_CODE_HASH: B256 =
            b256!("96e8ac4277198ff8b6f785478aa9a39f403cb768dd02cbee326c3e7da348845f");
    }

    fn bnb_text() -> String {
        builtin_text("bnb").unwrap().to_owned()
    }

    #[test]
    fn a_mistyped_address_fails_its_checksum_naming_the_key() {
        // One hex digit changed in the stablecoin's address.
        let bad = bnb_text().replace(
            "0x55d398326f99059fF775485246999027B3197955",
            "0x55d398326f99059fF775485246999027B3197956",
        );
        let e = ChainProfile::from_toml("bnb", &bad).unwrap_err();
        assert!(e.to_string().contains("stable.address"), "{e}");
        assert!(e.to_string().contains("checksum"), "{e}");
    }

    #[test]
    fn bad_values_are_refused_naming_the_key() {
        let cases = [
            ("chain_id = 56", "chain_id = 0", "chain_id"),
            ("block_time_ms = 750", "block_time_ms = 0", "block_time_ms"),
            ("fee_bps = 25", "fee_bps = 0", "fee_bps"),
            (
                "heartbeat_secs = 3600",
                "heartbeat_secs = 5",
                "heartbeat_secs",
            ),
            ("decimals = 18", "decimals = 60", "decimals"),
            (
                "0x0567F2323251f0Aab15c8dFb1967E4e8A7D42aeE",
                "0x264990fbd0A4796A3E3d8E37C4d5F87a3aCa5Ebf",
                "used twice",
            ),
            (
                "symbol = \"USDT\"",
                "symbol = \"USDT\"\ncolor = \"red\"",
                "color",
            ),
        ];
        for (from, to, needle) in cases {
            let text = bnb_text();
            assert!(text.contains(from), "{from}");
            let e = ChainProfile::from_toml("bnb", &text.replacen(from, to, 1)).unwrap_err();
            assert!(e.to_string().contains(needle), "{from} -> {to}: {e}");
        }
    }
}
