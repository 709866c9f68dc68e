//! The compute network end to end, for the tests that run it: a devnet, a node, `cairn
//! worker` processes, an attacker running the worker library with a runner of its own, and
//! polling the node and the chain with deadlines.
use super::{Service, cairn, json, run, stdout};
use cairn_compute::JobKind;
use cairn_ml::{
    data::market_samples,
    model_file,
    trace::{TraceFile, checkpoint_name, trace_root},
    train::{TrainState, Trainer},
};
use cairn_worker::{RunError, RunJob, RunResult, Runner, Runners};
use serde_json::{Value, json};
use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Stdio},
    sync::{Arc, atomic::AtomicBool},
    time::{Duration, Instant},
};

/// What every end-to-end test starts from: a fresh temporary directory with the data
/// directory `d` and a scratch folder `work` in it, a devnet (`cairn devnet up --port 0`) and
/// a `cairn log serve`. Dropped in order: the log service, the devnet, the directory.
pub(crate) struct Net {
    pub(crate) d: PathBuf,
    pub(crate) work: PathBuf,
    /// `devnet up`'s JSON answer.
    pub(crate) up: Value,
    pub(crate) rpc_url: String,
    pub(crate) log: Service,
    _down: super::DevnetGuard,
    _tmp: tempfile::TempDir,
}

