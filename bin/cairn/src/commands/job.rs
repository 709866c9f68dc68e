//! `cairn job submit|status|logs|result|cancel`.
use crate::{
    cli::{ChainArgs, JobCmd},
    commands::node::{chain, fund_on_devnet},
    config::Settings,
    output,
};
use alloy::primitives::U256;
use anyhow::{Context, Result, anyhow, bail};
use cairn_compute::{BlobRef, JobFile, api::JobView, fmt_usdt};
use cairn_escrow::Escrow;
use cairn_node_client::{
    NodeClient,
    submit::{self, SubmitError},
};
use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

/// Devnet account that requests jobs by default (0 is the faucet, 9 operates the market).
const DEVNET_REQUESTER: usize = 1;

pub(super) async fn run(cmd: &JobCmd, settings: &Settings, json_out: bool) -> Result<ExitCode> {
    match cmd {
        JobCmd::Submit {
            file,
            force,
            yes,
            node,
            chain,
        } => {
            let checks = Checks {
                force: *force,
                yes: *yes,
            };
            submit(file, &node.node, chain, checks, settings, json_out).await
        }
        JobCmd::Status { id, node } => {
            let v = NodeClient::new(&node.node).job(*id).await?;
            if json_out {
                output::json(&v);
            } else {
                output::print(&status_text(&v));
            }
            Ok(ExitCode::SUCCESS)
        }
        JobCmd::Logs { id, node } => {
            let logs = NodeClient::new(&node.node).logs(*id).await?;
            if json_out {
                output::json(&logs);
            } else {
                let mut s = String::new();
                for e in &logs.events {
                    s.push_str(&format!("{}  {}\n", e.at_ms, e.message));
                }
                for (name, text) in [("stdout", &logs.stdout), ("stderr", &logs.stderr)] {
                    if let Some(t) = text.as_ref().filter(|t| !t.is_empty()) {
                        s.push_str(&format!("--- {name}\n{t}"));
                        if !t.ends_with('\n') {
                            s.push('\n');
                        }
                    }
                }
                output::print(&s);
            }
            Ok(ExitCode::SUCCESS)
        }
        JobCmd::Result {
            id,
            out,
            wait,
            node,
        } => {
            if let Some(secs) = wait {
                wait_until_done(*id, &node.node, Duration::from_secs(*secs)).await?;
            }
            result(*id, out.as_deref(), &node.node, json_out).await
        }
        JobCmd::Verify {
            id,
            samples,
            seed,
            bundle,
            node,
        } => {
            super::job_verify::verify(
                *id,
                *samples,
                *seed,
                &node.node,
                bundle.as_deref(),
                json_out,
            )
            .await
        }
        JobCmd::Dispute {
            id,
            wait,
            threads,
            node,
            chain: c,
        } => {
            if *threads == 0 {
                bail!("--threads must be at least 1");
            }
            super::job_dispute::dispute(super::job_dispute::Request {
                id: *id,
                node_url: &node.node,
                rpc_url: c.rpc_url.as_deref(),
                signer: chain_signer(settings, c)?,
                wait: *wait,
                threads: *threads,
                json_out,
                settings,
            })
            .await
        }
        JobCmd::Recover { id, market } => recover(*id, market, settings, json_out).await,
        JobCmd::List {
            all,
            state,
            limit,
            before,
            node,
            chain: c,
        } => {
            let state = match state {
                Some(s) => Some(cairn_compute::JobState::parse(s).ok_or_else(|| {
                    anyhow!("--state {s:?} is not a job state: use queued, assigned, running, committed, settled, failed, expired or cancelled")
                })?),
                None => None,
            };
            let requester = if *all {
                None
            } else {
                Some(chain_signer(settings, c)?.address().to_string())
            };
            let q = cairn_compute::api::JobQuery {
                requester: requester.clone(),
                state,
                before: *before,
                limit: Some(*limit),
            };
            let jobs = NodeClient::new(&node.node).jobs(&q).await?;
            if json_out {
                output::json(&jobs);
            } else if jobs.is_empty() {
                output::print(&match requester {
                    Some(r) => format!("no jobs of {r} on {}\n", node.node),
                    None => format!("no jobs on {}\n", node.node),
                });
            } else {
                let mut s = format!(
                    "{:>6}  {:<16} {:<10} {:>14} {:>14}  {}\n",
                    "id", "name", "state", "escrowed", "paid", "why"
                );
                for j in &jobs {
                    s.push_str(&format!(
                        "{:>6}  {:<16} {:<10} {:>14} {:>14}  {}\n",
                        j.id,
                        j.name,
                        j.state.as_str(),
                        fmt_usdt(j.payment),
                        j.paid.map(fmt_usdt).unwrap_or_else(|| "-".into()),
                        j.reason.as_deref().unwrap_or("")
                    ));
                }
                if let Some(last) = jobs.last().filter(|_| jobs.len() == *limit) {
                    s.push_str(&format!("more: --before {}\n", last.id));
                }
                output::print(&s);
            }
            Ok(ExitCode::SUCCESS)
        }
        JobCmd::Cancel { id, node, chain: c } => {
            let signer = chain_signer(settings, c)?;
            let v = NodeClient::new(&node.node)
                .with_signer(signer)
                .cancel(*id)
                .await?;
            if json_out {
                output::json(&v);
            } else {
                output::print(&status_text(&v));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `cairn provider list`.
pub(super) async fn providers(cmd: &crate::cli::ProviderCmd, json_out: bool) -> Result<ExitCode> {
    let crate::cli::ProviderCmd::List { node } = cmd;
    let client = NodeClient::new(&node.node);
    client.info_when_up(NODE_START).await?;
    let list = client.providers().await?;
    if json_out {
        output::json(&list);
        return Ok(ExitCode::SUCCESS);
    }
    if list.is_empty() {
        output::print(&format!("no providers have advertised to {}\n", node.node));
        return Ok(ExitCode::SUCCESS);
    }
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    let mut s = format!(
        "{:<42} {:<7} {:<17} {:>11} {:>15} {:>5} {:>10} {:>9} {:>5} {:>13} {:>14}\n",
        "provider",
        "online",
        "kinds",
        "cores free",
        "memory free",
        "gpus",
        "ask/Mfuel",
        "ask/s",
        "rep",
        "done/fail/lost",
        "earned"
    );
    for p in &list {
        s.push_str(&format!(
            "{:<42} {:<7} {:<17} {:>11} {:>15} {:>5} {:>10} {:>9} {:>5.2} {:>13} {:>14}\n",
            p.address,
            if p.online { "yes" } else { "no" },
            p.kinds
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(","),
            format!("{}/{}", p.free.cpu_cores, p.capacity.cpu_cores),
            format!(
                "{:.1}/{:.1} GiB",
                gib(p.free.memory_bytes),
                gib(p.capacity.memory_bytes)
            ),
            p.capacity.gpus,
            p.ask.per_mfuel,
            p.ask.per_second,
            p.reputation,
            format!("{}/{}/{}", p.jobs_completed, p.jobs_failed, p.leases_lost),
            fmt_usdt(p.earned)
        ));
        if !p.gpu_names.is_empty() {
            s.push_str(&format!("{:<42} gpus: {}\n", "", p.gpu_names.join(", ")));
        }
        if !p.devices.is_empty() {
            s.push_str(&format!("{:<42} devices: {}\n", "", p.devices.join(", ")));
        }
    }
    output::print(&s);
    Ok(ExitCode::SUCCESS)
}

/// `cairn job recover`: the requester takes its escrow back from the contract directly.
async fn recover(
    id: u64,
    market: &crate::cli::MarketArgs,
    settings: &Settings,
    json_out: bool,
) -> Result<ExitCode> {
    let chain = chain(settings, &market.chain, DEVNET_REQUESTER).await?;
    let address = super::node::market_address(settings, chain.chain_id(), market.market_contract)?;
    let escrow = Escrow::new(chain.clone(), address);
    let me = chain.require_signer()?;
    let job = escrow
        .job(id)
        .await?
        .ok_or_else(|| anyhow!("job {id} was never posted on the ComputeMarket at {address}"))?;
    if job.requester != me {
        bail!(
            "job {id} was posted by {}, not by {me}: only its requester's escrow comes back to it; pass that account's --key-file",
            job.requester
        );
    }
    let now = escrow.chain_time().await?;
    use cairn_escrow::JobState as S;
    let (how, tx) = match job.state {
        S::Open => ("cancelled", escrow.cancel_job(id).await?),
        S::Assigned if now > job.deadline => ("refunded", escrow.refund(id).await?),
        S::Assigned => bail!(
            "job {id} is assigned and its deadline (chain time {}) is {} s away; its provider may still deliver. Cancel it through the node (`cairn job cancel`), or recover it after the deadline",
            job.deadline,
            job.deadline - now
        ),
        S::Committed | S::Challenged => bail!(
            "job {id} has a committed result ({}): it is settled to the provider or, if challenged, decided by the arbiter; nothing to recover",
            job.state
        ),
        S::Disputed => bail!(
            "job {id}'s result is disputed on chain: the refereed bisection refunds it to you if the provider was wrong; nothing to recover now"
        ),
        S::Settled | S::Refunded | S::Cancelled => bail!(
            "job {id} is already {} on chain; nothing is escrowed any more",
            job.state
        ),
    };
    let amount = job.payment.to::<u64>();
    if json_out {
        output::json(&serde_json::json!({
            "job": id, "recovered": how, "amount": amount, "tx": tx.tx_hash.to_string(),
        }));
    } else {
        output::print(&format!(
            "job {id} {how} on chain: {} back to {me} (tx {})\n",
            fmt_usdt(amount),
            tx.tx_hash
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// The requester's key, as the chain connection uses it.
fn chain_signer(
    settings: &Settings,
    args: &ChainArgs,
) -> Result<alloy::signers::local::PrivateKeySigner> {
    let (_, key) = settings.chain(args)?;
    match key {
        Some(k) => Ok(k.load()?),
        None => {
            let dev = cairn_devnet::dev_accounts(&settings.devnet(None))?;
            Ok(dev
                .key(DEVNET_REQUESTER)
                .ok_or_else(|| anyhow!("the devnet has no requester account"))?
                .load()?)
        }
    }
}

fn status_text(v: &JobView) -> String {
    let mut s = format!("job {} ({}): {}\n", v.id, v.name, v.state);
    if let Some(r) = &v.reason {
        s.push_str(&format!("  {r}\n"));
    }
    if let Some(p) = &v.provider {
        s.push_str(&format!("  provider {p}\n"));
    }
    if let Some(c) = &v.progress
        && !v.state.is_terminal()
        && v.result.is_none()
    {
        s.push_str(&format!(
            "  last checkpoint: step {} (sha256:{}) by {}\n",
            c.step, c.sha256, c.provider
        ));
    }
    if let Some(r) = &v.resumed {
        s.push_str(&format!("  {r}\n"));
    }
    if let Some(r) = &v.result {
        s.push_str(&format!(
            "  fuel {} · wall time {} ms · {} output file(s)\n",
            r.fuel_used,
            r.wall_time_ms,
            r.outputs.len()
        ));
    }
    s.push_str(&format!("  escrowed {}", fmt_usdt(v.payment)));
    if let Some(p) = v.paid {
        s.push_str(&format!(", paid {}", fmt_usdt(p)));
    }
    if let Some(r) = v.refunded {
        s.push_str(&format!(", refunded {}", fmt_usdt(r)));
    }
    s.push('\n');
    if let Some(a) = &v.audit {
        s.push_str(&format!(
            "  audit ({}): {} — segments {:?}, {} of {} steps re-executed in {} ms, seed {}; `cairn job verify {}` re-runs it\n",
            a.method, a.outcome, a.segments, a.steps_replayed, a.steps_total, a.wall_ms, a.seed, v.id
        ));
    }
    if v.verification.is_some() || v.audit.is_some() {
        s.push_str(&format!(
            "  verified: {}\n",
            super::job_verify::how_verified(v)
        ));
    }
    for line in super::job_verify::replication_lines(v) {
        s.push_str(&format!("  {line}\n"));
    }
    if let Some(r) = &v.receipt {
        s.push_str(&format!(
            "  receipt: log index {} ({})\n",
            r.index, r.envelope_digest
        ));
    }
    s
}

/// What `job submit` checks before anything is uploaded or escrowed.
#[derive(Debug, Clone, Copy)]
struct Checks {
    /// Escrow even if nobody can take the job now.
    force: bool,
    /// Escrow a bid far above the market.
    yes: bool,
}

/// How long a command waits for a node that is still starting.
const NODE_START: Duration = Duration::from_secs(20);

/// The submit flow's errors, with the flag that gets past each (when one does).
fn submit_error(file: &Path, e: SubmitError) -> anyhow::Error {
    let f = file.display();
    match e {
        SubmitError::NobodyCanTake { .. } => anyhow!(
            "{f}: {e}; change the job file, or pass --force to escrow it and wait for a provider"
        ),
        SubmitError::FarAboveMarket { .. } => {
            anyhow!("{f}: {e}; lower it, or pass --yes if you mean it")
        }
        SubmitError::WrongChain { node, .. } => anyhow!("{e}; pass --rpc-url for chain {node}"),
        SubmitError::File { .. } | SubmitError::Job(_) => anyhow!("{f}: {e}"),
        SubmitError::Node(c) => c.into(),
        SubmitError::BadNodeInfo { .. }
        | SubmitError::ShortOfTokens { .. }
        | SubmitError::Escrow(_) => e.into(),
    }
}

async fn submit(
    file: &Path,
    node_url: &str,
    chain_args: &ChainArgs,
    checks: Checks,
    settings: &Settings,
    json_out: bool,
) -> Result<ExitCode> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let job = JobFile::from_toml(&text).map_err(|e| anyhow!("{}: {e}", file.display()))?;
    let base = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let node = NodeClient::new(node_url).with_signer(chain_signer(settings, chain_args)?);
    let info = node.info_when_up(NODE_START).await?;
    let flow_checks = submit::Checks {
        without_provider: checks.force,
        above_market: checks.yes,
    };
    submit::precheck(&node, &job, flow_checks)
        .await
        .map_err(|e| submit_error(file, e))?;
    // Upload the module and the inputs to the node's content-addressed store (signed by the
    // requester: the node takes blobs only from keys).
    let spec = submit::upload(&node, &job, base)
        .await
        .map_err(|e| submit_error(file, e))?;

    // Escrow the payment on chain against the spec's digest.
    let chain = chain(settings, chain_args, DEVNET_REQUESTER).await?;
    let (token, market) = submit::settlement(&info, &chain).map_err(|e| submit_error(file, e))?;
    let me = chain.require_signer()?;
    let escrow = Escrow::new(chain.clone(), market);
    let payment = U256::from(spec.payment);
    // On the devnet, a requester short of tokens gets a hundred jobs' worth from the deployer.
    if escrow.token_balance(me).await? < payment {
        fund_on_devnet(settings, &chain, token, me, payment * U256::from(100u64)).await?;
    }
    let submit::Submitted { view, posted } = submit::escrow_and_submit(&node, &chain, market, spec)
        .await
        .map_err(|e| submit_error(file, e))?;
    let id = view.id;
    if json_out {
        output::json(&view);
    } else {
        output::print(&format!("{id}\n"));
        eprint!(
            "submitted job {id}: escrowed {} (tx {})\n{}",
            fmt_usdt(view.payment),
            posted.tx.tx_hash,
            status_text(&view)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Polls until job `id` has ended: settled with its receipt (when the node logs receipts), or
/// stopped with its refund on chain.
async fn wait_until_done(id: u64, node_url: &str, at_most: Duration) -> Result<()> {
    let node = NodeClient::new(node_url);
    let deadline = std::time::Instant::now() + at_most;
    let logs = node.info().await?.log.is_some();
    loop {
        let v = node.job(id).await?;
        let done = match v.state {
            cairn_compute::JobState::Settled => !logs || v.receipt.is_some(),
            s if s.is_terminal() => v.refunded.is_some(),
            _ => false,
        };
        if done {
            return Ok(());
        }
        if std::time::Instant::now() >= deadline {
            bail!(
                "job {id} is still {} after {} s{}; wait longer (--wait) or see `cairn job status {id}`",
                v.state,
                at_most.as_secs(),
                v.reason.map(|r| format!(" ({r})")).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn result(id: u64, out: Option<&Path>, node_url: &str, json_out: bool) -> Result<ExitCode> {
    let node = NodeClient::new(node_url);
    let v = node.job(id).await?;
    let Some(r) = &v.result else {
        bail!(
            "job {id} has no result yet ({}{}); see `cairn job status {id}`",
            v.state,
            v.reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        );
    };
    let dir = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(format!("job-{id}")));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = Vec::new();
    let fetch = |o: &cairn_compute::api::OutputRef| BlobRef {
        sha256: o.sha256.clone(),
        size: o.size,
    };
    for o in &r.outputs {
        let path = dir.join("output").join(&o.name);
        cairn_compute::validate_input_name("output", &o.name)
            .map_err(|e| anyhow!("the node reported a bad output name: {e}"))?;
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p)?;
        }
        std::fs::write(&path, node.blob(&fetch(o)).await?)?;
        written.push(path);
    }
    // What `job verify --bundle` needs besides the outputs: the job, its spec and its inputs.
    let spec = node.spec(id).await?;
    for i in &spec.inputs {
        cairn_compute::validate_input_name("input", &i.name)
            .map_err(|e| anyhow!("the node reported a bad input name: {e}"))?;
        let path = dir.join("input").join(&i.name);
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p)?;
        }
        std::fs::write(&path, node.blob(&i.blob).await?)?;
        written.push(path);
    }
    for (name, body) in [
        ("job.json", serde_json::to_vec_pretty(&v)?),
        ("spec.json", serde_json::to_vec_pretty(&spec)?),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, body)?;
        written.push(path);
    }
    for (name, o) in [("stdout.txt", &r.stdout), ("stderr.txt", &r.stderr)] {
        let path = dir.join(name);
        std::fs::write(&path, node.blob(&fetch(o)).await?)?;
        written.push(path);
    }
    let mut receipt_path = None;
    if let Some(rc) = &v.receipt {
        let log = cairn_log_client::LogClient::new(&rc.log);
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let bundle = loop {
            match log.bundle(rc.index).await {
                Ok(b) => break b,
                Err(cairn_log_client::ClientError::Api { status: 404, .. })
                    if std::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(e.into()),
            }
        };
        let path = dir.join("receipt.bundle.json");
        std::fs::write(&path, bundle.to_json() + "\n")?;
        receipt_path = Some(path);
    }
    if json_out {
        output::json(&serde_json::json!({
            "id": id,
            "state": v.state,
            "files": written,
            "receipt": receipt_path,
        }));
    } else {
        let mut s = format!(
            "job {id} ({}): wrote {} file(s) to {}\n",
            v.state,
            written.len(),
            dir.display()
        );
        match &receipt_path {
            Some(p) => s.push_str(&format!(
                "receipt bundle: {} (check it with `cairn verify {}`)\n",
                p.display(),
                p.display()
            )),
            None => s.push_str("no receipt yet: it is logged once the job is paid out\n"),
        }
        output::print(&s);
    }
    Ok(ExitCode::SUCCESS)
}
