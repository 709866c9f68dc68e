//! The agent loop: one decision per schedule slot, on chain time.
//!
//! ```text
//!  tick: resume an unfinished slot ─▶ chain clock ─▶ new slot? ─▶ feeds fresh? ─▶ read feeds and
//!        pools ─▶ snapshot (cairn_strategy::snapshot) ─▶ decide (the backtester's policy) ─▶
//!        record slot + orders ─▶ execute each order ─▶ close the slot ─▶ decision statements
//!  execute (live): eth_call the vault's buy ─▶ sign ─▶ record nonce, hash, bytes ─▶ broadcast
//!        ─▶ receipt ─▶ Bought event = the fill
//!  reconcile (a `sent` order after a restart or an outage): receipt by hash ─▶ still pending?
//!        ─▶ nonce used? ─▶ the vault's Bought events from the agent with that nonce ─▶ else
//!        rebroadcast the same bytes (same hash) or, if the nonce went elsewhere, sign anew
//! ```
//!
//! Transient failures (the RPC endpoint down, the log unreachable) end the tick; the next
//! tick starts from the database again, so nothing is decided or bought twice.
use crate::{
    Error, Result, decision,
    market::{self, AssetQuote, Venue},
    math,
    store::{Execution, OrderRow, OrderState, Outcome, SentTx, SlotRow, Store},
};
use alloy::{
    eips::eip2718::Encodable2718,
    network::{Ethereum, EthereumWallet, NetworkWallet, TransactionBuilder},
    primitives::{Address, B256, U256},
    providers::Provider,
    rpc::types::Filter,
    signers::local::PrivateKeySigner,
    sol_types::SolEvent,
};
use cairn_attest::{Digest, Envelope, Key};
use cairn_chain::Chain;
use cairn_contracts::AgentVault;
use cairn_log_client::{LogClient, Submission};
use cairn_ml::forecast::VolModel;
use cairn_strategy::{
    Action, MAX_ASSETS, Plan, PortfolioState, Schedule, decide,
    snapshot::{PriceHistory, latest},
};
use serde_json::json;
use std::time::{Duration, Instant};

/// Metadata key of the plan's name (set at every start).
pub const META_PLAN_NAME: &str = "plan_name";
/// Metadata key of the plan's schedule (JSON: `"daily"`, `"weekly"`, ...).
pub const META_SCHEDULE: &str = "schedule";
/// Metadata key of the mode (`live` or `paper`).
pub const META_MODE: &str = "mode";
/// Metadata key of the vault a live agent buys through (checksummed address).
pub const META_VAULT: &str = "vault";

/// How orders are filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Simulated fills from the pools' reserves; nothing is sent.
    Paper,
    /// Buys through the vault with the agent key.
    Live,
}

/// A test hook: where to end the process (exit code [`TEST_EXIT_CODE`]) as if killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitPoint {
    /// After the signed transaction is recorded, before it is broadcast.
    BeforeSend,
    /// Right after the broadcast, before the receipt is read.
    AfterSend,
}

/// The exit code of an [`ExitPoint`].
pub const TEST_EXIT_CODE: i32 = 86;

/// Metadata key of the feed answers' times the last decision (or the first look) used.
const FEEDS_SEEN: &str = "feeds_seen";

/// Metadata key of an agent-side pause (why, and by whom): no slot is decided while it is set.
const PAUSED: &str = META_PAUSED;
/// Metadata key of an agent-side pause (its reason).
pub const META_PAUSED: &str = "paused";

/// What [`Agent::buy_now`] did.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum BuyNow {
    /// The current slot was decided and its orders executed.
    #[serde(rename_all = "camelCase")]
    Done {
        /// The slot.
        slot: i64,
        /// Its orders, final.
        orders: Vec<OrderRow>,
    },
    /// An unfinished slot (decided earlier, interrupted) was finished instead.
    #[serde(rename_all = "camelCase")]
    Resumed {
        /// The slot.
        slot: i64,
        /// Its orders, final.
        orders: Vec<OrderRow>,
    },
    /// The current slot is already decided: nothing is bought twice for one slot.
    #[serde(rename_all = "camelCase")]
    AlreadyDecided {
        /// The slot.
        slot: i64,
        /// When the next slot starts (unix ms, chain time).
        next_slot_ms: i64,
    },
    /// No decision now; why.
    #[serde(rename_all = "camelCase")]
    NotNow {
        /// Why.
        reason: String,
    },
}

/// The live side: the vault and the agent key that signs.
#[derive(Debug, Clone)]
pub struct Live {
    /// The vault.
    pub vault: Address,
    /// The agent key (never printed).
    pub signer: PrivateKeySigner,
}

/// Where decision statements go and who signs them.
#[derive(Debug, Clone)]
pub struct DecisionLog {
    /// The transparency log.
    pub client: LogClient,
    /// The agent's attestation key.
    pub key: std::sync::Arc<Key>,
}

/// Everything the loop needs.
#[derive(Debug)]
pub struct AgentConfig {
    /// The plan.
    pub plan: Plan,
    /// The plan file's bytes (its SHA-256 is the decision statements' `plan`).
    pub plan_bytes: Vec<u8>,
    /// Paper or live.
    pub mode: Mode,
    /// The pools and feeds.
    pub venue: Venue,
    /// The vault and agent key (live only).
    pub live: Option<Live>,
    /// Stop after this many slots are completed (`None`: run until stopped).
    pub slots: Option<u64>,
    /// Pause between ticks.
    pub poll: Duration,
    /// Seconds of chain time a buy may wait to be mined (at most the vault's 15 minutes).
    pub deadline_secs: u64,
    /// Give up after the chain has been unreachable this long.
    pub max_outage: Duration,
    /// Decision statements (off when `None`).
    pub log: Option<DecisionLog>,
    /// Test hook.
    pub exit_at: Option<ExitPoint>,
    /// Buy only through this route (`uniswap-v2`, `pancake`); `None`: the route whose pool
    /// pays the most for each order.
    pub route: Option<String>,
    /// How long a buy waits in the pool before it is replaced at its nonce with a higher fee.
    pub bump_after: Duration,
    /// A volatility forecaster whose forecast the risk rules read instead of the realised
    /// estimate (its digest is named in every decision statement).
    pub vol_model: Option<VolModelConfig>,
}

