//! The log service under stress and in company: a SIGKILL in the middle of a stream of appends,
//! witnesses cosigning its checkpoints, and anchors on a real devnet.
mod common;

use base64::Engine;
use cairn_attest::{Digest, Envelope, Key, Statement, Subject, predicate::DatasetV1};
use cairn_tlog::{Checkpoint, Note, verify_consistency};
use common::{Service, cairn, json, log_serve, run, stderr};
use serde_json::{Value, json};
use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// A valid, unique, signed dataset statement ready for `POST /add`.
fn submission(key: &Key, i: u64) -> (Value, String) {
    let manifest = Digest::sha256_of(format!("manifest {i}").as_bytes());
    let predicate = DatasetV1 {
        name: format!("set-{i}"),
        root: format!(
            "blake3:{}",
            Digest::sha256_of(format!("root {i}").as_bytes()).hex()
        )
        .parse()
        .unwrap(),
        file_count: 1,
        total_bytes: i,
        manifest: manifest.clone(),
        license: None,
        source: None,
    };
    let st = Statement::new(vec![Subject::new("manifest.json", &manifest)], predicate);
    let env = Envelope::sign_statement(&st, key).unwrap();
    let digest = env.digest().to_string();
    (
        json!({ "envelope": env, "publicKey": key.public().to_base64() }),
        digest,
    )
}

fn checkpoint_of(text: &str) -> Checkpoint {
    Checkpoint::parse_body(&Note::parse(text).unwrap().text).unwrap()
}

