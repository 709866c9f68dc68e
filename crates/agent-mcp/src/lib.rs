//! The wallet agent over the Model Context Protocol (`cairn agent mcp`).
//!
//! ```text
//!  MCP client (a model) ──stdio | streamable HTTP──▶ AgentServer ─┬─▶ read: prices, risk_metrics,
//!                                                                 │   portfolio, backtest
//!                                                                 └─▶ write: propose_plan,
//!                                                                     execute_next_buy, pause
//!  execute_next_buy ─▶ Agent::buy_now (the `agent run --live` path: slot in SQLite before
//!                      anything is sent, one decision per slot, the vault's on-chain policy)
//! ```
//!
//! The model chooses nothing the policy owns: there is no argument for slippage, approvals,
//! recipients, routers or token paths. The only amount it may give, `execute_next_buy`'s
//! `max_spend`, can lower a buy but never raise it above the plan's budget (a larger request
//! is refused with a tool error). Unknown arguments are refused.
use alloy::primitives::U256;
use cairn_agent::{Agent, BuyNow, Mode, OrderRow, OrderState, math::to_float};
use cairn_chain::format_units;
use cairn_strategy::{Action, Plan, PortfolioState, snapshot::PriceHistory};
use rmcp::{
    ServerHandler, ServiceExt,
    handler::server::{router::tool::ToolRouter, wrapper::Parameters},
    model::{Implementation, ServerCapabilities, ServerConfig},
    schemars::{self, JsonSchema},
    tool, tool_handler, tool_router,
};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use std::{path::PathBuf, sync::Arc};
use tokio::sync::Mutex;

/// Errors of starting or serving the MCP server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The transport failed (stdio closed while starting, the HTTP listener).
    #[error("MCP transport: {0}")]
    Transport(String),
}

/// What the server needs besides the agent.
#[derive(Debug, Clone)]
pub struct McpConfig {
    /// The vault client signing as its owner, when the owner key is configured: `pause` then
    /// pauses the vault on chain; otherwise it pauses the agent.
    pub owner_vault: Option<cairn_vault::Vault>,
    /// Where proposed plans are stored (`<sha256>.toml`).
    pub proposals_dir: PathBuf,
    /// Candle files for `backtest` (`<SYMBOL><QUOTE>_*.csv`, e.g. `data/market`).
    pub market_dir: PathBuf,
}

/// The MCP server: the agent's tools.
#[derive(Clone)]
pub struct AgentServer {
    agent: Arc<Mutex<Agent>>,
    cfg: Arc<McpConfig>,
    tool_router: ToolRouter<Self>,
}

impl std::fmt::Debug for AgentServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentServer").finish_non_exhaustive()
    }
}

/// `execute_next_buy`'s arguments.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BuyArgs {
    /// Most stablecoin (whole units, e.g. 50 for 50 USDT) this buy may spend in all; the
    /// policy's orders are scaled down to it. At most the plan's budget per period. Default:
    /// what the policy decides.
    #[serde(default)]
    pub max_spend: Option<f64>,
}

/// `propose_plan`'s arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposeArgs {
    /// The plan as `plan.toml` text (same format and validation as a plan file).
    pub plan_toml: String,
}

/// `backtest`'s arguments.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BacktestArgs {
    /// First candle (YYYY-MM-DD). Default: the first in the data.
    #[serde(default)]
    pub from: Option<String>,
    /// Last candle, inclusive (YYYY-MM-DD). Default: the last in the data.
    #[serde(default)]
    pub to: Option<String>,
    /// A plan as `plan.toml` text (e.g. one to propose). Default: the agent's plan.
    #[serde(default)]
    pub plan_toml: Option<String>,
}

/// `pause`'s arguments.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseArgs {
    /// Why (kept with an agent-side pause).
    #[serde(default)]
    pub reason: Option<String>,
}

type ToolResult = Result<String, String>;

