//! `cairn agent run|status` (the agent that buys) and `cairn market replay` (the devnet market
//! it buys in). The loop, the state and the integer amounts live in `cairn-agent`; this module
//! turns flags into its configuration and prints what it did.
use crate::{
    cli::{
        AgentMcpArgs, AgentModeArgs, AgentResumeArgs, AgentRunArgs, AgentSetupArgs,
        AgentStatusArgs, ReplayArgs,
    },
    config::Settings,
    output,
};
use alloy::primitives::{Address, U256};
use anyhow::{Context, Result, anyhow, bail};
use cairn_agent::{
    Agent, AgentConfig, DecisionLog, ExitPoint, Live, Mode, OrderState, Store, Venue,
    VolModelConfig, math::to_float, next_slot_start, replay,
};
use cairn_chain::{Chain, format_units};
use cairn_market::time::format_ms;
use serde_json::json;
use std::{path::PathBuf, process::ExitCode, sync::Arc, time::Duration};

/// The environment variable of the crash test hook: `before-send` or `after-send` ends the
/// process (exit code 86) at that point of a live buy, as a kill would.
const EXIT_HOOK_ENV: &str = "CAIRN_AGENT_TEST_EXIT";

fn mode_of(m: &AgentModeArgs) -> Result<Mode> {
    match (m.paper, m.live) {
        (true, false) => Ok(Mode::Paper),
        (false, true) => Ok(Mode::Live),
        _ => bail!(
            "say how orders are filled: --paper (simulated from the pools) or --live (through the vault)"
        ),
    }
}

fn state_path(
    settings: &Settings,
    m: &AgentModeArgs,
    plan: &std::path::Path,
    vault: Option<Address>,
) -> PathBuf {
    if let Some(p) = &m.state {
        return p.clone();
    }
    let stem = plan
        .file_stem()
        .map_or("plan".into(), |s| s.to_string_lossy().into_owned());
    let name = match vault {
        Some(v) => format!("{stem}-live-{v:#x}.sqlite"),
        None => format!("{stem}-paper.sqlite"),
    };
    settings.data_dir.join("agent").join(name)
}

async fn venue(
    settings: &Settings,
    chain: &Chain,
    quote: &str,
    symbols: Vec<&str>,
    heartbeat: u64,
) -> Result<Venue> {
    let d = super::vault::manifest(settings, chain.chain_id())?.ok_or_else(|| {
        anyhow!(
            "no deployment manifest for chain {} under {}: start the devnet (`cairn devnet up`)",
            chain.chain_id(),
            settings.data_dir.display()
        )
    })?;
    Ok(Venue::from_deployment(&d, quote, symbols, heartbeat)?)
}

/// The volatility model of `--vol-model`: a file, or a `sha256:` digest fetched from the node
/// (and checked against it).
async fn load_vol_model(what: &str, bars: &str, node: &str) -> Result<VolModelConfig> {
    let bar_ms = super::vault::duration(bars, "--vol-model-bars")? as i64 * 1000;
    let bytes = match what.strip_prefix("sha256:") {
        Some(hex) => {
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                bail!("--vol-model {what:?}: a digest is sha256: and 64 hex digits");
            }
            let hex = hex.to_ascii_lowercase();
            let client = cairn_node_client::NodeClient::new(node);
            let bytes = client.blob_as_served(&hex).await.with_context(|| {
                format!("cannot fetch the volatility model sha256:{hex} from the node at {node}")
            })?;
            if cairn_attest::Digest::sha256_of(&bytes).to_string() != format!("sha256:{hex}") {
                bail!("the node at {node} answered other bytes for sha256:{hex}");
            }
            bytes
        }
        None => std::fs::read(what).with_context(|| {
            format!(
                "cannot read the volatility model {what} (a file, or sha256:<hex> from the node)"
            )
        })?,
    };
    let model = cairn_ml::forecast::VolModel::from_bytes(&bytes)
        .map_err(|e| anyhow!("--vol-model {what}: {e}"))?;
    Ok(VolModelConfig {
        model: Arc::new(model),
        bar_ms,
    })
}

/// An agent built from its flags, with the lock on its state (held while it lives).
struct Built {
    agent: Agent,
    venue: Venue,
    path: PathBuf,
    _lock: std::fs::File,
}

