//! The node's bookkeeping against an in-memory ledger with the contract's rules: matching,
//! leases and reassignment, results and settlement, module faults and refunds, cancellation,
//! expiry with the matcher's reason, and the HTTP surface (signatures, blobs, errors).
use alloy::{
    primitives::{Address, B256},
    signers::local::PrivateKeySigner,
};
use axum::{
    body::Body,
    http::{Request, StatusCode},
};
use cairn_compute::{
    BlobRef, JobFile, JobSpec, JobState, Price, Resources, StopReason,
    api::{
        AUTH_HEADER, Heartbeat, OutputRef, ProviderAdvert, RunOutcome, RunReport, SubmitJob,
        output_digest,
    },
};
use cairn_node::{Ledger, MemoryLedger, Node, NodeConfig, router, sign_request};
use http_body_util::BodyExt;
use std::{sync::Arc, time::Duration};
use tower::ServiceExt;

mod agent;
mod api;
mod dispute;
mod replication;

mod progress;

const GIB: u64 = 1 << 30;

struct Fixture {
    _dir: tempfile::TempDir,
    node: Node,
    ledger: MemoryLedger,
    requester: Address,
    specs: std::sync::Mutex<std::collections::HashMap<u64, JobSpec>>,
}

async fn fixture(lease: Duration) -> Fixture {
    // The matching tests trust claims; calibration has its own test below.
    fixture_with(|c| c.with_lease(lease / 3, lease).without_calibration()).await
}

/// A node on a fresh directory and ledger, configured by `configure`.
async fn fixture_with(configure: impl FnOnce(NodeConfig) -> NodeConfig) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let ledger = MemoryLedger::new(1_000_000, 60, 100);
    let config = configure(NodeConfig::new(dir.path(), "http://127.0.0.1:8545"));
    let node = Node::open(config, Arc::new(ledger.clone())).await.unwrap();
    Fixture {
        _dir: dir,
        node,
        ledger,
        requester: Address::repeat_byte(0x11),
        specs: Default::default(),
    }
}

impl Fixture {
    /// A provider with `mem_gib` memory and an ask of `ask` per Mfuel, registered and online.
    async fn provider(&self, mem_gib: u64, ask: u64) -> PrivateKeySigner {
        let key = PrivateKeySigner::random();
        self.ledger.register(key.address());
        let ad = ProviderAdvert {
            address: key.address().to_string(),
            capacity: Resources {
                cpu_cores: 2,
                memory_bytes: mem_gib * GIB,
                gpus: 0,
            },
            ask: Price {
                per_mfuel: ask,
                per_second: 0,
            },
            gpu_names: vec![],
            kinds: vec![cairn_compute::JobKind::Wasm],
            devices: vec![],
            version: "test".into(),
        };
        self.node.advertise(key.address(), ad).await.unwrap();
        key
    }

    /// Uploads a module, escrows a job with `toml` and submits it.
    async fn submit(&self, extra: &str) -> (u64, JobSpec) {
        let text = format!(
            "name = \"t\"\nmodule = \"m.wat\"\n[schedule]\naccept_within_secs = 60\ndeadline_secs = 600\n{extra}"
        );
        let module = b"(module)".to_vec();
        self.node.blobs().put(&module).unwrap();
        let spec = JobFile::from_toml(&text)
            .unwrap()
            .resolve(BlobRef::of(&module), vec![], None)
            .unwrap();
        let now = 1_000_000;
        let id = self.ledger.post(
            self.requester,
            B256::from(spec.digest()),
            spec.payment,
            now + 60,
            now + 600,
        );
        let view = self
            .node
            .submit(SubmitJob {
                job_id: id,
                spec: spec.clone(),
            })
            .await
            .unwrap();
        assert_eq!(view.id, id);
        self.specs.lock().unwrap().insert(id, spec.clone());
        (id, spec)
    }

    /// Runs the worker's side of a successful job: claim, start, upload, commit, report.
    async fn run_ok(&self, key: &PrivateKeySigner, id: u64) {
        self.claim_and_start(key, id).await;
        let report = self.report(id, RunOutcome::Succeeded);
        self.commit_and_report(key, report).await;
    }

    /// The worker's side of job `id` up to the run: claims its lease and starts it, and the
    /// assignment reaches the chain.
    async fn claim_and_start(&self, key: &PrivateKeySigner, id: u64) {
        let a = self.node.claim(key.address()).unwrap().expect("a lease");
        assert_eq!(a.job_id, id);
        self.node.started(key.address(), id).unwrap();
        self.node.chain_pass().await.unwrap(); // the assignment reaches the chain
    }

