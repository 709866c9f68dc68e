//! The wallet agent that buys, and the devnet market it buys in.
//!
//! ```text
//!  cairn market replay ──▶ replay::run: candles ──▶ arbitrage swaps (pools) + updateAnswer
//!                                        (feeds), chain time advanced per candle
//!  cairn agent run ──────▶ Agent::run: chain clock ─▶ slot ─▶ market::read ─▶
//!                          cairn_strategy::snapshot + decide (the backtester's policy) ─▶
//!                          store (SQLite, intent before send) ─▶ vault buy | paper fill ─▶
//!                          decision statements (signed, transparency log)
//! ```
//!
//! Amounts on the chain path are integers ([`math`]): the planner's floats are turned into
//! base units once, rounded down, and the floor of every buy is computed from the oracle in
//! `U256` exactly as the vault does.

mod agent;
pub mod decision;
mod error;
pub mod market;
pub mod math;
pub mod replay;
pub mod store;

pub use agent::{
    Agent, AgentConfig, BuyNow, DecisionLog, ExitPoint, Live, META_MODE, META_PAUSED,
    META_PLAN_NAME, META_SCHEDULE, META_VAULT, Mode, RunReport, TEST_EXIT_CODE, VolModelConfig,
    VolReading, decide_latest, decide_latest_with, next_slot_start,
};
pub use error::{Error, Result};
pub use market::{AssetQuote, AssetVenue, PRIMARY_ROUTE, Route, Venue};
pub use store::{Execution, OrderRow, OrderState, Outcome, SentTx, SlotRow, Store};
