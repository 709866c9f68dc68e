//! `cairn agent vault deploy|deposit|withdraw|pause|unpause|rotate-key|status`: the owner's side
//! of the AgentVault. Amounts are parsed exactly into base units (no float reaches a
//! transaction); keys come from files and only their addresses are ever printed.
use crate::{
    cli::{
        ChainArgs, VaultAmountArgs, VaultCmd, VaultDeployArgs, VaultOwnerArgs, VaultRotateArgs,
        VaultTarget, VaultWithdrawArgs,
    },
    config::Settings,
    output,
};
use alloy::{
    primitives::{Address, U256},
    signers::local::PrivateKeySigner,
};
use anyhow::{Context, Result, anyhow, bail};
use cairn_chain::{Chain, Deployment, format_units, parse_units};
use cairn_vault::{FeedConfig, Policy, Tx, Vault, VaultParams, VaultStatus};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

pub(super) async fn run(cmd: &VaultCmd, settings: &Settings, json: bool) -> Result<ExitCode> {
    match cmd {
        VaultCmd::Deploy(a) => deploy(a, settings, json).await,
        VaultCmd::Deposit(a) => deposit(a, settings, json).await,
        VaultCmd::Withdraw(a) => withdraw(a, settings, json).await,
        VaultCmd::Pause(a) => pause(a, settings, json, true).await,
        VaultCmd::Unpause(a) => pause(a, settings, json, false).await,
        VaultCmd::RotateKey(a) => rotate(a, settings, json).await,
        VaultCmd::Status(a) => status(a, settings, json).await,
    }
}

/// What `deploy` records so later commands find the vault without `--vault`.
#[derive(Debug, Serialize, Deserialize)]
struct VaultRecord {
    chain_id: u64,
    address: Address,
    owner: Address,
    stable: Address,
    block: u64,
}

fn record_path(settings: &Settings, chain_id: u64) -> PathBuf {
    settings
        .data_dir
        .join(format!("agent-vault-{chain_id}.json"))
}

/// The chain: `--rpc-url` (or config/env) when given, else the running devnet.
pub(crate) async fn connect(
    settings: &Settings,
    t: &VaultTarget,
    key: Option<PrivateKeySigner>,
) -> Result<Chain> {
    let args = ChainArgs {
        rpc_url: t.rpc_url.clone(),
        chain_id: t.chain_id,
        key_file: None,
        timeout: t.timeout,
        prices_dir: None,
    };
    let (mut cfg, _) = settings.chain(&args)?;
    if t.rpc_url.is_none()
        && let Some(d) = cairn_devnet::status(&settings.devnet(None)).await?
    {
        cfg.rpc_url = d.rpc_url;
        cfg.chain_id = Some(d.chain_id);
    }
    Ok(Chain::connect(&cfg, key).await?)
}

/// Whether `chain` is the local devnet this data directory runs.
async fn on_devnet(settings: &Settings, chain: &Chain) -> bool {
    matches!(
        cairn_devnet::status(&settings.devnet(None)).await,
        Ok(Some(d)) if d.rpc_url == chain.url() && d.chain_id == chain.chain_id()
    )
}

pub(crate) fn manifest(settings: &Settings, chain_id: u64) -> Result<Option<Deployment>> {
    for path in [
        settings.data_dir.join("deployment.json"),
        settings
            .data_dir
            .join(format!("deployment-{chain_id}.json")),
    ] {
        if let Some(d) = Deployment::read(&path)?.filter(|d| d.chain_id == chain_id) {
            return Ok(Some(d));
        }
    }
    Ok(None)
}

pub(crate) fn address(text: &str, flag: &str) -> Result<Address> {
    text.trim().parse().map_err(|_| {
        anyhow!("{flag} {text:?} is not an address; give a 0x-prefixed 20-byte hex address")
    })
}