    /// Commits `report` on the ledger as an honest worker would, then reports it to the node.
    async fn commit_and_report(&self, key: &PrivateKeySigner, report: RunReport) {
        let id = report.job_id;
        // The charge an honest worker commits: what its metering bills.
        let charge = self.specs.lock().unwrap()[&id].bill(report.fuel_used, report.wall_time_ms);
        self.ledger
            .commit(
                id,
                key.address(),
                report.output_digest.parse().unwrap(),
                report.trace_root.parse().unwrap(),
                charge,
            )
            .unwrap();
        self.node.report(key.address(), report).await.unwrap();
    }

    fn report(&self, id: u64, outcome: RunOutcome) -> RunReport {
        let counts = b"fox 1\n".to_vec();
        self.node.blobs().put(&counts).unwrap();
        self.node.blobs().put(b"").unwrap();
        let outputs = vec![OutputRef::of("counts.txt", &counts)];
        let stdout = OutputRef::of("stdout", b"");
        RunReport {
            job_id: id,
            output_digest: hex::encode(output_digest(&outputs, &stdout)),
            outputs,
            stdout,
            stderr: OutputRef::of("stderr", b""),
            outcome,
            fuel_used: 1234,
            wall_time_ms: 5,
            trace_root: hex::encode([7u8; 32]),
            commit_tx: None,
        }
    }
}