/// A volatility model and the bars it was trained on.
#[derive(Debug, Clone)]
pub struct VolModelConfig {
    /// The model.
    pub model: std::sync::Arc<VolModel>,
    /// The length of its bars (UTC ms): the agent's slots must be as long.
    pub bar_ms: i64,
}

/// The volatility the policy read for one asset, and where it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VolReading {
    /// The realised estimate from the price history (annualised; NaN while warming up).
    pub realised: f64,
    /// The model's forecast (annualised), when a model covers the asset and has its window.
    pub forecast: Option<f64>,
}

/// What a run did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RunReport {
    /// Slots completed in this run.
    pub slots: Vec<i64>,
    /// Orders of those slots.
    pub orders: Vec<OrderRow>,
    /// Live buys: milliseconds from the slot's decision to the buy's broadcast, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub send_latency_ms: Vec<f64>,
}

/// The agent.
#[derive(Debug)]
pub struct Agent {
    cfg: AgentConfig,
    chain: Chain,
    store: Store,
    plan_digest: Digest,
    /// Most stablecoin (whole units) the slot being decided may spend: orders are scaled down
    /// to it. Set only for the decision of [`Agent::buy_now`].
    spend_cap: Option<f64>,
    /// When the slot being executed was decided (this process).
    decided_at: Option<Instant>,
    /// Decision → broadcast of the live buys sent since the last report.
    send_latency: Vec<Duration>,
}

fn chain_err(call: &str, e: impl std::fmt::Display) -> Error {
    Error::Chain(format!("{call}: {e}"))
}

impl Agent {
    /// An agent on `chain` (signing with the agent key when live) with its state in `store`.
    /// The store remembers the plan: another plan's state is refused.
    pub fn new(cfg: AgentConfig, chain: Chain, store: Store) -> Result<Agent> {
        let plan_digest = Digest::sha256_of(&cfg.plan_bytes);
        match store.meta("plan")? {
            Some(p) if p != plan_digest.to_string() => {
                return Err(Error::Config(format!(
                    "this agent state belongs to another plan ({p}); use another state file for {plan_digest}"
                )));
            }
            Some(_) => {}
            None => store.set_meta("plan", &plan_digest.to_string())?,
        }
        if let Some(v) = &cfg.vol_model {
            check_vol_model(&cfg.plan, v)?;
        }
        if cfg.mode == Mode::Live && cfg.live.is_none() {
            return Err(Error::Config(
                "a live agent needs a vault and an agent key".into(),
            ));
        }
        // What a reader of the state alone (the node's `/agent`) needs to describe the agent.
        store.set_meta(META_PLAN_NAME, &cfg.plan.name)?;
        store.set_meta(
            META_SCHEDULE,
            &serde_json::to_string(&cfg.plan.budget.schedule).unwrap_or_default(),
        )?;
        store.set_meta(
            META_MODE,
            match cfg.mode {
                Mode::Live => "live",
                Mode::Paper => "paper",
            },
        )?;
        match &cfg.live {
            Some(l) => store.set_meta(META_VAULT, &l.vault.to_checksum(None))?,
            None => store.delete_meta(META_VAULT)?,
        }
        Ok(Agent {
            cfg,
            chain,
            store,
            plan_digest,
            spend_cap: None,
            decided_at: None,
            send_latency: Vec::new(),
        })
    }

    /// The state database.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The plan.
    pub fn plan(&self) -> &Plan {
        &self.cfg.plan
    }

    /// The plan's digest (SHA-256 of its file).
    pub fn plan_digest(&self) -> &Digest {
        &self.plan_digest
    }

    /// The pools and feeds.
    pub fn venue(&self) -> &Venue {
        &self.cfg.venue
    }

    /// Paper or live.
    pub fn mode(&self) -> Mode {
        self.cfg.mode
    }

    /// The vault and agent key (live only).
    pub fn live(&self) -> Option<&Live> {
        self.cfg.live.as_ref()
    }

    /// The chain.
    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    /// Why the agent is paused, if it is (an agent-side pause kept in its state; the vault's
    /// own pause is on chain).
    pub fn paused(&self) -> Result<Option<String>> {
        self.store.meta(PAUSED)
    }

    /// Pauses the agent: no slot is decided until [`Agent::resume`]. Kept in the state
    /// database, so it holds for every process using it.
    pub fn pause(&self, why: &str) -> Result<()> {
        self.store.set_meta(PAUSED, why)
    }

    /// Lifts an agent-side pause.
    pub fn resume(&self) -> Result<()> {
        self.store.delete_meta(PAUSED)
    }

    /// When the slot after the last decided one starts (unix ms, chain time); `None` before
    /// the first decision.
    pub fn next_slot_ms(&self) -> Result<Option<i64>> {
        let anchor: Option<i64> = self.store.meta("anchor_ms")?.and_then(|s| s.parse().ok());
        let last = self.store.slots()?.last().map(|s| s.slot);
        Ok(match (anchor, last) {
            (Some(a), Some(l)) => Some(next_slot_start(self.cfg.plan.budget.schedule, a, l)),
            _ => None,
        })
    }

