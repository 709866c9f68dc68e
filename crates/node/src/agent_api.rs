//! The wallet agent in the node's API: `GET /agent` (plan, mode, vault, holdings with their
//! average cost and value, cash, the portfolio over time, next buy, pause) and
//! `GET /agent/decisions` (the decision trail, newest first, paged by slot).
//!
//! ```text
//!  cairn agent run ──writes──▶ <state>.sqlite (WAL) ◀──reads (read-only, per request)── node
//! ```
//!
//! The node only reads the agent's state ([`Store::open_read_only`]): it opens no schema,
//! migrates nothing, writes nothing and never takes the agent's process lock, so the agent
//! runs exactly as without a node. The state may not exist yet (the agent starts after the
//! node): such a request answers 404 until it does.
use crate::{Error, Node, Result};
use alloy::primitives::{U256, utils::format_units};
use axum::{
    Json,
    extract::{Query, State},
};
use cairn_agent::{OrderRow, OrderState, Store, Venue};
use serde::Serialize;
use std::{collections::BTreeMap, path::PathBuf};
use utoipa::ToSchema;

/// Decisions per page unless `limit` says otherwise.
pub const DEFAULT_DECISIONS: usize = 50;
/// Most decisions one page holds.
pub const MAX_DECISIONS: usize = 500;

/// One asset the agent holds.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Holding {
    /// The plan's symbol (`BTC`).
    pub symbol: String,
    /// The token bought (`WBTC`).
    pub token: String,
    /// Units held (whole tokens, exact decimal).
    pub units: String,
    /// Stablecoin spent on them (whole units, exact decimal).
    pub spent: String,
    /// Stablecoin paid per whole token, on average.
    pub avg_cost: Option<f64>,
    /// The price at the latest slot (stablecoin per whole token, from its feed).
    pub price: Option<f64>,
    /// `units` × `price`.
    pub value: Option<f64>,
    /// Filled buys.
    pub buys: usize,
}

/// The portfolio after one slot.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PortfolioPoint {
    /// The schedule slot.
    pub slot: i64,
    /// When it was decided (chain time, UTC ms).
    pub time_ms: i64,
    /// Each asset's price then, in plan order.
    pub prices: Vec<f64>,
    /// Stablecoin left after the slot's buys.
    pub cash: f64,
    /// Cash plus the holdings at the slot's prices.
    pub value: f64,
    /// How far `value` is below its highest value so far (0.1 = 10% below).
    pub drawdown: f64,
}

/// What the agent is, holds and does next.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AgentStatus {
    /// The plan's name.
    pub plan: Option<String>,
    /// SHA-256 of the plan file (`sha256:<hex>`), as its decisions name it.
    pub plan_digest: Option<String>,
    /// `live` (through the vault) or `paper` (simulated fills).
    pub mode: Option<String>,
    /// The vault a live agent buys through.
    pub vault: Option<String>,
    /// The stablecoin's symbol.
    pub stable: String,
    /// The plan's schedule (`daily`, `weekly`, ...).
    pub schedule: Option<String>,
    /// Why the agent is paused (agent-side pause), if it is.
    pub paused: Option<String>,
    /// Slots decided.
    pub slots: usize,
    /// Stablecoin left after the latest slot.
    pub cash: Option<f64>,
    /// Cash plus holdings at the latest prices.
    pub value: Option<f64>,
    /// What it holds, in plan order.
    pub holdings: Vec<Holding>,
    /// When the next slot starts (chain time, UTC ms).
    pub next_buy_ms: Option<i64>,
    /// The portfolio after each slot, oldest first.
    pub history: Vec<PortfolioPoint>,
}