/// A token by manifest symbol (case-insensitive) or address.
fn token(spec: &str, m: Option<&Deployment>, flag: &str) -> Result<Address> {
    if spec.trim().starts_with("0x") {
        return address(spec, flag);
    }
    let known = m.map(|m| m.tokens.keys().cloned().collect::<Vec<_>>().join(", "));
    m.and_then(|m| {
        m.tokens
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(spec.trim()))
            .map(|(_, t)| t.address)
    })
    .ok_or_else(|| match known {
        Some(k) => anyhow!("{flag}: no token {spec:?} in the deployment manifest (it has {k}); give one of those or a 0x address"),
        None => anyhow!("{flag}: no deployment manifest for this chain to look {spec:?} up in; give the token's 0x address"),
    })
}

/// `1d`, `12h`, `30m`, `45s`, `2w` or plain seconds.
pub(crate) fn duration(text: &str, flag: &str) -> Result<u64> {
    let t = text.trim();
    let (num, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => 0,
    };
    num.parse::<u64>()
        .ok()
        .filter(|&n| n > 0 && mult > 0)
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| {
            anyhow!("{flag} {text:?} is not a duration; give seconds or a positive whole number with s, m, h, d or w (e.g. 1d)")
        })
}

/// An amount in whole tokens (exact, at most `decimals` places) or, with `base_units`, an
/// integer of base units. Zero is refused.
fn amount(text: &str, decimals: u8, base_units: bool, what: &str) -> Result<U256> {
    let v = if base_units {
        U256::from_str_radix(text.trim(), 10).map_err(|_| {
            anyhow!("{what} {text:?} is not an integer; with --base-units give base units (e.g. 1000000 for 1 token of 6 decimals)")
        })?
    } else {
        parse_units(text, decimals).map_err(|e| {
            anyhow!("{what}: {e}; give whole tokens like 1000 or 0.5 (the token has {decimals} decimals), or base units with --base-units")
        })?
    };
    if v.is_zero() {
        bail!("{what} must be more than zero");
    }
    Ok(v)
}

/// The key in `path`; on the devnet a missing file is created (mode 0600) with a fresh key.
async fn key_file(
    path: &Path,
    flag: &str,
    role: &str,
    settings: &Settings,
    t: &VaultTarget,
) -> Result<PrivateKeySigner> {
    if path.exists() {
        return super::node::read_key(path);
    }
    let devnet = t.rpc_url.is_none()
        && cairn_devnet::status(&settings.devnet(None))
            .await
            .ok()
            .flatten()
            .is_some();
    if !devnet {
        bail!(
            "{} does not exist: pass {flag} with the {role}'s hex private key file",
            path.display()
        );
    }
    super::node::create_key_file(path, role)
}

/// The vault: `--vault`, else the one recorded for this chain.
pub(crate) async fn vault_address(
    settings: &Settings,
    t: &VaultTarget,
    chain: &Chain,
) -> Result<Address> {
    let a = match &t.vault {
        Some(v) => address(v, "--vault")?,
        None => {
            let path = record_path(settings, chain.chain_id());
            let text = std::fs::read_to_string(&path).map_err(|_| {
                anyhow!(
                    "no vault recorded for chain {} ({} is missing): deploy one with `cairn agent vault deploy` or pass --vault <address>",
                    chain.chain_id(),
                    path.display()
                )
            })?;
            let r: VaultRecord = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a vault record", path.display()))?;
            r.address
        }
    };
    if !chain.has_code(a).await? {
        bail!(
            "no contract at {a} on chain {}: check --vault (a restarted devnet without its state loses deployed vaults)",
            chain.chain_id()
        );
    }
    Ok(a)
}

async fn owner_vault(a: &VaultOwnerArgs, settings: &Settings) -> Result<Vault> {
    let key = key_file(&a.owner_key, "--owner-key", "owner", settings, &a.target).await?;
    let chain = connect(settings, &a.target, Some(key)).await?;
    let at = vault_address(settings, &a.target, &chain).await?;
    let v = Vault::new(chain, at);
    let (owner, me) = (v.owner().await?, v.chain().require_signer()?);
    if owner != me {
        bail!(
            "{me} is not the owner of the vault at {at} ({owner} is); pass the owner's --owner-key"
        );
    }
    Ok(v)
}