#[tokio::test]
async fn a_job_is_matched_run_committed_and_settled_after_the_window() {
    let f = fixture(Duration::from_secs(30)).await;
    let small = f.provider(1, 1).await;
    let big = f.provider(8, 5).await;
    let (id, spec) = f
        .submit("[resources]\nmemory = \"2 GiB\"\n[price]\nper_mfuel = 10\n")
        .await;
    let v = f.node.job(id).unwrap();
    assert_eq!(v.state, JobState::Assigned);
    assert_eq!(v.provider, Some(big.address().to_string()));
    assert!(f.node.claim(small.address()).unwrap().is_none());

    f.run_ok(&big, id).await;
    let v = f.node.job(id).unwrap();
    assert_eq!(v.state, JobState::Committed, "{v:?}");
    // Not settled inside the window.
    f.node.chain_pass().await.unwrap();
    assert_eq!(f.node.job(id).unwrap().state, JobState::Committed);
    f.ledger.advance(61);
    f.node.chain_pass().await.unwrap();
    let v = f.node.job(id).unwrap();
    assert_eq!(v.state, JobState::Settled);
    // Paid what the metering bills (1,234 fuel at 10 per Mfuel rounds up to 1 base unit),
    // less the 1% fee; the unused rest went back to the requester at commit.
    let charge = spec.bill(1234, 5);
    assert_eq!(charge, 1);
    let fee = charge / 100;
    assert_eq!(v.paid, Some(charge - fee));
    assert_eq!(v.refunded, Some(spec.payment - charge));
    let p = f.node.provider(&big.address().to_string()).unwrap();
    assert_eq!((p.jobs_completed, p.earned), (1, charge - fee));
    assert!(p.reputation > 0.5);
    let events = f.node.logs(id).unwrap().events;
    assert!(
        events.iter().any(|e| e.message.contains("settled")),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_provider_that_stops_heartbeating_loses_its_job_to_another() {
    let f = fixture(Duration::from_millis(1000)).await;
    let a = f.provider(4, 1).await;
    let (id, _) = f.submit("[price]\nper_mfuel = 10\n").await;
    assert_eq!(
        f.node.job(id).unwrap().provider,
        Some(a.address().to_string())
    );
    f.node.claim(a.address()).unwrap().unwrap();
    f.node.started(a.address(), id).unwrap();
    f.node.chain_pass().await.unwrap();
    let b = f.provider(4, 1).await;
    // a falls silent; b keeps heartbeating.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    f.node
        .heartbeat(b.address(), &Heartbeat::default())
        .unwrap();
    f.node.schedule().unwrap();
    let v = f.node.job(id).unwrap();
    assert_eq!(v.state, JobState::Assigned);
    assert_eq!(v.provider, Some(b.address().to_string()));
    assert_eq!(v.providers.len(), 2);
    // The chain learns of the move through reassignJob.
    f.node.chain_pass().await.unwrap();
    assert!(
        f.node
            .job(id)
            .unwrap()
            .txs
            .iter()
            .any(|(what, _)| what == "reassign")
    );
    // a's late result is refused; a heartbeat tells it to drop the job.
    let late = f.report(id, RunOutcome::Succeeded);
    assert!(f.node.report(a.address(), late).await.is_err());
    let hb = f
        .node
        .heartbeat(a.address(), &Heartbeat { running: vec![id] })
        .unwrap();
    assert_eq!(hb.abandon, vec![id]);
    f.run_ok(&b, id).await;
    assert_eq!(f.node.job(id).unwrap().state, JobState::Committed);
    assert_eq!(
        f.node
            .provider(&a.address().to_string())
            .unwrap()
            .leases_lost,
        1
    );
}

#[tokio::test]
async fn a_job_nobody_can_take_says_why_and_is_refunded_at_expiry() {
    let f = fixture(Duration::from_secs(30)).await;
    let (id, _) = f.submit("[price]\nper_mfuel = 10\n").await;
    assert_eq!(
        f.node.job(id).unwrap().reason.as_deref(),
        Some("nobody can take it: no provider online")
    );
    f.provider(4, 1).await;
    let (id, _) = f
        .submit("[resources]\nmemory = \"8 GiB\"\n[price]\nper_mfuel = 10\n")
        .await;
    let v = f.node.job(id).unwrap();
    assert_eq!(v.state, JobState::Queued);
    assert_eq!(
        v.reason.as_deref(),
        Some("nobody can take it: no provider with ≥ 8 GiB memory (largest: 4 GiB)")
    );
    let (cheap, _) = f.submit("[price]\nper_mfuel = 0\nper_second = 1\n").await;
    // A provider asking 1 per Mfuel does not take a job bidding 0 per Mfuel.
    assert!(
        f.node
            .job(cheap)
            .unwrap()
            .reason
            .unwrap()
            .contains("price.per_mfuel 0 is below every provider's ask per Mfuel (lowest: 1)")
    );
    f.ledger.advance(61);
    f.node.chain_pass().await.unwrap(); // reads the chain clock
    f.node.schedule().unwrap();
    f.node.chain_pass().await.unwrap(); // refunds
    let v = f.node.job(id).unwrap();
    assert_eq!(v.state, JobState::Expired);
    assert!(matches!(v.stop, Some(StopReason::NobodyCanTake { .. })));
    assert!(
        v.reason
            .unwrap()
            .contains("no provider with ≥ 8 GiB memory")
    );
    assert_eq!(v.refunded, Some(v.payment));
}

#[tokio::test]
async fn module_faults_are_refunded_and_do_not_hurt_the_provider() {
    let f = fixture(Duration::from_secs(30)).await;
    let p = f.provider(4, 1).await;
    let (id, _) = f.submit("[price]\nper_mfuel = 10\n").await;
    f.node.claim(p.address()).unwrap().unwrap();
    f.node.started(p.address(), id).unwrap();
    f.node.chain_pass().await.unwrap(); // the assignment reaches the chain
    let report = f.report(
        id,
        RunOutcome::Failed {
            reason: StopReason::OutOfFuel {
                limit: 1_000_000_000,
            },
        },
    );
    f.node.report(p.address(), report).await.unwrap();
    f.node.chain_pass().await.unwrap();
    let v = f.node.job(id).unwrap();
    assert_eq!(v.state, JobState::Failed);
    let reason = v.reason.unwrap();
    assert!(
        reason.starts_with("out of fuel") && reason.contains("refunded"),
        "{reason}"
    );
    // The provider burned fuel for the module's fault: that much is paid, the rest refunded.
    assert_eq!(v.paid, Some(1));
    assert_eq!(v.refunded, Some(v.payment - 1));
    let pv = f.node.provider(&p.address().to_string()).unwrap();
    assert_eq!((pv.jobs_failed, pv.leases_lost), (1, 0));
    assert!((pv.reputation - 0.5).abs() < 1e-9);
}

#[tokio::test]
async fn a_running_job_cancelled_stops_and_pays_only_the_fuel_used() {
    let f = fixture(Duration::from_secs(30)).await;
    let p = f.provider(4, 1).await;
    // 1e9 fuel at 10 per Mfuel: 10,000 base units escrowed.
    let (id, spec) = f.submit("[price]\nper_mfuel = 10\n").await;
    f.node.claim(p.address()).unwrap().unwrap();
    f.node.started(p.address(), id).unwrap();
    f.node.chain_pass().await.unwrap();
    let v = f.node.cancel(f.requester, id).unwrap();
    assert_eq!(
        v.state,
        JobState::Running,
        "waits for the provider's metering"
    );
    assert!(v.reason.unwrap().contains("cancelling"));
    // The provider learns it at its next heartbeat: stop (not abandon).
    let hb = f
        .node
        .heartbeat(p.address(), &Heartbeat { running: vec![id] })
        .unwrap();
    assert_eq!((hb.cancel, hb.abandon), (vec![id], vec![]));
    let mut report = f.report(
        id,
        RunOutcome::Failed {
            reason: StopReason::Cancelled,
        },
    );
    report.fuel_used = 250_000_000; // a quarter of the budget
    f.node.report(p.address(), report).await.unwrap();
    f.node.chain_pass().await.unwrap();
    let v = f.node.job(id).unwrap();
    assert_eq!(v.state, JobState::Cancelled);
    let charge = spec.bill(250_000_000, 5);
    assert_eq!(charge, 2_500);
    assert_eq!(v.paid, Some(charge - charge / 100));
    assert_eq!(v.refunded, Some(spec.payment - charge));
    assert_eq!(
        f.ledger.job(id).await.unwrap().unwrap().state,
        cairn_escrow::JobState::Settled
    );
}

#[tokio::test]
async fn an_overcharge_is_challenged_and_an_unexplained_failure_costs_reputation() {
    let f = fixture(Duration::from_secs(30)).await;
    let p = f.provider(4, 1).await;
    let (id, spec) = f.submit("[price]\nper_mfuel = 10\n").await;
    f.node.claim(p.address()).unwrap().unwrap();
    f.node.started(p.address(), id).unwrap();
    f.node.chain_pass().await.unwrap();
    // The attacker: reports 1,234 fuel but commits the whole payment as its charge.
    let report = f.report(id, RunOutcome::Succeeded);
    f.ledger
        .commit(
            id,
            p.address(),
            report.output_digest.parse().unwrap(),
            report.trace_root.parse().unwrap(),
            spec.payment,
        )
        .unwrap();
    f.node.report(p.address(), report).await.unwrap();
    f.node.chain_pass().await.unwrap();
    let v = f.node.job(id).unwrap();
    assert_eq!(v.state, JobState::Failed);
    assert!(
        matches!(v.stop, Some(StopReason::Overcharged { .. })),
        "{v:?}"
    );
    assert_eq!(
        f.ledger.job(id).await.unwrap().unwrap().state,
        cairn_escrow::JobState::Refunded,
        "challenged, then refunded by the operator as arbiter"
    );
    assert_eq!(v.paid, None);

    // A failure the module did not cause (the provider claims a missed deadline without
    // running anything): no pay, and it counts like a lost lease.
    let (id, _) = f.submit("[price]\nper_mfuel = 10\n").await;
    f.node.claim(p.address()).unwrap().unwrap();
    f.node.started(p.address(), id).unwrap();
    let report = f.report(
        id,
        RunOutcome::Failed {
            reason: StopReason::DeadlineMissed,
        },
    );
    f.node.report(p.address(), report).await.unwrap();
    f.node.chain_pass().await.unwrap();
    let v = f.node.job(id).unwrap();
    assert_eq!(v.refunded, Some(v.payment));
    let pv = f.node.provider(&p.address().to_string()).unwrap();
    assert_eq!(
        pv.leases_lost, 2,
        "the overcharge and the unexplained failure"
    );
    assert!(pv.reputation < 0.5);
}

#[tokio::test]
async fn a_provider_that_starts_and_never_finishes_loses_the_job_after_its_wall_time() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = MemoryLedger::new(1_000_000, 60, 100);
    let config = NodeConfig::new(dir.path(), "http://127.0.0.1:8545")
        .with_lease(Duration::from_secs(10), Duration::from_secs(30))
        .with_overrun_grace(Duration::ZERO)
        .without_calibration();
    let node = Node::open(config, Arc::new(ledger.clone())).await.unwrap();
    let f = Fixture {
        _dir: dir,
        node,
        ledger,
        requester: Address::repeat_byte(0x11),
        specs: Default::default(),
    };
    let silent = f.provider(4, 1).await;
    let (id, _) = f
        .submit("[limits]\nwall_time_secs = 1\n[price]\nper_mfuel = 10\n")
        .await;
    f.node.claim(silent.address()).unwrap().unwrap();
    f.node.started(silent.address(), id).unwrap();
    // It keeps heartbeating, so its lease never lapses, but it never reports.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        f.node
            .heartbeat(silent.address(), &Heartbeat { running: vec![id] })
            .unwrap();
        f.node.schedule().unwrap();
        if f.node.job(id).unwrap().state != JobState::Running {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the node never took the job back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let v = f.node.job(id).unwrap();
    assert_eq!(
        v.state,
        JobState::Queued,
        "back in the queue for another provider"
    );
    let pv = f.node.provider(&silent.address().to_string()).unwrap();
    assert_eq!(pv.leases_lost, 1);
}

#[tokio::test]
async fn only_the_requester_cancels_and_committed_jobs_cannot_be() {
    let f = fixture(Duration::from_secs(30)).await;
    let (id, _) = f.submit("[price]\nper_mfuel = 10\n").await;
    let e = f.node.cancel(Address::repeat_byte(0x22), id).unwrap_err();
    assert!(e.to_string().contains("belongs to"), "{e}");
    let v = f.node.cancel(f.requester, id).unwrap();
    assert_eq!(v.state, JobState::Cancelled);
    f.node.chain_pass().await.unwrap();
    assert_eq!(f.node.job(id).unwrap().refunded, Some(v.payment));

    let p = f.provider(4, 1).await;
    let (id, _) = f.submit("[price]\nper_mfuel = 10\n").await;
    f.run_ok(&p, id).await;
    let e = f.node.cancel(f.requester, id).unwrap_err();
    assert!(e.to_string().contains("committed"), "{e}");
}

async fn call(app: &axum::Router, req: Request<Body>) -> (StatusCode, serde_json::Value, Vec<u8>) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, json, bytes)
}