async fn build(
    a: &AgentSetupArgs,
    settings: &Settings,
    json: bool,
    slots: Option<u64>,
    poll: Duration,
) -> Result<Built> {
    let mode = mode_of(&a.mode)?;
    let plan_bytes =
        std::fs::read(&a.plan).with_context(|| format!("cannot read plan {}", a.plan.display()))?;
    let plan = super::agent::load_plan(&a.plan)?;
    let heartbeat = super::vault::duration(&a.heartbeat, "--heartbeat")?;
    let max_outage = super::vault::duration(&a.max_outage, "--max-outage")?;
    let signer = match (mode, &a.agent_key) {
        (Mode::Live, Some(p)) => Some(super::node::read_key(p)?),
        (Mode::Live, None) => bail!("--live needs --agent-key FILE (the key the vault lets buy)"),
        (Mode::Paper, _) => None,
    };
    let chain = super::vault::connect(settings, &a.mode.target, signer.clone()).await?;
    let venue = venue(
        settings,
        &chain,
        &plan.quote,
        plan.symbols().collect(),
        heartbeat,
    )
    .await?;
    // The flag, else the plan's `execution.venue`, else the best quote per order.
    let (route, route_from) = match (&a.venue, &plan.execution.venue) {
        (Some(v), _) => (Some(v.clone()), "--venue"),
        (None, Some(v)) => (Some(v.clone()), "the plan's execution.venue"),
        (None, None) => (None, ""),
    };
    let route = route.filter(|r| r != "best");
    if let Some(r) = &route {
        let names: Vec<String> = venue.routes().into_iter().map(|r| r.name).collect();
        if !names.iter().any(|n| n == r) {
            bail!(
                "{route_from} {r:?} is not on this chain; use best or one of: {}",
                names.join(", ")
            );
        }
    }
    let vol_model = match &a.vol_model {
        Some(m) => Some(load_vol_model(m, &a.vol_model_bars, &a.node).await?),
        None => None,
    };
    let live = match signer {
        Some(signer) => {
            let vault = super::vault::vault_address(settings, &a.mode.target, &chain).await?;
            let v = cairn_vault::Vault::new(chain.clone(), vault);
            let agent = v.agent().await?;
            if agent != signer.address() {
                bail!(
                    "the vault at {vault} lets {agent} buy, not the key in {}; pass that vault's --agent-key",
                    a.agent_key
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default()
                );
            }
            if v.stable().await? != venue.stable {
                bail!(
                    "the vault at {vault} does not hold the plan's quote {}",
                    plan.quote
                );
            }
            Some(Live { vault, signer })
        }
        None => None,
    };
    let path = state_path(settings, &a.mode, &a.plan, live.as_ref().map(|l| l.vault));
    let lock = cairn_agent::store::lock(&path)?;
    let store = Store::open(&path)?;
    store.set_meta("venue", &serde_json::to_string(&venue)?)?;
    // Decisions: the log given, else the local one when it answers.
    let url = match (&a.log, a.no_log) {
        (_, true) => None,
        (Some(u), false) => Some(u.clone()),
        (None, false) => {
            let local = crate::cli::DEFAULT_LOG_URL;
            // A log started just before the agent may take a moment to listen.
            let client = cairn_log_client::LogClient::new(local);
            let deadline = std::time::Instant::now() + Duration::from_secs(3);
            let mut up = client.info().await.is_ok();
            while !up && std::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(200)).await;
                up = client.info().await.is_ok();
            }
            if !up && !json {
                eprintln!(
                    "note: no transparency log answers at {local}; decisions stay in the agent's state (start `cairn log serve`, or pass --log URL)"
                );
            }
            up.then(|| local.to_owned())
        }
    };
    let log = match url {
        Some(url) => Some(DecisionLog {
            client: cairn_log_client::LogClient::new(&url),
            key: Arc::new(
                super::keys::signing_key(settings, a.attest_key.as_deref())
                    .context("decision statements are signed with the attestation key")?,
            ),
        }),
        None => None,
    };
    let exit_at = match std::env::var(EXIT_HOOK_ENV).ok().as_deref() {
        Some("before-send") => Some(ExitPoint::BeforeSend),
        Some("after-send") => Some(ExitPoint::AfterSend),
        _ => None,
    };
    if !json {
        eprintln!(
            "agent: {} {} on chain {}, state {}",
            plan.name,
            if mode == Mode::Live { "live" } else { "paper" },
            chain.chain_id(),
            path.display()
        );
    }
    let cfg = AgentConfig {
        plan,
        plan_bytes,
        mode,
        venue: venue.clone(),
        live,
        slots,
        poll,
        deadline_secs: 300,
        max_outage: Duration::from_secs(max_outage),
        log,
        exit_at,
        route,
        bump_after: cairn_chain::send::BUMP_AFTER,
        vol_model,
    };
    Ok(Built {
        agent: Agent::new(cfg, chain, store)?,
        venue,
        path,
        _lock: lock,
    })
}

