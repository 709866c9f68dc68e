//! `cairn bench compute`: two measurements on private devnets (anvil on free ports, stopped at
//! the end).
//!
//! 1. **Bookkeeping throughput** (automine): N small jobs are escrowed in batches, then timed
//!    through the node's side only — submission checks (one chain read each), matching, batched
//!    `assignJobs`, result checks against the on-chain commitment (one read each) and batched
//!    `settleMany`. Providers' `commitResult` transactions are the providers' own work, made
//!    between the phases and not timed. A ComputeMarket with a zero challenge window is deployed
//!    for it so settlement follows at once.
//! 2. **submit→running latency** (blocks every `--block-time` seconds): a node serving HTTP and
//!    two in-process workers with the real sandbox; jobs escrowed in one batch are submitted one
//!    by one, and each one's latency is the node's `started - submitted` time. A few jobs are
//!    also timed end to end from the requester's escrow transaction to running.
use crate::{cli::BenchComputeArgs, config::Settings, output};
use alloy::{
    primitives::{Address, B256, U256},
    signers::local::PrivateKeySigner,
};
use anyhow::{Result, anyhow};
use cairn_chain::Chain;
use cairn_compute::{
    BlobRef, JobFile, JobSpec, JobState, Price, Resources,
    api::{OutputRef, ProviderAdvert, RunOutcome, RunReport, SubmitJob, output_digest},
};
use cairn_devnet::DevnetConfig;
use cairn_escrow::Escrow;
use cairn_node::{Ledger, Metered, Node, NodeConfig};
use cairn_node_client::NodeClient;
use serde_json::json;
use std::{
    process::ExitCode,
    sync::Arc,
    time::{Duration, Instant},
};

/// The job every benchmark run submits: exits at once.
const NOOP_WAT: &str = "(module (func (export \"_start\")) (memory (export \"memory\") 1))";

struct Devnet {
    config: DevnetConfig,
    chain: Chain,
    keys: Vec<PrivateKeySigner>,
    token: Address,
    market: Address,
}

impl Devnet {
    async fn up(
        settings: &Settings,
        dir: &std::path::Path,
        block_time: Option<u64>,
    ) -> Result<Self> {
        let mut config = settings.devnet(None).with_data_dir(dir);
        config.port = 0;
        config.persist_state = false;
        config.block_time = block_time;
        let up = cairn_devnet::up(&config).await?;
        let dev = cairn_devnet::dev_accounts(&config)?;
        let keys = (0..dev.len().min(10))
            .map(|i| dev.key(i).expect("in range").load())
            .collect::<Result<Vec<_>, _>>()?;
        let chain = cairn_devnet::connect(&up.devnet, Some(dev.deployer_key())).await?;
        let market = up
            .deployment
            .contract("compute_market")
            .ok_or_else(|| anyhow!("the devnet has no compute_market; rebuild the contracts"))?;
        let token = up.deployment.tokens["USDT"].address;
        Ok(Self {
            config,
            chain,
            keys,
            token,
            market,
        })
    }

    async fn as_account(&self, i: usize) -> Result<Chain> {
        let cfg =
            cairn_chain::ChainConfig::new(self.chain.url()).with_chain_id(self.chain.chain_id());
        Ok(Chain::connect(&cfg, Some(self.keys[i].clone())).await?)
    }

    async fn mint(&self, to: Address, amount: U256) -> Result<()> {
        let t = cairn_contracts::TestToken::new(self.token, self.chain.provider());
        self.chain
            .send_call("mint", t.mint(to, amount))
            .await
            .map_err(|e| anyhow::anyhow!("minting USDT for {to}: {e}"))?;
        Ok(())
    }

    /// Registers dev account `i` as a provider on `market`.
    async fn provider(&self, i: usize, market: Address) -> Result<Escrow> {
        let e = Escrow::new(self.as_account(i).await?, market);
        let min = e.config().await?.min_stake;
        self.mint(self.keys[i].address(), min).await?;
        e.ensure_allowance(min).await?;
        e.register_provider(min).await?;
        Ok(e)
    }

