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
use common::{
    cairn,
    compute::{
        Corrupting, Net, balance, job_result, library_worker, node_serve, provider, rpc, stake,
        status_text, submit, train_worker, wait_for, wait_logged, wait_online, write_train_job,
    },
    run, stdout,
};
use serde_json::json;
use std::{path::Path, sync::Arc};

/// Starts `cairn worker` for train jobs with `key` (created and funded on the devnet if
/// missing); returns the process and its address.
fn worker(d: &Path, node: &str, key: &Path, log: &Path) -> (common::compute::Proc, String) {
    train_worker(d, node, key, log, &[])
}

#[tokio::test(flavor = "multi_thread")]
async fn train_results_are_audited_honest_ones_paid_and_a_cheater_caught_and_slashed() {
    let net = Net::start();
    let (d, work, rpc_url) = (net.d.clone(), net.work.clone(), net.rpc_url.clone());
    let usdt = net.usdt();
    let log = &net.log;
    let node = node_serve(&d, &log.url, 1200, &["--audit-samples", "4"]);
    let n = node.url.clone();
    let job = write_train_job(&work);

    // 1. An honest provider: audited (all four segments), settled, paid.
    let (honest, honest_addr) = worker(&d, &n, &work.join("honest.key"), &work.join("h.log"));
    let id = submit(&d, &n, &job);
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
    // A new provider's result: the verification policy always audits it.
    let decision = &v["verification"];
    assert_eq!(
        (
            decision["method"].as_str(),
            decision["streak"].as_u64(),
            decision["probability"].as_f64()
        ),
        (Some("sampled-audit"), Some(0), Some(1.0)),
        "{v:#}"
    );
    assert!(
        decision["reason"].as_str().unwrap().contains("probation"),
        "{decision}"
    );
    rpc(&rpc_url, "evm_increaseTime", json!([61])).await;
    let v = wait_for(&d, &n, id, 30, |v| {
        v["state"] == "settled" && !v["receipt"].is_null()
    });
    assert!(v["paid"].as_u64().unwrap() > 0, "{v:#}");
    let text = status_text(&d, &n, id);
    assert!(
        text.contains("audit (sampled-step-audit): passed — segments [0, 1, 2, 3]"),
        "{text}"
    );
    assert!(
        text.contains("verified: sampled audit of 4 segments, passed — probation"),
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
        "how the node verified it: sampled audit of 4 segments, passed",
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
    job_result(&d, &n, id, &dir);
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
    let cheater = library_worker(
        &n,
        &cheat_key,
        work.join("cheat-state"),
        JobKind::Train,
        Arc::new(Corrupting { at: 15 }),
    )
    .await;
    let cheating = tokio::spawn(async move { cheater.run().await });
    // Only the cheater is online to take the next job.
    wait_online(&d, &n, &[&cheat_addr], &[&honest_addr]);
    let requester_before = balance(&rpc_url, &usdt, v["requester"].as_str().unwrap()).await;
    let id2 = submit(&d, &n, &job);
    // Refunded in full: the part the commit sent back, then the rest once challenged.
    let v2 = wait_for(&d, &n, id2, 90, |v| {
        v["state"] == "failed" && v["refunded"] == v["payment"]
    });
    assert_eq!(v2["provider"], cheat_addr.as_str());
    assert_eq!(v2["stop"]["kind"], "auditFailed", "{v2:#}");
    assert_eq!(v2["audit"]["outcome"], "failed");
    assert_eq!(v2["verification"]["method"], "sampled-audit");
    let finding = v2["stop"]["detail"].as_str().unwrap();
    assert!(finding.contains("steps 10..20"), "{finding}");
    let l = wait_logged(&d, &n, id2, 30, "chain: slashed");
    assert!(l.contains("audit FAILED"), "{l}");
    assert!(l.contains("chain: challenged"), "{l}");
    // No referee is registered on this market, so the node does not open a bisection that
    // nobody could rule on (the result would stand): it takes the direct path.
    assert!(
        l.contains("no bisection dispute (no staked referee is registered"),
        "{l}"
    );
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
    let p = provider(&d, &n, &cheat_addr);
    assert_eq!(p["leasesLost"], 1, "{p:#}");
    // A failed audit puts the cheater back in probation; the honest provider's streak grew.
    assert_eq!(p["validStreak"], 0, "{p:#}");
    let honest_row = provider(&d, &n, &honest_addr);
    assert_eq!(honest_row["validStreak"], 1, "{honest_row:#}");
    // Anyone re-running the audit finds the same steps.
    let out = run(cairn(&d).args(["job", "verify", &id2.to_string(), "--node", &n]));
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("FAILED: re-executing steps 10..20"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("FAILED: disputed"),
        "{}",
        stdout(&out)
    );
    cheating.abort();
}
