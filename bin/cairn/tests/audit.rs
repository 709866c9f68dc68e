//! Sampled step audits of `train` jobs end to end: anvil (`cairn devnet up`), a real
//! `cairn log serve`, a real `cairn node serve` auditing every segment (`--audit-samples 4`),
//! trusting claimed cores (calibration has its own tests),
//! an honest `cairn worker` process, and an attacker: a provider that registered with the real
//! CLI and then runs the project's worker library with a runner of its own, which corrupts the
//! weights at one step and commits a trace consistent with its own lie.
//!
//! - the honest provider's job is audited, settled and paid; its training-run statement says
//!   `verified`; `cairn job verify` re-runs the audit from the public artefacts and passes;
//! - the cheater's job is caught: challenged, refunded in full, the provider slashed (paid to
//!   the requester), the disputed training-run statement logged; `cairn job verify` fails
//!   naming the steps.
mod common;

use cairn_compute::JobKind;
use cairn_ml::{
    data::market_samples,
    model_file,
    trace::{TraceFile, checkpoint_name, trace_root},
    train::{TrainState, Trainer},
};
use cairn_worker::{RunError, RunJob, RunResult, Runner, Runners};
use common::{Service, cairn, json, log_serve, run, stdout};
use serde_json::{Value, json};
use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Stdio},
    sync::{Arc, atomic::AtomicBool},
    time::{Duration, Instant},
};