/// One asset's part of one slot's decision, and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// The schedule slot.
    pub slot: i64,
    /// When the slot was decided (chain time, UTC ms).
    pub time_ms: Option<i64>,
    /// The plan's symbol.
    pub asset: String,
    /// `planned`, `sent`, `filled`, `skipped` or `failed`.
    pub state: String,
    /// The rule that fired, in words.
    pub reason: String,
    /// Stablecoin to spend (whole units, exact decimal; 0 for a skip).
    pub amount_in: String,
    /// Least token units accepted (whole tokens, exact decimal).
    pub min_out: String,
    /// Tokens received (whole tokens, exact decimal).
    pub fill: Option<String>,
    /// Stablecoin paid per whole token (`amountIn` / `fill`).
    pub fill_price: Option<f64>,
    /// The transaction's hash (live).
    pub tx_hash: Option<String>,
    /// The block the buy was mined in.
    pub fill_block: Option<u64>,
    /// Where the buy went (venue, router, token path), for a live buy.
    #[schema(value_type = Option<Object>)]
    pub route: Option<serde_json::Value>,
    /// The index of its `decision/v1` statement in the transparency log.
    pub log_index: Option<u64>,
    /// Why it failed.
    pub error: Option<String>,
}

/// A page of the decision trail.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Decisions {
    /// Newest first.
    pub decisions: Vec<Decision>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next_before: Option<i64>,
}

/// The state file of the agent this node serves.
fn state_path(node: &Node) -> Result<PathBuf> {
    node.shared.config.agent_state.clone().ok_or_else(|| {
        Error::NotFound(
            "this node serves no wallet agent (it was started without an agent state)".into(),
        )
    })
}

/// Opens the state read-only (404 while the agent has not written one).
fn open(path: &std::path::Path) -> Result<Store> {
    if !path.is_file() {
        return Err(Error::NotFound(
            "the wallet agent has not started yet (no state written); try again shortly".into(),
        ));
    }
    Store::open_read_only(path).map_err(internal)
}

