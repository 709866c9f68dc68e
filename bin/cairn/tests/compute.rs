//! The compute layer end to end, through the real binary: anvil (`cairn devnet up`), a real
//! `cairn log serve`, a real `cairn node serve` and two real `cairn worker` processes.
//!
//! - a word-count job over a small dataset runs, is paid (token balances on chain), and its
//!   receipt verifies with `cairn verify`;
//! - a job nobody can take says why;
//! - hostile modules (endless loop, memory bomb, network import, scratch escape) are stopped with
//!   the reason in `cairn job status`, and the requester is refunded in full;
//! - a `train` job on real candles commits its checkpoint trace root, is paid per
//!   `steps × parameters`, and logs `training-run` and `model` statements (the `charlm`
//!   example's GRU too, audited by the node before it settles); an `infer` job runs
//!   the model by digest and logs an `inference` statement;
//! - SIGKILL of the worker running a long job hands the job to the other worker, which finishes
//!   it.
//!
//! Waiting is polling with deadlines, never fixed sleeps.
mod common;

use common::{
    Service, cairn,
    compute::{balance, logs as job_logs, rpc, wait_for},
    json, log_serve, repo, run, stderr, stdout,
};
use serde_json::{Value, json};
use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// A `cairn worker` process, killed when dropped.
struct Worker {
    child: Child,
    address: String,
}

impl Worker {
    /// Starts the process; [`Starting::ready`] waits for its banner (so that several workers
    /// can start together, as a provider's do when a machine boots).
    fn spawn(d: &Path, node: &str, key: &Path, log: &Path) -> Starting {
        let child = cairn(d)
            .env("CAIRN_WORKER_CLAIMS_DIR", d.join("claims"))
            .args(["--json", "worker", "--node", node, "--key"])
            .arg(key)
            .args(["--memory", "4 GiB", "--cores", "1", "--ask-mfuel", "1"])
            .env("RUST_LOG", "cairn_worker=info,warn")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .expect("worker starts");
        Starting {
            child,
            log: log.to_owned(),
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A worker process that has not printed its banner yet.
struct Starting {
    child: Child,
    log: PathBuf,
}

impl Starting {
    fn ready(mut self) -> Worker {
        let mut line = String::new();
        BufReader::new(self.child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
            panic!(
                "bad worker banner {line:?} ({e}); stderr:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            )
        });
        Worker {
            address: v["worker"].as_str().unwrap().to_owned(),
            child: self.child,
        }
    }
}

/// A blob from a node's store.
async fn blob(node: &str, sha256: &str) -> Vec<u8> {
    let resp = reqwest::get(format!("{node}/blob/{sha256}")).await.unwrap();
    assert!(
        resp.status().is_success(),
        "blob {sha256}: {}",
        resp.status()
    );
    resp.bytes().await.unwrap().to_vec()
}

/// The attacker: copies a genuine receipt, claims another output, signs it with a key of
/// its own and appends it to the log. The log accepts it (anyone may append), but `verify`
/// must refuse it: receipts count only under the receipt key the market publishes.
fn forged_receipt_is_refused(d: &Path, work: &Path, log: &str, genuine: &Path) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let bundle: Value = serde_json::from_slice(&std::fs::read(genuine).unwrap()).unwrap();
    let payload = b64
        .decode(bundle["envelope"]["payload"].as_str().unwrap())
        .unwrap();
    let statement: Value = serde_json::from_slice(&payload).unwrap();
    let real = statement["subject"][0]["digest"]["sha256"]
        .as_str()
        .unwrap();
    // Another output everywhere the statement names the real one.
    let text = String::from_utf8(payload.clone())
        .unwrap()
        .replace(real, &"ab".repeat(32));
    let forged = work.join("forged.json");
    std::fs::write(&forged, text).unwrap();
    let key = work.join("stranger.key");
    json(
        cairn(d)
            .args(["--json", "key", "generate", "--out"])
            .arg(&key),
    );
    let bundle = work.join("forged.bundle.json");
    json(
        cairn(d)
            .args(["--json", "log", "add"])
            .arg(&forged)
            .args(["--log", log, "--key"])
            .arg(&key)
            .arg("--out")
            .arg(&bundle),
    );
    let out = cairn(d).arg("verify").arg(&bundle).output().unwrap();
    assert!(!out.status.success(), "a forged receipt verified");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not by the market's receipt key"),
        "unclear refusal: {err}"
    );
}

/// Moves the chain past the challenge window and waits (up to `secs`) until job `id` settles
/// with its receipt.
async fn settle(d: &Path, node: &str, rpc_url: &str, id: u64, secs: u64) -> Value {
    rpc(rpc_url, "evm_increaseTime", json!([61])).await;
    wait_for(d, node, id, secs, |v| {
        v["state"] == "settled" && !v["receipt"].is_null()
    })
}

/// What a job's run metered at 10 base units per Mfuel (the price these tests bid).
fn charge_of(v: &Value) -> u64 {
    let fuel = v["result"]["fuelUsed"].as_u64().unwrap_or(0);
    (fuel * 10).div_ceil(1_000_000)
}

fn submit(d: &Path, node: &str, job: &Path) -> Value {
    submit_with(d, node, job, &[])
}

fn submit_with(d: &Path, node: &str, job: &Path, extra: &[&str]) -> Value {
    json(
        cairn(d)
            .args(["--json", "job", "submit"])
            .arg(job)
            .args(["--node", node])
            .args(extra),
    )
}

/// `job submit` must refuse before uploading or escrowing anything, saying `why`.
fn refused_before_escrow(d: &Path, node: &str, job: &Path, why: &str) {
    let out = run(cairn(d)
        .args(["job", "submit"])
        .arg(job)
        .args(["--node", node]));
    assert!(!out.status.success(), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains(why) && err.contains("Nothing was uploaded or escrowed"),
        "{err}"
    );
}

fn write_job(dir: &Path, name: &str, module: &str, toml: &str) -> PathBuf {
    std::fs::write(dir.join(format!("{name}.wat")), module).unwrap();
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!("name = \"{name}\"\nmodule = \"{name}.wat\"\n{toml}"),
    )
    .unwrap();
    path
}