/// The attacker's runner: trains honestly except that after step `at` it nudges one weight,
/// then carries on from there; its checkpoints, trace root, model and metering are all
/// consistent with that run.
struct Corrupting {
    at: u64,
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

/// A `cairn worker` process, killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `cairn worker` for train jobs with `key` (created and funded on the devnet if
/// missing) and waits for its banner; returns the process and its address.
fn worker(d: &Path, node: &str, key: &Path, log: &Path) -> (Proc, String) {
    let mut child = cairn(d)
        .env("CAIRN_WORKER_CLAIMS_DIR", d.join("claims"))
        .args(["--json", "worker", "--node", node, "--key"])
        .arg(key)
        .args(["--memory", "1 GiB", "--cores", "1", "--kinds", "train"])
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

async fn rpc(url: &str, method: &str, params: Value) -> Value {
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
async fn balance(url: &str, token: &str, who: &str) -> u128 {
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

fn logs(d: &Path, node: &str, id: u64) -> String {
    stdout(&run(cairn(d).args([
        "job",
        "logs",
        &id.to_string(),
        "--node",
        node,
    ])))
}

/// Polls `job status` until `done` holds (or panics after `secs`, showing the job's logs).
fn wait_for(d: &Path, node: &str, id: u64, secs: u64, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let v = json(cairn(d).args(["--json", "job", "status", &id.to_string(), "--node", node]));
        if done(&v) {
            return v;
        }
        if Instant::now() > deadline {
            panic!("job {id} stuck: {v:#}\n{}", logs(d, node, id));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Polls the job's history until it contains `what`.
fn wait_logged(d: &Path, node: &str, id: u64, secs: u64, what: &str) -> String {
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

fn stake(d: &Path, key: &Path) -> u128 {
    let ws = json(
        cairn(d)
            .args(["--json", "worker", "status", "--key"])
            .arg(key),
    );
    ws["chain"]["stake"].as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn train_results_are_audited_honest_ones_paid_and_a_cheater_caught_and_slashed() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("cairn");
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let up = json(cairn(&d).args(["--json", "devnet", "up", "--port", "0"]));
    let _down = common::DevnetGuard(d.clone());
    let rpc_url = up["devnet"]["rpc_url"].as_str().unwrap().to_owned();
    let usdt = up["deployment"]["tokens"]["USDT"]["address"]
        .as_str()
        .unwrap()
        .to_owned();
    let log = log_serve(&d, &[]);
    let node = Service::start({
        let mut c = cairn(&d);
        c.args([
            "--json",
            "node",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log",
            &log.url,
            "--heartbeat-ms",
            "200",
            "--lease-ms",
            "1200",
            "--audit-samples",
            "4",
            // Calibration is timed, and this shared machine's load can starve it; it has its
            // own tests.
            "--trust-claims",
        ]);
        c
    });
    let n = node.url.clone();
    let job = work.join("vol.toml");
    std::fs::write(
        &job,
        format!(
            "name = \"vol\"\nkind = \"train\"\ndataset = {:?}\n[price]\nper_mfuel = 10\n[train]\nmodel = \"mlp\"\nhidden = 8\nseed = 5\nlearning_rate = 0.003\nsteps = 40\ncheckpoint_every = 10\n[train.data]\nreader = \"market\"\nassets = [\"BTC\", \"BNB\"]\n",
            common::repo().join("data/market").display().to_string()
        ),
    )
    .unwrap();

    // 1. An honest provider: audited (all four segments), settled, paid.
    let (honest, honest_addr) = worker(&d, &n, &work.join("honest.key"), &work.join("h.log"));
    let id = json(
        cairn(&d)
            .args(["--json", "job", "submit"])
            .arg(&job)
            .args(["--node", &n]),
    )["id"]
        .as_u64()
        .unwrap();
    let v = wait_for(&d, &n, id, 60, |v| !v["audit"].is_null());
    assert_eq!(v["provider"], honest_addr.as_str());
    let a = &v["audit"];
    assert_eq!(a["outcome"], "passed", "{v:#}");
    assert_eq!(a["segments"], json!([0, 1, 2, 3]));
    assert_eq!(
        (a["stepsReplayed"].as_u64(), a["stepsTotal"].as_u64()),
        (Some(40), Some(40))
    );
    assert_eq!(a["checkpointsFetched"], 5);
    rpc(&rpc_url, "evm_increaseTime", json!([61])).await;
    let v = wait_for(&d, &n, id, 30, |v| {
        v["state"] == "settled" && !v["receipt"].is_null()
    });
    assert!(v["paid"].as_u64().unwrap() > 0, "{v:#}");
    let text = stdout(&run(cairn(&d).args([
        "job",
        "status",
        &id.to_string(),
        "--node",
        &n,
    ])));
    assert!(
        text.contains("audit (sampled-step-audit): passed — segments [0, 1, 2, 3]"),
        "{text}"
    );
    let l = wait_logged(&d, &n, id, 20, "model statement logged");
    assert!(
        l.contains("audit passed: re-executed segments [0, 1, 2, 3]"),
        "{l}"
    );
    assert!(
        l.contains("training-run statement logged at index") && l.contains("verification verified"),
        "{l}"
    );
    drop(honest);

    // `cairn job verify` re-runs the node's audit from the public artefacts.
    let out = run(cairn(&d).args(["job", "verify", &id.to_string(), "--node", &n]));
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", common::stderr(&out));
    for want in [
        "are the ones committed on chain",
        "re-executed segments [0, 1, 2, 3]",
        "steps 0..10, 10..20, 20..30, 30..40",
        "signed by the market's receipt key",
        "verified: job",
    ] {
        assert!(text.contains(want), "{want:?} missing from:\n{text}");
    }
    // A checkpoint altered where the node keeps it fails its inclusion proof, naming the step.
    let cp = v["result"]["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "checkpoints/0000000020.bin")
        .unwrap()["sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = d.join("node/blobs/sha256").join(&cp);
    let original = std::fs::read(&path).unwrap();
    let mut bad = original.clone();
    *bad.last_mut().unwrap() ^= 1;
    let mut perm = std::fs::metadata(&path).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perm.set_readonly(false);
    std::fs::set_permissions(&path, perm).unwrap();
    std::fs::write(&path, &bad).unwrap();
    let out = run(cairn(&d).args(["job", "verify", &id.to_string(), "--node", &n]));
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out)
            .contains("FAILED: the checkpoint at step 20 (leaf 2) is not the one committed"),
        "{}",
        stdout(&out)
    );
    std::fs::write(&path, &original).unwrap();
    // Offline, from what `cairn job result` downloads: the same audit, and the same failure
    // for a checkpoint altered in the bundle.
    let dir = work.join("job1");
    json(
        cairn(&d)
            .args([
                "--json",
                "job",
                "result",
                &id.to_string(),
                "--node",
                &n,
                "--out",
            ])
            .arg(&dir),
    );
    let offline = |extra: &[&str]| {
        run(cairn(&d)
            .args(["job", "verify", &id.to_string(), "--bundle"])
            .arg(&dir)
            .args(extra))
    };
    let out = offline(&[]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", common::stderr(&out));
    assert!(
        text.contains("re-executed segments [0, 1, 2, 3]")
            && text.contains("offline: the chain commitment is not checked")
            && text.contains("receipt: log index"),
        "{text}"
    );
    let cp = dir.join("output/checkpoints/0000000020.bin");
    let mut bytes = std::fs::read(&cp).unwrap();
    bytes[40] ^= 0x40;
    std::fs::write(&cp, &bytes).unwrap();
    let out = offline(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("step 20"), "{}", stdout(&out));

    // 2. The attacker registers with the real CLI, then runs its own runner.
    let cheat_key = work.join("cheat.key");
    let (reg, cheat_addr) = worker(&d, &n, &cheat_key, &work.join("c.log"));
    drop(reg);
    let staked = stake(&d, &cheat_key);
    let signer = cairn_chain::KeySource::File(cheat_key.clone())
        .load()
        .unwrap();
    let client = cairn_node::NodeClient::new(&n);
    let info = client.info().await.unwrap();
    let chain = cairn_chain::Chain::connect(
        &cairn_chain::ChainConfig::new(&info.rpc_url).with_chain_id(info.chain_id),
        Some(signer.clone()),
    )
    .await
    .unwrap();
    let escrow = cairn_escrow::Escrow::new(chain, info.market.parse().unwrap());
    let config = cairn_worker::WorkerConfig {
        dir: work.join("cheat-state"),
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
        kinds: vec![JobKind::Train],
    };
    let runners = Runners::new().with(Arc::new(Corrupting { at: 15 }));
    let cheater =
        cairn_worker::Worker::with_runners(config, signer, &n, escrow, info, Some(runners))
            .await
            .unwrap();
    let cheating = tokio::spawn(async move { cheater.run().await });
    // Only the cheater is online to take the next job.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ps = json(cairn(&d).args(["--json", "provider", "list", "--node", &n]));
        let online = |a: &str| {
            ps.as_array()
                .unwrap()
                .iter()
                .any(|p| p["address"] == a && p["online"] == true)
        };
        if online(&cheat_addr) && !online(&honest_addr) {
            break;
        }
        assert!(Instant::now() < deadline, "providers: {ps:#}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let requester_before = balance(&rpc_url, &usdt, v["requester"].as_str().unwrap()).await;
    let id2 = json(
        cairn(&d)
            .args(["--json", "job", "submit"])
            .arg(&job)
            .args(["--node", &n]),
    )["id"]
        .as_u64()
        .unwrap();
    // Refunded in full: the part the commit sent back, then the rest once challenged.
    let v2 = wait_for(&d, &n, id2, 90, |v| {
        v["state"] == "failed" && v["refunded"] == v["payment"]
    });
    assert_eq!(v2["provider"], cheat_addr.as_str());
    assert_eq!(v2["stop"]["kind"], "auditFailed", "{v2:#}");
    assert_eq!(v2["audit"]["outcome"], "failed");
    let finding = v2["stop"]["detail"].as_str().unwrap();
    assert!(finding.contains("steps 10..20"), "{finding}");
    let l = wait_logged(&d, &n, id2, 30, "chain: slashed");
    assert!(l.contains("audit FAILED"), "{l}");
    assert!(l.contains("chain: challenged"), "{l}");
    let l = wait_logged(&d, &n, id2, 30, "receipt logged");
    assert!(
        l.contains("verification failed"),
        "the disputed run is in the log: {l}"
    );
    assert!(!l.contains("model statement logged"), "{l}");
    // The slash came out of the cheater's bond and went to the requester, on top of the
    // full refund.
    let slashed = staked - stake(&d, &cheat_key);
    assert!(slashed > 0, "the cheater's stake is unchanged");
    let requester_after = balance(&rpc_url, &usdt, v["requester"].as_str().unwrap()).await;
    assert_eq!(requester_after, requester_before + slashed);
    let p = json(cairn(&d).args(["--json", "provider", "list", "--node", &n]));
    let p = p
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["address"] == cheat_addr.as_str())
        .unwrap()
        .clone();
    assert_eq!(p["leasesLost"], 1, "{p:#}");
    // Anyone re-running the audit finds the same steps.
    let out = run(cairn(&d).args(["job", "verify", &id2.to_string(), "--node", &n]));
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("FAILED: re-executing steps 10..20"),
        "{}",
        stdout(&out)
    );
    cheating.abort();
}
