//! Replication of `wasm` results end to end: anvil (`cairn devnet up`), a real `cairn log
//! serve`, a real `cairn node serve` (replication on, the operator funded by the devnet's
//! faucet), honest `cairn worker` processes and an attacker: a provider that registered with
//! the real CLI and then runs the project's worker library with a runner of its own, which
//! runs the module honestly and then changes its standard output (a wrong result, consistent
//! with its own commitment).
//!
//! - a new honest provider's result is replicated on another provider (another address); the
//!   outputs agree, the result settles and both are paid; `job status` and `job verify` say
//!   "replicated on provider X: outputs agree (replica job N)";
//! - the cheater's result waits for a second provider, is replicated, disagrees, a third run
//!   breaks the tie: the cheater is challenged, the requester refunded and paid the slash, the
//!   honest replicas paid; replicas never go to the original's provider or to each other's;
//! - a provider past probation is replicated with probability 1/streak: every decision is the
//!   policy function's on the recorded seed, and a result the draw leaves unchecked settles
//!   without a replica.
//!
//! Waiting is polling with deadlines, never fixed sleeps.
mod common;

use cairn_compute::{
    JobKind,
    verify::{Method, Policy},
};
use cairn_worker::{RunError, RunJob, RunResult, Runner, runner::WasmRunner};
use common::{
    Service, cairn,
    compute::{
        Net, Proc, balance, job_result, job_status as status, library_worker, rpc, stake,
        status_text, streak, submit, wait_for, wait_logged, wait_online, worker_with,
    },
    run, stdout,
};
use serde_json::{Value, json};
use std::{
    path::{Path, PathBuf},
    sync::{Arc, atomic::AtomicBool},
};

/// The module: prints one line.
const ANSWER: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "the answer is 42\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 17))
    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#;

/// The attacker's runner: the real sandbox, then a different answer.
struct Lying(WasmRunner);

impl Runner for Lying {
    fn kind(&self) -> JobKind {
        JobKind::Wasm
    }

    fn run(&self, job: &RunJob, halt: &Arc<AtomicBool>) -> Result<RunResult, RunError> {
        let mut r = self.0.run(job, halt)?;
        r.stdout = b"the answer is 41\n".to_vec();
        Ok(r)
    }
}

/// Starts `cairn worker` for wasm jobs with `key` (created, funded and staked on the devnet
/// if new) and waits for its banner; returns the process and its address.
fn worker(d: &Path, node: &str, key: &Path, log: &Path) -> (Proc, String) {
    let args = [
        "--memory",
        "1 GiB",
        "--cores",
        "1",
        "--kinds",
        "wasm",
        "--ask-mfuel",
        "1",
    ];
    worker_with(d, node, key, log, &args)
}

fn node_serve(d: &Path, log: &str, extra: &[&str]) -> Service {
    common::compute::node_serve(d, log, 1200, extra)
}

fn write_job(dir: &Path) -> PathBuf {
    std::fs::write(dir.join("answer.wat"), ANSWER).unwrap();
    let path = dir.join("answer.toml");
    std::fs::write(
        &path,
        "name = \"answer\"\nmodule = \"answer.wat\"\n[resources]\nmemory = \"64 MiB\"\n[limits]\nfuel = 1_000_000_000\nwall_time_secs = 30\n[price]\nper_mfuel = 10\n",
    )
    .unwrap();
    path
}

/// The predicate of job `id`'s receipt in the log (once logged), read from the bundle `cairn
/// job result` writes.
fn receipt(d: &Path, node: &str, id: u64, dir: &Path) -> Value {
    use base64::Engine as _;
    wait_logged(d, node, id, 60, "receipt logged");
    let out = dir.join(format!("result-{id}"));
    job_result(d, node, id, &out);
    let bundle: Value =
        serde_json::from_slice(&std::fs::read(out.join("receipt.bundle.json")).unwrap()).unwrap();
    let payload = base64::engine::general_purpose::STANDARD
        .decode(bundle["envelope"]["payload"].as_str().unwrap())
        .unwrap();
    let statement: Value = serde_json::from_slice(&payload).unwrap();
    statement["predicate"].clone()
}

