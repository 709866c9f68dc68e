//! Witness-gated publishing under load: every served checkpoint and every bundle carries the
//! witness's cosignature, however fast the tree moves while the witness answers.
use super::{call, submission};
use axum::{body::Body, http::StatusCode};
use cairn_attest::Key;
use cairn_log::{Log, LogConfig};
use cairn_log_server::{
    AppState, BlobStore, Bundle, ServerConfig, TrustPolicy, WitnessEndpoint, cosign_loop,
    mentions_of, router,
};
use cairn_tlog::{Checkpoint, Cosigner, Note, NoteSigner};
use cairn_witness::{Witness, WitnessConfig};
use serde_json::Value;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_a_stream_of_appends_every_bundle_carries_the_witness_cosignature() {
    let dir = tempfile::tempdir().unwrap();
    let signer = NoteSigner::generate("cairn.test/log").unwrap();
    let cosigner = Cosigner::generate("witness.test/w").unwrap();
    let witness = Witness::open(
        WitnessConfig {
            state_file: dir.path().join("witness.json"),
            logs: vec![signer.verifier()],
        },
        cosigner.clone(),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let wurl = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, cairn_witness::router(Arc::new(witness)))
            .await
            .unwrap()
    });

    let config = LogConfig::new(dir.path().join("log"), "cairn.test/log")
        .with_mentions(Arc::new(|e: &[u8]| mentions_of(e)))
        .with_witness_gating(true);
    let log = Log::open(config, signer.clone()).unwrap();
    tokio::spawn(cosign_loop(
        log.clone(),
        vec![WitnessEndpoint {
            url: wurl,
            verifier: cosigner.verifier(),
        }],
    ));
    let app = router(AppState::new(
        log.clone(),
        BlobStore::new(dir.path().join("blobs")).unwrap(),
        Default::default(),
        ServerConfig::default(),
    ));
    let policy = TrustPolicy {
        log_key: signer.verifier(),
        witnesses: vec![cosigner.verifier()],
        witness_quorum: 1,
    };

    // 8 submitters × 15 statements, each waiting for its bundle, while a reader polls the
    // served checkpoint.
    let key = Arc::new(Key::generate().unwrap());
    let mut tasks = Vec::new();
    for t in 0..8u64 {
        let (app, key, policy) = (app.clone(), key.clone(), policy.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..15u64 {
                let body = submission(&key, t * 1000 + i).to_string();
                let (s, body, _) = call(&app, "POST", "/add?wait=integrated", body).await;
                assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
                let v: Value = serde_json::from_slice(&body).unwrap();
                let bundle: Bundle = serde_json::from_value(v["bundle"].clone()).unwrap();
                let verified = bundle
                    .verify(&policy)
                    .unwrap_or_else(|e| panic!("bundle {} lacks the cosignature: {e}", v["index"]));
                assert_eq!(verified.witnesses.len(), 1);
            }
        }));
    }
    let reader = {
        let (app, signer, cosigner) = (app.clone(), signer.clone(), cosigner.clone());
        tokio::spawn(async move {
            let mut seen = 0;
            for _ in 0..200 {
                let (_, body, _) = call(&app, "GET", "/checkpoint", Body::empty()).await;
                let text = String::from_utf8(body).unwrap();
                let (cp, note): (Checkpoint, Note) =
                    Checkpoint::open(&text, &signer.verifier()).unwrap();
                if cp.size > 0 {
                    assert!(
                        cosigner.verifier().verify_note(&note).unwrap().is_some(),
                        "served checkpoint {} without the cosignature",
                        cp.size
                    );
                    seen += 1;
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            seen
        })
    };
    for t in tasks {
        t.await.unwrap();
    }
    assert!(reader.await.unwrap() > 0);
    assert_eq!(log.size(), 120);
    log.close();
}

/// A witness that remembers every request and claims to be at size 7: the log must only ever
/// send requests that can verify — an empty proof only from size 0 or to the same size, and
/// otherwise a real consistency proof from the size the witness named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_never_sends_a_witness_a_request_that_cannot_verify() {
    use axum::{body::Bytes, http::header, routing::post};
    use cairn_witness::AddCheckpoint;
    let dir = tempfile::tempdir().unwrap();
    let signer = NoteSigner::generate("cairn.test/log").unwrap();
    let seen: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let witness = axum::Router::new().route(
        "/add-checkpoint",
        post({
            let seen = seen.clone();
            move |body: Bytes| {
                let seen = seen.clone();
                async move {
                    seen.lock()
                        .unwrap()
                        .push(String::from_utf8(body.to_vec()).unwrap());
                    (
                        StatusCode::CONFLICT,
                        [(header::CONTENT_TYPE, "text/x.tlog.size")],
                        "7\n",
                    )
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let wurl = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, witness).await.unwrap() });

    let log = Log::open(
        LogConfig::new(dir.path().join("log"), "cairn.test/log").with_witness_gating(true),
        signer.clone(),
    )
    .unwrap();
    let key = Key::generate().unwrap();
    let app = router(AppState::new(
        log.clone(),
        BlobStore::new(dir.path().join("blobs")).unwrap(),
        Default::default(),
        ServerConfig::default(),
    ));
    // Size 3 first (the witness's 7 is beyond it), then 12.
    for i in 0..3 {
        call(&app, "POST", "/add", submission(&key, i).to_string()).await;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while log.signed_size() < 3 {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let cosigning = tokio::spawn(cosign_loop(
        log.clone(),
        vec![WitnessEndpoint {
            url: wurl,
            verifier: Cosigner::generate("witness.test/w").unwrap().verifier(),
        }],
    ));
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    for i in 3..12 {
        call(&app, "POST", "/add", submission(&key, i).to_string()).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    cosigning.abort();

    let seen = seen.lock().unwrap().clone();
    assert!(seen.len() >= 2, "{seen:?}");
    let mut from_seven = 0;
    for body in &seen {
        let req = AddCheckpoint::parse(body).unwrap();
        let (cp, _) = Checkpoint::open(&req.checkpoint, &signer.verifier()).unwrap();
        assert!(
            req.old_size <= cp.size,
            "old {} beyond {}",
            req.old_size,
            cp.size
        );
        if req.old_size == 0 || req.old_size == cp.size {
            assert!(req.proof.is_empty(), "{body}");
        } else {
            cairn_tlog::verify_consistency(
                req.old_size,
                cp.size,
                &log.root(req.old_size).unwrap(),
                &cp.root,
                &req.proof,
            )
            .unwrap_or_else(|e| panic!("a request that cannot verify ({e}): {body}"));
            from_seven += 1;
        }
    }
    assert!(
        from_seven > 0,
        "never retried from the witness's size: {seen:?}"
    );
    // Nothing was cosigned, so nothing past size 0 is served.
    assert_eq!(log.size(), 0);
    log.close();
}