async fn decimals(chain: &Chain, token: Address) -> Result<(u8, String)> {
    let t = cairn_contracts::TestToken::new(token, chain.provider());
    let d = chain
        .rpc("decimals", async { t.decimals().call().await })
        .await
        .with_context(|| format!("{token} does not answer decimals(): is it an ERC-20?"))?;
    let s = chain
        .rpc("symbol", async { t.symbol().call().await })
        .await
        .unwrap_or_default();
    Ok((d, s))
}

fn tx_line(what: &str, tx: &Tx) -> String {
    format!(
        "{what}: tx {} (block {}, gas {})\n",
        tx.hash, tx.block, tx.gas_used
    )
}

async fn deploy(a: &VaultDeployArgs, settings: &Settings, json: bool) -> Result<ExitCode> {
    let period = duration(&a.period, "--period")?;
    let heartbeat = u32::try_from(duration(&a.heartbeat, "--heartbeat")?).map_err(|_| {
        anyhow!(
            "--heartbeat {} is longer than the vault allows",
            a.heartbeat
        )
    })?;
    if a.slippage_bps > 5_000 {
        bail!(
            "--slippage-bps {} is above 5000 (50%), the vault's maximum",
            a.slippage_bps
        );
    }

    let profile = a
        .chain
        .as_deref()
        .map(|n| settings.chain_profile(n))
        .transpose()?;
    let owner_key = key_file(&a.owner_key, "--owner-key", "owner", settings, &a.target).await?;
    let agent = match (&a.agent_key, &a.agent) {
        (Some(p), _) => key_file(p, "--agent-key", "agent", settings, &a.target)
            .await?
            .address(),
        (None, Some(s)) => address(s, "--agent")?,
        (None, None) => bail!("pass --agent-key FILE or --agent ADDRESS"),
    };
    let chain = connect(settings, &a.target, Some(owner_key)).await?;
    let owner = chain.require_signer()?;
    if agent == owner {
        bail!("the agent key must not be the owner's: a stolen agent key would then own the vault");
    }
    let m = manifest(settings, chain.chain_id())?;
    if let Some(p) = &profile
        && p.chain_id != chain.chain_id()
    {
        bail!(
            "--chain {}: {} is chain id {}, but the RPC answers chain id {}; pass that chain's --rpc-url",
            a.chain.as_deref().unwrap_or_default(),
            p.name,
            p.chain_id,
            chain.chain_id()
        );
    }
    let stable = match &profile {
        Some(p) => p.stable_address(),
        None => token(&a.stable, m.as_ref(), "--stable")?,
    };
    let (stable_dec, stable_sym) = decimals(&chain, stable).await?;
    let budget = amount(&a.budget, stable_dec, a.base_units, "--budget")?;
    let budget: u128 = budget
        .try_into()
        .map_err(|_| anyhow!("--budget {} is too large", a.budget))?;

    let routers = if a.router.is_empty()
        && let Some(p) = &profile
    {
        p.router_addresses()
    } else if a.router.is_empty() {
        // Every router of the deployment: Uniswap V2's Router02, and the Pancake router when
        // the devnet has that venue.
        let m = m.as_ref();
        let mut all = vec![
            m.and_then(|m| m.contract("uniswap_v2_router02"))
                .ok_or_else(|| {
                    anyhow!(
                        "no router in a deployment manifest for chain {}: pass --router <address>",
                        chain.chain_id()
                    )
                })?,
        ];
        all.extend(m.and_then(|m| m.contract("pancake_router")));
        all
    } else {
        a.router
            .iter()
            .map(|r| address(r, "--router"))
            .collect::<Result<_>>()?
    };
    let feeds: Vec<FeedConfig> = if a.feed.is_empty()
        && let Some(p) = &profile
    {
        p.feeds()
            .into_iter()
            .map(|(asset, oracle, heartbeat_secs)| FeedConfig {
                asset,
                oracle,
                heartbeat_secs,
            })
            .collect()
    } else if a.feed.is_empty() {
        let m = m.as_ref().filter(|m| !m.feeds.is_empty()).ok_or_else(|| {
            anyhow!(
                "no price feeds in a deployment manifest for chain {}: pass --feed ASSET=FEED",
                chain.chain_id()
            )
        })?;
        m.feeds
            .iter()
            .map(|(sym, f)| {
                Ok(FeedConfig {
                    asset: token(sym, Some(m), "--feed")?,
                    oracle: f.address,
                    heartbeat_secs: heartbeat,
                })
            })
            .collect::<Result<_>>()?
    } else {
        a.feed
            .iter()
            .map(|spec| {
                let (asset, feed) = spec
                    .split_once('=')
                    .ok_or_else(|| anyhow!("--feed {spec:?} is not ASSET=FEED (e.g. WBTC=0x…)"))?;
                let oracle = if feed.trim().starts_with("0x") {
                    address(feed, "--feed")?
                } else {
                    m.as_ref()
                        .and_then(|m| m.feeds.get(&feed.trim().to_ascii_uppercase()))
                        .map(|f| f.address)
                        .ok_or_else(|| anyhow!("--feed {spec:?}: give the feed's 0x address"))?
                };
                Ok(FeedConfig {
                    asset: token(asset, m.as_ref(), "--feed")?,
                    oracle,
                    heartbeat_secs: heartbeat,
                })
            })
            .collect::<Result<_>>()?
    };
    let paths: Vec<Vec<Address>> = if a.path.is_empty() {
        feeds.iter().map(|f| vec![stable, f.asset]).collect()
    } else {
        a.path
            .iter()
            .map(|p| {
                let tokens = p
                    .split(',')
                    .map(|t| token(t, m.as_ref(), "--path"))
                    .collect::<Result<Vec<_>>>()?;
                if tokens.len() < 2 || tokens.len() > 3 || tokens[0] != stable {
                    bail!("--path {p:?} must be stablecoin,asset or stablecoin,hop,asset");
                }
                if !feeds.iter().any(|f| Some(&f.asset) == tokens.last()) {
                    bail!(
                        "--path {p:?} ends in a token without a --feed; the vault needs its price"
                    );
                }
                Ok(tokens)
            })
            .collect::<Result<_>>()?
    };

    if on_devnet(settings, &chain).await {
        super::node::fund_on_devnet(settings, &chain, stable, owner, U256::ZERO).await?;
        super::node::fund_on_devnet(settings, &chain, stable, agent, U256::ZERO).await?;
    }
    chain.require_funded().await?;
    let params = VaultParams {
        owner,
        stable,
        agent,
        budget_per_period: budget,
        period_secs: period,
        max_slippage_bps: a.slippage_bps,
    };
    let policy = Policy {
        routers,
        paths,
        feeds,
    };
    let vault = Vault::deploy(chain.clone(), &params, &policy).await?;
    let record = VaultRecord {
        chain_id: chain.chain_id(),
        address: vault.address(),
        owner,
        stable,
        block: chain.block_number().await?,
    };
    let path = record_path(settings, chain.chain_id());
    std::fs::create_dir_all(&settings.data_dir)?;
    std::fs::write(&path, serde_json::to_string_pretty(&record)? + "\n")
        .with_context(|| format!("writing {}", path.display()))?;
    if json {
        output::json(&json!({
            "vault": vault.address(),
            "chain_id": chain.chain_id(),
            "owner": owner,
            "agent": agent,
            "stable": stable,
            "budget_per_period": budget.to_string(),
            "period_secs": period,
            "max_slippage_bps": a.slippage_bps,
            "heartbeat_secs": heartbeat,
            "routers": policy.routers,
            "paths": policy.paths,
            "feeds": policy.feeds,
            "record": path,
        }));
    } else {
        output::print(&format!(
            "AgentVault {} on chain {}\n  owner  {owner}\n  agent  {agent}\n  budget {} {stable_sym} per {period} s, slippage cap {} bps, feed heartbeat {heartbeat} s\n  {} router(s), {} path(s), {} feed(s) allow-listed\nrecorded in {}\n",
            vault.address(),
            chain.chain_id(),
            format_units(U256::from(budget), stable_dec),
            a.slippage_bps,
            policy.routers.len(),
            policy.paths.len(),
            policy.feeds.len(),
            path.display()
        ));
    }
    Ok(ExitCode::SUCCESS)
}

