//! The HTTP API through `Router::oneshot` (no socket): every bad input gets a 4xx with a JSON
//! body naming what was wrong, and leaves the log unchanged.
use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode},
};
use cairn_attest::{Digest, Envelope, Key, Statement, Subject, predicate::DatasetV1};
use cairn_log::{Log, LogConfig};
use cairn_log_server::{
    AppState, BlobStore, Bundle, ServerConfig, TrustPolicy, mentions_of, router,
};
use cairn_tlog::NoteSigner;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt;

struct Fixture {
    _dir: tempfile::TempDir,
    app: Router,
    log: Log,
    signer: NoteSigner,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let signer = NoteSigner::generate("cairn.test/log").unwrap();
    let config = LogConfig::new(dir.path().join("log"), "cairn.test/log")
        .with_mentions(Arc::new(|e: &[u8]| mentions_of(e)));
    let log = Log::open(config, signer.clone()).unwrap();
    let blobs = BlobStore::new(dir.path().join("blobs")).unwrap();
    let app = router(AppState::new(
        log.clone(),
        blobs,
        Default::default(),
        ServerConfig::default(),
    ));
    Fixture {
        _dir: dir,
        app,
        log,
        signer,
    }
}

fn statement(i: u64) -> Statement<DatasetV1> {
    let manifest = Digest::sha256_of(format!("manifest {i}").as_bytes());
    let p = DatasetV1 {
        name: format!("set-{i}"),
        root: format!(
            "blake3:{}",
            Digest::sha256_of(format!("root {i}").as_bytes()).hex()
        )
        .parse()
        .unwrap(),
        file_count: 2,
        total_bytes: 10,
        manifest: manifest.clone(),
        license: None,
        source: None,
    };
    Statement::new(vec![Subject::new("manifest.json", &manifest)], p)
}

fn submission(key: &Key, i: u64) -> Value {
    let env = Envelope::sign_statement(&statement(i), key).unwrap();
    json!({ "envelope": env, "publicKey": key.public().to_base64() })
}

async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    body: impl Into<Body>,
) -> (StatusCode, Vec<u8>, String) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .body(body.into())
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let ctype = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, bytes, ctype)
}