    async fn down(&self) {
        let _ = cairn_devnet::down(&self.config).await;
    }
}

fn spec(module: &BlobRef, i: usize) -> Result<JobSpec> {
    let file = JobFile::from_toml(&format!(
        "name = \"bench-{i}\"\nmodule = \"noop.wat\"\nargs = [\"{i}\"]\n[resources]\nmemory = \"1 MiB\"\n[limits]\nfuel = 1000000\nwall_time_secs = 5\n[price]\nper_mfuel = 10\n[schedule]\naccept_within_secs = 3600\ndeadline_secs = 7200\n"
    ))?;
    Ok(file.resolve(module.clone(), vec![], None)?)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

pub(super) async fn run(
    args: &BenchComputeArgs,
    settings: &Settings,
    json_out: bool,
) -> Result<ExitCode> {
    let tmp;
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => {
            std::fs::create_dir_all(&settings.data_dir)?;
            tmp = tempfile::tempdir_in(&settings.data_dir)?;
            tmp.path().to_owned()
        }
    };
    let throughput = throughput(args.throughput_jobs, settings, &dir.join("throughput")).await?;
    let latency = latency(args.jobs, args.block_time, settings, &dir.join("latency")).await?;
    let report = json!({ "throughput": throughput, "latency": latency });
    if json_out {
        output::json(&report);
    } else {
        output::print(&format!(
            "bookkeeping: {} jobs through submit+match+assign+report+settle in {:.2} s of node time = {:.0} jobs/s (chain batched: {})\n\
             submit→running over {} jobs on {} s blocks: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms\n\
             requester escrow+submit→running ({} jobs): p50 {:.0} ms, max {:.0} ms\n",
            throughput["jobs"],
            throughput["nodeSeconds"].as_f64().unwrap_or(0.0),
            throughput["jobsPerSecond"].as_f64().unwrap_or(0.0),
            throughput["chain"],
            latency["jobs"],
            latency["blockTimeSecs"],
            latency["p50Ms"].as_f64().unwrap_or(0.0),
            latency["p90Ms"].as_f64().unwrap_or(0.0),
            latency["p99Ms"].as_f64().unwrap_or(0.0),
            latency["maxMs"].as_f64().unwrap_or(0.0),
            latency["endToEnd"]["jobs"],
            latency["endToEnd"]["p50Ms"].as_f64().unwrap_or(0.0),
            latency["endToEnd"]["maxMs"].as_f64().unwrap_or(0.0),
        ));
    }
    Ok(ExitCode::SUCCESS)
}

async fn throughput(
    n: usize,
    settings: &Settings,
    dir: &std::path::Path,
) -> Result<serde_json::Value> {
    let net = Devnet::up(settings, dir, None).await?;
    let r = throughput_on(&net, n, dir).await;
    net.down().await;
    r
}