    /// Decides and executes the current slot now, through the same path as the loop (intent
    /// recorded before anything is sent, one decision per slot), spending at most `cap`
    /// stablecoin (whole units; orders are scaled down to it). The feeds must be fresh and, when
    /// a decision was taken before, newer than the answers it used. A slot already decided is
    /// never bought again: the answer says when the next one starts.
    pub async fn buy_now(&mut self, cap: Option<f64>) -> Result<BuyNow> {
        if let Some(why) = self.paused()? {
            return Ok(BuyNow::NotNow {
                reason: format!("the agent is paused ({why})"),
            });
        }
        let slots = self.store.slots()?;
        if let Some(s) = slots.iter().find(|s| !s.done) {
            // Decided earlier (or by another process): its latency is not this run's to report.
            self.decided_at = None;
            let slot = s.slot;
            self.finish(s.clone()).await?;
            return Ok(BuyNow::Resumed {
                slot,
                orders: self.store.orders_of(slot)?,
            });
        }
        let now = self.chain.clock().await?;
        let now_ms = now as i64 * 1000;
        let anchor = self.anchor_ms(now_ms)?;
        let schedule = self.cfg.plan.budget.schedule;
        let slot = schedule.period_index(anchor, now_ms);
        if slot < 0 {
            return Ok(BuyNow::NotNow {
                reason: "the plan's start is still ahead".into(),
            });
        }
        if let Some(l) = slots.last()
            && l.slot >= slot
        {
            return Ok(BuyNow::AlreadyDecided {
                slot: l.slot,
                next_slot_ms: next_slot_start(schedule, anchor, l.slot),
            });
        }
        let quotes = market::read(&self.chain, &self.cfg.venue).await?;
        let seen: Option<Vec<u64>> = self
            .store
            .meta(FEEDS_SEEN)?
            .and_then(|s| serde_json::from_str(&s).ok());
        for (i, q) in quotes.iter().enumerate() {
            let a = &self.cfg.venue.assets[i];
            if !q.fresh(now, self.cfg.venue.heartbeat_secs) {
                return Ok(BuyNow::NotNow {
                    reason: format!(
                        "the {} feed {} is stale (answer at {}, chain time {now}, heartbeat {} s)",
                        a.symbol, a.feed, q.updated_at, self.cfg.venue.heartbeat_secs
                    ),
                });
            }
            if seen
                .as_ref()
                .and_then(|s| s.get(i))
                .is_some_and(|&u| q.updated_at <= u)
            {
                return Ok(BuyNow::NotNow {
                    reason: format!(
                        "the {} feed has no answer newer than the one the last decision used",
                        a.symbol
                    ),
                });
            }
        }
        self.spend_cap = cap;
        let row = self.decide_slot(slot, now_ms, &slots, &quotes);
        self.spend_cap = None;
        self.decided_at = Some(Instant::now());
        self.finish(row?).await?;
        Ok(BuyNow::Done {
            slot,
            orders: self.store.orders_of(slot)?,
        })
    }

    /// Runs until the configured number of slots is completed (or forever). Transient errors
    /// are retried until the chain has been unreachable for `max_outage`.
    pub async fn run(&mut self) -> Result<RunReport> {
        let mut report = RunReport::default();
        let mut last_ok = Instant::now();
        loop {
            match self.tick().await {
                Ok(done) => {
                    last_ok = Instant::now();
                    if let Some(slot) = done {
                        report.slots.push(slot);
                        report.orders.extend(self.store.orders_of(slot)?);
                        report
                            .send_latency_ms
                            .extend(self.send_latency.drain(..).map(|d| d.as_secs_f64() * 1e3));
                        tracing::info!(slot, "slot done");
                    }
                }
                Err(e) if e.is_transient() => {
                    tracing::warn!(error = %e, "will retry");
                    if last_ok.elapsed() > self.cfg.max_outage {
                        return Err(e);
                    }
                }
                Err(e) => return Err(e),
            }
            if self
                .cfg
                .slots
                .is_some_and(|n| report.slots.len() as u64 >= n)
            {
                self.flush_log().await;
                return Ok(report);
            }
            tokio::time::sleep(self.cfg.poll).await;
        }
    }

    fn anchor_ms(&self, now_ms: i64) -> Result<i64> {
        if let Some(a) = self.store.meta("anchor_ms")? {
            return a
                .parse()
                .map_err(|_| Error::Config(format!("bad anchor {a:?} in the agent state")));
        }
        let a = self.cfg.plan.start_ms().unwrap_or(now_ms);
        self.store.set_meta("anchor_ms", &a.to_string())?;
        Ok(a)
    }

    /// One pass: finishes an unfinished slot, or decides and executes the current slot when it
    /// is new and the feeds are fresh. Returns the slot completed, if any.
    pub async fn tick(&mut self) -> Result<Option<i64>> {
        if let Some(why) = self.paused()? {
            tracing::debug!(why, "paused");
            return Ok(None);
        }
        let slots = self.store.slots()?;
        if let Some(s) = slots.iter().find(|s| !s.done) {
            let slot = s.slot;
            self.finish(s.clone()).await?;
            return Ok(Some(slot));
        }
        self.flush_log().await;
        let now = self.chain.clock().await?;
        let now_ms = now as i64 * 1000;
        // The feed answers already seen (at the first look, then by each decision): a slot is
        // decided only on answers newer than those, so no oracle round is decided on twice and
        // an answer published while the pools are still moving is waited for.
        let seen: Option<Vec<u64>> = self
            .store
            .meta(FEEDS_SEEN)?
            .and_then(|s| serde_json::from_str(&s).ok());
        let Some(seen) = seen else {
            let quotes = market::read(&self.chain, &self.cfg.venue).await?;
            let updated: Vec<u64> = quotes.iter().map(|q| q.updated_at).collect();
            self.store.set_meta(
                FEEDS_SEEN,
                &serde_json::to_string(&updated).unwrap_or_default(),
            )?;
            self.anchor_ms(now_ms)?;
            return Ok(None);
        };
        let anchor = self.anchor_ms(now_ms)?;
        let schedule = self.cfg.plan.budget.schedule;
        let slot = schedule.period_index(anchor, now_ms);
        if slot < 0 || slots.last().is_some_and(|l| l.slot >= slot) {
            return Ok(None);
        }
        let quotes = market::read(&self.chain, &self.cfg.venue).await?;
        let newer = quotes.iter().enumerate().all(|(i, q)| {
            q.fresh(now, self.cfg.venue.heartbeat_secs)
                && seen.get(i).is_none_or(|&u| q.updated_at > u)
        });
        if !newer {
            tracing::debug!(
                slot,
                now,
                ?seen,
                updated = ?quotes.iter().map(|q| q.updated_at).collect::<Vec<_>>(),
                "waiting for new feed answers"
            );
            return Ok(None);
        }
        let row = self.decide_slot(slot, now_ms, &slots, &quotes)?;
        self.decided_at = Some(Instant::now());
        self.finish(row).await?;
        Ok(Some(slot))
    }

