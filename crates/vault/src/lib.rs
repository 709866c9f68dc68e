//! The wallet agent's vault on chain, as a typed async client.
//!
//! The agent's key is never trusted with funds. The `AgentVault` contract holds the owner's
//! stablecoin and lets the agent key do one thing: buy allow-listed assets, into the vault,
//! under a policy it checks itself:
//!
//! ```text
//!  owner ──deposit/withdraw/pause/rotate/configure──▶ AgentVault ◀──buy(order)── agent key
//!                                                       │ router allow-listed, path allow-listed
//!                                                       │ amount ≤ budget left this period
//!                                                       │ floor = oracle price − cap (fresh feed)
//!                                                       │ approve amountIn, swap, approve 0
//!                                                       ▼
//!                                     Router02 ──▶ pair ──▶ asset back to the vault (≥ floor)
//! ```
//!
//! A stolen agent key can at worst buy the allow-listed assets within one period's budget at
//! the oracle price minus the cap; `tests/it/main.rs` publishes the key to an attacker that
//! tries everything else. Refusals come back as [`Error::Rejected`] naming the contract's
//! custom error ([`Error::revert_name`]), decoded at gas estimation so nothing is mined.
//!
//! ```no_run
//! # use alloy::primitives::{Address, U256};
//! # async fn demo(agent: cairn_chain::Chain, vault: Address, router: Address,
//! #               usdt: Address, wbtc: Address) -> cairn_vault::Result<()> {
//! use cairn_vault::{Order, Vault};
//! let v = Vault::new(agent, vault);
//! let bought = v
//!     .buy(&Order {
//!         router,
//!         path: vec![usdt, wbtc],
//!         amount_in: U256::from(100_000_000u64), // 100 USDT
//!         min_out: U256::ZERO,                   // the vault's oracle floor applies
//!         deadline: v.deadline_in(300).await?,
//!     })
//!     .await?;
//! println!("received {} (floor {}), gas {}", bought.received, bought.floor, bought.tx.gas_used);
//! # Ok(()) }
//! ```

mod client;
mod error;
pub mod revert;
mod types;

pub use client::{MAX_DEADLINE_DELAY_SECS, Vault};
pub use error::{Error, Result};
pub use types::{
    Bought, FeedConfig, FeedStatus, Holding, Order, Policy, Quote, Tx, VaultParams, VaultStatus,
};