const LOOP: &str = r#"(module (memory (export "memory") 1)
  (func (export "_start") (loop $l (br $l))))"#;

const MEMORY_BOMB: &str = r#"(module (memory (export "memory") 1)
  (func (export "_start")
    (loop $l (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))))"#;

const NETWORK: &str = r#"(module
  (import "wasi_snapshot_preview1" "sock_accept" (func $accept (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start") (drop (call $accept (i32.const 3) (i32.const 0) (i32.const 0)))))"#;

/// Opens `../../etc/passwd` relative to /scratch (fd 5).
const ESCAPE: &str = r#"(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "../../etc/passwd")
  (func (export "_start")
    (call $exit (call $open (i32.const 5) (i32.const 0) (i32.const 64) (i32.const 16)
      (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 8)))))"#;

/// Counts to five billion: a few seconds of honest work (longer than the test takes to notice
/// it running and kill its worker), then exit 0.
const LONG: &str = r#"(module (memory (export "memory") 1)
  (func (export "_start") (local $i i64)
    (loop $l
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br_if $l (i64.lt_u (local.get $i) (i64.const 5000000000))))))"#;

fn wordcount_wasm() -> PathBuf {
    let path = repo().join("target/jobs/wordcount.wasm");
    if !path.is_file() {
        let made = Command::new("make")
            .arg("target/jobs/wordcount.wasm")
            .current_dir(repo())
            .status()
            .expect("make runs");
        assert!(made.success(), "build the example jobs with `make jobs`");
    }
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_run_pay_refund_explain_and_survive_a_killed_worker() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("cairn");
    let work = tmp.path().join("work");
    std::fs::create_dir_all(work.join("data/more")).unwrap();

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
        ]);
        c
    });
    let n = node.url.clone();
    // Two new providers start at the same moment: both keys are funded from the devnet's
    // faucet at once (its nonce raced and one worker died before the sends retried).
    let s1 = Worker::spawn(&d, &n, &work.join("w1.key"), &work.join("w1.log"));
    let s2 = Worker::spawn(&d, &n, &work.join("w2.key"), &work.join("w2.log"));
    let (mut w1, mut w2) = (s1.ready(), s2.ready());
    assert_ne!(w1.address, w2.address);
    // A third worker on this 2-core machine finds no core left to sell (the two hold one each
    // when the machine has two; more cores leave room, so ask for more than is there).
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let out = run(cairn(&d)
        .env("CAIRN_WORKER_CLAIMS_DIR", d.join("claims"))
        .args(["worker", "--node", &n, "--key"])
        .arg(work.join("w3.key"))
        .args(["--cores", &cores.to_string(), "--memory", "1 GiB"]));
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("left to offer")
            && stderr(&out).contains("other workers on this machine"),
        "{}",
        stderr(&out)
    );

    // 1. Word count over a small dataset: runs, is paid, the receipt verifies.
    std::fs::write(
        work.join("data/a.txt"),
        "the quick brown fox\nthe lazy dog\n",
    )
    .unwrap();
    std::fs::write(work.join("data/b.txt"), "The dog barks. THE END\n").unwrap();
    std::fs::write(work.join("data/more/c.txt"), "fox fox fox\n").unwrap();
    let wc = work.join("wordcount.toml");
    std::fs::write(
        &wc,
        format!(
            "name = \"wordcount\"\nmodule = {:?}\ndataset = \"data\"\n[resources]\nmemory = \"64 MiB\"\n[limits]\nfuel = 1_000_000_000\nwall_time_secs = 30\n[price]\nper_mfuel = 10\n",
            wordcount_wasm().display().to_string()
        ),
    )
    .unwrap();
    let v = submit(&d, &n, &wc);
    let id = v["id"].as_u64().unwrap();
    let payment = v["payment"].as_u64().unwrap();
    assert_eq!(payment, 10_000);
    let v = wait_for(&d, &n, id, 30, |v| v["state"] == "committed");
    let provider = v["provider"].as_str().unwrap().to_owned();
    // The challenge window (60 s on the devnet) passes on an idle chain: the clock moves on,
    // but no block is mined (anvil mines one per transaction, and nothing else is sent). The
    // node must still settle on time: its clock is the pending block's, not the last one's.
    rpc(&rpc_url, "evm_increaseTime", json!([61])).await;
    let v = wait_for(&d, &n, id, 20, |v| {
        v["state"] == "settled" && !v["receipt"].is_null()
    });
    // Paid what the run metered (fuel at the job's 10 base units per Mfuel, rounded up), less
    // the 1% fee; the unused rest of the 10,000 escrowed went back to the requester.
    let wc_charge = charge_of(&v);
    assert!(wc_charge > 0 && wc_charge < payment, "{v:#}");
    let paid = v["paid"].as_u64().unwrap();
    assert_eq!(paid, wc_charge - wc_charge / 100, "1% fee");
    assert_eq!(v["refunded"].as_u64().unwrap(), payment - wc_charge);
    // The provider's stake went into the market at registration; what it holds now is its pay.
    assert_eq!(balance(&rpc_url, &usdt, &provider).await, paid as u128);
    let text = stdout(&run(cairn(&d).args([
        "job",
        "status",
        &id.to_string(),
        "--node",
        &n,
    ])));
    assert!(
        text.contains("settled") && text.contains("unused, refunded to the requester"),
        "{text}"
    );

    let out = work.join("wc-result");
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
            .arg(&out),
    );
    let counts = std::fs::read_to_string(out.join("output/counts.txt")).unwrap();
    assert!(counts.starts_with("4 fox\n4 the\n2 dog\n"), "{counts}");
    let verified = json(
        cairn(&d)
            .args(["--json", "verify"])
            .arg(out.join("receipt.bundle.json")),
    );
    assert_eq!(verified["verified"], true);
    assert_eq!(
        verified["lineage"][0]["predicateType"],
        "https://cairn.dev/attestation/job-receipt/v1"
    );
    assert_eq!(
        verified["lineage"][0]["signer"]["publicKey"],
        node.key.as_str(),
        "the receipt is trusted because the market publishes the node's key"
    );
    forged_receipt_is_refused(&d, &work, &log.url, &out.join("receipt.bundle.json"));
    let logs = job_logs(&d, &n, id);
    assert!(logs.contains("receipt logged"), "{logs}");

    // 1b. A train job on the BTC and BNB candles: providers advertise the kind, the trace root
    // committed is the Merkle root of the checkpoints, and settling logs the training-run and
    // model statements. Then an infer job runs the model by digest.
    let list = stdout(&run(cairn(&d).args(["provider", "list", "--node", &n])));
    assert!(list.contains("wasm,train,infer"), "{list}");
    std::fs::create_dir_all(work.join("market")).unwrap();
    for f in ["BTCUSDT_1d.csv", "BNBUSDT_1d.csv"] {
        std::fs::copy(
            repo().join("data/market").join(f),
            work.join("market").join(f),
        )
        .unwrap();
    }
    let train = work.join("train.toml");
    std::fs::write(
        &train,
        "name = \"vol\"\nkind = \"train\"\ndataset = \"market\"\n[price]\nper_mfuel = 10\n[train]\nmodel = \"mlp\"\nhidden = 16\nseed = 3\nlearning_rate = 0.003\nsteps = 100\ncheckpoint_every = 25\n[train.data]\nreader = \"market\"\nassets = [\"BTC\", \"BNB\"]\n",
    )
    .unwrap();
    let id = submit(&d, &n, &train)["id"].as_u64().unwrap();
    let v = wait_for(&d, &n, id, 60, |v| v["state"] == "committed");
    let outputs = v["result"]["outputs"].as_array().unwrap().clone();
    let sha_of = |name: &str| {
        outputs
            .iter()
            .find(|o| o["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {outputs:?}"))["sha256"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let model_sha = sha_of("model.safetensors");
    assert_eq!(
        outputs
            .iter()
            .filter(|o| o["name"].as_str().unwrap().starts_with("checkpoints/"))
            .count(),
        5
    );
    // Metered in steps × parameters: (32·16 + 16) + (16·16 + 16) + (16·2 + 2) = 834 parameters.
    assert_eq!(v["result"]["fuelUsed"], 100 * 834, "{v:#}");
    let trace = blob(&n, &sha_of("trace.json")).await;
    let trace: Value = serde_json::from_slice(&trace).unwrap();
    assert_eq!(v["result"]["traceRoot"], trace["root"], "{trace:#}");
    let settled = settle(&d, &n, &rpc_url, id, 30).await;
    let tensor_charges = charge_of(&settled);
    let logs = job_logs(&d, &n, id);
    assert!(
        logs.contains("training-run statement logged") && logs.contains("model statement logged"),
        "{logs}"
    );

    let infer = work.join("infer.toml");
    std::fs::write(
        &infer,
        format!(
            "name = \"vol-now\"\nkind = \"infer\"\ndataset = \"market\"\n[price]\nper_mfuel = 10\n[infer]\nmodel = \"sha256:{model_sha}\"\n"
        ),
    )
    .unwrap();
    let id = submit(&d, &n, &infer)["id"].as_u64().unwrap();
    let v = wait_for(&d, &n, id, 60, |v| v["state"] == "committed");
    let preds = v["result"]["outputs"][0].clone();
    assert_eq!(preds["name"], "predictions.csv", "{v:#}");
    let csv = String::from_utf8(blob(&n, preds["sha256"].as_str().unwrap()).await).unwrap();
    assert!(
        csv.starts_with("sample,BTC_vol,BNB_vol\n0,"),
        "{}",
        &csv[..80.min(csv.len())]
    );
    let settled = settle(&d, &n, &rpc_url, id, 30).await;
    let tensor_charges = tensor_charges + charge_of(&settled);
    let logs = job_logs(&d, &n, id);
    assert!(logs.contains("inference statement logged"), "{logs}");
    // A model the node does not hold is refused before anything is escrowed.
    std::fs::write(&infer, format!("name = \"x\"\nkind = \"infer\"\ndataset = \"market\"\n[price]\nper_mfuel = 10\n[infer]\nmodel = \"sha256:{}\"\n", "ab".repeat(32))).unwrap();
    let o = run(cairn(&d)
        .args(["job", "submit"])
        .arg(&infer)
        .args(["--node", &n]));
    assert!(
        !o.status.success() && stderr(&o).contains("infer.model"),
        "{}",
        stderr(&o)
    );

    // 1c. The charlm example as written (examples/jobs/charlm): a GRU language model on its text
    // corpus. The node's sampled step audit re-executes it before it settles, the training-run
    // and model statements are logged; then its model completes prompts.
    let charlm = repo().join("examples/jobs/charlm/job.toml");
    let id = submit(&d, &n, &charlm)["id"].as_u64().unwrap();
    let v = wait_for(&d, &n, id, 120, |v| v["state"] == "committed");
    // 200 steps × (48·32 embedding + 2·32·96 + 2·96 GRU + 32·48 + 48 head) = 200 × 9456.
    assert_eq!(v["result"]["fuelUsed"], 200 * 9456, "{v:#}");
    let outputs = v["result"]["outputs"].as_array().unwrap().clone();
    let model_sha = outputs
        .iter()
        .find(|o| o["name"] == "model.safetensors")
        .unwrap()["sha256"]
        .as_str()
        .unwrap()
        .to_owned();
    let settled = settle(&d, &n, &rpc_url, id, 60).await;
    let tensor_charges = tensor_charges + charge_of(&settled);
    let logs = job_logs(&d, &n, id);
    assert!(
        logs.contains("audit passed")
            && logs.contains("training-run statement logged")
            && logs.contains("model statement logged"),
        "{logs}"
    );
    // Anyone re-runs the node's audit of the GRU from the public artefacts.
    let out = run(cairn(&d).args(["job", "verify", &id.to_string(), "--node", &n]));
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(
        text.contains("re-executed segments") && text.contains("verified: job"),
        "{text}"
    );
    std::fs::write(
        work.join("prompts.txt"),
        "The walker\nA cairn is a pile of\n",
    )
    .unwrap();
    std::fs::write(
        &infer,
        format!(
            "name = \"complete\"\nkind = \"infer\"\ninputs = [\"prompts.txt\"]\n[price]\nper_mfuel = 10\n[infer]\nmodel = \"sha256:{model_sha}\"\ngenerate = 12\n"
        ),
    )
    .unwrap();
    let id = submit(&d, &n, &infer)["id"].as_u64().unwrap();
    let v = wait_for(&d, &n, id, 60, |v| v["state"] == "committed");
    let out = v["result"]["outputs"][0].clone();
    assert_eq!(out["name"], "completions.jsonl", "{v:#}");
    let text = String::from_utf8(blob(&n, out["sha256"].as_str().unwrap()).await).unwrap();
    let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["prompt"], "The walker", "{text}");
    assert_eq!(first["completion"].as_str().unwrap().chars().count(), 12);
    let settled = settle(&d, &n, &rpc_url, id, 30).await;
    let tensor_charges = tensor_charges + charge_of(&settled);
    let logs = job_logs(&d, &n, id);
    assert!(logs.contains("inference statement logged"), "{logs}");

    // 2. Jobs nobody can take say why.
    let big = write_job(
        &work,
        "big",
        LOOP,
        "[resources]\nmemory = \"64 GiB\"\n[price]\nper_mfuel = 10\n",
    );
    refused_before_escrow(
        &d,
        &n,
        &big,
        "nobody can take this job now: no provider with ≥ 64 GiB memory (largest: 4 GiB)",
    );
    // Escrowed anyway (--force), it waits in the queue and says why.
    let v = submit_with(&d, &n, &big, &["--force"]);
    let big_id = v["id"].as_u64().unwrap();
    assert_eq!(v["state"], "queued");
    assert_eq!(
        v["reason"],
        "nobody can take it: no provider with ≥ 64 GiB memory (largest: 4 GiB)"
    );
    let gpu = write_job(
        &work,
        "gpu",
        LOOP,
        "[resources]\ngpus = 1\n[price]\nper_mfuel = 10\n",
    );
    refused_before_escrow(&d, &n, &gpu, "no GPU provider online");
    let gid = submit_with(&d, &n, &gpu, &["--force"])["id"]
        .as_u64()
        .unwrap();
    let text = stdout(&run(cairn(&d).args([
        "job",
        "status",
        &gid.to_string(),
        "--node",
        &n,
    ])));
    assert!(text.contains("no GPU provider online"), "{text}");
    // The user set only price.per_second; the refusal names the field that falls short.
    let cheap = write_job(&work, "cheap", LOOP, "[price]\nper_second = 1\n");
    refused_before_escrow(
        &d,
        &n,
        &cheap,
        "price.per_mfuel 0 is below every provider's ask per Mfuel (lowest: 1); raise price.per_mfuel",
    );
    let v = submit_with(&d, &n, &cheap, &["--force"]);
    assert_eq!(
        v["reason"],
        "nobody can take it: price.per_mfuel 0 is below every provider's ask per Mfuel (lowest: 1); raise price.per_mfuel"
    );
    // A bid far above every ask (1,000 vs 1 per Mfuel) wants a --yes.
    let lavish = write_job(&work, "lavish", LOOP, "[price]\nper_mfuel = 1000\n");
    let out = run(cairn(&d)
        .args(["job", "submit"])
        .arg(&lavish)
        .args(["--node", &n]));
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("price.per_mfuel = 1000 is more than 10x the highest ask")
            && stderr(&out).contains("--yes"),
        "{}",
        stderr(&out)
    );
    let big_payment = 10_000u128;
    let cancelled = [v["id"].as_u64().unwrap(), gid];
    for id in cancelled {
        let v = json(cairn(&d).args(["--json", "job", "cancel", &id.to_string(), "--node", &n]));
        assert_eq!(v["state"], "cancelled");
    }

    // 3. Hostile modules are stopped, with the reason; the provider is paid the fuel they
    // burned, the requester gets the rest back.
    let requester = v["requester"].as_str().unwrap().to_owned();
    let hostile = [
        ("loop", LOOP, "[limits]\nfuel = 10_000_000\n", "out of fuel"),
        (
            "bomb",
            MEMORY_BOMB,
            "[resources]\nmemory = \"16 MiB\"\n",
            "memory limit",
        ),
        ("network", NETWORK, "", "denied"),
        ("escape", ESCAPE, "", "denied"),
    ];
    let mut ids = Vec::new();
    let mut escrowed = 0;
    let mut hostile_charges = 0u128;
    for (name, module, extra, _) in hostile {
        let job = write_job(
            &work,
            name,
            module,
            &format!("{extra}[price]\nper_mfuel = 10\n"),
        );
        let v = submit(&d, &n, &job);
        escrowed += v["payment"].as_u64().unwrap() as u128;
        ids.push(v["id"].as_u64().unwrap());
    }
    for ((name, _, _, why), id) in hostile.iter().zip(&ids) {
        let v = wait_for(&d, &n, *id, 30, |v| {
            v["state"] == "failed" && !v["refunded"].is_null()
        });
        let reason = v["reason"].as_str().unwrap();
        assert!(reason.starts_with(why), "{name}: {reason}");
        assert!(reason.contains("refunded"), "{name}: {reason}");
        let charge = charge_of(&v);
        assert_eq!(
            v["refunded"].as_u64().unwrap(),
            v["payment"].as_u64().unwrap() - charge,
            "{name}"
        );
        if *name == "loop" {
            // The endless loop burned its whole budget (10M fuel at 10 per Mfuel).
            assert_eq!(charge, 100, "{v:#}");
        }
        hostile_charges += charge as u128;
        if *name == "escape" {
            assert!(reason.contains("escapes /scratch"), "{reason}");
        }
        if *name == "network" {
            assert!(reason.contains("sock_accept"), "{reason}");
        }
    }
    for id in cancelled {
        wait_for(&d, &n, id, 20, |v| !v["refunded"].is_null());
    }
    // The requester was funded once (100 x the first payment); only what the word count, the
    // train and infer jobs and the hostile modules metered, and the still queued 64 GiB job, are spent.
    assert!(escrowed > 0);
    let spent = wc_charge as u128 + tensor_charges as u128 + hostile_charges;
    assert_eq!(
        balance(&rpc_url, &usdt, &requester).await,
        100 * payment as u128 - spent - big_payment
    );
    // The requester takes the 64 GiB job's escrow back on chain, without asking the node.
    let r = json(cairn(&d).args(["--json", "job", "recover", &big_id.to_string()]));
    assert_eq!(r["recovered"], "cancelled");
    assert_eq!(
        balance(&rpc_url, &usdt, &requester).await,
        100 * payment as u128 - spent
    );
    // A settled job has nothing to recover, and says so.
    let out = run(cairn(&d).args(["job", "recover", &id.to_string()]));
    assert!(!out.status.success());
    assert!(stderr(&out).contains("already settled"), "{}", stderr(&out));
    // The providers were not held responsible.
    let providers: Value = reqwest::get(format!("{n}/providers"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for p in providers.as_array().unwrap() {
        assert_eq!(p["leasesLost"], 0, "{p}");
    }

    // 4. The worker running a long job is killed; the other worker finishes it.
    let long = write_job(
        &work,
        "long",
        LONG,
        "[limits]\nfuel = 50_000_000_000\nwall_time_secs = 120\n[price]\nper_mfuel = 1\n",
    );
    let id = submit(&d, &n, &long)["id"].as_u64().unwrap();
    let v = wait_for(&d, &n, id, 20, |v| v["state"] == "running");
    let first = v["provider"].as_str().unwrap().to_owned();
    let (victim, survivor) = if first == w1.address {
        (&mut w1, w2.address.clone())
    } else {
        (&mut w2, w1.address.clone())
    };
    victim.kill();
    let v = wait_for(&d, &n, id, 45, |v| v["state"] == "committed");
    assert_eq!(v["provider"], survivor.as_str());
    assert_eq!(v["providers"].as_array().unwrap().len(), 2);
    let logs = job_logs(&d, &n, id);
    assert!(logs.contains("missed its heartbeats"), "{logs}");

    // The survivor's own record says so (it writes it right after reporting).
    let key = work.join(if survivor == w1.address {
        "w1.key"
    } else {
        "w2.key"
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let o = run(cairn(&d)
            .args(["--json", "worker", "status", "--key"])
            .arg(&key));
        assert!(o.status.success(), "{}", stderr(&o));
        let s: Value = serde_json::from_slice(&o.stdout).unwrap();
        let rec = s["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["id"] == id)
            .cloned();
        if rec.as_ref().is_some_and(|r| r["status"] == "committed") {
            assert_eq!(s["address"], survivor.as_str());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "worker status never showed job {id}: {s:#}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // The provider list, the requester's own jobs, and a provider's bond on chain.
    let list = stdout(&run(cairn(&d).args(["provider", "list", "--node", &n])));
    assert!(
        list.contains(&w1.address) && list.contains(&w2.address) && list.contains("ask/Mfuel"),
        "{list}"
    );
    let mine = json(cairn(&d).args(["--json", "job", "list", "--node", &n, "--limit", "500"]));
    let mine = mine.as_array().unwrap();
    assert!(mine.iter().all(|j| j["requester"] == requester.as_str()));
    assert!(mine.iter().any(|j| j["id"] == id), "the long job is listed");
    let ws = json(
        cairn(&d)
            .args(["--json", "worker", "status", "--key"])
            .arg(&key),
    );
    assert_eq!(ws["chain"]["eligible"], true, "{ws:#}");
    assert_ne!(ws["chain"]["stake"], "0");

    // 5. A running job cancelled by its requester stops at once; the provider is paid the
    // fuel it metered, the requester gets the rest.
    let id = submit(&d, &n, &long)["id"].as_u64().unwrap();
    wait_for(&d, &n, id, 20, |v| v["state"] == "running");
    let cancelled_at = Instant::now();
    let v = json(cairn(&d).args(["--json", "job", "cancel", &id.to_string(), "--node", &n]));
    assert_eq!(
        v["state"], "running",
        "it waits for the provider's metering: {v:#}"
    );
    let v = wait_for(&d, &n, id, 30, |v| {
        v["state"] == "cancelled" && !v["refunded"].is_null()
    });
    assert!(
        cancelled_at.elapsed() < Duration::from_secs(20),
        "the sandbox was not stopped at once"
    );
    assert_eq!(v["stop"]["kind"], "cancelled", "{v:#}");
    let fuel = v["result"]["fuelUsed"].as_u64().unwrap();
    let charge = fuel.div_ceil(1_000_000); // 1 base unit per Mfuel
    assert_eq!(
        v["refunded"].as_u64().unwrap(),
        v["payment"].as_u64().unwrap() - charge,
        "{v:#}"
    );

    // 6. A provider leaves: unbonding starts; it is no longer eligible for jobs.
    let u = json(
        cairn(&d)
            .args(["--json", "worker", "unstake", "all", "--key"])
            .arg(&key),
    );
    assert_eq!(u["stake"], "0", "{u:#}");
    assert_ne!(u["unbonding"], "0");
    let out = run(cairn(&d).args(["worker", "withdraw", "--key"]).arg(&key));
    assert!(!out.status.success());
    assert!(stderr(&out).contains("StillUnbonding"), "{}", stderr(&out));

    // 7. Ctrl-C stops the node cleanly (its chain loops first, then the port); a second node
    // on the same directory was refused while it ran.
    let out = run(cairn(&d).args(["node", "serve", "--listen", "127.0.0.1:0"]));
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("another compute node is using"),
        "{}",
        stderr(&out)
    );
    let mut node = node;
    let pid = node.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = node.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the node did not stop on Ctrl-C");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    // The port is free again and the directory can be reopened.
    assert!(std::net::TcpStream::connect(n.trim_start_matches("http://")).is_err());
}