async fn deposit(a: &VaultAmountArgs, settings: &Settings, json: bool) -> Result<ExitCode> {
    let v = owner_vault(&a.owner, settings).await?;
    let stable = v.stable().await?;
    let (dec, sym) = decimals(v.chain(), stable).await?;
    let value = amount(&a.amount, dec, a.base_units, "the deposit")?;
    let me = v.chain().require_signer()?;
    if on_devnet(settings, v.chain()).await {
        // The devnet faucet tops the owner's wallet up to the deposit.
        super::node::fund_on_devnet(settings, v.chain(), stable, me, value).await?;
    }
    let t = cairn_contracts::TestToken::new(stable, v.chain().provider());
    let have = v
        .chain()
        .rpc("balanceOf", async { t.balanceOf(me).call().await })
        .await?;
    if have < value {
        bail!(
            "the owner {me} holds {} {sym}, less than the {} to deposit",
            format_units(have, dec),
            format_units(value, dec)
        );
    }
    let tx = v.deposit(value).await?;
    let balance = v.balance_of(stable).await?;
    if json {
        output::json(&json!({
            "vault": v.address(), "deposited": value.to_string(), "token": stable,
            "balance": balance.to_string(), "tx": tx,
        }));
    } else {
        output::print(&format!(
            "{}vault {} now holds {} {sym}\n",
            tx_line(
                &format!("deposited {} {sym}", format_units(value, dec)),
                &tx
            ),
            v.address(),
            format_units(balance, dec)
        ));
    }
    Ok(ExitCode::SUCCESS)
}

