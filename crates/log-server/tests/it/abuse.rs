//! Strangers write: anonymous blobs nobody references, floods of adds from one address or one
//! key, envelopes with duplicate keys. Each is refused with a JSON error saying why, and the
//! log is unchanged.
use super::{call, detail, submission};
use axum::{Router, body::Body, http::StatusCode};
use cairn_attest::Key;
use cairn_log::{Log, LogConfig};
use cairn_log_server::{AppState, BlobStore, RateLimits, ServerConfig, mentions_of, router};
use cairn_tlog::NoteSigner;
use std::sync::Arc;

fn app(config: ServerConfig) -> (tempfile::TempDir, Router, Log) {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(
        LogConfig::new(dir.path().join("log"), "cairn.test/log")
            .with_mentions(Arc::new(|e: &[u8]| mentions_of(e))),
        NoteSigner::generate("cairn.test/log").unwrap(),
    )
    .unwrap();
    let blobs = BlobStore::new(dir.path().join("blobs")).unwrap();
    let app = router(AppState::new(
        log.clone(),
        blobs,
        Default::default(),
        config,
    ));
    (dir, app, log)
}

#[tokio::test]
async fn anonymous_blobs_need_a_statement_that_names_them_or_a_token() {
    let (_d, app, _log) = app(ServerConfig {
        upload_tokens: vec!["s3cret".into()],
        ..Default::default()
    });
    let (s, body, _) = call(&app, "PUT", "/blob", vec![0u8; 1 << 20]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(detail(&body).contains("no logged statement names sha256:"));
    // With the upload token it is stored.
    let req = axum::http::Request::put("/blob")
        .header("authorization", "Bearer s3cret")
        .body(Body::from(vec![0u8; 1 << 20]))
        .unwrap();
    let resp = tower::ServiceExt::oneshot(app.clone(), req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    // A wrong token is refused as such (401), not taken as anonymous.
    let req = axum::http::Request::put("/blob")
        .header("authorization", "Bearer guess")
        .body(Body::from("other bytes"))
        .unwrap();
    let resp = tower::ServiceExt::oneshot(app.clone(), req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    // Once a statement names it (statement 3's manifest), anyone may upload it.
    let key = Key::generate().unwrap();
    let (s, _, _) = call(
        &app,
        "POST",
        "/add?wait=integrated",
        submission(&key, 3).to_string(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (s, body, _) = call(&app, "PUT", "/blob", "manifest 3").await;
    assert_eq!(s, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
}

#[tokio::test]
async fn adds_over_the_rate_limit_get_429_with_retry_after() {
    let (_d, app, log) = app(ServerConfig {
        rate_limits: RateLimits {
            adds_per_sec_per_key: 0.01,
            add_burst_per_key: 2.0,
            ..RateLimits::default()
        },
        ..Default::default()
    });
    let key = Key::generate().unwrap();
    for i in 0..2 {
        let (s, _, _) = call(&app, "POST", "/add", submission(&key, i).to_string()).await;
        assert_eq!(s, StatusCode::OK);
    }
    let req = axum::http::Request::post("/add")
        .body(Body::from(submission(&key, 2).to_string()))
        .unwrap();
    let resp = tower::ServiceExt::oneshot(app.clone(), req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().get("retry-after").is_some());
    // Another key is not affected.
    let other = Key::generate().unwrap();
    let (s, _, _) = call(&app, "POST", "/add", submission(&other, 9).to_string()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(log.sequenced(), 3);
    let (_, body, _) = call(&app, "GET", "/metrics", Body::empty()).await;
    let m = String::from_utf8(body).unwrap();
    assert!(m.contains("cairn_log_rate_limited_total 1\n"), "{m}");

    // Per address (all oneshot requests share the "unknown" address).
    let (_d2, app2, _) = app_with_address_limit();
    let (s, _, _) = call(&app2, "POST", "/add", submission(&key, 0).to_string()).await;
    assert_eq!(s, StatusCode::OK);
    let (s, body, _) = call(&app2, "POST", "/add", submission(&other, 1).to_string()).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert!(detail(&body).contains("this address"));
}

fn app_with_address_limit() -> (tempfile::TempDir, Router, Log) {
    app(ServerConfig {
        rate_limits: RateLimits {
            adds_per_sec_per_address: 0.01,
            add_burst_per_address: 1.0,
            ..RateLimits::default()
        },
        ..Default::default()
    })
}

#[tokio::test]
async fn envelopes_with_duplicate_keys_are_refused() {
    let (_d, app, log) = app(ServerConfig::default());
    let key = Key::generate().unwrap();
    let good = submission(&key, 1);
    let env = good["envelope"].to_string();
    // The same payload twice: which one was signed depends on the parser.
    let payload = good["envelope"]["payload"].as_str().unwrap();
    let twice = env.replacen(
        "\"payload\":",
        &format!("\"payload\":\"{payload}\",\"payload\":"),
        1,
    );
    let body = format!(
        "{{\"envelope\":{twice},\"publicKey\":\"{}\"}}",
        key.public().to_base64()
    );
    let (s, resp, _) = call(&app, "POST", "/add", body).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        detail(&resp).contains("duplicate key `payload`"),
        "{}",
        detail(&resp)
    );
    assert_eq!(log.sequenced(), 0);
}

#[tokio::test]
async fn a_damaged_journal_makes_the_service_read_only_with_a_metric_and_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let signer = NoteSigner::generate("cairn.test/log").unwrap();
    let config = || {
        LogConfig::new(dir.path().join("log"), "cairn.test/log")
            .with_mentions(Arc::new(|e: &[u8]| mentions_of(e)))
    };
    let key = Key::generate().unwrap();
    {
        let log = Log::open(config(), signer.clone()).unwrap();
        let blobs = BlobStore::new(dir.path().join("blobs")).unwrap();
        let app = router(AppState::new(
            log.clone(),
            blobs,
            Default::default(),
            Default::default(),
        ));
        for i in 0..3 {
            let body = submission(&key, i).to_string();
            let (s, _, _) = call(&app, "POST", "/add?wait=integrated", body).await;
            assert_eq!(s, StatusCode::OK);
        }
        log.close();
    }
    let journal = dir.path().join("log/journal");
    let mut bytes = std::fs::read(&journal).unwrap();
    bytes[16 + 30] ^= 0x10; // inside the first record
    std::fs::write(&journal, &bytes).unwrap();

    let log = Log::open(config(), signer).unwrap();
    let blobs = BlobStore::new(dir.path().join("blobs")).unwrap();
    let app = router(AppState::new(
        log.clone(),
        blobs,
        Default::default(),
        Default::default(),
    ));
    let (s, body, _) = call(&app, "POST", "/add", submission(&key, 9).to_string()).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"], "read_only");
    let d = v["detail"].as_str().unwrap();
    assert!(
        d.contains("offset 16") && d.contains("Restore the journal"),
        "{d}"
    );
    let (s, body, _) = call(&app, "GET", "/checkpoint", Body::empty()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        String::from_utf8(body)
            .unwrap()
            .starts_with("cairn.test/log\n3\n")
    );
    let (_, body, _) = call(&app, "GET", "/metrics", Body::empty()).await;
    let m = String::from_utf8(body).unwrap();
    assert!(m.contains("cairn_log_read_only 1\n"), "{m}");
    assert!(
        m.contains("cairn_log_journal_verified 0\n"),
        "a damaged journal never counts as verified: {m}"
    );
    let (_, body, _) = call(&app, "GET", "/log", Body::empty()).await;
    let info: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(info["readOnly"].as_str().unwrap().contains("damaged"));
    log.close();
}
