//! `cairn up`: the whole local network in one command.
//!
//! ```text
//!  devnet (anvil + contracts + pools, in process) ─▶ witness ─▶ log (witnessed, anchored)
//!    ─▶ compute node (receipts to the log) ─▶ N workers ─▶ sample dataset + word-count job
//!       (committed), market dataset statement + `train` job (submitted)
//!    ─▶ the agent's own devnet and vault (deployed once + deposit) ─▶ ready
//!    ─▶ the train job commits: wallet agent (`agent run --live --vol-model sha256:<its model>`,
//!       `market replay`) ─▶ it settles: training-run and model statements in the log
//!  Ctrl-C: replay, agent, workers, node, log, witness stop (SIGINT, then SIGKILL after a
//!  grace), both devnets down
//! ```
//!
//! The services are this binary's own `witness serve`, `log serve`, `node serve` and `worker`
//! commands, run as child processes with their output in `<data-dir>/up/<name>.log`, so each
//! behaves exactly as when started by hand. A lock in `<data-dir>/up/` keeps a second `cairn up`
//! on the same data directory from starting; everything else (log, node database, worker keys)
//! lives in the data directory, so the next `cairn up` resumes where this one stopped.
//!
//! The wallet agent runs the README's plan (`examples/plans/daily-btc60-bnb40.toml`) live
//! through an `AgentVault` deployed by `cairn agent vault deploy` the first time (owner and agent
//! keys in `<data-dir>/market/agent/`, the vault recorded in
//! `<data-dir>/market/agent-vault-<chain id>.json` and never redeployed), while `cairn market
//! replay` moves the pools and feeds along the candles in `data/market/` (`--agent-speed`).
//! The replay moves its chain's clock a candle per
//! step, which would expire the compute market's jobs, so the agent has its own devnet with its
//! own data directory (`<data-dir>/market`, `--agent-chain-port`); its decisions go to the same
//! log, and the node serves its state at `/agent`. The agent's state makes a restart resume: no
//! slot is bought twice.
use crate::{cli::UpArgs, config::Settings, output};
use anyhow::{Context, Result, anyhow, bail};
use cairn_compute::JobState;
use cairn_node_client::NodeClient;
use nix::{sys::signal::Signal, unistd::Pid};
use serde_json::json;
use std::{
    fs::File,
    io::Write,
    path::{Path, PathBuf},
    process::{Child, Command, ExitCode, Stdio},
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

/// How long a service may take to answer after it starts.
const START_LIMIT: Duration = Duration::from_secs(120);
/// How long the sample job may take, queueing included.
const SAMPLE_LIMIT: Duration = Duration::from_secs(300);
/// How long a stopped service may take to exit before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(15);

/// The running child processes, stopped in reverse order when dropped.
struct Services {
    dir: PathBuf,
    running: Vec<(String, Child)>,
    /// Services whose clean exit is their work done, not a failure (the market replay reaches
    /// the last candle).
    may_finish: Vec<String>,
}

impl Services {
    fn spawn(&mut self, settings: &Settings, name: &str, args: &[String]) -> Result<()> {
        self.spawn_in(&settings.data_dir, name, args)
    }

    /// [`Services::spawn`] with another data directory (the agent's market chain).
    fn spawn_in(&mut self, data_dir: &Path, name: &str, args: &[String]) -> Result<()> {
        let exe = std::env::current_exe().context("finding the cairn binary")?;
        let log = self.dir.join(format!("{name}.log"));
        let out = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let child = Command::new(exe)
            .arg("--data-dir")
            .arg(data_dir)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        self.running.push((name.to_owned(), child));
        Ok(())
    }

    /// The first service that has exited, with its status and the end of its output.
    fn exited(&mut self) -> Option<String> {
        let done = self.running.iter_mut().position(|(name, child)| {
            self.may_finish.contains(name)
                && matches!(child.try_wait(), Ok(Some(status)) if status.success())
        });
        if let Some(i) = done {
            let (name, _) = self.running.remove(i);
            eprintln!("{name} finished");
        }
        for (name, child) in &mut self.running {
            if let Ok(Some(status)) = child.try_wait() {
                let log = self.dir.join(format!("{name}.log"));
                return Some(format!(
                    "{name} stopped ({status}); the end of {}:\n{}",
                    log.display(),
                    tail(&log, 15)
                ));
            }
        }
        None
    }

    /// Stops every service, newest first: SIGINT (each stops cleanly on Ctrl-C), then SIGKILL
    /// after [`STOP_GRACE`].
    fn stop(&mut self) {
        while let Some((name, mut child)) = self.running.pop() {
            let pid = Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, Signal::SIGINT);
            let until = Instant::now() + STOP_GRACE;
            loop {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() >= until => {
                        eprintln!("{name} did not stop within {STOP_GRACE:?}; killing it");
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        }
    }
}

impl Drop for Services {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The last `n` lines of a file.
fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Runs this binary with `args` and returns its standard output, trimmed.
fn capture(settings: &Settings, args: &[&str]) -> Result<String> {
    capture_in(&settings.data_dir, args)
}

/// [`capture`] with another data directory (the agent's market chain).
fn capture_in(data_dir: &Path, args: &[&str]) -> Result<String> {
    let exe = std::env::current_exe().context("finding the cairn binary")?;
    let out = Command::new(exe)
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running cairn {}", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "cairn {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// The JSON document a `--json` command printed (one document, possibly pretty-printed).
fn parse_json(text: &str) -> Result<serde_json::Value> {
    let mut docs = serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>();
    let mut last = None;
    for doc in &mut docs {
        last = Some(doc.map_err(|e| anyhow!("{e} in {text:?}"))?);
    }
    last.ok_or_else(|| anyhow!("nothing printed"))
}

/// Waits until something accepts TCP connections at `addr`, or a service exits.
async fn wait_listening(services: &mut Services, name: &str, addr: &str) -> Result<()> {
    let until = Instant::now() + START_LIMIT;
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        check_stopping()?;
        if let Some(why) = services.exited() {
            bail!("{why}");
        }
        if Instant::now() >= until {
            bail!("{name} did not listen on {addr} within {START_LIMIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Holds `<dir>/lock` for the life of this `cairn up`; says who holds it otherwise.
fn lock(dir: &Path) -> Result<File> {
    let path = dir.join("lock");
    let mut f = File::options()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    if f.try_lock().is_err() {
        let pid = std::fs::read_to_string(dir.join("pid")).unwrap_or_default();
        bail!(
            "a `cairn up` is already running on this data directory (pid {}); stop it with Ctrl-C \
             in its terminal (or kill -INT {0}) before starting another, or pass another --data-dir",
            pid.trim()
        );
    }
    std::fs::write(dir.join("pid"), std::process::id().to_string())?;
    f.flush()?;
    Ok(f)
}

/// Set once Ctrl-C (SIGINT) or SIGTERM arrives; the handlers are installed before anything
/// starts, so a signal during start-up stops what was started instead of killing this process.
static STOPPING: AtomicBool = AtomicBool::new(false);

fn watch_signals() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt()).context("installing the Ctrl-C handler")?;
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    tokio::spawn(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        STOPPING.store(true, Ordering::SeqCst);
    });
    Ok(())
}

/// Fails start-up once a stop was asked for.
fn check_stopping() -> Result<()> {
    if STOPPING.load(Ordering::SeqCst) {
        bail!("interrupted while starting; stopped what had started");
    }
    Ok(())
}

pub(super) async fn run(a: &UpArgs, settings: &Settings, json_out: bool) -> Result<ExitCode> {
    let started = Instant::now();
    if !a.no_agent {
        super::agent_run::speed(&a.agent_speed).map_err(|_| {
            anyhow!(
                "--agent-speed {:?}: give MARKET=WALL, e.g. 1d=5s (a day of candles every five seconds)",
                a.agent_speed
            )
        })?;
    }
    watch_signals()?;
    let dir = settings.data_dir.join("up");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let _lock = lock(&dir)?;
    let devnet_cfg = settings.devnet(Some(&a.devnet));
    let market_cfg = market_chain(settings, a, &devnet_cfg);
    let outcome = network(
        a,
        settings,
        json_out,
        &dir,
        &devnet_cfg,
        &market_cfg,
        started,
    )
    .await;
    // However it ended (Ctrl-C, a service that died, a failed start), the services are
    // stopped by now; the chains go too unless asked to stay.
    if !a.keep_devnet {
        for cfg in std::iter::once(&devnet_cfg).chain(market_cfg.as_ref()) {
            if let Err(e) = cairn_devnet::down(cfg).await {
                eprintln!("warning: stopping the devnet: {e:#}");
            }
        }
    }
    if !json_out {
        eprintln!("stopped");
    }
    outcome
}

/// Starts everything, reports, and runs until Ctrl-C or a service dies; stops the services.
async fn network(
    a: &UpArgs,
    settings: &Settings,
    json_out: bool,
    dir: &Path,
    devnet_cfg: &cairn_devnet::DevnetConfig,
    market_cfg: &Option<cairn_devnet::DevnetConfig>,
    started: Instant,
) -> Result<ExitCode> {
    let dir = dir.to_owned();
    let say = |line: &str| {
        if !json_out {
            eprintln!("{line}");
        }
    };

    // 1. The chain, in process: it returns once the contracts and pools are there.
    // The agent's own chain comes up beside it.
    let (devnet, market) = tokio::join!(cairn_devnet::up(devnet_cfg), async {
        match market_cfg {
            Some(cfg) => cairn_devnet::up(cfg).await.map(Some),
            None => Ok(None),
        }
    });
    let (devnet, market) = (devnet?, market?);
    say(&format!(
        "devnet: {} (chain {})",
        devnet.devnet.rpc_url, devnet.devnet.chain_id
    ));

    let mut services = Services {
        dir: dir.clone(),
        running: Vec::new(),
        may_finish: vec!["replay".to_owned()],
    };
    // The agent's chain and vault first: the node is told where the agent's state will be.
    let agent = match (market_cfg, market) {
        (Some(cfg), Some(market)) => {
            let v = agent_vault(&cfg.data_dir, market.devnet.chain_id, market.devnet.rpc_url)?;
            say(&format!(
                "agent chain: {} (its own devnet, data in {}); vault {}",
                v.rpc_url,
                cfg.data_dir.display(),
                v.vault
            ));
            Some(v)
        }
        _ => None,
    };
    // 2. The witness, then the log it cosigns (anchored on chain).
    let log_key = capture(settings, &["log", "key"])?;
    let witness_key = capture(settings, &["witness", "key"])?;
    services.spawn(
        settings,
        "witness",
        &[
            "witness".into(),
            "serve".into(),
            "--listen".into(),
            a.witness_listen.clone(),
            "--log-key".into(),
            log_key.clone(),
        ],
    )?;
    wait_listening(&mut services, "the witness", &a.witness_listen).await?;
    let witness_url = format!("http://{}", a.witness_listen);
    services.spawn(
        settings,
        "log",
        &[
            "log".into(),
            "serve".into(),
            "--listen".into(),
            a.log_listen.clone(),
            "--witness".into(),
            format!("{witness_url}={witness_key}"),
            "--anchor-interval".into(),
            a.anchor_interval.to_string(),
        ],
    )?;
    wait_listening(&mut services, "the log", &a.log_listen).await?;
    let log_url = format!("http://{}", a.log_listen);
    say(&format!("log: {log_url} (witness {witness_url})"));

    // 3. The compute node (serving the agent's state at /agent) and its workers.
    let mut node_args: Vec<String> = vec![
        "node".into(),
        "serve".into(),
        "--listen".into(),
        a.node_listen.clone(),
        "--log".into(),
        log_url.clone(),
    ];
    if let Some(v) = &agent {
        node_args.extend(["--agent-state".into(), v.state.display().to_string()]);
    }
    services.spawn(settings, "node", &node_args)?;
    wait_listening(&mut services, "the compute node", &a.node_listen).await?;
    let node_url = format!("http://{}", a.node_listen);
    let node = NodeClient::new(&node_url);
    node.info_when_up(START_LIMIT)
        .await
        .with_context(|| format!("waiting for the node at {node_url}"))?;
    for i in 1..=a.workers {
        let key = dir.join(format!("worker-{i}.key"));
        services.spawn(
            settings,
            &format!("worker-{i}"),
            &[
                "worker".into(),
                "--node".into(),
                node_url.clone(),
                "--key".into(),
                key.display().to_string(),
                "--cores".into(),
                "1".into(),
                "--memory".into(),
                a.worker_memory.clone(),
            ],
        )?;
    }
    let until = Instant::now() + START_LIMIT;
    let providers = loop {
        let ps = node.providers().await.unwrap_or_default();
        // Online is enough: a worker timed while the machine was busy is credited with fewer
        // cores and timed again every half minute (jobs wait in the queue meanwhile).
        let ready = ps.iter().filter(|p| p.online).count();
        if ready >= a.workers as usize {
            break ps;
        }
        check_stopping()?;
        if let Some(why) = services.exited() {
            bail!("{why}");
        }
        if Instant::now() >= until {
            bail!(
                "{ready} of {} workers came online within {START_LIMIT:?}; see {}",
                a.workers,
                dir.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    say(&format!(
        "compute node: {node_url}, {} providers online, {} cores verified by calibration",
        providers.iter().filter(|p| p.online).count(),
        providers
            .iter()
            .map(|p| p.verified_cores.unwrap_or(0))
            .sum::<u32>()
    ));

    // 4. A sample dataset in the log and a sample job end to end; the market dataset in the
    // log and a `train` job on it submitted (followed after "ready").
    let (sample, train_job) = if a.no_sample {
        (None, None)
    } else {
        let (v, train) = sample(settings, &node_url, &log_url, &dir, &mut services).await?;
        (Some(v), Some(train))
    };
    // 5. The wallet agent on its plan, and the market it buys in: at once without a sample,
    // else once the train job gives it its volatility model.
    let mut agent_waits = false;
    if let Some(v) = &agent {
        if train_job.is_some() {
            agent_waits = true;
        } else {
            start_agent(settings, a, v, &log_url, None, &mut services)?;
        }
    }
    let agent_json = agent.as_ref().map(|v| {
        json!({
            "plan": AGENT_PLAN,
            "mode": "live",
            "rpcUrl": v.rpc_url,
            "dataDir": v.data_dir,
            "vault": v.vault,
            "state": v.state,
            "agentKey": v.agent_key,
            "ownerKey": v.owner_key,
            "replay": { "data": REPLAY_DATA, "speed": a.agent_speed },
            // The agent starts once this job commits, with its model as `--vol-model`.
            "volModelJob": train_job,
        })
    });
    let ready_secs = started.elapsed().as_secs_f64();
    if json_out {
        // One line: the network keeps running after it, so readers take the first line.
        output::print(&format!(
            "{}\n",
            json!({
                "ready": true,
                "readySecs": ready_secs,
                "rpcUrl": devnet.devnet.rpc_url,
                "chainId": devnet.devnet.chain_id,
                "log": log_url,
                "logKey": log_key,
                "witness": witness_url,
                "node": node_url,
                "dashboard": format!("{node_url}/dashboard/"),
                "providers": providers.len(),
                "sample": sample,
                "agent": agent_json,
                "logs": dir,
            })
        ));
    } else {
        let mut text = format!(
            "network ready in {ready_secs:.1} s\n  chain    {} (chain id {})\n  log      {log_url}  key {log_key}\n  witness  {witness_url}\n  node     {node_url}  ({} workers)\n  dashboard {node_url}/dashboard/\n",
            devnet.devnet.rpc_url, devnet.devnet.chain_id, a.workers
        );
        if let Some(s) = &sample {
            text.push_str(&format!(
                "  sample   dataset statement {} in the log; job {} {}\n",
                s["dataset"].as_str().unwrap_or("?"),
                s["job"],
                s["state"].as_str().unwrap_or("?")
            ));
        }
        if let Some(id) = train_job {
            text.push_str(&format!(
                "  train    job {id}: {TRAIN_JOB} on {TRAIN_DATA} (dataset statement in the log), running{}\n",
                if agent.is_some() {
                    "; its model feeds the agent once it commits"
                } else {
                    ""
                }
            ));
        }
        if let Some(v) = &agent {
            text.push_str(&format!(
                "  agent    {AGENT_PLAN} --live on its own chain {}, vault {}; market replay of {} at {}\n           {node_url}/agent, or `cairn --data-dir {} agent status {AGENT_PLAN} --live`\n",
                v.rpc_url,
                v.vault,
                REPLAY_DATA.join(" "),
                a.agent_speed,
                v.data_dir.display()
            ));
        }
        text.push_str(&format!(
            "  output   {}/<service>.log\nCtrl-C stops the network; `cairn up` again resumes it.\n",
            dir.display()
        ));
        output::print(&text);
    }

    // 6. Until Ctrl-C (or a service dies), following the train job: the agent starts with its
    // model once it commits; its lineage statements are in the log once it settles.
    let mut code = ExitCode::SUCCESS;
    let mut train = train_job.map(|id| TrainWatch {
        id,
        until: Instant::now() + SAMPLE_LIMIT + SETTLE_LIMIT,
        next_poll: Instant::now(),
        model: None,
    });
    while !STOPPING.load(Ordering::SeqCst) {
        if let Some(why) = services.exited() {
            eprintln!("error: {why}\nstopping the network");
            code = ExitCode::FAILURE;
            break;
        }
        if let Some(t) = train.as_mut()
            && Instant::now() >= t.next_poll
        {
            t.next_poll = Instant::now() + Duration::from_millis(500);
            let event = t.poll(&node).await;
            let record = |state: &str, model: Option<&str>| {
                let path = dir.join("train.json");
                let body = json!({
                    "job": t.id,
                    "spec": TRAIN_JOB,
                    "dataset": dir.join("market-dataset.bundle.json"),
                    "state": state,
                    "model": model.map(|m| format!("sha256:{m}")),
                    "agentVolModel": model.is_some() && agent.is_some(),
                });
                if let Err(e) = std::fs::write(&path, format!("{body:#}\n")) {
                    eprintln!("warning: writing {}: {e}", path.display());
                }
            };
            match event {
                TrainEvent::Waiting => {}
                TrainEvent::Committed(model) => {
                    eprintln!(
                        "train job {}: committed in {:.1} s; model sha256:{model} (audited, paid and \
                         in the log after the challenge window)",
                        t.id,
                        started.elapsed().as_secs_f64()
                    );
                    record("committed", Some(&model));
                    if let (Some(v), true) = (&agent, agent_waits) {
                        agent_waits = false;
                        start_agent(
                            settings,
                            a,
                            v,
                            &log_url,
                            Some((&model, &node_url)),
                            &mut services,
                        )?;
                        eprintln!(
                            "agent: running {AGENT_PLAN} with the volatility model sha256:{model} \
                             (--vol-model); each decision names it"
                        );
                    }
                    t.model = Some(model);
                }
                TrainEvent::Settled => {
                    let model = t.model.clone().unwrap_or_default();
                    eprintln!(
                        "train job {}: settled in {:.1} s; its training-run and model statements \
                         are in the log (lineage: decision → model → training run → dataset)",
                        t.id,
                        started.elapsed().as_secs_f64()
                    );
                    record("settled", Some(&model));
                    train = None;
                }
                TrainEvent::Failed(why) => {
                    eprintln!("warning: the sample train job {}: {why}", t.id);
                    record("failed", t.model.as_deref());
                    if let (Some(v), true) = (&agent, agent_waits) {
                        agent_waits = false;
                        start_agent(settings, a, v, &log_url, None, &mut services)?;
                        eprintln!("agent: running {AGENT_PLAN} without a volatility model");
                    }
                    train = None;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    say("stopping: replay, agent, workers, node, log, witness, devnet");
    tokio::task::spawn_blocking(move || services.stop()).await?;
    Ok(code)
}

/// Registers the sample dataset (a `dataset` statement in the log) and runs the word-count
/// job until its result is committed (it is paid after the challenge window).
async fn sample(
    settings: &Settings,
    node_url: &str,
    log_url: &str,
    dir: &Path,
    services: &mut Services,
) -> Result<(serde_json::Value, u64)> {
    let node = NodeClient::new(node_url);
    let job = Path::new("examples/jobs/wordcount/job.toml");
    if !job.exists() {
        bail!(
            "the sample job {} is not here: run `cairn up` in the repository root (after \
             `make jobs`), or pass --no-sample",
            job.display()
        );
    }
    attest_key(settings)?;
    let bundle = dir.join("sample-dataset.bundle.json");
    let bundle_arg = bundle.display().to_string();
    let attested = capture(
        settings,
        &[
            "--json",
            "attest",
            "dataset",
            "examples/jobs/wordcount/sample",
            "--name",
            "wordcount-sample",
            "--log",
            log_url,
            "--out",
            &bundle_arg,
        ],
    )?;
    let attested = parse_json(&attested).context("reading attest's JSON")?;
    let submitted = capture(
        settings,
        &[
            "--json",
            "job",
            "submit",
            "--yes",
            "--node",
            node_url,
            "examples/jobs/wordcount/job.toml",
        ],
    )?;
    let submitted = parse_json(&submitted).context("reading job submit's JSON")?;
    let id = submitted["id"]
        .as_u64()
        .ok_or_else(|| anyhow!("job submit gave no id: {submitted}"))?;
    let train = submit_train(settings, node_url, log_url, dir)?;
    // Long enough for a worker timed while the machine was busy to be timed again.
    let until = Instant::now() + SAMPLE_LIMIT;
    let state = loop {
        let v = node.job(id).await?;
        match v.state {
            JobState::Committed | JobState::Settled => break v.state,
            s if s.is_terminal() => bail!(
                "the sample job {id} ended {s:?}: {}",
                v.reason.as_deref().unwrap_or("no reason given")
            ),
            _ => {}
        }
        check_stopping()?;
        if let Some(why) = services.exited() {
            bail!("{why}");
        }
        if Instant::now() >= until {
            bail!(
                "the sample job {id} did not finish within {SAMPLE_LIMIT:?} (`cairn job status {id}` says why)"
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    Ok((
        json!({
            "dataset": bundle,
            "logged": attested,
            "job": id,
            "state": match state {
                JobState::Settled => "settled",
                _ => "committed (paid after the challenge window)",
            },
            "train": {
                "job": train,
                "spec": TRAIN_JOB,
                "dataset": dir.join("market-dataset.bundle.json"),
            },
        }),
        train,
    ))
}

/// The sample `train` job: a volatility model (the `market` reader, BTC and BNB) on the
/// repository's candles.
const TRAIN_JOB: &str = "examples/jobs/volatility/job.toml";
/// The dataset it trains on (`dataset` in its spec), registered in the log first.
const TRAIN_DATA: &str = "data/market";
/// How long the train job may take from its commit to its settlement (the audit, then the
/// market's challenge window).
const SETTLE_LIMIT: Duration = Duration::from_secs(300);

/// Registers the market dataset (a `dataset` statement in the log, so lineage reaches it from
/// the training run) and submits the sample train job; returns its id without waiting.
fn submit_train(settings: &Settings, node_url: &str, log_url: &str, dir: &Path) -> Result<u64> {
    for f in [TRAIN_JOB, TRAIN_DATA] {
        if !Path::new(f).exists() {
            bail!("{f} is not here: run `cairn up` in the repository root, or pass --no-sample");
        }
    }
    let bundle = dir.join("market-dataset.bundle.json").display().to_string();
    capture(
        settings,
        &[
            "--json", "attest", "dataset", TRAIN_DATA, "--name", "market", "--log", log_url,
            "--out", &bundle,
        ],
    )?;
    let submitted = capture(
        settings,
        &[
            "--json", "job", "submit", "--yes", "--node", node_url, TRAIN_JOB,
        ],
    )?;
    let submitted = parse_json(&submitted).context("reading job submit's JSON")?;
    submitted["id"]
        .as_u64()
        .ok_or_else(|| anyhow!("job submit gave no id: {submitted}"))
}

/// The sample train job, followed after "ready".
struct TrainWatch {
    id: u64,
    /// When to stop waiting for it to settle.
    until: Instant,
    next_poll: Instant,
    /// Its model's SHA-256 (hex), once committed.
    model: Option<String>,
}

/// What changed about the train job since the last poll.
enum TrainEvent {
    Waiting,
    /// Its result is committed: the model file's SHA-256 (hex), in the node's store.
    Committed(String),
    /// It was paid: its training-run and model statements are in the log.
    Settled,
    /// It ended without a model, or took too long.
    Failed(String),
}

impl TrainWatch {
    async fn poll(&self, node: &NodeClient) -> TrainEvent {
        let v = match node.job(self.id).await {
            Ok(v) => v,
            Err(e) if Instant::now() >= self.until => {
                return TrainEvent::Failed(format!("the node did not answer: {e}"));
            }
            Err(_) => return TrainEvent::Waiting,
        };
        let model = v.result.as_ref().and_then(|r| {
            r.outputs
                .iter()
                .find(|o| o.name == "model.safetensors")
                .map(|o| o.sha256.clone())
        });
        match (v.state, &self.model, model) {
            (JobState::Committed | JobState::Settled, None, Some(m)) => TrainEvent::Committed(m),
            (JobState::Committed | JobState::Settled, None, None) => {
                TrainEvent::Failed("its result has no model.safetensors".into())
            }
            (JobState::Settled, Some(_), _) => TrainEvent::Settled,
            (s, _, _) if s.is_terminal() => TrainEvent::Failed(format!(
                "ended {s}: {} (`cairn job status {}` says more)",
                v.reason.as_deref().unwrap_or("no reason given"),
                self.id
            )),
            _ if Instant::now() >= self.until => TrainEvent::Failed(format!(
                "still {} after {:?} (`cairn job status {}` says why)",
                v.state,
                SAMPLE_LIMIT + SETTLE_LIMIT,
                self.id
            )),
            _ => TrainEvent::Waiting,
        }
    }
}

/// Creates the attestation key (it signs statements and the agent's decisions) if missing.
fn attest_key(settings: &Settings) -> Result<()> {
    let key = settings.data_dir.join("keys/attest.key");
    if !key.exists() {
        capture(settings, &["key", "generate"])?;
    }
    Ok(())
}

/// The plan the agent runs (the README's live plan).
const AGENT_PLAN: &str = "examples/plans/daily-btc60-bnb40.toml";
/// The candles the market replay follows, one file per asset of the plan.
const REPLAY_DATA: [&str; 2] = ["data/market/BTCUSDT_1d.csv", "data/market/BNBUSDT_1d.csv"];
/// What the vault allows the agent per day (whole USDT) and what the owner deposits once.
const AGENT_BUDGET: &str = "1000";
const AGENT_DEPOSIT: &str = "20000";

/// The agent's own devnet (`<data-dir>/market`, `--agent-chain-port`), unless `--no-agent`.
fn market_chain(
    settings: &Settings,
    a: &UpArgs,
    main: &cairn_devnet::DevnetConfig,
) -> Option<cairn_devnet::DevnetConfig> {
    (!a.no_agent).then(|| {
        let mut cfg = main.clone().with_data_dir(settings.data_dir.join("market"));
        cfg.port = a.agent_chain_port;
        cfg
    })
}

/// The agent's vault on its chain, its keys and where its state lives.
struct AgentVault {
    /// The agent's data directory (its chain, vault record, keys and state).
    data_dir: PathBuf,
    rpc_url: String,
    vault: String,
    owner_key: PathBuf,
    agent_key: PathBuf,
    state: PathBuf,
}

/// The vault recorded for `chain_id`, else a new one (`cairn agent vault deploy`, then a
/// deposit): deployed once per chain, so a restart keeps the vault, its balances and the
/// agent's state.
fn agent_vault(data_dir: &Path, chain_id: u64, rpc_url: String) -> Result<AgentVault> {
    for f in std::iter::once(AGENT_PLAN).chain(REPLAY_DATA) {
        if !Path::new(f).exists() {
            bail!("{f} is not here: run `cairn up` in the repository root, or pass --no-agent");
        }
    }
    let keys = data_dir.join("agent");
    std::fs::create_dir_all(&keys).with_context(|| format!("creating {}", keys.display()))?;
    let owner_key = keys.join("owner.key");
    let agent_key = keys.join("agent.key");
    let record = data_dir.join(format!("agent-vault-{chain_id}.json"));
    if !record.exists() {
        let (owner, agent) = (
            owner_key.display().to_string(),
            agent_key.display().to_string(),
        );
        capture_in(
            data_dir,
            &[
                "--json",
                "agent",
                "vault",
                "deploy",
                "--owner-key",
                &owner,
                "--agent-key",
                &agent,
                "--budget",
                AGENT_BUDGET,
                "--period",
                "1d",
                "--slippage-bps",
                "200",
            ],
        )?;
        capture_in(
            data_dir,
            &[
                "--json",
                "agent",
                "vault",
                "deposit",
                AGENT_DEPOSIT,
                "--owner-key",
                &owner,
            ],
        )?;
    }
    let text = std::fs::read_to_string(&record)
        .with_context(|| format!("reading the vault record {}", record.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a vault record", record.display()))?;
    let vault: alloy::primitives::Address = v["address"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("{} names no vault address", record.display()))?;
    // Where `cairn agent run PLAN --live` keeps its state by default, so `cairn agent status
    // PLAN --live` finds it too.
    let stem = Path::new(AGENT_PLAN)
        .file_stem()
        .map_or("plan".into(), |s| s.to_string_lossy().into_owned());
    let state = keys.join(format!("{stem}-live-{vault:#x}.sqlite"));
    Ok(AgentVault {
        data_dir: data_dir.to_owned(),
        rpc_url,
        vault: vault.to_checksum(None),
        owner_key,
        agent_key,
        state,
    })
}

/// Starts `agent run PLAN --live` (decisions to the local log; with `vol_model`, the model
/// `sha256:<hex>` fetched from the node as its `--vol-model`) and the market replay.
fn start_agent(
    settings: &Settings,
    a: &UpArgs,
    v: &AgentVault,
    log_url: &str,
    vol_model: Option<(&str, &str)>,
    services: &mut Services,
) -> Result<()> {
    attest_key(settings)?;
    let mut model_args: Vec<String> = Vec::new();
    if let Some((hex, node_url)) = vol_model {
        model_args.extend([
            "--vol-model".into(),
            format!("sha256:{hex}"),
            "--node".into(),
            node_url.to_owned(),
        ]);
    }
    services.spawn_in(
        &v.data_dir,
        "agent",
        &[
            "agent".into(),
            "run".into(),
            AGENT_PLAN.into(),
            "--live".into(),
            "--agent-key".into(),
            v.agent_key.display().to_string(),
            "--attest-key".into(),
            settings
                .data_dir
                .join("keys/attest.key")
                .display()
                .to_string(),
            "--log".into(),
            log_url.to_owned(),
        ]
        .into_iter()
        .chain(model_args)
        .collect::<Vec<_>>(),
    )?;
    let mut replay: Vec<String> = vec!["market".into(), "replay".into(), "--data".into()];
    replay.extend(REPLAY_DATA.iter().map(|s| (*s).to_owned()));
    replay.extend(["--speed".into(), a.agent_speed.clone()]);
    services.spawn_in(&v.data_dir, "replay", &replay)?;
    Ok(())
}
