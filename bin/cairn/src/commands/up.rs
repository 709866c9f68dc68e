//! `cairn up`: the whole local network in one command.
//!
//! ```text
//!  devnet (anvil + contracts + pools, in process) ─▶ witness ─▶ log (witnessed, anchored)
//!    ─▶ compute node (receipts to the log) ─▶ N workers ─▶ sample dataset + sample job ─▶ ready
//!  Ctrl-C: workers, node, log, witness stop (SIGINT, then SIGKILL after a grace), devnet down
//! ```
//!
//! The services are this binary's own `witness serve`, `log serve`, `node serve` and `worker`
//! commands, run as child processes with their output in `<data-dir>/up/<name>.log`, so each
//! behaves exactly as when started by hand. A lock in `<data-dir>/up/` keeps a second `cairn up`
//! on the same data directory from starting; everything else (log, node database, worker keys)
//! lives in the data directory, so the next `cairn up` resumes where this one stopped.
use crate::{cli::UpArgs, config::Settings, output};
use anyhow::{Context, Result, anyhow, bail};
use cairn_compute::JobState;
use cairn_node::NodeClient;
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
}

impl Services {
    fn spawn(&mut self, settings: &Settings, name: &str, args: &[String]) -> Result<()> {
        let exe = std::env::current_exe().context("finding the cairn binary")?;
        let log = self.dir.join(format!("{name}.log"));
        let out = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let child = Command::new(exe)
            .arg("--data-dir")
            .arg(&settings.data_dir)
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
    let exe = std::env::current_exe().context("finding the cairn binary")?;
    let out = Command::new(exe)
        .arg("--data-dir")
        .arg(&settings.data_dir)
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
    watch_signals()?;
    let dir = settings.data_dir.join("up");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let _lock = lock(&dir)?;
    let devnet_cfg = settings.devnet(Some(&a.devnet));
    let outcome = network(a, settings, json_out, &dir, &devnet_cfg, started).await;
    // However it ended (Ctrl-C, a service that died, a failed start), the services are
    // stopped by now; the chain goes too unless asked to stay.
    if !a.keep_devnet
        && let Err(e) = cairn_devnet::down(&devnet_cfg).await
    {
        eprintln!("warning: stopping the devnet: {e:#}");
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
    started: Instant,
) -> Result<ExitCode> {
    let dir = dir.to_owned();
    let say = |line: &str| {
        if !json_out {
            eprintln!("{line}");
        }
    };

    // 1. The chain, in process: it returns once the contracts and pools are there.
    let devnet = cairn_devnet::up(devnet_cfg).await?;
    say(&format!(
        "devnet: {} (chain {})",
        devnet.devnet.rpc_url, devnet.devnet.chain_id
    ));

    let mut services = Services {
        dir: dir.clone(),
        running: Vec::new(),
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

    // 3. The compute node and its workers.
    services.spawn(
        settings,
        "node",
        &[
            "node".into(),
            "serve".into(),
            "--listen".into(),
            a.node_listen.clone(),
            "--log".into(),
            log_url.clone(),
        ],
    )?;
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

    // 4. A sample dataset in the log and a sample job end to end.
    let sample = if a.no_sample {
        None
    } else {
        Some(sample(settings, &node_url, &log_url, &dir, &mut services).await?)
    };
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
        text.push_str(&format!(
            "  output   {}/<service>.log\nCtrl-C stops the network; `cairn up` again resumes it.\n",
            dir.display()
        ));
        output::print(&text);
    }

    // 5. Until Ctrl-C (or a service dies).
    let mut code = ExitCode::SUCCESS;
    while !STOPPING.load(Ordering::SeqCst) {
        if let Some(why) = services.exited() {
            eprintln!("error: {why}\nstopping the network");
            code = ExitCode::FAILURE;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    say("stopping: workers, node, log, witness, devnet");
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
) -> Result<serde_json::Value> {
    let node = NodeClient::new(node_url);
    let job = Path::new("examples/jobs/wordcount/job.toml");
    if !job.exists() {
        bail!(
            "the sample job {} is not here: run `cairn up` in the repository root (after \
             `make jobs`), or pass --no-sample",
            job.display()
        );
    }
    let key = settings.data_dir.join("keys/attest.key");
    if !key.exists() {
        capture(settings, &["key", "generate"])?;
    }
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
    Ok(json!({
        "dataset": bundle,
        "logged": attested,
        "job": id,
        "state": match state {
            JobState::Settled => "settled",
            _ => "committed (paid after the challenge window)",
        },
    }))
}