fn internal(e: impl std::fmt::Display) -> Error {
    Error::Io {
        what: "reading the agent state".into(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// Base units as an exact decimal and as a float.
fn units(base: &str, decimals: u8) -> (String, f64) {
    let v = U256::from_str_radix(base, 10).unwrap_or_default();
    let s = format_units(v, decimals).unwrap_or_else(|_| "0".into());
    let f = s.parse().unwrap_or(0.0);
    (trim(s), f)
}

/// `1.500000` → `1.5`, `2.000` → `2`.
fn trim(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

fn venue(store: &Store) -> Result<Venue> {
    let text = store.meta("venue").map_err(internal)?.ok_or_else(|| {
        Error::NotFound("the wallet agent has not recorded its market yet".into())
    })?;
    serde_json::from_str(&text).map_err(internal)
}

/// The agent's status from its state.
pub fn read_status(store: &Store) -> Result<AgentStatus> {
    let venue = venue(store)?;
    let orders = store.orders().map_err(internal)?;
    let slots = store.slots().map_err(internal)?;
    let prices = store.prices().map_err(internal)?;
    let meta = |k: &str| store.meta(k).map_err(internal);
    let n = venue.assets.len();

    // The portfolio after each slot: cumulative fills at that slot's prices.
    let mut held = vec![0.0f64; n];
    let mut peak = 0.0f64;
    let mut history = Vec::new();
    let price_of: BTreeMap<i64, &Vec<f64>> = prices.iter().map(|(s, _, p)| (*s, p)).collect();
    for s in &slots {
        for o in orders
            .iter()
            .filter(|o| o.slot == s.slot && o.state == OrderState::Filled)
        {
            if let (Some(f), Some(a)) = (&o.fill, venue.assets.get(o.asset)) {
                held[o.asset] += units(f, a.decimals).1;
            }
        }
        let Some(p) = price_of.get(&s.slot) else {
            continue;
        };
        let cash = s.cash_after.unwrap_or(s.cash_before);
        let value = cash + held.iter().zip(p.iter()).map(|(u, p)| u * p).sum::<f64>();
        peak = peak.max(value);
        history.push(PortfolioPoint {
            slot: s.slot,
            time_ms: s.time_ms,
            prices: (*p).clone(),
            cash,
            value,
            drawdown: if peak > 0.0 { 1.0 - value / peak } else { 0.0 },
        });
    }

    let latest = prices.last().map(|(_, _, p)| p);
    let mut holdings = Vec::new();
    for (i, a) in venue.assets.iter().enumerate() {
        let filled: Vec<&OrderRow> = orders
            .iter()
            .filter(|o| o.asset == i && o.state == OrderState::Filled)
            .collect();
        let got: U256 = filled
            .iter()
            .map(|o| U256::from_str_radix(o.fill.as_deref().unwrap_or("0"), 10).unwrap_or_default())
            .sum();
        let spent: U256 = filled
            .iter()
            .map(|o| U256::from_str_radix(&o.amount_in, 10).unwrap_or_default())
            .sum();
        let (units_s, qty) = units(&got.to_string(), a.decimals);
        let (spent_s, cost) = units(&spent.to_string(), venue.stable_decimals);
        let price = latest.and_then(|p| p.get(i).copied());
        holdings.push(Holding {
            symbol: a.symbol.clone(),
            token: a.token_symbol.clone(),
            units: units_s,
            spent: spent_s,
            avg_cost: (qty > 0.0).then(|| cost / qty),
            price,
            value: price.map(|p| p * qty),
            buys: filled.len(),
        });
    }
    let cash = slots.last().map(|s| s.cash_after.unwrap_or(s.cash_before));
    let value = cash.map(|c| c + holdings.iter().filter_map(|h| h.value).sum::<f64>());
    let schedule: Option<cairn_strategy::Schedule> =
        meta(cairn_agent::META_SCHEDULE)?.and_then(|s| serde_json::from_str(&s).ok());
    let anchor: Option<i64> = meta("anchor_ms")?.and_then(|s| s.parse().ok());
    let next_buy_ms = match (schedule, anchor) {
        (Some(sch), Some(an)) => Some(cairn_agent::next_slot_start(
            sch,
            an,
            slots.last().map_or(-1, |l| l.slot),
        )),
        _ => None,
    };
    Ok(AgentStatus {
        plan: meta(cairn_agent::META_PLAN_NAME)?,
        plan_digest: meta("plan")?,
        mode: meta(cairn_agent::META_MODE)?,
        vault: meta(cairn_agent::META_VAULT)?,
        stable: venue.stable_symbol.clone(),
        schedule: schedule.and_then(|s| {
            serde_json::to_value(s)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
        }),
        paused: meta(cairn_agent::META_PAUSED)?,
        slots: slots.len(),
        cash,
        value,
        holdings,
        next_buy_ms,
        history,
    })
}

/// A page of the decision trail: orders of slots before `before`, newest first.
pub fn read_decisions(store: &Store, limit: usize, before: Option<i64>) -> Result<Decisions> {
    let venue = venue(store)?;
    let times: BTreeMap<i64, i64> = store
        .slots()
        .map_err(internal)?
        .iter()
        .map(|s| (s.slot, s.time_ms))
        .collect();
    let mut orders = store.orders().map_err(internal)?;
    orders.retain(|o| before.is_none_or(|b| o.slot < b));
    orders.reverse();
    let more = orders.len() > limit;
    orders.truncate(limit);
    // A page ends at a whole slot, so `before` never splits one.
    if more && let Some(last) = orders.last().map(|o| o.slot) {
        let whole = orders.iter().filter(|o| o.slot != last).count();
        if whole > 0 {
            orders.truncate(whole);
        }
    }
    let next_before = if more {
        orders.last().map(|o| o.slot)
    } else {
        None
    };
    let decisions = orders
        .iter()
        .map(|o| {
            let dec = venue.assets.get(o.asset).map_or(18, |a| a.decimals);
            let (amount_in, spent) = units(&o.amount_in, venue.stable_decimals);
            let fill = o.fill.as_deref().map(|f| units(f, dec));
            Decision {
                slot: o.slot,
                time_ms: times.get(&o.slot).copied(),
                asset: o.symbol.clone(),
                state: serde_json::to_value(o.state)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                reason: o.reason.clone(),
                amount_in,
                min_out: units(&o.min_out, dec).0,
                fill_price: fill
                    .as_ref()
                    .and_then(|(_, q)| (*q > 0.0).then(|| spent / q)),
                fill: fill.map(|(s, _)| s),
                tx_hash: o.tx_hash.clone(),
                fill_block: o.fill_block,
                route: o.route.as_ref().and_then(|r| serde_json::to_value(r).ok()),
                log_index: o.log_index,
                error: o.error.clone(),
            }
        })
        .collect();
    Ok(Decisions {
        decisions,
        next_before,
    })
}

#[utoipa::path(get, path = "/agent", tag = "agent",
    description = "The wallet agent this node serves, read from its state: plan, mode, vault, holdings with their average cost and value, cash, the portfolio after each slot (value and drawdown), the next buy and any pause.",
    responses(
        (status = 200, description = "The agent's status", body = AgentStatus),
        (status = 404, description = "This node serves no agent, or the agent has not started yet", body = crate::ErrorBody)))]
pub(crate) async fn status(State(node): State<Node>) -> Result<Json<AgentStatus>> {
    let path = state_path(&node)?;
    tokio::task::spawn_blocking(move || read_status(&open(&path)?))
        .await
        .map_err(internal)?
        .map(Json)
}

#[utoipa::path(get, path = "/agent/decisions", tag = "agent",
    description = "The agent's decision trail, newest first: per slot and asset the rule that fired, the amounts, the fill, the transaction, the route and the log index of its signed decision statement. Pages end at whole slots; pass `nextBefore` as `before` for older ones.",
    params(
        ("limit" = Option<usize>, Query, description = "Most decisions (default 50, at most 500)"),
        ("before" = Option<i64>, Query, description = "Only slots before this one")),
    responses(
        (status = 200, description = "A page of decisions", body = Decisions),
        (status = 404, description = "This node serves no agent, or the agent has not started yet", body = crate::ErrorBody)))]