pub(super) async fn run(a: &AgentRunArgs, settings: &Settings, json: bool) -> Result<ExitCode> {
    let mut b = build(
        &a.setup,
        settings,
        json,
        a.slots,
        Duration::from_millis(a.poll_ms.max(10)),
    )
    .await?;
    let report = b.agent.run().await?;
    if json {
        output::json(&json!({ "state": b.path, "slots": report.slots, "orders": report.orders }));
    } else {
        let mut s = String::new();
        for o in &report.orders {
            s.push_str(&order_line(&b.venue, o));
        }
        output::print(&s);
    }
    Ok(ExitCode::SUCCESS)
}

/// `cairn agent mcp`: the agent's tools over MCP. Nothing but the protocol goes to stdout.
pub(super) async fn mcp(a: &AgentMcpArgs, settings: &Settings, _json: bool) -> Result<ExitCode> {
    // Notes go to stderr (json = true keeps `build` quiet there too; stdout is the protocol's).
    let b = build(&a.setup, settings, true, None, Duration::from_millis(250)).await?;
    let owner_vault = match (&a.owner_key, b.agent.live()) {
        (Some(p), Some(live)) => {
            let key = super::node::read_key(p)?;
            let owner = key.address();
            let chain = super::vault::connect(settings, &a.setup.mode.target, Some(key)).await?;
            let v = cairn_vault::Vault::new(chain, live.vault);
            let actual = v.owner().await?;
            if actual != owner {
                bail!(
                    "the vault at {} is owned by {actual}, not the key in {}",
                    live.vault,
                    p.display()
                );
            }
            Some(v)
        }
        (Some(_), None) => bail!("--owner-key pauses a vault: it needs --live"),
        (None, _) => None,
    };
    let cfg = cairn_agent_mcp::McpConfig {
        owner_vault,
        proposals_dir: settings.data_dir.join("agent").join("proposals"),
        market_dir: a.market_dir.clone(),
    };
    let server = cairn_agent_mcp::AgentServer::new(b.agent, cfg);
    match &a.http {
        None => {
            eprintln!(
                "cairn agent mcp: serving on stdio (state {})",
                b.path.display()
            );
            cairn_agent_mcp::serve_stdio(server).await?;
        }
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("--http {addr}: cannot listen"))?;
            let at = listener.local_addr()?;
            // The one line on stdout: where to connect.
            println!(
                "{}",
                json!({ "listening": format!("http://{at}/mcp"), "state": b.path })
            );
            cairn_agent_mcp::serve_http(server, listener).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn order_line(venue: &Venue, o: &cairn_agent::OrderRow) -> String {
    let a = &venue.assets[o.asset.min(venue.assets.len() - 1)];
    let units = |s: &str, d: u8| format_units(U256::from_str_radix(s, 10).unwrap_or_default(), d);
    match o.state {
        OrderState::Filled => format!(
            "slot {} {}: bought {} {} for {} {}{}{}\n",
            o.slot,
            o.symbol,
            units(o.fill.as_deref().unwrap_or("0"), a.decimals),
            a.token_symbol,
            units(&o.amount_in, venue.stable_decimals),
            venue.stable_symbol,
            o.route
                .as_ref()
                .map(|r| format!(" via {}", r.venue))
                .unwrap_or_default(),
            o.tx_hash
                .as_deref()
                .map(|h| format!(" (tx {h})"))
                .unwrap_or_default()
        ),
        OrderState::Skipped => format!("slot {} {}: {}\n", o.slot, o.symbol, o.reason),
        _ => format!(
            "slot {} {}: not bought ({:?}): {}\n",
            o.slot,
            o.symbol,
            o.state,
            o.error.as_deref().unwrap_or("")
        ),
    }
}

/// The state file of an agent that has run: `(path, vault)`.
fn existing_state(
    settings: &Settings,
    m: &AgentModeArgs,
    plan: &std::path::Path,
) -> Result<(PathBuf, Option<Address>)> {
    let mode = mode_of(m)?;
    let vault = match mode {
        Mode::Live => Some(match &m.target.vault {
            Some(v) => super::vault::address(v, "--vault")?,
            None => {
                // The vault recorded for the only chain this data directory has one for.
                let mut found = None;
                for e in std::fs::read_dir(&settings.data_dir)
                    .into_iter()
                    .flatten()
                    .flatten()
                {
                    let n = e.file_name().to_string_lossy().into_owned();
                    if n.starts_with("agent-vault-") && n.ends_with(".json") {
                        let v: serde_json::Value =
                            serde_json::from_slice(&std::fs::read(e.path())?)?;
                        found = v["address"].as_str().and_then(|s| s.parse().ok());
                    }
                }
                found.ok_or_else(|| anyhow!("no vault recorded; pass --vault ADDRESS"))?
            }
        }),
        Mode::Paper => None,
    };
    let path = state_path(settings, m, plan, vault);
    if !path.exists() {
        bail!(
            "no agent state at {}: run `cairn agent run {} --{}` first",
            path.display(),
            plan.display(),
            if vault.is_some() { "live" } else { "paper" }
        );
    }
    Ok((path, vault))
}

/// `cairn agent resume`: lifts an agent-side pause (set by the MCP `pause` tool).
pub(super) fn resume(a: &AgentResumeArgs, settings: &Settings, json: bool) -> Result<ExitCode> {
    super::agent::load_plan(&a.plan)?;
    let (path, _) = existing_state(settings, &a.mode, &a.plan)?;
    let store = Store::open(&path)?;
    let was = store.meta("paused")?;
    store.delete_meta("paused")?;
    if json {
        output::json(&json!({ "state": path, "wasPaused": was }));
    } else {
        output::print(&match was {
            Some(why) => format!("resumed (it was paused: {why})\n"),
            None => "not paused\n".to_owned(),
        });
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn status(a: &AgentStatusArgs, settings: &Settings, json: bool) -> Result<ExitCode> {
    let plan = super::agent::load_plan(&a.plan)?;
    let (path, vault) = existing_state(settings, &a.mode, &a.plan)?;
    let store = Store::open(&path)?;
    let venue: Venue = serde_json::from_str(
        &store
            .meta("venue")?
            .ok_or_else(|| anyhow!("{} has no venue recorded", path.display()))?,
    )?;
    let orders = store.orders()?;
    let slots = store.slots()?;
    let mut holdings = Vec::new();
    for (i, asset) in venue.assets.iter().enumerate() {
        let filled: Vec<_> = orders
            .iter()
            .filter(|o| o.asset == i && o.state == OrderState::Filled)
            .collect();
        let units: U256 = filled
            .iter()
            .map(|o| U256::from_str_radix(o.fill.as_deref().unwrap_or("0"), 10).unwrap_or_default())
            .sum();
        let spent: U256 = filled
            .iter()
            .map(|o| U256::from_str_radix(&o.amount_in, 10).unwrap_or_default())
            .sum();
        let qty = to_float(units, asset.decimals);
        let cost = to_float(spent, venue.stable_decimals);
        holdings.push(json!({
            "symbol": asset.symbol,
            "token": asset.token_symbol,
            "units": format_units(units, asset.decimals),
            "spent": format_units(spent, venue.stable_decimals),
            "avgCost": if qty > 0.0 { Some(cost / qty) } else { None },
            "buys": filled.len(),
        }));
    }
    let anchor: Option<i64> = store.meta("anchor_ms")?.and_then(|s| s.parse().ok());
    let next = match (anchor, slots.last()) {
        (Some(an), Some(l)) => Some(next_slot_start(plan.budget.schedule, an, l.slot)),
        _ => None,
    };
    let last: Vec<_> = orders.iter().rev().take(a.last).rev().collect();
    if json {
        output::json(&json!({
            "state": path,
            "mode": if vault.is_some() { "live" } else { "paper" },
            "vault": vault,
            "slots": slots.len(),
            "cash": slots.last().and_then(|s| s.cash_after),
            "holdings": holdings,
            "anchorMs": anchor,
            "nextBuyMs": next,
            "nextBuy": next.map(format_ms),
            "paused": store.meta("paused")?,
            "decisions": last,
        }));
        return Ok(ExitCode::SUCCESS);
    }
    let mut s = format!(
        "agent {} ({}), {} slot(s), state {}\n\nholdings\n",
        plan.name,
        if vault.is_some() { "live" } else { "paper" },
        slots.len(),
        path.display()
    );
    for h in &holdings {
        s.push_str(&format!(
            "  {:<6} {:>18} {:<6} spent {:>12} {}  avg cost {}  ({} buys)\n",
            h["symbol"].as_str().unwrap_or(""),
            h["units"].as_str().unwrap_or(""),
            h["token"].as_str().unwrap_or(""),
            h["spent"].as_str().unwrap_or(""),
            venue.stable_symbol,
            h["avgCost"]
                .as_f64()
                .map_or("-".into(), |c| format!("{c:.2}")),
            h["buys"]
        ));
    }
    s.push_str(&format!(
        "\nnext buy: {} (chain time)\n\nlast decisions\n",
        next.map(format_ms)
            .unwrap_or_else(|| "at the first slot".into())
    ));
    for o in last {
        s.push_str(&order_line(&venue, o));
        s.push_str(&format!("    why: {}\n", o.reason));
        if let Some(i) = o.log_index {
            s.push_str(&format!("    logged at index {i}\n"));
        }
    }
    output::print(&s);
    Ok(ExitCode::SUCCESS)
}

/// `1d=2s`: market seconds per wall duration.
pub(super) fn speed(text: &str) -> Result<(u64, Duration)> {
    let bad = || anyhow!("--speed {text:?}: give MARKET=WALL, e.g. 1d=2s or 1h=500ms");
    let (m, w) = text.split_once('=').ok_or_else(bad)?;
    let market = super::vault::duration(m, "--speed").map_err(|_| bad())?;
    let wall = match w.trim().strip_suffix("ms") {
        Some(ms) => Duration::from_millis(ms.parse().map_err(|_| bad())?),
        None => Duration::from_secs(super::vault::duration(w, "--speed").map_err(|_| bad())?),
    };
    Ok((market, wall))
}

pub(super) async fn replay(a: &ReplayArgs, settings: &Settings, json: bool) -> Result<ExitCode> {
    let (market_secs, wall) = speed(&a.speed)?;
    let (_, data) = super::agent::load_data(
        &a.data,
        super::agent::DataOptions {
            quiet: json,
            ..Default::default()
        },
    )?;
    let mut range = super::agent::range_of(&data, a.from.as_deref(), a.to.as_deref())?;
    if let Some(n) = a.steps {
        range.end = range.end.min(range.start + n.max(1));
    }
    let cfg = settings.devnet(None);
    let running = cairn_devnet::status(&cfg).await?.ok_or_else(|| {
        anyhow!(
            "no devnet is running under {}: start one with `cairn devnet up`",
            settings.data_dir.display()
        )
    })?;
    let accounts = cairn_devnet::dev_accounts(&cfg)?;
    let chain = cairn_devnet::connect(&running, Some(accounts.deployer_key())).await?;
    let venue = venue(
        settings,
        &chain,
        "USDT",
        data.symbols.iter().map(String::as_str).collect(),
        3_600,
    )
    .await?;
    let interval_secs = (data.interval_ms / 1000).max(1) as u64;
    let wall_per_step = wall.mul_f64(interval_secs as f64 / market_secs as f64);
    let rc = replay::ReplayConfig {
        venue: venue.clone(),
        time_ms: data.time[range.clone()].to_vec(),
        close: data
            .close
            .iter()
            .map(|c| c[range.clone()].to_vec())
            .collect(),
        chain_step_secs: interval_secs,
        wall_per_step,
        tolerance_bps: a.tolerance_bps,
    };
    let steps = replay::run(&chain, &rc, |s| {
        if json {
            output::json(&serde_json::to_value(s).unwrap_or_default());
        } else {
            let parts: Vec<String> = s
                .assets
                .iter()
                .map(|x| format!("{} {} (pool {:.2})", x.symbol, x.target, x.pool_price))
                .collect();
            output::print(&format!(
                "{} chain {}: {}\n",
                format_ms(s.candle_ms),
                format_ms(s.chain_time as i64 * 1000),
                parts.join(", ")
            ));
        }
    })
    .await?;
    if !json {
        output::print(&format!("replayed {} candle(s)\n", steps.len()));
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speeds() {
        assert_eq!(speed("1d=2s").unwrap(), (86_400, Duration::from_secs(2)));
        assert_eq!(
            speed("1h=500ms").unwrap(),
            (3_600, Duration::from_millis(500))
        );
        assert!(speed("fast").is_err());
    }
}