fn text(v: Value) -> ToolResult {
    Ok(serde_json::to_string_pretty(&v).unwrap_or_default())
}

fn units(s: &str, decimals: u8) -> String {
    format_units(U256::from_str_radix(s, 10).unwrap_or_default(), decimals)
}

fn finite(x: f64) -> Value {
    if x.is_finite() { json!(x) } else { Value::Null }
}

/// The budget check of `execute_next_buy`'s `max_spend`: `Ok(None)` for no cap.
pub fn clamp_spend(plan: &Plan, max_spend: Option<f64>) -> Result<Option<f64>, String> {
    let Some(m) = max_spend else { return Ok(None) };
    if !m.is_finite() || m <= 0.0 {
        return Err(format!(
            "refused: max_spend {m} is not a positive amount of {}",
            plan.quote
        ));
    }
    if m > plan.budget.amount {
        return Err(format!(
            "refused: max_spend {m} {q} is more than the plan's budget of {b} {q} per {s:?} period; ask for at most {b}",
            q = plan.quote,
            b = plan.budget.amount,
            s = plan.budget.schedule,
        ));
    }
    Ok(Some(m))
}

/// The checks a proposed plan must pass besides `plan.toml` validation: the running plan's
/// quote, assets this venue trades, a budget and a slippage tolerance no larger than the running
/// plan's.
pub fn check_proposal(current: &Plan, venue_symbols: &[String], p: &Plan) -> Result<(), String> {
    if p.quote != current.quote {
        return Err(format!(
            "refused: the plan's quote is {}, the vault holds {}",
            p.quote, current.quote
        ));
    }
    for s in p.symbols() {
        if !venue_symbols.iter().any(|v| v.eq_ignore_ascii_case(s)) {
            return Err(format!(
                "refused: {s} is not traded here (assets: {})",
                venue_symbols.join(", ")
            ));
        }
    }
    if p.budget.amount > current.budget.amount {
        return Err(format!(
            "refused: budget {} {} per period is more than the running plan's {}",
            p.budget.amount, p.quote, current.budget.amount
        ));
    }
    if p.execution.slippage_tolerance_bps > current.execution.slippage_tolerance_bps {
        return Err(format!(
            "refused: slippage_tolerance_bps {} is more than the running plan's {}; slippage is the owner's to set",
            p.execution.slippage_tolerance_bps, current.execution.slippage_tolerance_bps
        ));
    }
    Ok(())
}

fn order_json(o: &OrderRow, a: &Agent) -> Value {
    let v = a.venue();
    let asset = &v.assets[o.asset.min(v.assets.len() - 1)];
    json!({
        "slot": o.slot,
        "asset": o.symbol,
        "state": o.state,
        "reason": o.reason,
        "amountIn": units(&o.amount_in, v.stable_decimals),
        "minOut": units(&o.min_out, asset.decimals),
        "fill": o.fill.as_deref().map(|f| units(f, asset.decimals)),
        "txHash": o.tx_hash,
        "error": o.error,
    })
}

#[tool_router]
impl AgentServer {
    /// A server for `agent`.
    pub fn new(agent: Agent, cfg: McpConfig) -> Self {
        AgentServer {
            agent: Arc::new(Mutex::new(agent)),
            cfg: Arc::new(cfg),
            tool_router: Self::tool_router(),
        }
    }