async fn withdraw(a: &VaultWithdrawArgs, settings: &Settings, json: bool) -> Result<ExitCode> {
    let v = owner_vault(&a.owner, settings).await?;
    let m = manifest(settings, v.chain().chain_id())?;
    let tok = match &a.token {
        Some(t) => token(t, m.as_ref(), "--token")?,
        None => v.stable().await?,
    };
    let to = match &a.to {
        Some(t) => address(t, "--to")?,
        None => v.chain().require_signer()?,
    };
    let (dec, sym) = decimals(v.chain(), tok).await?;
    let held = v.balance_of(tok).await?;
    let value = if a.amount.trim().eq_ignore_ascii_case("all") {
        if held.is_zero() {
            bail!("the vault holds no {sym}");
        }
        held
    } else {
        amount(&a.amount, dec, a.base_units, "the withdrawal")?
    };
    if value > held {
        bail!(
            "the vault holds {} {sym}, less than the {} asked for",
            format_units(held, dec),
            format_units(value, dec)
        );
    }
    let tx = v.withdraw(tok, to, value).await?;
    if json {
        output::json(&json!({
            "vault": v.address(), "withdrawn": value.to_string(), "token": tok, "to": to, "tx": tx,
        }));
    } else {
        output::print(&tx_line(
            &format!("withdrew {} {sym} to {to}", format_units(value, dec)),
            &tx,
        ));
    }
    Ok(ExitCode::SUCCESS)
}