#[tokio::test]
async fn http_requires_signatures_and_serves_blobs() {
    let f = fixture(Duration::from_secs(30)).await;
    let app = router(f.node.clone());
    // Anonymous uploads are refused; signed ones are stored; a replayed one is refused.
    let (s, v, _) = call(
        &app,
        Request::put("/blob").body(Body::from("hello")).unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    let uploader = PrivateKeySigner::random();
    let auth = sign_request(&uploader, "PUT", "/blob", b"hello");
    let put = |auth: &str| {
        Request::put("/blob")
            .header(AUTH_HEADER, auth)
            .body(Body::from("hello"))
            .unwrap()
    };
    let (s, v, _) = call(&app, put(&auth)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["sha256"], BlobRef::of(b"hello").sha256);
    let (s, v, _) = call(&app, put(&auth)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(
        v["detail"].as_str().unwrap().contains("already used"),
        "{v}"
    );
    let (s, _, bytes) = call(
        &app,
        Request::get(format!("/blob/{}", BlobRef::of(b"hello").sha256))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!((s, bytes), (StatusCode::OK, b"hello".to_vec()));
    let (s, v, _) = call(&app, Request::get("/blob/zz").body(Body::empty()).unwrap()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");

    let key = PrivateKeySigner::random();
    let path = format!("/providers/{}/heartbeat", key.address());
    let (s, v, _) = call(&app, Request::post(&path).body(Body::from("{}")).unwrap()).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(v["detail"].as_str().unwrap().contains("must be signed"));
    // Signed, but by someone else than the provider in the path.
    let other = PrivateKeySigner::random();
    let (s, _, _) = call(
        &app,
        Request::post(&path)
            .header(AUTH_HEADER, sign_request(&other, "POST", &path, b"{}"))
            .body(Body::from("{}"))
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Properly signed, but the provider never advertised.
    let (s, v, _) = call(
        &app,
        Request::post(&path)
            .header(AUTH_HEADER, sign_request(&key, "POST", &path, b"{}"))
            .body(Body::from("{}"))
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    // An unregistered provider cannot advertise.
    let ad = serde_json::to_vec(&ProviderAdvert {
        address: key.address().to_string(),
        capacity: Resources {
            cpu_cores: 1,
            memory_bytes: GIB,
            gpus: 0,
        },
        ask: Price::default(),
        gpu_names: vec![],
        kinds: vec![cairn_compute::JobKind::Wasm],
        devices: vec![],
        version: "t".into(),
    })
    .unwrap();
    let (s, v, _) = call(
        &app,
        Request::post("/providers")
            .header(AUTH_HEADER, sign_request(&key, "POST", "/providers", &ad))
            .body(Body::from(ad))
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("not an eligible provider")
    );
    let (s, v, _) = call(&app, Request::get("/jobs/99").body(Body::empty()).unwrap()).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let (s, v, _) = call(
        &app,
        Request::post("/jobs")
            .header(
                AUTH_HEADER,
                sign_request(&key, "POST", "/jobs", b"{\"jobId\":1}"),
            )
            .body(Body::from("{\"jobId\":1}"))
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["detail"].as_str().unwrap().contains("SubmitJob"), "{v}");
}

#[tokio::test]
async fn a_submission_must_match_its_escrow() {
    let f = fixture(Duration::from_secs(30)).await;
    let (id, mut spec) = f.submit("[price]\nper_mfuel = 10\n").await;
    // The same job again.
    let e = f
        .node
        .submit(SubmitJob {
            job_id: id,
            spec: spec.clone(),
        })
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("already submitted") || e.to_string().contains("not open"),
        "{e}"
    );
    // A spec other than the escrowed one.
    let other = f.ledger.post(
        f.requester,
        B256::from(spec.digest()),
        spec.payment,
        1_000_060,
        1_000_600,
    );
    spec.args.push("--evil".into());
    let e = f
        .node
        .submit(SubmitJob {
            job_id: other,
            spec,
        })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("escrows spec digest"), "{e}");
    // An unknown job id.
    let (_, spec) = f.submit("[price]\nper_mfuel = 10\n").await;
    let e = f
        .node
        .submit(SubmitJob { job_id: 999, spec })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not posted"), "{e}");
}

#[tokio::test]
async fn one_node_per_directory_and_only_on_the_market_it_belongs_to() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = MemoryLedger::new(1_000_000, 60, 100);
    let config = || NodeConfig::new(dir.path(), "http://127.0.0.1:8545");
    let first = Node::open(config(), Arc::new(ledger.clone()))
        .await
        .unwrap();
    // A second node on the same directory would double-spend leases and nonces.
    let err = Node::open(config(), Arc::new(ledger.clone()))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("another compute node is using"), "{err}");
    drop(first);
    // The node published its receipt key on the market when it opened.
    assert!(ledger.receipt_key().await.unwrap().is_some());
    // The same directory against a reset chain (same market address, new genesis): refused,
    // naming both, so escrowed jobs are not silently mixed with a new market.
    let reset = ledger.clone().with_genesis(B256::repeat_byte(0x42));
    let err = Node::open(config(), Arc::new(reset))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("belongs to") && err.contains("fresh data directory"),
        "{err}"
    );
    // The market it belongs to still opens.
    Node::open(config(), Arc::new(ledger)).await.unwrap();
}

#[tokio::test]
async fn unreferenced_blobs_are_collected_and_referenced_ones_kept() {
    let f = fixture(Duration::from_secs(30)).await;
    let (_, spec) = f.submit("[price]\nper_mfuel = 10\n").await;
    let stray = f.node.blobs().put(b"nobody refers to me").unwrap();
    // Young blobs wait for their job.
    assert_eq!(f.node.collect_blobs(Duration::from_secs(3600)).unwrap(), 0);
    assert_eq!(f.node.collect_blobs(Duration::ZERO).unwrap(), 1);
    assert!(f.node.blobs().get(&stray).unwrap().is_none());
    let mut module = [0u8; 32];
    hex::decode_to_slice(&spec.module.sha256, &mut module).unwrap();
    assert!(
        f.node.blobs().get(&module).unwrap().is_some(),
        "the job's module stays"
    );
}

#[tokio::test]
async fn a_large_upload_streams_to_disk_and_must_be_signed() {
    let f = fixture(Duration::from_secs(30)).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = router(f.node.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let key = PrivateKeySigner::random();
    let client = cairn_node::NodeClient::new(&url).with_signer(key);
    // 40 MiB: more than the JSON body limit, streamed to disk.
    let big: Vec<u8> = (0..40u32 << 20).map(|i| (i % 251) as u8).collect();
    let r = client.put_blob(big.clone()).await.unwrap();
    assert_eq!(r, BlobRef::of(&big));
    // While it uploads, the node keeps answering (nothing blocks the runtime).
    assert!(cairn_node::NodeClient::new(&url).info().await.is_ok());
    // Anonymous uploads are refused after the stream, and nothing is kept.
    let e = cairn_node::NodeClient::new(&url)
        .put_blob(b"anonymous".to_vec())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("must be signed"), "{e}");
    assert!(
        f.node
            .blobs()
            .get(&BlobRef::of(b"anonymous").digest().unwrap())
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn claimed_cores_are_matched_only_as_far_as_calibration_shows() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = MemoryLedger::new(1_000_000, 60, 100);
    let node = Node::open(
        NodeConfig::new(dir.path(), "http://127.0.0.1:8545"),
        Arc::new(ledger.clone()),
    )
    .await
    .unwrap();
    let advert = |key: &PrivateKeySigner, cores: u32| ProviderAdvert {
        address: key.address().to_string(),
        capacity: Resources {
            cpu_cores: cores,
            memory_bytes: GIB,
            // 16 H100s on a machine without a GPU.
            gpus: 16,
        },
        ask: Price::default(),
        gpu_names: vec![],
        kinds: vec![cairn_compute::JobKind::Wasm],
        devices: vec![],
        version: "t".into(),
    };
    // The attacker claims 16 times the cores this machine has and answers honestly (as fast
    // as it can): it is credited with what its throughput shows (a few cores per real core at
    // the floor rate), not with its claim.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
    let claim = cores * 16;
    let liar = PrivateKeySigner::random();
    ledger.register(liar.address());
    let v = node
        .advertise(liar.address(), advert(&liar, claim))
        .await
        .unwrap();
    assert_eq!(v.free.cpu_cores, 0, "nothing is matched before calibration");
    let challenge = v.calibration.expect("a calibration");
    assert_eq!(challenge.lanes, claim);
    let answer = tokio::task::spawn_blocking(move || {
        cairn_compute::calibration::answer(&challenge).unwrap()
    })
    .await
    .unwrap();
    let v = node.calibrate(liar.address(), answer).await.unwrap();
    let credited = v.verified_cores.unwrap();
    assert!(
        credited <= cores * 8,
        "{claim} claimed, {credited} credited on {cores} cores"
    );
    assert_eq!(v.free.cpu_cores, credited);
    assert_eq!(
        (v.capacity.gpus, v.free.gpus),
        (16, 0),
        "claimed GPUs are shown but not sold until a device check proves them"
    );

    // A provider that skips the work fails, is not matched, and loses reputation.
    let lazy = PrivateKeySigner::random();
    ledger.register(lazy.address());
    let v = node
        .advertise(lazy.address(), advert(&lazy, 4))
        .await
        .unwrap();
    let c = v.calibration.unwrap();
    let fake = cairn_compute::calibration::Answer {
        seed: c.seed.clone(),
        lanes: vec![hex::encode([0u8; 32]); c.lanes as usize],
    };
    let e = node.calibrate(lazy.address(), fake).await.unwrap_err();
    assert!(e.to_string().contains("the work was not done"), "{e}");
    let v = node.provider(&lazy.address().to_string()).unwrap();
    assert_eq!(
        (v.verified_cores, v.free.cpu_cores, v.leases_lost),
        (Some(0), 0, 1)
    );
    // An answer nobody asked for is refused.
    let e = node
        .calibrate(
            lazy.address(),
            cairn_compute::calibration::Answer {
                seed: c.seed,
                lanes: vec![],
            },
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no calibration pending"), "{e}");

    // A trusted pool (no calibration) takes claims as they are, GPUs included.
    let dir = tempfile::tempdir().unwrap();
    let trusted = Node::open(
        NodeConfig::new(dir.path(), "http://127.0.0.1:8545").without_calibration(),
        Arc::new(ledger.clone()),
    )
    .await
    .unwrap();
    let v = trusted
        .advertise(lazy.address(), advert(&lazy, 4))
        .await
        .unwrap();
    assert_eq!((v.free.cpu_cores, v.free.gpus), (4, 16));
}

#[tokio::test]
async fn a_provider_timed_while_busy_is_calibrated_again_when_it_advertises() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = MemoryLedger::new(1_000_000, 60, 100);
    let node = Node::open(
        NodeConfig::new(dir.path(), "http://127.0.0.1:8545")
            .with_recalibration(Duration::from_secs(1)),
        Arc::new(ledger.clone()),
    )
    .await
    .unwrap();
    let key = PrivateKeySigner::random();
    ledger.register(key.address());
    let advert = ProviderAdvert {
        address: key.address().to_string(),
        capacity: Resources {
            cpu_cores: 1,
            memory_bytes: GIB,
            gpus: 0,
        },
        ask: Price::default(),
        gpu_names: vec![],
        version: "t".into(),
        kinds: vec![cairn_compute::JobKind::Wasm],
        devices: vec![],
    };
    // Busy: the answer comes late, so no core is credited.
    let c = node
        .advertise(key.address(), advert.clone())
        .await
        .unwrap()
        .calibration
        .unwrap();
    let answer = cairn_compute::calibration::answer(&c).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let v = node.calibrate(key.address(), answer).await.unwrap();
    assert_eq!((v.verified_cores, v.free.cpu_cores), (Some(0), 0));
    // Advertising again (the interval since the last challenge has passed) times it again;
    // advertising once more at once does not (at most one calibration per interval).
    let v = node.advertise(key.address(), advert.clone()).await.unwrap();
    let c = v.calibration.expect("a new calibration");
    assert_eq!(
        v.verified_cores,
        Some(0),
        "the old credit stands until it answers"
    );
    let again = node.advertise(key.address(), advert.clone()).await.unwrap();
    assert!(again.calibration.is_none(), "{again:?}");
    // A prompt answer is credited. "Prompt" is wall time on a machine other tests load too:
    // a late answer earns another challenge an interval later, as in production.
    let mut c = c;
    let mut v;
    let mut tries = 0;
    loop {
        tries += 1;
        let answer =
            tokio::task::spawn_blocking(move || cairn_compute::calibration::answer(&c).unwrap())
                .await
                .unwrap();
        v = node.calibrate(key.address(), answer).await.unwrap();
        if v.verified_cores == Some(1) || tries == 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1100)).await;
        c = node
            .advertise(key.address(), advert.clone())
            .await
            .unwrap()
            .calibration
            .expect("a late answer is challenged again after the interval");
    }
    assert_eq!(v.verified_cores, Some(1), "after {tries} challenges");
    assert_eq!(v.free.cpu_cores, 1);
}