async fn throughput_on(net: &Devnet, n: usize, dir: &std::path::Path) -> Result<serde_json::Value> {
    // A market whose challenge window is zero, so settlement can follow the results at once.
    let p = net.chain.provider();
    let operator = net.keys[0].address();
    let builder = cairn_contracts::ComputeMarket::deploy_builder(
        p,
        net.token,
        operator,
        86_400,
        0,
        100,
        operator,
        U256::from(100_000_000u64),
    );
    let pending = net.chain.rpc("deploy", builder.send()).await?;
    let market = net
        .chain
        .confirm("deploy ComputeMarket", pending)
        .await?
        .contract_address
        .ok_or_else(|| anyhow!("no contract address"))?;
    let providers: Vec<Escrow> = {
        let mut v = Vec::new();
        for i in 2..net.keys.len() {
            v.push(net.provider(i, market).await?);
        }
        v
    };
    let ledger = Arc::new(Metered::new(Arc::new(Escrow::new(
        net.chain.clone(),
        market,
    ))));
    // The simulated providers do not heartbeat: their leases must not lapse mid-run.
    let mut config = NodeConfig::new(dir.join("node"), net.chain.url())
        .with_lease(Duration::from_secs(600), Duration::from_secs(3600));
    config.batch = 500;
    // Simulated providers claiming 100,000 cores each: a trusted pool, not calibrated.
    let config = config
        .without_calibration()
        .with_write_limits(cairn_node::WriteLimits::unlimited());
    let node = Node::open(config, ledger.clone() as Arc<dyn Ledger>).await?;
    let module = BlobRef::of(NOOP_WAT.as_bytes());
    node.blobs().put(NOOP_WAT.as_bytes())?;
    for e in &providers {
        let me = e.chain().signer().expect("signer");
        node.advertise(
            me,
            ProviderAdvert {
                address: me.to_string(),
                capacity: Resources {
                    cpu_cores: 100_000,
                    memory_bytes: 1 << 40,
                    gpus: 0,
                },
                ask: Price {
                    per_mfuel: 1,
                    per_second: 0,
                },
                gpu_names: vec![],
                kinds: vec![cairn_compute::JobKind::Wasm],
                devices: vec![],
                version: "bench".into(),
            },
        )
        .await?;
    }

    // The requester escrows N jobs in batches (requester time, not node time).
    let requester = Escrow::new(net.as_account(1).await?, market);
    let specs: Vec<JobSpec> = (0..n).map(|i| spec(&module, i)).collect::<Result<_>>()?;
    let total: u64 = specs.iter().map(|s| s.payment).sum();
    net.mint(net.keys[1].address(), U256::from(total)).await?;
    requester.ensure_allowance(U256::from(total)).await?;
    let now = requester.chain_time().await?;
    let mut ids = Vec::with_capacity(n);
    let escrow_started = Instant::now();
    // About 60k gas a job: 200 per transaction stays well inside a 30M block.
    for chunk in specs.chunks(200) {
        let jobs: Vec<(B256, U256)> = chunk
            .iter()
            .map(|s| (B256::from(s.digest()), U256::from(s.payment)))
            .collect();
        let posted = requester.post_jobs(&jobs, now + 3_600, now + 7_200).await?;
        ids.extend(posted.ids);
    }
    let escrow_secs = escrow_started.elapsed().as_secs_f64();

    // Node: submit + match.
    let t0 = Instant::now();
    for (id, s) in ids.iter().zip(&specs) {
        node.submit(SubmitJob {
            job_id: *id,
            spec: s.clone(),
        })
        .await?;
    }
    let t_submit = t0.elapsed();
    // Node: assignments on chain.
    let t1 = Instant::now();
    while node.chain_pass().await? {}
    let t_assign = t1.elapsed();

    // Providers (not timed): claim, start, commit on chain.
    let stdout = OutputRef::of("stdout", b"");
    node.blobs().put(b"")?;
    let digest = output_digest(&[], &stdout);
    let trace = cairn_worker::trace_root(&digest, 1);
    // The reports below meter 1 fuel in 1 ms; each commit charges what that bills.
    let charge = U256::from(spec(&module, 0)?.bill(1, 1));
    let commit_started = Instant::now();
    // Each provider commits its own jobs (one account, one nonce sequence); providers in parallel.
    let mut tasks = Vec::new();
    for e in &providers {
        let me = e.chain().signer().expect("signer");
        let mut mine = Vec::new();
        while let Some(a) = node.claim(me)? {
            node.started(me, a.job_id)?;
            mine.push(a.job_id);
        }
        let e = e.clone();
        tasks.push(tokio::spawn(async move {
            for id in &mine {
                e.commit_result(*id, B256::from(digest), B256::from(trace), charge)
                    .await?;
            }
            Ok::<_, cairn_escrow::Error>((me, mine))
        }));
    }
    let mut reports = Vec::with_capacity(n);
    for t in tasks {
        let (me, ids) = t.await??;
        for job_id in ids {
            reports.push((
                me,
                RunReport {
                    job_id,
                    outcome: RunOutcome::Succeeded,
                    fuel_used: 1,
                    wall_time_ms: 1,
                    outputs: vec![],
                    stdout: stdout.clone(),
                    stderr: OutputRef::of("stderr", b""),
                    output_digest: hex_of(&digest),
                    trace_root: hex_of(&trace),
                    commit_tx: None,
                },
            ));
        }
    }
    let commit_secs = commit_started.elapsed().as_secs_f64();
    if reports.len() != n {
        return Err(anyhow!("only {} of {n} jobs were leased", reports.len()));
    }

    // Node: result checks and settlement.
    let t2 = Instant::now();
    for (me, r) in reports {
        node.report(me, r).await?;
    }
    let t_report = t2.elapsed();
    let t3 = Instant::now();
    while node.chain_pass().await? {}
    let t_settle = t3.elapsed();
    let settled = ids
        .iter()
        .filter(|id| {
            node.job(**id)
                .map(|v| v.state == JobState::Settled)
                .unwrap_or(false)
        })
        .count();
    if settled != n {
        return Err(anyhow!("only {settled} of {n} jobs settled"));
    }
    let node_secs = (t_submit + t_assign + t_report + t_settle).as_secs_f64();
    let chain: serde_json::Map<String, serde_json::Value> = ledger
        .counts()
        .into_iter()
        .map(|(call, (txs, jobs, gas))| {
            (
                call.to_owned(),
                json!({ "txs": txs, "jobs": jobs, "gasPerJob": gas / jobs.max(1) }),
            )
        })
        .collect();
    Ok(json!({
        "jobs": n,
        "providers": providers.len(),
        "nodeSeconds": node_secs,
        "jobsPerSecond": n as f64 / node_secs,
        "phases": {
            "submitAndMatchSecs": t_submit.as_secs_f64(),
            "assignOnChainSecs": t_assign.as_secs_f64(),
            "reportChecksSecs": t_report.as_secs_f64(),
            "settleOnChainSecs": t_settle.as_secs_f64(),
        },
        "notTimed": { "requesterEscrowSecs": escrow_secs, "providerCommitsSecs": commit_secs },
        "chain": chain,
    }))
}

