//! The adaptive verification policy end to end: anvil, a real `cairn node serve` whose policy
//! audits a provider's first result and then about one in `streak` (`--check-probation 1`),
//! and an honest `cairn worker`. Train jobs are submitted one after another until the policy
//! leaves one unaudited (the draw comes from the node's signature, so which one is not known in
//! advance; each is unaudited with probability 1 − 1/streak from the second on).
//!
//! - the first result is audited (probation), the streak grows with every accepted result;
//! - an unaudited result records the streak, the probability and the draw, is not audited,
//!   settles and is paid after the challenge window; `job status` and `job verify` say it was
//!   not checked, and `job verify` still re-runs the audit from the decision's seed.
mod common;

use common::{
    cairn,
    compute::{
        Net, job_status, node_serve, rpc, status_text, streak, submit, train_worker, wait_for,
        write_train_job,
    },
    run, stdout,
};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread")]
async fn an_established_provider_is_audited_about_once_per_streak_and_the_rest_settle() {
    let net = Net::start();
    let (d, work, rpc_url) = (net.d.clone(), net.work.clone(), net.rpc_url.clone());
    let log = &net.log;
    let node = node_serve(
        &d,
        &log.url,
        1200,
        &["--check-probation", "1", "--check-floor", "0.05"],
    );
    let n = node.url.clone();
    let job = write_train_job(&work);
    let (_w, who) = train_worker(&d, &n, &work.join("p.key"), &work.join("w.log"), &[]);

    // Results until one is left unaudited: at streak s ≥ 1 that happens with probability
    // 1 − 1/s, so 12 audited in a row has a probability of 1/11! — never.
    let mut unchecked = None;
    for round in 0u64..12 {
        let id = submit(&d, &n, &job);
        let v = wait_for(&d, &n, id, 90, |v| {
            let d = &v["verification"];
            d["method"] == "not-checked" || !v["audit"].is_null()
        });
        let decision = v["verification"].clone();
        assert_eq!(v["provider"], who.as_str());
        assert_eq!(decision["streak"], round, "{v:#}");
        let p = decision["probability"].as_f64().unwrap();
        let draw = decision["draw"].as_f64().unwrap();
        assert!((0.0..1.0).contains(&draw), "{decision}");
        if round <= 1 {
            // Probation (streak 0), then 1/1.
            assert_eq!(p, 1.0, "{decision}");
        } else {
            assert!((p - 1.0 / round as f64).abs() < 1e-12, "{decision}");
        }
        if decision["method"] == "not-checked" {
            assert!(draw >= p, "{decision}");
            unchecked = Some((id, decision));
            break;
        }
        assert_eq!(decision["method"], "sampled-audit");
        assert!(draw < p, "{decision}");
        assert_eq!(v["audit"]["outcome"], "passed", "{v:#}");
        if round == 0 {
            assert!(decision["reason"].as_str().unwrap().contains("probation"));
        }
        // Accepted: the streak grows.
        let deadline = Instant::now() + Duration::from_secs(10);
        while streak(&d, &n, &who) != round + 1 {
            assert!(Instant::now() < deadline, "the streak did not grow");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let (id, decision) = unchecked.expect("some result goes unaudited");
    let s = decision["streak"].as_u64().unwrap();
    assert_eq!(streak(&d, &n, &who), s + 1);

    // Not audited: it settles after the challenge window and is paid.
    let v = job_status(&d, &n, id);
    assert!(v["audit"].is_null(), "{v:#}");
    rpc(&rpc_url, "evm_increaseTime", json!([61])).await;
    let v = wait_for(&d, &n, id, 60, |v| v["state"] == "settled");
    assert!(v["paid"].as_u64().unwrap() > 0, "{v:#}");
    assert!(v["audit"].is_null());
    let text = status_text(&d, &n, id);
    let said = format!("verified: not checked (streak {s}, p = ");
    assert!(text.contains(&said), "{said:?} missing from:\n{text}");

    // Anyone can still audit it, from the seed the node's policy drew from.
    let out = run(cairn(&d).args(["job", "verify", &id.to_string(), "--node", &n]));
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", common::stderr(&out));
    let seed = decision["seed"].as_u64().unwrap();
    for want in [
        format!("how the node verified it: not checked (streak {s}, "),
        format!("with seed {seed}"),
        "verified: job".to_owned(),
    ] {
        assert!(text.contains(&want), "{want:?} missing from:\n{text}");
    }
}