fn detail(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body)
        .unwrap_or_else(|_| panic!("not a JSON error: {}", String::from_utf8_lossy(body)));
    assert!(v["error"].is_string());
    v["detail"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn add_then_read_everything_back_over_the_tlog_tiles_paths() {
    let f = fixture();
    let key = Key::generate().unwrap();
    let (s, body, _) = call(
        &f.app,
        "POST",
        "/add?wait=integrated",
        submission(&key, 1).to_string(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (v["index"].as_u64(), v["integrated"].as_bool()),
        (Some(0), Some(true))
    );
    let bundle: Bundle = serde_json::from_value(v["bundle"].clone()).unwrap();
    let policy = TrustPolicy {
        log_key: f.signer.verifier(),
        witnesses: vec![],
        witness_quorum: 0,
    };
    let verified = bundle.verify(&policy).unwrap();
    assert_eq!(verified.index, 0);

    let (s, body, ctype) = call(&f.app, "GET", "/checkpoint", Body::empty()).await;
    assert_eq!(
        (s, ctype.as_str()),
        (StatusCode::OK, "text/plain; charset=utf-8")
    );
    assert!(
        String::from_utf8(body)
            .unwrap()
            .starts_with("cairn.test/log\n1\n")
    );
    let (s, body, ctype) = call(&f.app, "GET", "/tile/0/000.p/1", Body::empty()).await;
    assert_eq!(
        (s, ctype.as_str(), body.len()),
        (StatusCode::OK, "application/octet-stream", 32)
    );
    let (s, body, _) = call(&f.app, "GET", "/tile/entries/000.p/1", Body::empty()).await;
    assert_eq!((s, body.len()), (StatusCode::OK, 2 + cairn_log::ENTRY_SIZE));
    let (s, _, _) = call(&f.app, "GET", "/tile/0/000", Body::empty()).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "no full tile yet");

    // The signer's key is a blob under its own hash; the envelope under its digest.
    let (s, body, _) = call(
        &f.app,
        "GET",
        &format!("/blob/sha256/{}", key.public().key_id()),
        Body::empty(),
    )
    .await;
    assert_eq!(
        (s, body),
        (StatusCode::OK, key.public().to_bytes().to_vec())
    );
    let env_hex = v["envelopeDigest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_owned();
    let (s, _, ctype) = call(
        &f.app,
        "GET",
        &format!("/blob/sha256/{env_hex}"),
        Body::empty(),
    )
    .await;
    assert_eq!((s, ctype.as_str()), (StatusCode::OK, "application/json"));

    // Lineage by the dataset root.
    let root = statement(1).predicate.root.to_string();
    let (s, body, _) = call(&f.app, "GET", &format!("/lineage/{root}"), Body::empty()).await;
    assert_eq!(s, StatusCode::OK);
    let l: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(l["entries"][0]["kind"], "dataset");

    // A duplicate gets the same index; metrics count it.
    let (_, body, _) = call(&f.app, "POST", "/add", submission(&key, 1).to_string()).await;
    let dup: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (dup["index"].as_u64(), dup["duplicate"].as_bool()),
        (Some(0), Some(true))
    );
    let (_, body, _) = call(&f.app, "GET", "/metrics", Body::empty()).await;
    let m = String::from_utf8(body).unwrap();
    assert!(
        m.contains("cairn_log_tree_size 1\n") && m.contains("cairn_log_duplicates_total 1\n"),
        "{m}"
    );

    // Put and get a blob the logged statement names (its manifest).
    let (s, body, _) = call(&f.app, "PUT", "/blob", "manifest 1").await;
    assert_eq!(s, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    let d: Value = serde_json::from_slice(&body).unwrap();
    let hex = d["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_owned();
    let (s, body, _) = call(&f.app, "GET", &format!("/blob/sha256/{hex}"), Body::empty()).await;
    assert_eq!((s, body.as_slice()), (StatusCode::OK, &b"manifest 1"[..]));
}

#[tokio::test]
async fn bad_submissions_are_4xx_with_the_field_named_and_change_nothing() {
    let f = fixture();
    let key = Key::generate().unwrap();
    let good = submission(&key, 7);

    let mut bad_sig = good.clone();
    let env = &mut bad_sig["envelope"];
    let sig = env["signatures"][0]["sig"].as_str().unwrap().to_owned();
    let first = if sig.starts_with('A') { "B" } else { "A" };
    let flipped = format!("{first}{}", &sig[1..]);
    env["signatures"][0]["sig"] = json!(flipped);

    let mut wrong_key = good.clone();
    wrong_key["publicKey"] = json!(Key::generate().unwrap().public().to_base64());

    let unknown_type = {
        let mut st: Value = serde_json::to_value(statement(8)).unwrap();
        st["predicateType"] = json!("https://example.com/unknown/v1");
        let env = Envelope::sign_payload(
            "application/vnd.in-toto+json",
            st.to_string().into_bytes(),
            &key,
        );
        json!({ "envelope": env, "publicKey": key.public().to_base64() })
    };

    let cases: Vec<(String, StatusCode, &str)> = vec![
        ("{not json".into(), StatusCode::BAD_REQUEST, "must be JSON"),
        (json!({ "envelope": good["envelope"] }).to_string(), StatusCode::BAD_REQUEST, "publicKey"),
        (json!({ "envelope": good["envelope"], "publicKey": "zz" }).to_string(), StatusCode::BAD_REQUEST, "publicKey"),
        (bad_sig.to_string(), StatusCode::UNAUTHORIZED, "envelope"),
        (wrong_key.to_string(), StatusCode::UNAUTHORIZED, "envelope"),
        (unknown_type.to_string(), StatusCode::BAD_REQUEST, "predicateType"),
        (
            json!({ "envelope": { "payload": "x".repeat(200_000), "payloadType": "t", "signatures": [] }, "publicKey": key.public().to_base64() }).to_string(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "too large",
        ),
    ];
    for (body, status, needle) in cases {
        let (s, resp, _) = call(&f.app, "POST", "/add", body.clone()).await;
        assert_eq!(s, status, "{}", String::from_utf8_lossy(&resp));
        if !needle.is_empty() {
            let d = detail(&resp);
            assert!(d.contains(needle), "{needle:?} not in {d:?}");
        }
    }
    assert_eq!(f.log.size(), 0);
    assert!(f.log.entry(0).is_err(), "nothing was sequenced");

    for (uri, status) in [
        ("/tile/0/0001", StatusCode::BAD_REQUEST),
        ("/tile/9/x01/000", StatusCode::BAD_REQUEST),
        ("/proof/0", StatusCode::NOT_FOUND),
        ("/proof/minus-one", StatusCode::BAD_REQUEST),
        ("/proof/+1", StatusCode::BAD_REQUEST),
        ("/bundle/01", StatusCode::BAD_REQUEST),
        ("/consistency/5/2", StatusCode::BAD_REQUEST),
        ("/consistency/0/9", StatusCode::NOT_FOUND),
        ("/lineage/md5:abc", StatusCode::BAD_REQUEST),
        ("/blob/sha256/XYZ", StatusCode::BAD_REQUEST),
        (
            "/blob/sha256/0000000000000000000000000000000000000000000000000000000000000000",
            StatusCode::NOT_FOUND,
        ),
        ("/add?wait=forever", StatusCode::BAD_REQUEST),
    ] {
        let method = if uri.starts_with("/add") {
            "POST"
        } else {
            "GET"
        };
        let (s, body, _) = call(&f.app, method, uri, good.to_string()).await;
        assert_eq!(s, status, "{uri}: {}", String::from_utf8_lossy(&body));
        detail(&body);
    }
    // An index beyond every entry is not "retry shortly".
    let (s, body, _) = call(&f.app, "GET", "/bundle/18446744073709551615", Body::empty()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let d = detail(&body);
    assert!(d.contains("no entry") && !d.contains("retry"), "{d}");
}

mod abuse;
mod api;
mod witnessed;

/// While the journal replays, the published checkpoint and tiles are served at once; other
/// requests wait for the log to open and are then answered by the full router.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_are_served_while_the_log_opens() {
    let dir = tempfile::tempdir().unwrap();
    let signer = NoteSigner::generate("cairn.test/log").unwrap();
    let config = || {
        LogConfig::new(dir.path().join("log"), "cairn.test/log")
            .with_mentions(Arc::new(|e: &[u8]| mentions_of(e)))
    };
    let key = Key::generate().unwrap();
    let published = {
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
            assert_eq!(
                call(&app, "POST", "/add?wait=integrated", body).await.0,
                StatusCode::OK
            );
        }
        let cp = log.checkpoint();
        log.close();
        cp
    };
    let starting = cairn_log_server::StartingRouter::new(&dir.path().join("log")).unwrap();
    let app = starting.router();
    let (s, body, _) = call(&app, "GET", "/checkpoint", Body::empty()).await;
    assert_eq!(
        (s, String::from_utf8(body).unwrap()),
        (StatusCode::OK, published)
    );
    let (s, body, _) = call(&app, "GET", "/tile/0/000.p/3", Body::empty()).await;
    assert_eq!((s, body.len()), (StatusCode::OK, 3 * 32));
    // An add waits for the log to open.
    let pending = {
        let (app, body) = (app.clone(), submission(&key, 7).to_string());
        tokio::spawn(async move { call(&app, "POST", "/add", body).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(!pending.is_finished());
    let log = Log::open(config(), signer).unwrap();
    let blobs = BlobStore::new(dir.path().join("blobs")).unwrap();
    starting.ready(router(AppState::new(
        log.clone(),
        blobs,
        Default::default(),
        Default::default(),
    )));
    let (s, body, _) = pending.await.unwrap();
    assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["index"], 3);
    log.close();
}