/// The replica jobs of a replicated result, as the node records them.
fn replicas(v: &Value) -> Vec<Value> {
    v["replication"]["replicas"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn wasm_results_are_replicated_on_another_provider_and_a_cheater_is_outvoted_and_slashed() {
    let net = Net::start();
    let (d, work, rpc_url) = (net.d.clone(), net.work.clone(), net.rpc_url.clone());
    let usdt = net.usdt();
    let log = &net.log;
    let node = node_serve(&d, &log.url, &[]);
    let n = node.url.clone();
    let job = write_job(&work);
    let (a_key, b_key) = (work.join("a.key"), work.join("b.key"));
    let (wa, a) = worker(&d, &n, &a_key, &work.join("a.log"));
    let (wb, b) = worker(&d, &n, &b_key, &work.join("b.log"));

    // 1. A new provider's result is checked (probation): replicated on the other provider.
    let id = submit(&d, &n, &job);
    let v = wait_for(&d, &n, id, 90, |v| {
        v["replication"]["outcome"] != "waiting" && !v["replication"].is_null()
    });
    assert_eq!(v["replication"]["outcome"], "agreed", "{v:#}");
    assert_eq!(v["verification"]["method"], "replication", "{v:#}");
    assert_eq!(v["verification"]["streak"], 0);
    assert!(
        v["verification"]["reason"]
            .as_str()
            .unwrap()
            .contains("probation")
    );
    let original = v["provider"].as_str().unwrap().to_owned();
    let other = if original == a { &b } else { &a };
    let reps = replicas(&v);
    assert_eq!(reps.len(), 1, "{v:#}");
    let rid = reps[0]["job"].as_u64().unwrap();
    assert_eq!(
        reps[0]["provider"],
        other.as_str(),
        "never the original's provider"
    );
    assert_eq!(reps[0]["agrees"], true);
    let r = status(&d, &n, rid);
    assert_eq!(r["replicaOf"], id);
    assert_eq!(r["specDigest"], v["specDigest"], "the same job");
    assert_eq!(r["result"]["outputDigest"], v["result"]["outputDigest"]);
    assert_eq!(r["result"]["traceRoot"], v["result"]["traceRoot"]);
    // Confirmed: the original's provider's streak grew; the replica's did not change.
    assert_eq!(streak(&d, &n, &original), 1);
    assert_eq!(streak(&d, &n, other), 0);
    let text = status_text(&d, &n, id);
    let said = format!("replicated on provider {other}: outputs agree (replica job {rid})");
    assert!(text.contains(&said), "{said:?} missing from:\n{text}");
    assert!(text.contains("verified: replication, agreed"), "{text}");
    let out = run(cairn(&d).args(["job", "verify", &id.to_string(), "--node", &n]));
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", common::stderr(&out));
    assert!(
        text.contains(&format!(
            "replicated on provider {other}: outputs agree (replica job {rid}"
        )) && text.contains("verified: job"),
        "{text}"
    );
    // Both settle after the challenge window: the original's provider and the replica's are
    // paid.
    rpc(&rpc_url, "evm_increaseTime", json!([61])).await;
    let v = wait_for(&d, &n, id, 60, |v| v["state"] == "settled");
    assert!(v["paid"].as_u64().unwrap() > 0, "{v:#}");
    let r = wait_for(&d, &n, rid, 60, |v| v["state"] == "settled");
    assert!(r["paid"].as_u64().unwrap() > 0, "{r:#}");
    // The replica's result is in the log like any other, naming the job it re-ran; the
    // original's receipt names its replica.
    let p = receipt(&d, &n, rid, &work);
    assert_eq!(p["replicaOf"], id.to_string(), "{p:#}");
    assert_eq!(p["provider"], other.as_str());
    assert_eq!(p["outcome"], "succeeded");
    let p = receipt(&d, &n, id, &work);
    assert_eq!(
        p["replicas"],
        json!([{"jobId": rid.to_string(), "provider": other, "agrees": true}]),
        "{p:#}"
    );

    // 2. The attacker registers with the real CLI, then runs its own runner; it is the only
    //    provider online when the job comes.
    drop((wa, wb));
    let cheat_key = work.join("cheat.key");
    let (reg, c) = worker(&d, &n, &cheat_key, &work.join("c.log"));
    drop(reg);
    let staked = stake(&d, &cheat_key);
    let sandbox = Arc::new(cairn_sandbox::Sandbox::new().unwrap());
    let cheater = library_worker(
        &n,
        &cheat_key,
        work.join("cheat-state"),
        JobKind::Wasm,
        Arc::new(Lying(WasmRunner { sandbox })),
    )
    .await;
    let cheating = tokio::spawn(async move { cheater.run().await });
    wait_online(&d, &n, &[&c], &[&a, &b]);
    let requester = v["requester"].as_str().unwrap().to_owned();
    let id2 = submit(&d, &n, &job);
    // Committed, checked, and nobody else online: it waits rather than settling unchecked.
    let v2 = wait_for(&d, &n, id2, 60, |v| {
        v["replication"]["outcome"] == "waiting"
    });
    assert_eq!(v2["provider"], c.as_str());
    assert_eq!(v2["verification"]["method"], "replication");
    wait_logged(&d, &n, id2, 30, "waiting for a provider other than");
    let requester_before = balance(&rpc_url, &usdt, &requester).await;
    // The honest providers come back: one replicates, disagrees; the other breaks the tie.
    let (_wa, _) = worker(&d, &n, &a_key, &work.join("a2.log"));
    let (_wb, _) = worker(&d, &n, &b_key, &work.join("b2.log"));
    let v2 = wait_for(&d, &n, id2, 120, |v| {
        v["state"] == "failed" && v["refunded"] == v["payment"]
    });
    assert_eq!(v2["replication"]["outcome"], "disagreed", "{v2:#}");
    assert_eq!(v2["stop"]["kind"], "replicaMismatch", "{v2:#}");
    let reps = replicas(&v2);
    assert_eq!(reps.len(), 2, "{v2:#}");
    let mut replica_providers: Vec<&str> = reps
        .iter()
        .map(|r| r["provider"].as_str().unwrap())
        .collect();
    assert!(reps.iter().all(|r| r["agrees"] == false), "{v2:#}");
    assert!(
        !replica_providers.contains(&c.as_str()),
        "a replica went to the cheater"
    );
    replica_providers.sort();
    let mut honest = vec![a.as_str(), b.as_str()];
    honest.sort();
    assert_eq!(
        replica_providers, honest,
        "the two replicas on two other providers"
    );
    assert_eq!(
        reps[0]["outputDigest"], reps[1]["outputDigest"],
        "the honest replicas agree"
    );
    let l = wait_logged(&d, &n, id2, 60, "chain: slashed");
    assert!(l.contains("chain: challenged"), "{l}");
    let text = status_text(&d, &n, id2);
    for r in &reps {
        let said = format!(
            "replicated on provider {}: outputs disagree (replica job {})",
            r["provider"].as_str().unwrap(),
            r["job"]
        );
        assert!(text.contains(&said), "{said:?} missing from:\n{text}");
    }
    // Slashed from the cheater's bond, paid to the requester on top of the full refund.
    let slashed = staked - stake(&d, &cheat_key);
    assert!(slashed > 0, "the cheater's stake is unchanged");
    let requester_after = balance(&rpc_url, &usdt, &requester).await;
    // The commit already sent back what the run did not use; the challenge refunds the
    // metered charge (fuel at 10 base units per Mfuel, rounded up).
    let charge = (v2["result"]["fuelUsed"].as_u64().unwrap() * 10).div_ceil(1_000_000);
    assert_eq!(
        requester_after,
        requester_before + charge as u128 + slashed,
        "refund and slash"
    );
    assert_eq!(streak(&d, &n, &c), 0);
    // The log says the cheater's result failed, and which replicas outvoted it.
    let p = receipt(&d, &n, id2, &work);
    assert!(
        p["outcome"]
            .as_str()
            .unwrap()
            .starts_with("failed: disputed: replicas on other providers agree on another result"),
        "{p:#}"
    );
    assert_eq!(p["replicas"].as_array().unwrap().len(), 2, "{p:#}");
    assert!(
        p["replicas"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["agrees"] == false),
        "{p:#}"
    );
    let out = run(cairn(&d).args(["job", "verify", &id2.to_string(), "--node", &n]));
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("FAILED: two replicas on other providers committed the same result"),
        "{}",
        stdout(&out)
    );
    // The honest replicas are paid once their window ends.
    rpc(&rpc_url, "evm_increaseTime", json!([61])).await;
    for r in &reps {
        let rv = wait_for(&d, &n, r["job"].as_u64().unwrap(), 60, |v| {
            v["state"] == "settled"
        });
        assert!(rv["paid"].as_u64().unwrap() > 0, "{rv:#}");
    }
    cheating.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn past_probation_a_result_is_replicated_with_probability_one_over_streak() {
    let net = Net::start();
    let (d, work, rpc_url) = (net.d.clone(), net.work.clone(), net.rpc_url.clone());
    let log = &net.log;
    let node = node_serve(
        &d,
        &log.url,
        &["--check-probation", "1", "--check-floor", "0.05"],
    );
    let n = node.url.clone();
    let job = write_job(&work);
    let (_wa, _a) = worker(&d, &n, &work.join("a.key"), &work.join("a.log"));
    let (_wb, _b) = worker(&d, &n, &work.join("b.key"), &work.join("b.log"));
    let policy = Policy {
        p_min: 0.05,
        probation: 1,
        ..Policy::default()
    };
    // Results until one is left unchecked: past probation that happens with probability
    // 1 − 1/streak, so 14 checked in a row (two providers, seven each) is next to impossible.
    let mut unchecked = None;
    for _ in 0..14 {
        let id = submit(&d, &n, &job);
        let v = wait_for(&d, &n, id, 90, |v| {
            v["verification"]["method"] == "not-checked" || v["replication"]["outcome"] == "agreed"
        });
        let decision: cairn_compute::verify::Decision =
            serde_json::from_value(v["verification"].clone()).unwrap();
        // Exactly the policy's decision on the recorded seed and streak (the numbers through
        // JSON, which need not round-trip the last bit of an f64).
        let want = policy.decide(JobKind::Wasm, decision.streak, decision.seed);
        assert_eq!(
            (decision.method, &decision.reason, decision.samples),
            (want.method, &want.reason, want.samples),
            "{v:#}"
        );
        assert!((decision.draw - want.draw).abs() < 1e-12, "{v:#}");
        assert!(
            (decision.probability - want.probability).abs() < 1e-12,
            "{v:#}"
        );
        if decision.method == Method::NotChecked {
            unchecked = Some((id, decision));
            break;
        }
        assert_eq!(decision.method, Method::Replication);
        let reps = replicas(&v);
        assert_eq!(reps.len(), 1, "{v:#}");
        assert_ne!(reps[0]["provider"], v["provider"], "{v:#}");
    }
    let (id, decision) = unchecked.expect("some result goes unchecked");
    assert!(decision.streak >= 1 && decision.draw >= decision.probability);
    let v = status(&d, &n, id);
    assert!(v["replication"].is_null(), "no replica: {v:#}");
    rpc(&rpc_url, "evm_increaseTime", json!([61])).await;
    let v = wait_for(&d, &n, id, 60, |v| v["state"] == "settled");
    assert!(v["paid"].as_u64().unwrap() > 0, "{v:#}");
    let text = status_text(&d, &n, id);
    assert!(text.contains("verified: not checked (streak"), "{text}");
    assert!(!text.contains("replicated on provider"), "{text}");
}
