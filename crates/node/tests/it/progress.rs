//! Checkpoints of a running `train` job (`POST /jobs/<id>/progress`): only the lease holder's,
//! in order, present in the store and at their step are recorded; a bad report is refused
//! with a 4xx JSON answer and changes nothing; a job whose provider fell silent goes to
//! another with the checkpoints so far as its resume point.
use super::*;
use cairn_compute::api::Progress;
use cairn_ml::train::{TrainState, train};

#[tokio::test]
async fn checkpoints_are_recorded_in_order_bad_reports_refused_and_the_next_provider_resumes() {
    let f = fixture(Duration::from_millis(1000)).await;
    let app = router(f.node.clone());
    let a = train_provider(&f).await;
    let (id, spec, csv) = submit_train(&f, 30).await;
    let lease = f.node.claim(a.address()).unwrap().unwrap();
    assert!(lease.resume.is_empty(), "a fresh job has no resume point");
    f.node.started(a.address(), id).unwrap();
    f.node.chain_pass().await.unwrap();
    // The honest run's checkpoints at steps 0, 10, 20, 30.
    let t = spec.train.clone().unwrap();
    let data =
        cairn_ml::data::market_samples(&t.data, "train.data", &[("BTCUSDT_1d.csv".into(), csv)])
            .unwrap();
    let run = train(&t, &data, 1, &std::sync::atomic::AtomicBool::new(false)).unwrap();
    let cps = run.checkpoints.clone();
    assert_eq!(cps.len(), 4);
    for c in &cps[..3] {
        f.node.blobs().put(c).unwrap();
    }

    let send = |key: &PrivateKeySigner, job: u64, step: u64, bytes: &[u8]| {
        let uri = format!("/jobs/{job}/progress");
        let body = serde_json::to_vec(&Progress {
            step,
            checkpoint: BlobRef::of(bytes),
        })
        .unwrap();
        let auth = sign_request(key, "POST", &uri, &body);
        call(
            &app,
            Request::post(uri)
                .header(AUTH_HEADER, auth)
                .body(Body::from(body))
                .unwrap(),
        )
    };
    let progress = |f: &Fixture| f.node.job(id).unwrap().progress;
    let refused = |got: (StatusCode, serde_json::Value, Vec<u8>), status, want: &str| {
        let (s, v, _) = got;
        assert_eq!(s, status, "{v}");
        let detail = v["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(want), "{want:?} not in {v}");
    };

    // The lease holder's checkpoints at 0 and 10, in order.
    let (s, v, _) = send(&a, id, 0, &cps[0]).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["provider"], a.address().to_string());
    let (s, v, _) = send(&a, id, 10, &cps[1]).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let held = progress(&f).unwrap();
    assert_eq!(
        (held.step, held.sha256.clone()),
        (10, BlobRef::of(&cps[1]).sha256)
    );
    // A retry after a lost answer changes nothing and is not an error.
    let (s, _, _) = send(&a, id, 10, &cps[1]).await;
    assert_eq!(s, StatusCode::OK);
    let events = f.node.logs(id).unwrap().events.len();

    // Bad reports: refused with 4xx JSON, and nothing changes.
    let b = train_provider(&f).await;
    refused(
        send(&a, 9999, 20, &cps[2]).await,
        StatusCode::NOT_FOUND,
        "no job 9999",
    );
    refused(
        send(&b, id, 20, &cps[2]).await,
        StatusCode::CONFLICT,
        "is not leased to",
    );
    refused(
        send(&a, id, 20, &cps[3]).await,
        StatusCode::BAD_REQUEST,
        "is not in the node's store",
    );
    refused(
        send(&a, id, 0, &cps[2]).await,
        StatusCode::BAD_REQUEST,
        "is at step 20, not 0",
    );
    let mut other = TrainState::from_bytes(&cps[0], &t).unwrap();
    other.params[0] += 1.0;
    let other = other.to_bytes();
    f.node.blobs().put(&other).unwrap();
    refused(
        send(&a, id, 0, &other).await,
        StatusCode::BAD_REQUEST,
        "is not job",
    );
    let mut back = TrainState::from_bytes(&cps[1], &t).unwrap();
    back.params[0] += 1.0;
    let back = back.to_bytes();
    f.node.blobs().put(&back).unwrap();
    refused(
        send(&a, id, 10, &back).await,
        StatusCode::CONFLICT,
        "goes backwards",
    );
    f.node.blobs().put(&cps[3]).unwrap();
    refused(
        send(&a, id, 30, &cps[3]).await,
        StatusCode::CONFLICT,
        "skips ahead",
    );
    refused(
        send(&a, id, 15, &cps[2]).await,
        StatusCode::BAD_REQUEST,
        "not one of job",
    );
    assert_eq!(
        progress(&f),
        Some(held.clone()),
        "a refused report changed the record"
    );
    assert_eq!(f.node.logs(id).unwrap().events.len(), events);

    // a falls silent; b takes the job with the checkpoints so far.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    f.node
        .heartbeat(b.address(), &Heartbeat::default())
        .unwrap();
    f.node.schedule().unwrap();
    let lease = f.node.claim(b.address()).unwrap().expect("b gets the job");
    assert_eq!(
        lease.resume.iter().map(|c| c.step).collect::<Vec<_>>(),
        vec![0, 10]
    );
    let v = f.node.job(id).unwrap();
    let r = v.resumed.clone().unwrap();
    assert_eq!(
        r.to_string(),
        format!(
            "resumed from step 10 (checkpoint sha256:{}) on provider {} after provider {} failed",
            BlobRef::of(&cps[1]).sha256,
            b.address(),
            a.address()
        )
    );
    assert!(
        f.node
            .logs(id)
            .unwrap()
            .events
            .iter()
            .any(|e| e.message == r.to_string())
    );
    // a's reports are refused now; b's continue after a's.
    refused(
        send(&a, id, 20, &cps[2]).await,
        StatusCode::CONFLICT,
        "is not leased to",
    );
    f.node.started(b.address(), id).unwrap();
    let (s, v, _) = send(&b, id, 20, &cps[2]).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(progress(&f).unwrap().provider, b.address().to_string());
    // Checkpoints the store holds for a job are not collected.
    assert!(f.node.collect_blobs(Duration::ZERO).unwrap() > 0);
    for c in &cps[..3] {
        assert!(
            f.node
                .blobs()
                .get(&BlobRef::of(c).digest().unwrap())
                .unwrap()
                .is_some()
        );
    }
}