#[tokio::test]
async fn a_chain_reset_with_the_same_genesis_is_still_refused() {
    let f = fixture(Duration::from_secs(30)).await;
    let (id, _) = f.submit("[price]\nper_mfuel = 10\n").await;
    let Fixture {
        _dir: dir, node, ..
    } = f;
    drop(node);
    // Same genesis hash and market address, but the job the node escrowed is gone.
    let fresh = MemoryLedger::new(1_000_000, 60, 100);
    let err = Node::open(
        NodeConfig::new(dir.path(), "http://127.0.0.1:8545"),
        Arc::new(fresh),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains(&format!("has no job {id}")) && err.contains("fresh data directory"),
        "{err}"
    );
}

#[tokio::test]
async fn a_cancelled_train_job_is_billed_for_the_steps_its_trace_proves() {
    use cairn_ml::trace::{checkpoint_name, trace_root};
    let f = fixture(Duration::from_secs(30)).await;
    let key = train_provider(&f).await;
    let (id, spec, csv) = submit_train(&f, 100).await;
    f.node.claim(key.address()).unwrap().unwrap();
    f.node.started(key.address(), id).unwrap();
    f.node.chain_pass().await.unwrap();
    f.node.cancel(f.requester, id).unwrap();
    // The run stopped after step 20: checkpoints 0, 10 and 20 (the first 20 steps of the same
    // run), and claims the whole run's units.
    let t = spec.train.clone().unwrap();
    let mut short = t.clone();
    short.steps = 20;
    let data =
        cairn_ml::data::market_samples(&t.data, "train.data", &[("BTCUSDT_1d.csv".into(), csv)])
            .unwrap();
    let run = cairn_ml::train::train(&short, &data, 1, &std::sync::atomic::AtomicBool::new(false))
        .unwrap();
    let mut outputs = vec![];
    for (step, bytes) in [0u64, 10, 20].iter().zip(&run.checkpoints) {
        f.node.blobs().put(bytes).unwrap();
        outputs.push(OutputRef::of(checkpoint_name(*step), bytes));
    }
    f.node.blobs().put(b"").unwrap();
    let stdout = OutputRef::of("stdout", b"");
    let report = RunReport {
        job_id: id,
        output_digest: hex::encode(output_digest(&outputs, &stdout)),
        outputs,
        stdout,
        stderr: OutputRef::of("stderr", b""),
        outcome: RunOutcome::Failed {
            reason: StopReason::Cancelled,
        },
        fuel_used: t.work_units(),
        wall_time_ms: 5,
        trace_root: hex::encode(trace_root(&run.checkpoints)),
        commit_tx: None,
    };
    f.node.report(key.address(), report).await.unwrap();
    f.node.chain_pass().await.unwrap();
    let v = f.node.job(id).unwrap();
    assert_eq!(v.state, JobState::Cancelled);
    let charge = spec.bill(20 * t.parameters(), 5);
    assert!(charge > 0 && charge < spec.bill(t.work_units(), 5));
    assert_eq!(v.paid, Some(charge - charge / 100), "{v:?}");
    assert_eq!(v.refunded, Some(spec.payment - charge));
}