    fn decide_slot(
        &mut self,
        slot: i64,
        now_ms: i64,
        slots: &[SlotRow],
        quotes: &[AssetQuote],
    ) -> Result<SlotRow> {
        let plan = &self.cfg.plan;
        let venue = &self.cfg.venue;
        let n = venue.assets.len();
        let prices: Vec<f64> = quotes.iter().map(|q| q.price).collect();
        let mut history = PriceHistory::new(n);
        for (_, t, p) in self.store.prices()? {
            history.push(t, &p);
        }
        history.push(now_ms, &prices);
        let cash_prev = slots
            .last()
            .and_then(|s| s.cash_after)
            .unwrap_or(plan.budget.initial_cash);
        let mut state = PortfolioState::with_cash(cash_prev + plan.budget.amount);
        for o in self.store.orders()? {
            if o.state == OrderState::Filled
                && let Some(f) = &o.fill
                && o.asset < MAX_ASSETS
            {
                let units = U256::from_str_radix(f, 10).unwrap_or_default();
                state.holdings[o.asset] += math::to_float(units, venue.assets[o.asset].decimals);
            }
        }
        let (snap, d, vols) =
            decide_latest_with(plan, &history, &state, self.cfg.vol_model.as_ref())
                .ok_or_else(|| Error::Config("no price history".into()))?;
        let model_digest = self
            .cfg
            .vol_model
            .as_ref()
            .map(|v| Digest::from_sha256(v.model.sha256()).to_string());
        let slippage_bps = plan
            .execution
            .slippage_tolerance_bps
            .round()
            .clamp(0.0, 10_000.0) as u32;
        // A cap asked for by the caller of `buy_now` scales every buy down alike.
        let wanted: f64 = d
            .actions()
            .iter()
            .map(|a| match a {
                Action::Buy(o) => o.amount_in,
                Action::Skip(_) => 0.0,
            })
            .sum();
        let scale = match self.spend_cap {
            Some(cap) if wanted > cap => (cap.max(0.0) / wanted).min(1.0),
            _ => 1.0,
        };
        let mut orders = Vec::new();
        for (i, action) in d.actions().iter().enumerate() {
            let a = &venue.assets[i];
            let q = &quotes[i];
            let m = &snap.assets[i];
            let inputs = json!({
                "slot": slot,
                "chainTimeMs": now_ms,
                "asset": a.symbol,
                "token": a.token,
                "feed": a.feed,
                "answer": q.answer.to_string(),
                "feedDecimals": a.feed_decimals,
                "updatedAt": q.updated_at,
                "price": q.price,
                "pair": a.pair,
                "reserveStable": q.reserve_stable.to_string(),
                "reserveAsset": q.reserve_asset.to_string(),
                "poolPrice": q.pool_price,
                "vol": m.vol,
                "volRealised": vols[i].realised,
                "volForecast": vols[i].forecast,
                "volModel": model_digest,
                "drawdown": m.drawdown,
                "var": m.var,
                "cash": state.cash,
                "holding": state.holdings[i],
            })
            .to_string();
            let base = OrderRow {
                slot,
                asset: i,
                symbol: a.symbol.clone(),
                state: OrderState::Skipped,
                reason: String::new(),
                amount_in_f: 0.0,
                amount_in: "0".into(),
                min_out: "0".into(),
                fill: None,
                nonce: None,
                tx_hash: None,
                raw_tx: None,
                sent_block: None,
                fill_block: None,
                error: None,
                inputs,
                log_index: None,
                route: None,
            };
            orders.push(match action {
                Action::Buy(o) => {
                    let mut o = *o;
                    let capped = if scale < 1.0 {
                        o.amount_in *= scale;
                        format!(
                            ", scaled by {scale:.6} to the requested cap of {} {}",
                            self.spend_cap.unwrap_or_default(),
                            plan.quote
                        )
                    } else {
                        String::new()
                    };
                    let amount_in = math::to_base_units(o.amount_in, venue.stable_decimals)?;
                    let min_out = math::oracle_min_out(
                        amount_in,
                        q.answer,
                        a.feed_decimals,
                        venue.stable_decimals,
                        a.decimals,
                        slippage_bps,
                    )
                    .ok_or_else(|| Error::Config(format!("no oracle floor for {}", a.symbol)))?;
                    let weight = plan.assets[i].weight;
                    let clip = o.clip.map(|c| format!(", clipped ({c:?})")).unwrap_or_default();
                    OrderRow {
                        state: if amount_in.is_zero() {
                            OrderState::Skipped
                        } else {
                            OrderState::Planned
                        },
                        reason: format!(
                            "buy {:.6} {}: budget {} x weight {} x risk multiplier {:.4}{clip}{capped}; oracle {} ({}), pool {:.6}; amountOutMin = oracle - {} bps",
                            o.amount_in,
                            plan.quote,
                            plan.budget.amount,
                            weight,
                            o.multiplier,
                            q.price,
                            a.feed,
                            q.pool_price,
                            slippage_bps
                        ),
                        amount_in_f: o.amount_in,
                        amount_in: amount_in.to_string(),
                        min_out: min_out.to_string(),
                        ..base
                    }
                }
                Action::Skip(r) => OrderRow {
                    reason: format!("skip ({}): {r}", r.label()),
                    ..base
                },
            });
        }
        let seen: Vec<u64> = quotes.iter().map(|q| q.updated_at).collect();
        self.store.record_decision(
            slot,
            now_ms,
            &prices,
            state.cash,
            &orders,
            (
                FEEDS_SEEN,
                &serde_json::to_string(&seen).unwrap_or_default(),
            ),
        )?;
        Ok(SlotRow {
            slot,
            time_ms: now_ms,
            done: false,
            cash_before: state.cash,
            cash_after: None,
        })
    }