fn hex_of(b: &[u8; 32]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

async fn latency(
    n: usize,
    block_time: u64,
    settings: &Settings,
    dir: &std::path::Path,
) -> Result<serde_json::Value> {
    let net = Devnet::up(settings, dir, Some(block_time.max(1))).await?;
    let r = latency_on(&net, n, block_time.max(1), dir).await;
    net.down().await;
    r
}

async fn latency_on(
    net: &Devnet,
    n: usize,
    block_time: u64,
    dir: &std::path::Path,
) -> Result<serde_json::Value> {
    let operator = net
        .as_account(cairn_devnet::COMPUTE_OPERATOR_ACCOUNT)
        .await?;
    let escrow = Escrow::new(operator, net.market);
    let node = Node::open(
        // The benchmark's clients all share one address: no write budget.
        NodeConfig::new(dir.join("node"), net.chain.url())
            .with_write_limits(cairn_node::WriteLimits::unlimited()),
        Arc::new(escrow),
    )
    .await?;
    node.spawn_loops();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let server = node.clone();
    tokio::spawn(async move { axum::serve(listener, cairn_node::router(server)).await });
    // Submissions are signed by the requester (account 1, who escrows below).
    let client = NodeClient::new(&url).with_signer(net.keys[1].clone());
    let info = client.info().await?;

    // Two workers with the real sandbox.
    for i in [2usize, 3] {
        let chain = net.as_account(i).await?;
        let min: U256 = info
            .min_stake
            .parse()
            .map_err(|_| anyhow!("bad minStake"))?;
        net.mint(net.keys[i].address(), min).await?;
        let config = cairn_worker::WorkerConfig {
            dir: dir.join(format!("worker-{i}")),
            // Slots enough that no job queues for capacity while earlier ones wait for their
            // commit to be mined: the latency measured is the node's submit→lease→start path.
            capacity: Resources {
                cpu_cores: 64,
                memory_bytes: 1 << 30,
                gpus: 0,
            },
            gpu_names: vec![],
            kinds: vec![],
            ask: Price {
                per_mfuel: 1,
                per_second: 0,
            },
            stake: None,
        };
        let w = cairn_worker::Worker::new(
            config,
            net.keys[i].clone(),
            &url,
            Escrow::new(chain, net.market),
            info.clone(),
        )
        .await?;
        w.ensure_registered().await?;
        w.advertise().await?;
        tokio::spawn(async move { w.run().await });
    }

    let requester = Escrow::new(net.as_account(1).await?, net.market);
    // Blob uploads are signed: the requester's key.
    NodeClient::new(&url)
        .with_signer(net.keys[1].clone())
        .put_blob(NOOP_WAT.as_bytes().to_vec())
        .await?;
    let module = BlobRef::of(NOOP_WAT.as_bytes());
    let specs: Vec<JobSpec> = (0..n).map(|i| spec(&module, i)).collect::<Result<_>>()?;
    let total: u64 = specs.iter().map(|s| s.payment).sum::<u64>() * 2;
    net.mint(net.keys[1].address(), U256::from(total)).await?;
    requester.ensure_allowance(U256::from(total)).await?;
    let now = requester.chain_time().await?;
    let jobs: Vec<(B256, U256)> = specs
        .iter()
        .map(|s| (B256::from(s.digest()), U256::from(s.payment)))
        .collect();
    let posted = requester.post_jobs(&jobs, now + 3_600, now + 7_200).await?;

    // Submit one by one, a little apart, as requesters would.
    let ids: Vec<u64> = posted.ids.collect();
    for (id, s) in ids.iter().zip(&specs) {
        client
            .submit(&SubmitJob {
                job_id: *id,
                spec: s.clone(),
            })
            .await?;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut lat = Vec::with_capacity(n);
    let deadline = Instant::now() + Duration::from_secs(120);
    for id in &ids {
        loop {
            let v = client.job(*id).await?;
            if let Some(s) = v.started_ms.or(v.result.as_ref().map(|_| v.submitted_ms)) {
                lat.push(s.saturating_sub(v.submitted_ms) as f64);
                break;
            }
            if Instant::now() > deadline {
                return Err(anyhow!("job {id} did not start: {:?}", v.reason));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    lat.sort_by(f64::total_cmp);

    // End to end from the requester's escrow transaction, for a few jobs.
    let mut e2e = Vec::new();
    for i in 0..5 {
        let s = spec(&module, n + i)?;
        let started = Instant::now();
        let now = requester.chain_time().await?;
        let p = requester
            .post_job(
                B256::from(s.digest()),
                U256::from(s.payment),
                now + 3_600,
                now + 7_200,
            )
            .await?;
        client
            .submit(&SubmitJob {
                job_id: p.first(),
                spec: s,
            })
            .await?;
        loop {
            let v = client.job(p.first()).await?;
            if v.started_ms.is_some() || v.result.is_some() {
                break;
            }
            if started.elapsed() > Duration::from_secs(60) {
                return Err(anyhow!("job {} did not start", p.first()));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        e2e.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    e2e.sort_by(f64::total_cmp);
    Ok(json!({
        "jobs": n,
        "blockTimeSecs": block_time,
        "p50Ms": percentile(&lat, 0.5),
        "p90Ms": percentile(&lat, 0.9),
        "p99Ms": percentile(&lat, 0.99),
        "maxMs": lat.last().copied().unwrap_or(f64::NAN),
        "endToEnd": { "jobs": e2e.len(), "p50Ms": percentile(&e2e, 0.5), "maxMs": e2e.last().copied().unwrap_or(f64::NAN) },
    }))
}