/// A provider that runs `train` jobs, registered and online.
async fn train_provider(f: &Fixture) -> PrivateKeySigner {
    let key = PrivateKeySigner::random();
    f.ledger.register(key.address());
    let ad = ProviderAdvert {
        address: key.address().to_string(),
        capacity: Resources {
            cpu_cores: 2,
            memory_bytes: 4 * GIB,
            gpus: 0,
        },
        ask: Price {
            per_mfuel: 1,
            per_second: 0,
        },
        gpu_names: vec![],
        kinds: vec![cairn_compute::JobKind::Train],
        devices: vec![],
        version: "test".into(),
    };
    f.node.advertise(key.address(), ad).await.unwrap();
    key
}

/// A `train` job of `steps` steps (a checkpoint every 10) on the BTC market data, escrowed on
/// the ledger and submitted: its id, its spec and the data file.
async fn submit_train(f: &Fixture, steps: u64) -> (u64, JobSpec, Vec<u8>) {
    let csv = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/market/BTCUSDT_1d.csv"
    ))
    .unwrap();
    let file = JobFile::from_toml(&format!(
        "name = \"vol\"\nkind = \"train\"\ninputs = [\"BTCUSDT_1d.csv\"]\n[price]\nper_mfuel = 1000000\n[train]\nmodel = \"mlp\"\nhidden = 8\nlearning_rate = 0.01\nsteps = {steps}\ncheckpoint_every = 10\n[train.data]\nreader = \"market\"\nassets = [\"BTC\"]\n",
    ))
    .unwrap();
    let program = file.program().unwrap();
    f.node.blobs().put(&program).unwrap();
    f.node.blobs().put(&csv).unwrap();
    let spec = file
        .resolve(
            BlobRef::of(&program),
            vec![cairn_compute::InputRef {
                name: "BTCUSDT_1d.csv".into(),
                blob: BlobRef::of(&csv),
            }],
            None,
        )
        .unwrap();
    let now = 1_000_000;
    let id = f.ledger.post(
        f.requester,
        B256::from(spec.digest()),
        spec.payment,
        now + 60,
        now + 600,
    );
    f.node
        .submit(SubmitJob {
            job_id: id,
            spec: spec.clone(),
        })
        .await
        .unwrap();
    (id, spec, csv)
}