async fn pause(a: &VaultOwnerArgs, settings: &Settings, json: bool, on: bool) -> Result<ExitCode> {
    let v = owner_vault(a, settings).await?;
    let tx = if on {
        v.pause().await?
    } else {
        v.unpause().await?
    };
    let what = if on { "paused" } else { "unpaused" };
    if json {
        output::json(&json!({ "vault": v.address(), "paused": on, "tx": tx }));
    } else {
        output::print(&tx_line(&format!("vault {} {what}", v.address()), &tx));
    }
    Ok(ExitCode::SUCCESS)
}

async fn rotate(a: &VaultRotateArgs, settings: &Settings, json: bool) -> Result<ExitCode> {
    let new = match (&a.agent_key, &a.agent) {
        (Some(p), _) => key_file(p, "--agent-key", "agent", settings, &a.owner.target)
            .await?
            .address(),
        (None, Some(s)) => address(s, "--agent")?,
        (None, None) => bail!("pass --agent-key FILE or --agent ADDRESS"),
    };
    let v = owner_vault(&a.owner, settings).await?;
    if new == v.chain().require_signer()? {
        bail!("the agent key must not be the owner's: a stolen agent key would then own the vault");
    }
    let old = v.agent().await?;
    if old == new {
        bail!("{new} is already the vault's agent");
    }
    if on_devnet(settings, v.chain()).await {
        let stable = v.stable().await?;
        super::node::fund_on_devnet(settings, v.chain(), stable, new, U256::ZERO).await?;
    }
    let tx = v.rotate_agent(new).await?;
    if json {
        output::json(&json!({ "vault": v.address(), "old_agent": old, "agent": new, "tx": tx }));
    } else {
        output::print(&tx_line(&format!("agent {old} -> {new}"), &tx));
    }
    Ok(ExitCode::SUCCESS)
}

async fn status(t: &VaultTarget, settings: &Settings, json: bool) -> Result<ExitCode> {
    let chain = connect(settings, t, None).await?;
    let at = vault_address(settings, t, &chain).await?;
    let s = Vault::new(chain.clone(), at).status().await?;
    if json {
        output::json(&status_json(&s, chain.chain_id()));
    } else {
        output::print(&status_text(&s, chain.chain_id()));
    }
    Ok(ExitCode::SUCCESS)
}

fn symbol_of(s: &VaultStatus, a: Address) -> String {
    if a == s.stable.token {
        return s.stable.symbol.clone();
    }
    s.feeds
        .iter()
        .find(|f| f.asset.token == a && !f.asset.symbol.is_empty())
        .map_or_else(|| a.to_string(), |f| f.asset.symbol.clone())
}

fn price(answer: Option<alloy::primitives::I256>, decimals: u8) -> String {
    match answer {
        Some(a) if a.is_positive() => format_units(a.into_raw(), decimals),
        Some(a) => a.to_string(),
        None => "unreadable".into(),
    }
}

fn status_text(s: &VaultStatus, chain_id: u64) -> String {
    let st = &s.stable;
    let mut out = format!(
        "AgentVault {} on chain {chain_id}\n  owner    {}{}\n  agent    {}\n  paused   {}\n  balance  {} {}\n  budget   {} {} per {} s; {} left this period (ends in {} s)\n  slippage cap {} bps under the oracle; deadlines at most {} s ahead\n",
        s.address,
        s.owner,
        s.pending_owner
            .map(|p| format!(" (transfer to {p} pending)"))
            .unwrap_or_default(),
        s.agent,
        if s.paused { "yes" } else { "no" },
        format_units(st.balance, st.decimals),
        st.symbol,
        format_units(U256::from(s.budget_per_period), st.decimals),
        st.symbol,
        s.period_secs,
        format_units(s.budget_left, st.decimals),
        s.period_ends.saturating_sub(s.chain_time),
        s.max_slippage_bps,
        cairn_vault::MAX_DEADLINE_DELAY_SECS,
    );
    out.push_str("  routers\n");
    for (r, ok) in &s.routers {
        out.push_str(&format!("    {r}{}\n", if *ok { "" } else { " (removed)" }));
    }
    out.push_str("  paths\n");
    for (p, ok) in &s.paths {
        let names: Vec<String> = p.iter().map(|a| symbol_of(s, *a)).collect();
        out.push_str(&format!(
            "    {}{}\n",
            names.join(" -> "),
            if *ok { "" } else { " (removed)" }
        ));
    }
    out.push_str("  assets and feeds\n");
    for f in &s.feeds {
        let age = f
            .updated_at
            .map(|u| format!("updated {} s ago", s.chain_time.saturating_sub(u)))
            .unwrap_or_else(|| "never updated".into());
        out.push_str(&format!(
            "    {:<6} held {}; feed {} answers {} ({age}, heartbeat {} s){}\n",
            f.asset.symbol,
            format_units(f.asset.balance, f.asset.decimals),
            f.oracle,
            price(f.answer, f.feed_decimals),
            f.heartbeat_secs,
            if f.usable {
                ""
            } else {
                ": STALE or invalid, buys refused"
            }
        ));
    }
    out
}