    #[tool(
        description = "Live prices: each plan asset's oracle answer (Chainlink-shaped feed, its age) and its pool's reserves and price against the stablecoin."
    )]
    async fn prices(&self) -> ToolResult {
        let a = self.agent.lock().await;
        let quotes = cairn_agent::market::read(a.chain(), a.venue())
            .await
            .map_err(|e| e.to_string())?;
        let now = a.chain().clock().await.map_err(|e| e.to_string())?;
        let v = a.venue();
        let assets: Vec<Value> = quotes
            .iter()
            .zip(&v.assets)
            .map(|(q, s)| {
                json!({
                    "symbol": s.symbol,
                    "token": s.token,
                    "oraclePrice": q.price,
                    "feed": s.feed,
                    "updatedAt": q.updated_at,
                    "ageSecs": now.saturating_sub(q.updated_at),
                    "fresh": q.fresh(now, v.heartbeat_secs),
                    "poolPrice": q.pool_price,
                    "pair": s.pair,
                    "reserveStable": format_units(q.reserve_stable, v.stable_decimals),
                    "reserveAsset": format_units(q.reserve_asset, s.decimals),
                    "poolVsOracleBps": finite((q.pool_price / q.price - 1.0) * 10_000.0),
                })
            })
            .collect();
        text(json!({
            "chainTime": now,
            "quote": v.stable_symbol,
            "heartbeatSecs": v.heartbeat_secs,
            "assets": assets,
        }))
    }

    #[tool(
        description = "Risk metrics the plan's policy uses (cairn-strategy, on the agent's price history plus the current oracle prices): annualised volatility, drawdown below the running high, VaR; and what the policy would do now."
    )]
    async fn risk_metrics(&self) -> ToolResult {
        let a = self.agent.lock().await;
        let quotes = cairn_agent::market::read(a.chain(), a.venue())
            .await
            .map_err(|e| e.to_string())?;
        let now_ms = a.chain().clock().await.map_err(|e| e.to_string())? as i64 * 1000;
        let plan = a.plan();
        let n = a.venue().assets.len();
        let mut history = PriceHistory::new(n);
        let past = a.store().prices().map_err(|e| e.to_string())?;
        for (_, t, p) in &past {
            history.push(*t, p);
        }
        let prices: Vec<f64> = quotes.iter().map(|q| q.price).collect();
        history.push(now_ms, &prices);
        let cash = a
            .store()
            .slots()
            .map_err(|e| e.to_string())?
            .last()
            .and_then(|s| s.cash_after)
            .unwrap_or(plan.budget.initial_cash)
            + plan.budget.amount;
        let state = PortfolioState::with_cash(cash);
        let (snap, d) =
            cairn_agent::decide_latest(plan, &history, &state).ok_or("no price history yet")?;
        let assets: Vec<Value> = (0..n)
            .map(|i| {
                let m = &snap.assets[i];
                let action = match d.actions()[i] {
                    Action::Buy(o) => json!({
                        "buy": o.amount_in,
                        "multiplier": o.multiplier,
                        "clip": o.clip.map(|c| format!("{c:?}")),
                    }),
                    Action::Skip(r) => json!({ "skip": r.label(), "why": r.to_string() }),
                };
                json!({
                    "symbol": a.venue().assets[i].symbol,
                    "price": m.price,
                    "annualisedVol": finite(m.vol),
                    "drawdown": finite(m.drawdown),
                    "var": finite(m.var),
                    "policyNow": action,
                })
            })
            .collect();
        text(json!({
            "bars": past.len() + 1,
            "varConfidence": plan.risk.var_confidence,
            "assets": assets,
            "note": "null metrics are still warming up (too few bars)",
        }))
    }

    #[tool(
        description = "The portfolio: the vault's balances (live), each asset's units bought, stablecoin spent and average cost from the agent's fills, the budget left this period, the next buy and whether the agent is paused."
    )]
    async fn portfolio(&self) -> ToolResult {
        let a = self.agent.lock().await;
        let v = a.venue();
        let orders = a.store().orders().map_err(|e| e.to_string())?;
        let mut holdings = Vec::new();
        for (i, asset) in v.assets.iter().enumerate() {
            let filled: Vec<_> = orders
                .iter()
                .filter(|o| o.asset == i && o.state == OrderState::Filled)
                .collect();
            let got: U256 = filled
                .iter()
                .map(|o| {
                    U256::from_str_radix(o.fill.as_deref().unwrap_or("0"), 10).unwrap_or_default()
                })
                .sum();
            let spent: U256 = filled
                .iter()
                .map(|o| U256::from_str_radix(&o.amount_in, 10).unwrap_or_default())
                .sum();
            let qty = to_float(got, asset.decimals);
            let cost = to_float(spent, v.stable_decimals);
            holdings.push(json!({
                "symbol": asset.symbol,
                "token": asset.token_symbol,
                "bought": format_units(got, asset.decimals),
                "spent": format_units(spent, v.stable_decimals),
                "avgCost": if qty > 0.0 { Some(cost / qty) } else { None },
                "buys": filled.len(),
            }));
        }
        let vault = match a.live() {
            Some(l) => {
                let vc = cairn_vault::Vault::new(a.chain().clone(), l.vault);
                let st = vc.status().await.map_err(|e| e.to_string())?;
                let h = |x: &cairn_vault::Holding| {
                    json!({
                        "token": x.token,
                        "symbol": x.symbol,
                        "balance": format_units(x.balance, x.decimals),
                    })
                };
                Some(json!({
                    "address": st.address,
                    "paused": st.paused,
                    "stable": h(&st.stable),
                    "assets": st.feeds.iter().map(|f| h(&f.asset)).collect::<Vec<_>>(),
                    "budgetPerPeriod": format_units(U256::from(st.budget_per_period), st.stable.decimals),
                    "budgetLeft": format_units(st.budget_left, st.stable.decimals),
                    "periodEnds": st.period_ends,
                    "maxSlippageBps": st.max_slippage_bps,
                }))
            }
            None => None,
        };
        let next = a.next_slot_ms().map_err(|e| e.to_string())?;
        text(json!({
            "mode": if a.mode() == Mode::Live { "live" } else { "paper" },
            "plan": a.plan().name,
            "holdings": holdings,
            "vault": vault,
            "slots": a.store().slots().map_err(|e| e.to_string())?.len(),
            "nextBuyMs": next,
            "nextBuy": next.map(cairn_market::time::format_ms),
            "paused": a.paused().map_err(|e| e.to_string())?,
        }))
    }

    #[tool(
        description = "Backtest a plan (the agent's, or plan_toml) over the historical candles (data/market) with the DEX cost model; returns the summary metrics for the plan, plain DCA and lump sum."
    )]
    async fn backtest(&self, Parameters(args): Parameters<BacktestArgs>) -> ToolResult {
        let plan = match &args.plan_toml {
            Some(t) => Plan::from_toml(t).map_err(|e| format!("plan_toml: {e}"))?,
            None => self.agent.lock().await.plan().clone(),
        };
        let dir = self.cfg.market_dir.clone();
        tokio::task::spawn_blocking(move || run_backtest(&plan, &dir, &args))
            .await
            .map_err(|e| format!("backtest: {e}"))?
    }

    #[tool(
        description = "Propose a plan (plan.toml text). It is validated like a plan file, must keep the running plan's quote, trade only assets this venue has, and not raise the budget or the slippage tolerance; it is stored for the owner to review, never executed."
    )]
    async fn propose_plan(&self, Parameters(args): Parameters<ProposeArgs>) -> ToolResult {
        let p = Plan::from_toml(&args.plan_toml).map_err(|e| format!("invalid plan: {e}"))?;
        let (current, symbols) = {
            let a = self.agent.lock().await;
            let syms: Vec<String> = a.venue().assets.iter().map(|x| x.symbol.clone()).collect();
            (a.plan().clone(), syms)
        };
        check_proposal(&current, &symbols, &p)?;
        let digest = hex_sha256(args.plan_toml.as_bytes());
        std::fs::create_dir_all(&self.cfg.proposals_dir)
            .map_err(|e| format!("{}: {e}", self.cfg.proposals_dir.display()))?;
        let path = self.cfg.proposals_dir.join(format!("{digest}.toml"));
        std::fs::write(&path, &args.plan_toml).map_err(|e| format!("{}: {e}", path.display()))?;
        text(json!({
            "stored": path,
            "sha256": digest,
            "name": p.name,
            "budget": p.budget.amount,
            "schedule": format!("{:?}", p.budget.schedule),
            "assets": p.assets.iter().map(|a| json!({"symbol": a.symbol, "weight": a.weight})).collect::<Vec<_>>(),
            "executed": false,
            "note": "the owner runs it with `cairn agent run <file> --live`",
        }))
    }

    #[tool(
        description = "Decide and execute the current schedule slot's DCA buy now, through the vault (live) or as a paper fill, exactly as `cairn agent run` would. One decision per slot: a slot already decided is refused. max_spend (optional, stablecoin units) can only lower the buy, up to the plan's budget."
    )]
    async fn execute_next_buy(&self, Parameters(args): Parameters<BuyArgs>) -> ToolResult {
        let mut a = self.agent.lock().await;
        let cap = clamp_spend(a.plan(), args.max_spend)?;
        let r = a.buy_now(cap).await.map_err(|e| e.to_string())?;
        match r {
            BuyNow::Done { slot, orders } | BuyNow::Resumed { slot, orders } => {
                let list: Vec<Value> = orders.iter().map(|o| order_json(o, &a)).collect();
                text(json!({ "slot": slot, "orders": list }))
            }
            BuyNow::AlreadyDecided { slot, next_slot_ms } => Err(format!(
                "refused: slot {slot} is already decided (no slot is bought twice); the next slot starts at {} chain time",
                cairn_market::time::format_ms(next_slot_ms)
            )),
            BuyNow::NotNow { reason } => Err(format!("not now: {reason}")),
        }
    }

    #[tool(
        description = "Stop buying: pauses the vault on chain when the owner key is configured, otherwise pauses the agent (no slot is decided until the owner resumes it)."
    )]
    async fn pause(&self, Parameters(args): Parameters<PauseArgs>) -> ToolResult {
        let reason = args
            .reason
            .unwrap_or_else(|| "paused over MCP".into())
            .chars()
            .take(200)
            .collect::<String>();
        if let Some(v) = &self.cfg.owner_vault {
            let tx = v.pause().await.map_err(|e| e.to_string())?;
            return text(json!({ "paused": "vault", "vault": v.address(), "tx": tx }));
        }
        let a = self.agent.lock().await;
        a.pause(&reason).map_err(|e| e.to_string())?;
        text(json!({ "paused": "agent", "reason": reason }))
    }
}