    async fn finish(&mut self, slot: SlotRow) -> Result<()> {
        // A slot's orders may still go out for a deadline's length after it ends (a decision at
        // the very end of a slot); after that they expire.
        let now = self.chain.clock().await? as i64 * 1000;
        let schedule = self.cfg.plan.budget.schedule;
        let expires = next_slot_start(schedule, self.anchor_ms(now)?, slot.slot)
            + self.cfg.deadline_secs as i64 * 1000;
        let expired = now >= expires;
        for o in self.store.orders_of(slot.slot)? {
            if o.state == OrderState::Planned && self.cfg.mode == Mode::Live && expired {
                // Decided, never sent, and its slot is over: buying now would be a late buy at
                // an old decision's numbers.
                self.store.record_outcome(
                    o.slot,
                    o.asset,
                    &Outcome::failed("expired: the slot ended before the buy was sent"),
                )?;
                continue;
            }
            if !o.state.is_final() {
                self.execute(o, expired).await?;
            }
        }
        let gas = self.cfg.plan.execution.gas_per_buy;
        let spent: f64 = self
            .store
            .orders_of(slot.slot)?
            .iter()
            .filter(|o| o.state == OrderState::Filled)
            .map(|o| o.amount_in_f + gas)
            .sum();
        self.store
            .finish_slot(slot.slot, (slot.cash_before - spent).max(0.0))?;
        self.flush_log().await;
        Ok(())
    }

    async fn execute(&mut self, o: OrderRow, expired: bool) -> Result<()> {
        match self.cfg.mode {
            Mode::Paper => self.paper_fill(&o),
            Mode::Live => self.live_buy(o, expired).await,
        }
    }

    fn paper_fill(&self, o: &OrderRow) -> Result<()> {
        let inputs: serde_json::Value = serde_json::from_str(&o.inputs).unwrap_or_default();
        let get = |k: &str| {
            inputs
                .get(k)
                .and_then(|v| v.as_str())
                .and_then(|s| U256::from_str_radix(s, 10).ok())
                .unwrap_or_default()
        };
        let amount_in = U256::from_str_radix(&o.amount_in, 10).unwrap_or_default();
        let min_out = U256::from_str_radix(&o.min_out, 10).unwrap_or_default();
        let fill = math::amm_amount_out(
            amount_in,
            get("reserveStable"),
            get("reserveAsset"),
            self.cfg.venue.fee_bps,
        );
        if fill < min_out {
            let why = format!("the pool would pay {fill}, under the oracle floor {min_out}");
            return self
                .store
                .record_outcome(o.slot, o.asset, &Outcome::failed(&why));
        }
        self.store.record_outcome(
            o.slot,
            o.asset,
            &Outcome {
                state: OrderState::Filled,
                fill: Some(&fill.to_string()),
                block: None,
                tx_hash: None,
                error: None,
            },
        )
    }