fn status_json(s: &VaultStatus, chain_id: u64) -> serde_json::Value {
    let st = &s.stable;
    json!({
        "vault": s.address,
        "chain_id": chain_id,
        "owner": s.owner,
        "pending_owner": s.pending_owner,
        "agent": s.agent,
        "paused": s.paused,
        "stable": {
            "token": st.token, "symbol": st.symbol, "decimals": st.decimals,
            "balance": st.balance.to_string(), "balance_units": format_units(st.balance, st.decimals),
        },
        "budget_per_period": s.budget_per_period.to_string(),
        "period_secs": s.period_secs,
        "budget_left": s.budget_left.to_string(),
        "period_ends": s.period_ends,
        "max_slippage_bps": s.max_slippage_bps,
        "routers": s.routers.iter().map(|(r, ok)| json!({"router": r, "allowed": ok})).collect::<Vec<_>>(),
        "paths": s.paths.iter().map(|(p, ok)| json!({"path": p, "allowed": ok})).collect::<Vec<_>>(),
        "feeds": s.feeds.iter().map(|f| json!({
            "asset": f.asset.token, "symbol": f.asset.symbol, "decimals": f.asset.decimals,
            "balance": f.asset.balance.to_string(),
            "balance_units": format_units(f.asset.balance, f.asset.decimals),
            "oracle": f.oracle, "heartbeat_secs": f.heartbeat_secs, "feed_decimals": f.feed_decimals,
            "answer": f.answer.map(|a| a.to_string()), "updated_at": f.updated_at, "usable": f.usable,
        })).collect::<Vec<_>>(),
        "chain_time": s.chain_time,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_exact_and_bad_ones_say_what_to_fix() {
        assert_eq!(
            amount("1000.5", 6, false, "--budget").unwrap(),
            U256::from(1_000_500_000u64)
        );
        assert_eq!(
            amount("1000500000", 6, true, "--budget").unwrap(),
            U256::from(1_000_500_000u64)
        );
        let e = amount("0.0000001", 6, false, "--budget")
            .unwrap_err()
            .to_string();
        assert!(e.contains("--budget") && e.contains("6 decimal"), "{e}");
        let e = amount("1.5", 6, true, "the deposit")
            .unwrap_err()
            .to_string();
        assert!(e.contains("--base-units"), "{e}");
        assert!(
            amount("0", 6, false, "x")
                .unwrap_err()
                .to_string()
                .contains("more than zero")
        );
        assert!(amount("-3", 6, false, "x").is_err());
        assert!(amount("1e3", 6, false, "x").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(duration("86400", "--period").unwrap(), 86_400);
        assert_eq!(duration("1d", "--period").unwrap(), 86_400);
        assert_eq!(duration("12h", "--period").unwrap(), 43_200);
        assert_eq!(duration("2w", "--period").unwrap(), 1_209_600);
        for bad in ["0", "1y", "", "h", "-1d", "1.5h"] {
            let e = duration(bad, "--period").unwrap_err().to_string();
            assert!(e.contains("--period"), "{e}");
        }
    }
}