impl Net {
    pub(crate) fn start() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("cairn");
        let work = tmp.path().join("work");
        std::fs::create_dir_all(&work).unwrap();
        let up = json(cairn(&d).args(["--json", "devnet", "up", "--port", "0"]));
        let down = super::DevnetGuard(d.clone());
        let rpc_url = up["devnet"]["rpc_url"].as_str().unwrap().to_owned();
        let log = super::log_serve(&d, &[]);
        Self {
            d,
            work,
            up,
            rpc_url,
            log,
            _down: down,
            _tmp: tmp,
        }
    }

    /// The devnet's USDT token address.
    pub(crate) fn usdt(&self) -> String {
        self.up["deployment"]["tokens"]["USDT"]["address"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

/// `cairn node serve` on a free port against the log at `log`: heartbeats every 200 ms,
/// leases of `lease_ms`, claimed cores trusted (calibration is timed, and this shared
/// machine's load can starve it; it has its own tests), then `extra`.
pub(crate) fn node_serve(d: &Path, log: &str, lease_ms: u64, extra: &[&str]) -> Service {
    let mut c = cairn(d);
    c.args([
        "--json",
        "node",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--log",
        log,
        "--heartbeat-ms",
        "200",
        "--lease-ms",
        &lease_ms.to_string(),
        "--trust-claims",
    ])
    .args(extra);
    Service::start(c)
}

/// The `train` job the tests submit: a small MLP on the repository's BTC and BNB data, 40
/// steps, a checkpoint every 10; written to `dir/vol.toml`.
pub(crate) fn write_train_job(dir: &Path) -> PathBuf {
    let job = dir.join("vol.toml");
    std::fs::write(
        &job,
        format!(
            "name = \"vol\"\nkind = \"train\"\ndataset = {:?}\n[price]\nper_mfuel = 10\n[train]\nmodel = \"mlp\"\nhidden = 8\nseed = 5\nlearning_rate = 0.003\nsteps = 40\ncheckpoint_every = 10\n[train.data]\nreader = \"market\"\nassets = [\"BTC\", \"BNB\"]\n",
            super::repo().join("data/market").display().to_string()
        ),
    )
    .unwrap();
    job
}

/// A `cairn worker` process, killed when dropped.
pub(crate) struct Proc(pub(crate) Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `cairn worker --key <key> <args>` (the key created, funded and staked on the devnet
/// if new) and waits for its banner; returns the process and its address.
pub(crate) fn worker_with(
    d: &Path,
    node: &str,
    key: &Path,
    log: &Path,
    args: &[&str],
) -> (Proc, String) {
    let mut child = cairn(d)
        .env("CAIRN_WORKER_CLAIMS_DIR", d.join("claims"))
        .args(["--json", "worker", "--node", node, "--key"])
        .arg(key)
        .args(args)
        .env("RUST_LOG", "cairn_worker=info,warn")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("worker starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
        panic!(
            "bad worker banner {line:?} ({e}); stderr:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        )
    });
    (Proc(child), v["worker"].as_str().unwrap().to_owned())
}

/// A `cairn worker` for `train` jobs (1 GiB, one core), then `extra`.
pub(crate) fn train_worker(
    d: &Path,
    node: &str,
    key: &Path,
    log: &Path,
    extra: &[&str],
) -> (Proc, String) {
    let mut args = vec!["--memory", "1 GiB", "--cores", "1", "--kinds", "train"];
    args.extend_from_slice(extra);
    worker_with(d, node, key, log, &args)
}

/// The attacker: the project's worker library run with `runner`, for jobs of `kind`, by the
/// provider of `key` (registered already, with the real CLI), its state under `dir`.
pub(crate) async fn library_worker(
    node: &str,
    key: &Path,
    dir: PathBuf,
    kind: JobKind,
    runner: Arc<dyn Runner>,
) -> cairn_worker::Worker {
    let signer = cairn_chain::KeySource::File(key.to_owned()).load().unwrap();
    let client = cairn_node_client::NodeClient::new(node);
    let info = client.info().await.unwrap();
    let chain = cairn_chain::Chain::connect(
        &cairn_chain::ChainConfig::new(&info.rpc_url).with_chain_id(info.chain_id),
        Some(signer.clone()),
    )
    .await
    .unwrap();
    let escrow = cairn_escrow::Escrow::new(chain, info.market.parse().unwrap());
    let config = cairn_worker::WorkerConfig {
        dir,
        capacity: cairn_compute::Resources {
            cpu_cores: 1,
            memory_bytes: 1 << 30,
            gpus: 0,
        },
        gpu_names: vec![],
        ask: cairn_compute::Price {
            per_mfuel: 1,
            per_second: 0,
        },
        stake: None,
        kinds: vec![kind],
    };
    let runners = Runners::new().with(runner);
    cairn_worker::Worker::with_runners(config, signer, node, escrow, info, Some(runners))
        .await
        .unwrap()
}

/// The attacker's `train` runner: trains honestly except that after step `at` it nudges one
/// weight, then carries on from there; its checkpoints, trace root, model and metering are
/// all consistent with that run.
pub(crate) struct Corrupting {
    pub(crate) at: u64,
}

impl Runner for Corrupting {
    fn kind(&self) -> JobKind {
        JobKind::Train
    }

    fn run(&self, job: &RunJob, _halt: &Arc<AtomicBool>) -> Result<RunResult, RunError> {
        let start = Instant::now();
        let spec = job.spec.train.as_ref().expect("a train job");
        let data = market_samples(&spec.data, "train.data", &job.inputs)
            .map_err(|e| RunError::Invalid(e.to_string()))?;
        let trainer = Trainer::new(spec, &data, 1).map_err(|e| RunError::Invalid(e.to_string()))?;
        let mut state = TrainState::init(spec);
        let steps = spec.checkpoint_steps();
        let mut checkpoints = vec![];
        for &at in &steps {
            while state.step < at {
                trainer.step(&mut state);
                if state.step == self.at {
                    state.params[3] += 0.25;
                }
            }
            checkpoints.push(state.to_bytes());
        }
        let trace = TraceFile::new(steps.clone(), &checkpoints);
        let mut outputs = vec![
            (
                "model.safetensors".to_owned(),
                model_file::encode(spec, &state.params).unwrap(),
            ),
            (
                "trace.json".to_owned(),
                serde_json::to_vec_pretty(&trace).unwrap(),
            ),
        ];
        for (step, bytes) in steps.iter().zip(&checkpoints) {
            outputs.push((checkpoint_name(*step), bytes.clone()));
        }
        Ok(RunResult {
            stop: None,
            metered: spec.work_units(),
            wall_time: start.elapsed(),
            outputs,
            stdout: b"trained\n".to_vec(),
            stderr: vec![],
            trace_root: Some(trace_root(&checkpoints)),
        })
    }
}

/// A JSON-RPC call to the devnet; fails on an error answer.
pub(crate) async fn rpc(url: &str, method: &str, params: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let v: Value = reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(v.get("error").is_none(), "{method}: {v}");
    v["result"].clone()
}

/// ERC-20 `balanceOf(who)` by `eth_call`.
pub(crate) async fn balance(url: &str, token: &str, who: &str) -> u128 {
    let data = format!(
        "0x70a08231{:0>64}",
        who.trim_start_matches("0x").to_lowercase()
    );
    let r = rpc(
        url,
        "eth_call",
        json!([{"to": token, "data": data}, "latest"]),
    )
    .await;
    u128::from_str_radix(r.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
}

/// `cairn job submit <job>`: the job's id.
pub(crate) fn submit(d: &Path, node: &str, job: &Path) -> u64 {
    json(
        cairn(d)
            .args(["--json", "job", "submit"])
            .arg(job)
            .args(["--node", node]),
    )["id"]
        .as_u64()
        .unwrap()
}

/// `cairn job status <id>` as JSON.
pub(crate) fn job_status(d: &Path, node: &str, id: u64) -> Value {
    json(cairn(d).args(["--json", "job", "status", &id.to_string(), "--node", node]))
}

/// `cairn job status <id>` as text.
pub(crate) fn status_text(d: &Path, node: &str, id: u64) -> String {
    stdout(&run(cairn(d).args([
        "job",
        "status",
        &id.to_string(),
        "--node",
        node,
    ])))
}

/// `cairn job result <id> --out <out>`: downloads the job's result bundle into `out`.
pub(crate) fn job_result(d: &Path, node: &str, id: u64, out: &Path) -> Value {
    json(
        cairn(d)
            .args([
                "--json",
                "job",
                "result",
                &id.to_string(),
                "--node",
                node,
                "--out",
            ])
            .arg(out),
    )
}

/// `cairn job logs <id>`: the job's history as text.
pub(crate) fn logs(d: &Path, node: &str, id: u64) -> String {
    stdout(&run(cairn(d).args([
        "job",
        "logs",
        &id.to_string(),
        "--node",
        node,
    ])))
}

/// Polls `job status` until `done` holds (or panics after `secs`, showing the job's logs).
pub(crate) fn wait_for(
    d: &Path,
    node: &str,
    id: u64,
    secs: u64,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let v = job_status(d, node, id);
        if done(&v) {
            return v;
        }
        if Instant::now() > deadline {
            panic!("job {id} stuck: {v:#}\n{}", logs(d, node, id));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Polls the job's history until it contains `what`; returns the history.
pub(crate) fn wait_logged(d: &Path, node: &str, id: u64, secs: u64, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let l = logs(d, node, id);
        if l.contains(what) {
            return l;
        }
        assert!(Instant::now() < deadline, "never logged {what:?}:\n{l}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `cairn provider list`: every provider the node knows.
pub(crate) fn providers(d: &Path, node: &str) -> Vec<Value> {
    json(cairn(d).args(["--json", "provider", "list", "--node", node]))
        .as_array()
        .unwrap()
        .clone()
}

/// The row of provider `who` in `cairn provider list`.
pub(crate) fn provider(d: &Path, node: &str, who: &str) -> Value {
    providers(d, node)
        .into_iter()
        .find(|p| p["address"] == who)
        .unwrap()
}

/// Provider `who`'s streak of accepted results, as the node counts it.
pub(crate) fn streak(d: &Path, node: &str, who: &str) -> u64 {
    provider(d, node, who)["validStreak"].as_u64().unwrap()
}

/// Waits until every provider in `on` is online and none in `off` is.
pub(crate) fn wait_online(d: &Path, node: &str, on: &[&str], off: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ps = providers(d, node);
        let online = |a: &str| ps.iter().any(|p| p["address"] == a && p["online"] == true);
        if on.iter().all(|a| online(a)) && !off.iter().any(|a| online(a)) {
            return;
        }
        assert!(Instant::now() < deadline, "providers: {ps:#?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The stake the chain holds for the provider of `key` (`cairn worker status`).
pub(crate) fn stake(d: &Path, key: &Path) -> u128 {
    let ws = json(
        cairn(d)
            .args(["--json", "worker", "status", "--key"])
            .arg(key),
    );
    ws["chain"]["stake"].as_str().unwrap().parse().unwrap()
}