fn hex_sha256(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

fn run_backtest(plan: &Plan, dir: &std::path::Path, args: &BacktestArgs) -> ToolResult {
    let mut series = Vec::new();
    for s in plan.symbols() {
        let prefix = format!(
            "{}{}",
            s.to_ascii_uppercase(),
            plan.quote.to_ascii_uppercase()
        );
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| format!("market data {}: {e}", dir.display()))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.extension().is_some_and(|x| x == "csv")
                    && p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
            })
            .collect();
        files.sort();
        let f = files.first().ok_or_else(|| {
            format!(
                "no candles for {s} in {} (expected {prefix}_*.csv)",
                dir.display()
            )
        })?;
        let opts = cairn_market::ImportOptions {
            symbol: Some(s.to_ascii_uppercase()),
            ..Default::default()
        };
        series.push(cairn_market::read_csv(f, &opts).map_err(|e| e.to_string())?);
    }
    let data =
        cairn_market::align(&series.iter().collect::<Vec<_>>()).map_err(|e| e.to_string())?;
    let bad = |s: &str| format!("{s:?} is not a date; use YYYY-MM-DD");
    let start = match &args.from {
        Some(s) => {
            let t = cairn_market::time::parse_timestamp(s).ok_or_else(|| bad(s))?;
            data.time.partition_point(|&x| x < t)
        }
        None => 0,
    };
    let end = match &args.to {
        Some(s) => {
            let t = cairn_market::time::parse_range_end(s).ok_or_else(|| bad(s))?;
            data.time.partition_point(|&x| x < t)
        }
        None => data.len(),
    };
    if end < start + 2 {
        return Err(format!(
            "from/to leave {} bar(s); at least 2 are needed",
            end.saturating_sub(start)
        ));
    }
    let bt = cairn_backtest::backtest(plan, &data, start..end).map_err(|e| e.to_string())?;
    let mut v = serde_json::to_value(&bt.report).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        // The per-period log is long; the summary is what a model needs.
        o.remove("log");
    }
    text(v)
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for AgentServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("cairn-agent", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Cairn's DCA wallet agent. Read: prices, risk_metrics, portfolio, backtest. Write: propose_plan (stored, not executed), execute_next_buy (one per schedule slot, within the plan's budget; slippage, approvals, recipients and routers are the vault's policy, not arguments), pause.",
            )
    }
}