async fn consistency(http: &reqwest::Client, url: &str, old: u64, new: u64) -> Vec<[u8; 32]> {
    let text = http
        .get(format!("{url}/consistency/{old}/{new}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .map(|l| {
            base64::engine::general_purpose::STANDARD
                .decode(l)
                .unwrap()
                .try_into()
                .unwrap()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_appends_loses_no_acknowledged_entry_and_no_checkpoint_forks() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = log_serve(tmp.path(), &[]);
    let url = log.url.clone();
    let http = reqwest::Client::new();
    let key = Key::generate().unwrap();

    let acked: Arc<Mutex<Vec<(u64, String)>>> = Arc::default();
    let seen: Arc<Mutex<Vec<Checkpoint>>> = Arc::default();
    // Signed up front, so the stream is as fast as the log can take it.
    let work: Vec<Vec<(Value, String)>> = (0..8u64)
        .map(|w| (0..300).map(|j| submission(&key, w + 8 * j)).collect())
        .collect();
    let stop = Instant::now() + Duration::from_millis(1000);
    let mut tasks = Vec::new();
    for items in work {
        let (http, url, acked) = (http.clone(), url.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            for (body, digest) in items {
                let Ok(resp) = http.post(format!("{url}/add")).json(&body).send().await else {
                    break;
                };
                if !resp.status().is_success() {
                    break;
                }
                let Ok(v) = resp.json::<Value>().await else {
                    break;
                };
                assert_eq!(v["envelopeDigest"].as_str().unwrap(), digest);
                acked
                    .lock()
                    .unwrap()
                    .push((v["index"].as_u64().unwrap(), digest));
            }
        }));
    }
    {
        let (http, url, seen) = (http.clone(), url.clone(), seen.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < stop + Duration::from_millis(400) {
                let Ok(resp) = http.get(format!("{url}/checkpoint")).send().await else {
                    break;
                };
                let Ok(text) = resp.text().await else { break };
                seen.lock().unwrap().push(checkpoint_of(&text));
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        }));
    }
    tokio::time::sleep(stop - Instant::now()).await;
    log.kill(); // SIGKILL mid-stream
    for t in tasks {
        t.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let seen = seen.lock().unwrap().clone();
    assert!(
        acked.len() > 20,
        "only {} appends acknowledged before the kill",
        acked.len()
    );
    assert!(seen.len() > 5);

    let log = log_serve(tmp.path(), &[]);
    // While the journal replays, the last published checkpoint is served; once the log is open,
    // with no new add, a checkpoint covers every acknowledged entry.
    let max_acked = acked.iter().map(|a| a.0).max().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let now = loop {
        let now = checkpoint_of(
            &http
                .get(format!("{}/checkpoint", log.url))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        );
        if now.size > max_acked || Instant::now() > deadline {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        now.size > max_acked,
        "checkpoint {} does not cover acknowledged index {max_acked}",
        now.size
    );
    for (index, digest) in &acked {
        let e: Value = http
            .get(format!("{}/entry/{index}", log.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            format!("sha256:{}", e["entry"]["envelope_sha256"].as_str().unwrap()),
            *digest,
            "entry {index}"
        );
    }
    for cp in &seen {
        let proof = consistency(&http, &log.url, cp.size, now.size).await;
        verify_consistency(cp.size, now.size, &cp.root, &now.root, &proof).unwrap_or_else(|e| {
            panic!(
                "checkpoint {} is not consistent with {}: {e}",
                cp.size, now.size
            )
        });
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn witnesses_cosign_and_verify_demands_their_cosignatures() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let log_key = common::stdout(&run(cairn(d).args(["log", "key"])))
        .trim()
        .to_owned();
    let mut wcmd = cairn(d);
    wcmd.args([
        "--json",
        "witness",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--log-key",
        &log_key,
    ]);
    let witness = Service::start(wcmd);
    let log = log_serve(
        d,
        &["--witness", &format!("{}={}", witness.url, witness.key)],
    );
    assert_eq!(log.key, log_key);

    json(cairn(d).args(["--json", "key", "generate"]));
    let key = Key::read_file(&d.join("keys/attest.key")).unwrap();
    let http = reqwest::Client::new();
    let (body, _) = submission(&key, 1);
    let st = tmp.path().join("envelope.json");
    std::fs::write(&st, body["envelope"].to_string()).unwrap();
    let bundle = tmp.path().join("early.bundle.json");
    json(
        cairn(d)
            .args(["--json", "log", "add"])
            .arg(&st)
            .args(["--log", &log.url])
            .arg("--out")
            .arg(&bundle),
    );

    // `log add` waits for the witness, so even its bundle carries the cosignature.
    let early = run(cairn(d).arg("verify").arg(&bundle).args([
        "--log-key",
        &log_key,
        "--witness-key",
        &witness.key,
    ]));
    assert!(early.status.success(), "{}", stderr(&early));

    // The cosignature is on the published checkpoint too.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = http
            .get(format!("{}/checkpoint", log.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if Note::parse(&text).unwrap().signatures.len() == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "no witness cosignature: {text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let cosigned = tmp.path().join("cosigned.bundle.json");
    save_bundle(&http, &log.url, 0, &cosigned).await;

    let ok = run(cairn(d).arg("verify").arg(&cosigned).args([
        "--log-key",
        &log_key,
        "--witness-key",
        &witness.key,
    ]));
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(common::stdout(&ok).contains("cosigned by cairn.local/witness"));
    // A bundle whose checkpoint no trusted witness cosigned does not meet the policy.
    let other = Service::start({
        let mut c = cairn(&d.join("w2"));
        c.args([
            "--json",
            "witness",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-key",
            &log_key,
        ]);
        c
    });
    let bad = run(cairn(d).arg("verify").arg(&cosigned).args([
        "--log-key",
        &log_key,
        "--witness-key",
        &other.key,
    ]));
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("0 of the trusted witnesses"),
        "{}",
        stderr(&bad)
    );
}

/// Appends statements `range` and waits until each is integrated.
async fn append(http: &reqwest::Client, url: &str, key: &Key, range: std::ops::Range<u64>) {
    for i in range {
        let (body, _) = submission(key, i);
        let resp = http
            .post(format!("{url}/add?wait=integrated"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "add {i}: {}", resp.status());
    }
}

/// Fetches the bundle of entry `index` and writes it to `path`.
async fn save_bundle(http: &reqwest::Client, url: &str, index: u64, path: &std::path::Path) {
    let b: Value = http
        .get(format!("{url}/bundle/{index}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    std::fs::write(path, b.to_string()).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn checkpoints_are_anchored_on_chain_and_verify_checks_the_anchor() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let _devnet = common::devnet(d);
    let log = log_serve(d, &[]);
    let key = Key::generate().unwrap();
    let http = reqwest::Client::new();
    append(&http, &log.url, &key, 0..5).await;
    let bundle = d.join("two.bundle.json");
    save_bundle(&http, &log.url, 2, &bundle).await;

    let anchored = json(cairn(d).args(["--json", "log", "anchor", "--log", &log.url]));
    assert_eq!(anchored["status"], "anchored");
    assert!(anchored["anchor"]["size"].as_u64().unwrap() >= 5);
    assert!(anchored["gas_used"].as_u64().unwrap() <= 30_000);
    let again = json(cairn(d).args(["--json", "log", "anchor", "--log", &log.url]));
    assert_eq!(again["status"], "up_to_date");

    // The log grows past the anchor; the bundle's checkpoint is still consistent with it.
    append(&http, &log.url, &key, 5..9).await;
    let signer = key.public().to_base64();
    let v = json(
        cairn(d)
            .args(["--json", "verify"])
            .arg(&bundle)
            .args(["--log", &log.url, "--anchor", "--signer", &signer]),
    );
    assert_eq!(v["anchor"]["anchoredSize"], anchored["anchor"]["size"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn log_serve_anchors_periodically() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let _devnet = common::devnet(d);
    let log = log_serve(d, &["--anchor-interval", "1"]);
    let key = Key::generate().unwrap();
    let http = reqwest::Client::new();
    append(&http, &log.url, &key, 0..3).await;
    let bundle = d.join("one.bundle.json");
    save_bundle(&http, &log.url, 1, &bundle).await;
    // Nobody runs `log anchor`: the service's own anchorer must put the checkpoint on chain.
    let signer = format!("dataset={}", key.public().to_base64());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = run(cairn(d)
            .args(["--json", "verify"])
            .arg(&bundle)
            .args(["--log", &log.url, "--anchor", "--signer", &signer]));
        if out.status.success() {
            let v: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(v["anchor"]["anchoredSize"], 3);
            break;
        }
        assert!(
            stderr(&out).contains("no anchor on chain"),
            "{}",
            stderr(&out)
        );
        assert!(
            Instant::now() < deadline,
            "the periodic anchorer never anchored"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The log serves that anchor at GET /anchor: the size, root and transaction on chain.
    let anchor = |url: String| {
        let http = http.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let r = http.get(format!("{url}/anchor")).send().await.unwrap();
                assert_eq!(r.status(), 200);
                let v: Value = r.json().await.unwrap();
                if v["latest"]["size"] == 3 {
                    return v;
                }
                assert!(
                    Instant::now() < deadline,
                    "GET /anchor never showed size 3: {v}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    let served = anchor(log.url.clone()).await;
    let tx = served["latest"]["txHash"].as_str().unwrap().to_owned();
    assert!(tx.starts_with("0x") && tx.len() == 66, "{served}");
    assert_eq!(served["latest"]["root"].as_str().map(str::len), Some(64));
    assert_eq!(served["intervalSecs"], 1);
    // Restarted with an hour between anchors, it reads the latest anchor back from the chain
    // at once instead of showing none until the next one.
    drop(log);
    let log = log_serve(d, &["--anchor-interval", "3600"]);
    let again = anchor(log.url.clone()).await;
    assert_eq!(again["latest"]["txHash"], tx.as_str(), "{again}");
    assert_eq!(again["latest"]["root"], served["latest"]["root"]);
}

/// A forger holding the log's key runs a second log (a fork) without the witness. Its bundles
/// must not verify by default, and a bundle set showing two roots at one size is a split view.
#[tokio::test(flavor = "multi_thread")]
async fn a_fork_signed_with_the_log_key_fails_verify_without_the_witness_and_shows_a_split_view() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let log_key = common::stdout(&run(cairn(d).args(["log", "key"])))
        .trim()
        .to_owned();
    let witness = Service::start({
        let mut c = cairn(d);
        c.args([
            "--json",
            "witness",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-key",
            &log_key,
        ]);
        c
    });
    let log = log_serve(
        d,
        &["--witness", &format!("{}={}", witness.url, witness.key)],
    );
    let http = reqwest::Client::new();
    // The user's own attestation key signs the statements (a signer `verify` trusts).
    json(cairn(d).args(["--json", "key", "generate"]));
    let key = Key::read_file(&d.join("keys/attest.key")).unwrap();
    append(&http, &log.url, &key, 0..1).await;
    let honest_dir = d.join("honest");
    std::fs::create_dir_all(&honest_dir).unwrap();
    save_bundle(&http, &log.url, 0, &honest_dir.join("a.bundle.json")).await;

    // The forger: same log key, its own data dir, no witness.
    let f = d.join("forger");
    std::fs::create_dir_all(f.join("log")).unwrap();
    std::fs::copy(d.join("log/log.key"), f.join("log/log.key")).unwrap();
    let fork = log_serve(&f, &[]);
    append(&http, &fork.url, &key, 100..101).await;
    let forged_dir = d.join("forged");
    std::fs::create_dir_all(&forged_dir).unwrap();
    let forged = forged_dir.join("f.bundle.json");
    save_bundle(&http, &fork.url, 0, &forged).await;

    // By default the local log's witnesses are required: the fork's bundle fails.
    let out = run(cairn(d).arg("verify").arg(&forged));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("0 of the trusted witnesses"),
        "{}",
        stderr(&out)
    );
    // The honest bundle verifies with its cosignature, by default.
    let ok = run(cairn(d).arg("verify").arg(honest_dir.join("a.bundle.json")));
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(common::stdout(&ok).contains("cosigned by"));

    // Side by side, even without witnesses: same origin and size, two roots.
    std::fs::copy(&forged, honest_dir.join("f.bundle.json")).unwrap();
    let split = run(cairn(d)
        .arg("verify")
        .arg(honest_dir.join("a.bundle.json"))
        .args(["--quorum", "0"]));
    assert_eq!(split.status.code(), Some(1), "{}", stderr(&split));
    assert!(stderr(&split).contains("split view"), "{}", stderr(&split));

    // A malformed bundle says what is wrong with it.
    let bad = d.join("bad.bundle.json");
    std::fs::write(
        &bad,
        r#"{"mediaType":"application/vnd.cairn.bundle.v1+json","envelope":5}"#,
    )
    .unwrap();
    let out = run(cairn(d).arg("verify").arg(&bad));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a Cairn bundle"),
        "{}",
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains("no verified statement"),
        "{}",
        stderr(&out)
    );
}