pub(crate) async fn decisions(
    State(node): State<Node>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Result<Json<Decisions>> {
    let (limit, before) = page(&q)?;
    let path = state_path(&node)?;
    tokio::task::spawn_blocking(move || read_decisions(&open(&path)?, limit, before))
        .await
        .map_err(internal)?
        .map(Json)
}

/// `limit` and `before` from the query; anything else is refused.
fn page(q: &BTreeMap<String, String>) -> Result<(usize, Option<i64>)> {
    if let Some(k) = q.keys().find(|k| !matches!(k.as_str(), "limit" | "before")) {
        return Err(Error::BadRequest(format!(
            "unknown query parameter {k:?}: the decisions take limit and before"
        )));
    }
    let limit = match q.get("limit") {
        None => DEFAULT_DECISIONS,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if (1..=MAX_DECISIONS).contains(&n) => n,
            _ => {
                return Err(Error::BadRequest(format!(
                    "limit {l:?} is not a number from 1 to {MAX_DECISIONS}"
                )));
            }
        },
    };
    let before = match q.get("before") {
        None => None,
        Some(b) => Some(b.parse::<i64>().map_err(|_| {
            Error::BadRequest(format!(
                "before {b:?} is not a slot number (pass a page's nextBefore)"
            ))
        })?),
    };
    Ok((limit, before))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_parameters_are_checked() {
        let q = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        assert_eq!(page(&q(&[])).unwrap(), (DEFAULT_DECISIONS, None));
        assert_eq!(
            page(&q(&[("limit", "3"), ("before", "7")])).unwrap(),
            (3, Some(7))
        );
        for bad in [
            q(&[("limit", "0")]),
            q(&[("limit", "501")]),
            q(&[("limit", "x")]),
            q(&[("before", "soon")]),
            q(&[("after", "1")]),
        ] {
            assert!(matches!(page(&bad), Err(Error::BadRequest(_))), "{bad:?}");
        }
    }

    #[test]
    fn exact_units_are_trimmed() {
        assert_eq!(units("1500000", 6), ("1.5".into(), 1.5));
        assert_eq!(units("2000000", 6).0, "2");
        assert_eq!(units("0", 18).0, "0");
    }
}