    async fn live_buy(&mut self, mut o: OrderRow, expired: bool) -> Result<()> {
        let live = self.cfg.live.clone().expect("checked in new");
        let agent = live.signer.address();
        let provider = self.chain.provider().clone();
        let started = Instant::now();
        let mut last_bump = started;
        loop {
            if o.state == OrderState::Planned {
                self.sign_and_send(&o, &live).await?;
                o = self.reload(&o)?;
                continue;
            }
            if o.state.is_final() {
                return Ok(());
            }
            // Sent: find out what became of it.
            let hash: B256 = o
                .tx_hash
                .as_deref()
                .and_then(|h| h.parse().ok())
                .ok_or_else(|| Error::Config("a sent order without its hash".into()))?;
            let nonce = o.nonce.unwrap_or_default();
            let receipt = self
                .chain
                .rpc(
                    "eth_getTransactionReceipt",
                    provider.get_transaction_receipt(hash),
                )
                .await?;
            if let Some(r) = receipt {
                return self.record_receipt(&o, &live, &r);
            }
            let pending = self
                .chain
                .rpc(
                    "eth_getTransactionByHash",
                    provider.get_transaction_by_hash(hash),
                )
                .await?;
            if pending.is_some() {
                if started.elapsed() > cairn_chain::CONFIRM_TIMEOUT {
                    return Err(Error::Chain(format!(
                        "transaction {hash} (nonce {nonce}) is not mined yet"
                    )));
                }
                if last_bump.elapsed() >= self.cfg.bump_after {
                    last_bump = Instant::now();
                    self.bump(&o, &live).await?;
                    o = self.reload(&o)?;
                    continue;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            let mined_nonce = self
                .chain
                .rpc(
                    "eth_getTransactionCount",
                    provider.get_transaction_count(agent).latest(),
                )
                .await?;
            if mined_nonce > nonce {
                // The nonce was used: by this order under another hash, or by something else.
                let asset = self.cfg.venue.assets[o.asset].token;
                let amount_in = U256::from_str_radix(&o.amount_in, 10).unwrap_or_default();
                if let Some((tx, received, block)) = self
                    .find_bought(&live, agent, nonce, o.sent_block, (asset, amount_in))
                    .await?
                {
                    return self.store.record_outcome(
                        o.slot,
                        o.asset,
                        &Outcome {
                            state: OrderState::Filled,
                            fill: Some(&received.to_string()),
                            block: Some(block),
                            tx_hash: Some(&tx.to_string()),
                            error: None,
                        },
                    );
                }
                tracing::warn!(
                    slot = o.slot,
                    nonce,
                    "nonce used elsewhere; signing the buy again"
                );
                self.store.record_unsent(o.slot, o.asset)?;
            } else if expired {
                // Never reached the chain and its slot is over (its deadline too): drop it.
                return self.store.record_outcome(
                    o.slot,
                    o.asset,
                    &Outcome::failed("expired: the slot ended before the buy reached the chain"),
                );
            } else {
                // Never reached the chain: broadcast the very same bytes (same hash).
                let raw = o.raw_tx.clone().unwrap_or_default();
                if let Err(e) = self
                    .chain
                    .rpc(
                        "eth_sendRawTransaction",
                        provider.send_raw_transaction(&raw),
                    )
                    .await
                {
                    tracing::warn!(error = %e, "rebroadcast");
                }
            }
            o = self.reload(&o)?;
        }
    }

    fn reload(&self, o: &OrderRow) -> Result<OrderRow> {
        self.store
            .orders_of(o.slot)?
            .into_iter()
            .find(|x| x.asset == o.asset)
            .ok_or_else(|| Error::Config("an order vanished from the agent state".into()))
    }

    async fn sign_and_send(&mut self, o: &OrderRow, live: &Live) -> Result<()> {
        let agent = live.signer.address();
        let provider = self.chain.provider().clone();
        let amount_in = U256::from_str_radix(&o.amount_in, 10).unwrap_or_default();
        let min_out = U256::from_str_radix(&o.min_out, 10).unwrap_or_default();
        let deadline = self.chain.clock().await?
            + self
                .cfg
                .deadline_secs
                .min(cairn_vault::MAX_DEADLINE_DELAY_SECS);
        let (router, route) = self.pick_route(o.asset, amount_in).await?;
        let venue = &self.cfg.venue;
        let a = &venue.assets[o.asset];
        tracing::info!(slot = o.slot, asset = %a.symbol, route, %router, "route");
        let execution = Execution {
            venue: route,
            router: router.to_string(),
            path: vec![venue.stable.to_string(), a.token.to_string()],
        };
        let vault = AgentVault::new(live.vault, &provider);
        let call = vault
            .buy(
                router,
                vec![venue.stable, a.token],
                amount_in,
                min_out,
                U256::from(deadline),
            )
            .from(agent);
        // Simulate first: a refusal is recorded with the vault's reason and nothing is sent.
        let sim = self
            .chain
            .rpc("eth_call(buy)", async {
                Ok::<_, String>(call.call().await)
            })
            .await?;
        if let Err(e) = sim {
            if cairn_chain::send::is_revert(&e) {
                let why = match cairn_vault::revert::decode(&e) {
                    Some((name, why)) => format!("{name}: {why}"),
                    None => e.to_string(),
                };
                return self.store.record_outcome(
                    o.slot,
                    o.asset,
                    &Outcome::failed(&format!("the vault refused the buy in simulation: {why}")),
                );
            }
            return Err(chain_err("eth_call(buy)", e));
        }
        let gas = self
            .chain
            .rpc("eth_estimateGas(buy)", call.estimate_gas())
            .await?;
        let nonce = self
            .chain
            .rpc(
                "eth_getTransactionCount",
                provider.get_transaction_count(agent).pending(),
            )
            .await?;
        let fees = self
            .chain
            .rpc("eth_feeHistory", provider.estimate_eip1559_fees())
            .await?;
        let req = call
            .into_transaction_request()
            .with_chain_id(self.chain.chain_id())
            .with_nonce(nonce)
            .with_gas_limit(cairn_chain::with_margin(gas))
            .with_max_fee_per_gas(fees.max_fee_per_gas)
            .with_max_priority_fee_per_gas(fees.max_priority_fee_per_gas);
        let wallet = EthereumWallet::from(live.signer.clone());
        let envelope = <EthereumWallet as NetworkWallet<Ethereum>>::sign_request(&wallet, req)
            .await
            .map_err(|e| Error::Config(format!("cannot sign the buy: {e}")))?;
        let raw = envelope.encoded_2718();
        let hash = *envelope.tx_hash();
        let block = self.chain.block_number().await?;
        // Recorded before the broadcast: a crash from here on is reconciled by hash and nonce.
        let hash_text = hash.to_string();
        let tx = SentTx {
            nonce,
            hash: &hash_text,
            raw: &raw,
            block,
            route: Some(&execution),
        };
        self.store.record_sent(o.slot, o.asset, &tx)?;
        tracing::info!(slot = o.slot, asset = %a.symbol, %hash, nonce, "sending buy");
        if self.cfg.exit_at == Some(ExitPoint::BeforeSend) {
            std::process::exit(TEST_EXIT_CODE);
        }
        let sent = self
            .chain
            .rpc(
                "eth_sendRawTransaction",
                provider.send_raw_transaction(&raw),
            )
            .await;
        if self.cfg.exit_at == Some(ExitPoint::AfterSend) {
            std::process::exit(TEST_EXIT_CODE);
        }
        if let Some(t) = self.decided_at {
            self.send_latency.push(t.elapsed());
        }
        if let Err(e) = sent {
            // Possibly sent anyway (a lost answer): the reconciliation decides.
            tracing::warn!(error = %e, %hash, "broadcast");
        }
        Ok(())
    }

    /// Replaces a buy that waits in the pool with the same call at the same nonce and 25% higher
    /// fees (at least what a transaction sent now pays): only one of the two can be mined, and
    /// the reconciliation finds whichever was by the vault's `Bought` event.
    async fn bump(&self, o: &OrderRow, live: &Live) -> Result<()> {
        let Some(raw) = o.raw_tx.as_deref() else {
            return Ok(());
        };
        let now = self
            .chain
            .rpc(
                "eth_feeHistory",
                self.chain.provider().estimate_eip1559_fees(),
            )
            .await
            .ok()
            .map(|f| (f.max_fee_per_gas, f.max_priority_fee_per_gas));
        let wallet = EthereumWallet::from(live.signer.clone());
        let (raw, hash) = cairn_chain::send::bump_signed(&wallet, raw, now)
            .await
            .map_err(|e| Error::Config(format!("cannot sign a fee bump: {e}")))?;
        let nonce = o.nonce.unwrap_or_default();
        let hash_text = hash.to_string();
        let tx = SentTx {
            nonce,
            hash: &hash_text,
            raw: &raw,
            block: o.sent_block.unwrap_or_default(),
            route: None,
        };
        // Recorded before the broadcast, as the first version was.
        self.store.record_sent(o.slot, o.asset, &tx)?;
        tracing::info!(slot = o.slot, %hash, nonce, "buy waited; replaced with a higher fee");
        if let Err(e) = self
            .chain
            .rpc(
                "eth_sendRawTransaction",
                self.chain.provider().send_raw_transaction(&raw),
            )
            .await
        {
            tracing::warn!(error = %e, %hash, "fee bump broadcast");
        }
        Ok(())
    }

    /// The route for a buy of `amount_in` of asset `asset`: the configured one, or the one whose
    /// pool pays the most now (the primary route on a tie). Returns its router and name.
    async fn pick_route(&self, asset: usize, amount_in: U256) -> Result<(Address, String)> {
        // (The plan's `execution.venue` arrives here as `cfg.route`.)
        let venue = &self.cfg.venue;
        let routes = venue.routes();
        if let Some(name) = &self.cfg.route {
            let r = routes.iter().find(|r| &r.name == name).ok_or_else(|| {
                Error::Config(format!(
                    "no route {name:?} here (routes: {})",
                    routes
                        .iter()
                        .map(|r| r.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
            return Ok((r.router, r.name.clone()));
        }
        let mut best: Option<(U256, &crate::market::Route)> = None;
        for r in &routes {
            let mut one = venue.through(r);
            one.assets = vec![one.assets[asset].clone()];
            let q = market::read(&self.chain, &one).await?[0];
            let out = math::amm_amount_out(amount_in, q.reserve_stable, q.reserve_asset, r.fee_bps);
            if best.is_none_or(|(b, _)| out > b) {
                best = Some((out, r));
            }
        }
        let (_, r) = best.expect("the primary route is always there");
        Ok((r.router, r.name.clone()))
    }

    fn record_receipt(
        &self,
        o: &OrderRow,
        live: &Live,
        r: &alloy::rpc::types::TransactionReceipt,
    ) -> Result<()> {
        let hash = r.transaction_hash.to_string();
        if !r.status() {
            return self.store.record_outcome(
                o.slot,
                o.asset,
                &Outcome {
                    state: OrderState::Failed,
                    fill: None,
                    block: r.block_number,
                    tx_hash: Some(&hash),
                    error: Some("the buy reverted on chain"),
                },
            );
        }
        for log in r.inner.logs() {
            if log.address() != live.vault {
                continue;
            }
            if let Ok(e) = log.log_decode::<AgentVault::Bought>() {
                return self.store.record_outcome(
                    o.slot,
                    o.asset,
                    &Outcome {
                        state: OrderState::Filled,
                        fill: Some(&e.inner.data.received.to_string()),
                        block: r.block_number,
                        tx_hash: Some(&hash),
                        error: None,
                    },
                );
            }
        }
        Err(Error::Unexpected {
            contract: live.vault,
            what: "buy receipt",
            reason: "no Bought event".into(),
        })
    }

    /// The vault's `Bought` event of the agent's transaction with `nonce`, mined since `from`,
    /// buying `what` (asset, amount in): this order's buy, whatever its hash.
    async fn find_bought(
        &self,
        live: &Live,
        agent: Address,
        nonce: u64,
        from: Option<u64>,
        what: (Address, U256),
    ) -> Result<Option<(B256, U256, u64)>> {
        let provider = self.chain.provider().clone();
        let filter = Filter::new()
            .address(live.vault)
            .event_signature(AgentVault::Bought::SIGNATURE_HASH)
            .from_block(from.unwrap_or(0));
        let logs = self
            .chain
            .rpc("eth_getLogs(Bought)", provider.get_logs(&filter))
            .await?;
        for log in logs {
            let Some(h) = log.transaction_hash else {
                continue;
            };
            let tx = self
                .chain
                .rpc(
                    "eth_getTransactionByHash",
                    provider.get_transaction_by_hash(h),
                )
                .await?;
            let Some(tx) = tx else { continue };
            use alloy::consensus::Transaction as _;
            if tx.inner.signer() == agent && tx.inner.nonce() == nonce {
                let e = log
                    .log_decode::<AgentVault::Bought>()
                    .map_err(|e| chain_err("Bought", e))?;
                if (e.inner.data.asset, e.inner.data.amountIn) != what {
                    return Ok(None);
                }
                return Ok(Some((
                    h,
                    e.inner.data.received,
                    log.block_number.unwrap_or(0),
                )));
            }
        }
        Ok(None)
    }

    /// Appends the statements of final orders that are not in the log yet; a log that does not
    /// answer delays them to the next tick.
    pub async fn flush_log(&mut self) {
        let Some(log) = self.cfg.log.clone() else {
            return;
        };
        let pending = match self.store.unlogged() {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "reading unlogged decisions");
                return;
            }
        };
        for o in pending {
            let st = decision::statement(&self.cfg.plan.name, &self.plan_digest, &o);
            let envelope = match Envelope::sign_statement(&st, &log.key) {
                Ok(e) => e,
                Err(e) => {
                    tracing::error!(error = %e, slot = o.slot, "decision statement does not sign");
                    return;
                }
            };
            let sub = Submission {
                envelope: serde_json::to_value(&envelope).unwrap_or_default(),
                public_key: log.key.public().to_base64(),
            };
            match log.client.add(&sub, false).await {
                Ok(r) => {
                    if let Err(e) = self.store.record_logged(o.slot, o.asset, r.index) {
                        tracing::warn!(error = %e, "recording a logged decision");
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the log did not take a decision; will retry");
                    return;
                }
            }
        }
    }
}

/// The policy's decision at the latest bar of `history` (one bar per slot) for `state` (its
/// cash including this slot's budget): the market snapshot built by
/// `cairn_strategy::snapshot` and `cairn_strategy::decide`, the backtester's policy. `None`
/// before the first bar.
pub fn decide_latest(
    plan: &Plan,
    history: &PriceHistory,
    state: &PortfolioState,
) -> Option<(cairn_strategy::MarketSnapshot, cairn_strategy::Decision)> {
    decide_latest_with(plan, history, state, None).map(|(s, d, _)| (s, d))
}

/// The length of one slot of `plan` (ms): the spacing of the agent's price history.
fn slot_ms(plan: &Plan) -> i64 {
    (365.0 * cairn_market::time::DAY_MS as f64 / plan.budget.schedule.periods_per_year()).round()
        as i64
}

/// [`decide_latest`] with a volatility model: where `vol_model` covers an asset and has seen
/// its window of returns, the snapshot's volatility is the model's forecast (annualised over
/// the slots' year) before the policy runs. Returns what each asset's volatility was read from.
pub fn decide_latest_with(
    plan: &Plan,
    history: &PriceHistory,
    state: &PortfolioState,
    vol_model: Option<&VolModelConfig>,
) -> Option<(
    cairn_strategy::MarketSnapshot,
    cairn_strategy::Decision,
    Vec<VolReading>,
)> {
    // One price per slot: the history's bars are the schedule's periods apart.
    let interval_ms = slot_ms(plan);
    let mut snap = latest(plan, history, interval_ms)?;
    let n = plan.assets.len().min(MAX_ASSETS);
    let mut vols: Vec<VolReading> = snap.assets[..n]
        .iter()
        .map(|a| VolReading {
            realised: a.vol,
            forecast: None,
        })
        .collect();
    if let Some(v) = vol_model {
        let m = &v.model;
        let columns: Option<Vec<usize>> = m.assets().iter().map(|s| plan_index(plan, s)).collect();
        let t = history.len() - 1;
        if let Some(columns) = columns
            && let Some(f) = m.forecast(
                &columns
                    .iter()
                    .map(|&i| history.close[i].as_slice())
                    .collect::<Vec<_>>(),
                t,
            )
        {
            let year = cairn_market::bars_per_year(interval_ms);
            for (&i, h) in columns.iter().zip(f) {
                let annual = cairn_ml::forecast::annualised(h, m.horizon(), year);
                snap.assets[i].vol = annual;
                vols[i].forecast = Some(annual);
            }
        }
    }
    Some((snap, decide(plan, state, &snap), vols))
}

fn plan_index(plan: &Plan, symbol: &str) -> Option<usize> {
    plan.assets
        .iter()
        .position(|a| a.symbol.eq_ignore_ascii_case(symbol))
}

/// Whether `v` can feed `plan`'s risk rules: every asset it reads is in the plan, and its bars
/// are the plan's slots.
fn check_vol_model(plan: &Plan, v: &VolModelConfig) -> Result<()> {
    let m = &v.model;
    if let Some(s) = m.assets().iter().find(|s| plan_index(plan, s).is_none()) {
        return Err(Error::Config(format!(
            "the volatility model reads {s}, which the plan does not hold; it needs the prices \
             of every asset it was trained on ({})",
            m.assets().join(", ")
        )));
    }
    let slot = slot_ms(plan);
    if slot != v.bar_ms {
        return Err(Error::Config(format!(
            "the volatility model reads bars of {} h but the plan decides every {} h: its \
             forecasts need returns over the bars it was trained on",
            v.bar_ms as f64 / 3.6e6,
            slot as f64 / 3.6e6
        )));
    }
    Ok(())
}

/// When the slot after `last` starts (unix ms), for `schedule` anchored at `anchor_ms`.
pub fn next_slot_start(schedule: Schedule, anchor_ms: i64, last: i64) -> i64 {
    use cairn_market::time::DAY_MS;
    let fixed = |len: i64| anchor_ms + (last + 1) * len;
    match schedule {
        Schedule::Daily => fixed(DAY_MS),
        Schedule::Weekly => fixed(7 * DAY_MS),
        Schedule::Biweekly => fixed(14 * DAY_MS),
        Schedule::Monthly => {
            // Scan forward by the minute from 28 days after the slot's earliest start.
            let mut t = anchor_ms + (last + 1).max(0) * 28 * DAY_MS;
            while schedule.period_index(anchor_ms, t) <= last {
                t += 60_000;
            }
            t
        }
    }
}