/// Serves `server` over stdio until the client closes it.
pub async fn serve_stdio(server: AgentServer) -> Result<(), Error> {
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| Error::Transport(e.to_string()))?;
    running
        .waiting()
        .await
        .map_err(|e| Error::Transport(e.to_string()))?;
    Ok(())
}

/// Serves `server` over streamable HTTP at `/mcp` on `listener` until the process ends.
pub async fn serve_http(
    server: AgentServer,
    listener: tokio::net::TcpListener,
) -> Result<(), Error> {
    use rmcp::transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
    };
    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    let app = axum::Router::new().nest_service("/mcp", service);
    axum::serve(listener, app)
        .await
        .map_err(|e| Error::Transport(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(budget: f64, slip: u32) -> Plan {
        Plan::from_toml(&format!(
            "name = \"t\"\nquote = \"USDT\"\n[budget]\namount = {budget}\nschedule = \"daily\"\n[[assets]]\nsymbol = \"BTC\"\nweight = 1.0\n[execution]\nslippage_tolerance_bps = {slip}\n"
        ))
        .unwrap()
    }

    #[test]
    fn spend_is_clamped_by_the_budget() {
        let p = plan(100.0, 100);
        assert_eq!(clamp_spend(&p, None), Ok(None));
        assert_eq!(clamp_spend(&p, Some(40.0)), Ok(Some(40.0)));
        assert_eq!(clamp_spend(&p, Some(100.0)), Ok(Some(100.0)));
        let e = clamp_spend(&p, Some(100.5)).unwrap_err();
        assert!(e.contains("more than the plan's budget of 100"), "{e}");
        assert!(clamp_spend(&p, Some(-1.0)).is_err());
        assert!(clamp_spend(&p, Some(f64::NAN)).is_err());
        assert!(clamp_spend(&p, Some(0.0)).is_err());
    }

    #[test]
    fn proposals_cannot_raise_budget_or_slippage_or_add_assets() {
        let cur = plan(100.0, 100);
        let syms = vec!["BTC".to_string(), "BNB".to_string()];
        assert!(check_proposal(&cur, &syms, &plan(50.0, 50)).is_ok());
        assert!(
            check_proposal(&cur, &syms, &plan(150.0, 50))
                .unwrap_err()
                .contains("budget")
        );
        assert!(
            check_proposal(&cur, &syms, &plan(50.0, 300))
                .unwrap_err()
                .contains("slippage")
        );
        assert!(
            check_proposal(&cur, &["BNB".to_string()], &plan(50.0, 50))
                .unwrap_err()
                .contains("not traded")
        );
    }

    #[test]
    fn unknown_arguments_are_refused() {
        let e = serde_json::from_value::<BuyArgs>(json!({"max_spend": 1.0, "slippage_bps": 5000}))
            .unwrap_err();
        assert!(e.to_string().contains("slippage_bps"), "{e}");
        assert!(serde_json::from_value::<BuyArgs>(json!({"recipient": "0x00"})).is_err());
    }
}
