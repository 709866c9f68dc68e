//! The compute market's escrow on chain, as a typed async client.
//!
//! Cairn matches compute jobs off chain (the node knows resources, prices and reputations);
//! the `ComputeMarket` contract only holds money and enforces who may move it when:
//!
//! ```text
//!  requester       operator             provider                 anyone, after the window
//!  postJob(s) ─▶ Open ─assignJob(s)─▶ Assigned ─commitResult─▶ Committed ─settle(Many)─▶ Settled
//!                 │                    │ reassignJob             │ challenge
//!     cancelJob   │ refund: after      │ refund: after deadline, ▼ (requester or operator)
//!  Cancelled ◀────┤ acceptBy, or       │ or operator          Challenged ─arbiter─▶ Settled
//!   Refunded ◀────┘ operator           └──────▶ Refunded           └──arbiter─▶ Refunded
//! ```
//!
//! A committed result can also be disputed by refereed bisection (`dispute.rs`:
//! [`Escrow::open_dispute`], [`Escrow::reveal`], [`Escrow::assign_referee`], [`Escrow::rule`],
//! [`Escrow::resolve_timeout`]): the job is `Disputed` until the ruling settles or refunds it.
//!
//! Providers bond stake ([`Escrow::register_provider`]) that only leaves after an unbonding
//! delay, so a slash ([`Escrow::slash`], the hook for dispute resolution) can still reach it.
//! Settlement pays the provider `payment − fee` and the treasury the fee. The batch calls
//! ([`Escrow::post_jobs`], [`Escrow::assign_jobs`], [`Escrow::settle_many`],
//! [`Escrow::refund_many`]) let one node keep hundreds of jobs per second of bookkeeping in
//! a few transactions.
//!
//! Refusals come back as [`Error::Rejected`] naming the contract's custom error
//! ([`Error::revert_name`]), decoded at gas estimation so nothing is mined. The event readers
//! ([`Escrow::jobs_posted_since`], [`Escrow::assignments_since`], [`Escrow::job_events`], ...)
//! are how the node and the workers follow jobs.
//!
//! ```
//! use alloy::primitives::B256;
//! use cairn_escrow::{JobState, result_commitment};
//!
//! // A committed job's on-chain digest binds spec, output and trace together.
//! let c = result_commitment(B256::repeat_byte(1), B256::repeat_byte(2), B256::repeat_byte(3));
//! assert_ne!(c, B256::repeat_byte(1));
//! assert_eq!(JobState::from_u8(3), Some(JobState::Committed));
//! assert_eq!(JobState::from_u8(0), None); // never posted
//! ```
//!
//! Against a chain (see `tests/it/main.rs` for the full flow on anvil):
//!
//! ```no_run
//! # use alloy::primitives::{Address, B256, U256};
//! # async fn demo(chain: cairn_chain::Chain, market: Address) -> cairn_escrow::Result<()> {
//! let escrow = cairn_escrow::Escrow::new(chain, market);
//! let now = escrow.chain_time().await?;
//! escrow.ensure_allowance(U256::from(5_000_000u64)).await?;
//! let posted = escrow
//!     .post_job(B256::repeat_byte(7), U256::from(5_000_000u64), now + 60, now + 600)
//!     .await?;
//! println!("job {} escrowed, gas {}", posted.first(), posted.tx.gas_used);
//! # Ok(()) }
//! ```

mod client;
mod dispute;
mod error;
mod events;
mod revert;
mod types;

pub use client::Escrow;
pub use dispute::{Dispute, DisputePhase, DisputeRules, Outcome, RefereeInfo, Verdict, max_rounds};
pub use error::{Error, Result};
pub use events::{EventKind, Logged, MarketEvent};
pub use types::{Job, JobId, JobState, MarketConfig, Posted, ProviderInfo, Tx, result_commitment};
