//! The API's contract: the OpenAPI document lists every route the router serves.
use super::*;
use std::collections::BTreeSet;

/// `{name}` and `{*rest}` alike, since OpenAPI has no catch-all parameters.
fn normalise(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if in_param => {}
            c => out.push(c),
        }
    }
    out
}

/// `(METHOD, path)` of every route `router()` declares, read from its source, so a route
/// added without documentation fails the test below.
fn declared_routes() -> BTreeSet<(String, String)> {
    let src = include_str!("../../src/api.rs");
    let start = src.find("pub fn router(").expect("api.rs has router()");
    let body = &src[start..];
    let body = &body[..body.find("\n}\n").expect("router() ends")];
    let mut out = BTreeSet::new();
    for chunk in body.split(".route(").skip(1) {
        let (arg, rest) = chunk.split_once(',').expect("route(path, handlers)");
        let path = match arg.trim() {
            a if a.starts_with('"') => a.trim_matches('"').to_owned(),
            a if a.ends_with("OPENAPI_PATH") => cairn_log_server::OPENAPI_PATH.to_owned(),
            a => panic!("route path {a:?}: use a literal or OPENAPI_PATH"),
        };
        let mut depth = 1;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                depth += match c {
                    '(' => 1,
                    ')' => -1,
                    _ => 0,
                };
                depth == 0
            })
            .map(|(i, _)| i)
            .expect("balanced parentheses");
        let handlers = &rest[..end];
        let mut found = false;
        for m in ["get", "post", "put", "delete", "patch"] {
            if handlers.trim_start().starts_with(&format!("{m}("))
                || handlers.contains(&format!(".{m}("))
            {
                out.insert((m.to_uppercase(), normalise(&path)));
                found = true;
            }
        }
        assert!(found, "no method in route {path}: {handlers}");
    }
    assert!(out.len() > 10, "parsed too few routes: {out:?}");
    out
}

#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let f = fixture();
    let (s, bytes, ctype) =
        call(&f.app, "GET", cairn_log_server::OPENAPI_PATH, Body::empty()).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ctype, "application/json");
    let doc = oas3::from_json(std::str::from_utf8(&bytes).unwrap()).expect("an OpenAPI document");
    assert!(doc.openapi.starts_with("3.1."), "{}", doc.openapi);
    assert_eq!(doc.info.title, "Cairn transparency log");
    for (name, schema) in doc.components.as_ref().unwrap().schemas.iter() {
        schema
            .resolve(&doc)
            .unwrap_or_else(|e| panic!("schema {name}: {e}"));
    }
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in v["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            documented.insert((method.to_uppercase(), normalise(path)));
            let responses = op["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|c| c.starts_with('2')),
                "{method} {path} documents no success"
            );
            for code in ["400", "500"] {
                assert!(responses.contains_key(code), "{method} {path} lacks {code}");
            }
            if method == "post" || method == "put" {
                assert!(responses.contains_key("413"), "{method} {path} lacks 413");
            }
        }
    }
    // The tlog-tiles read paths are text and bytes, not JSON.
    let content = |path: &str| {
        v["paths"][path]["get"]["responses"]["200"]["content"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(content("/checkpoint"), ["text/plain; charset=utf-8"]);
    assert_eq!(content("/tile/{path}"), ["application/octet-stream"]);
    let declared = declared_routes();
    let undocumented: Vec<_> = declared.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&declared).collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "served but not documented (add #[utoipa::path] to the handler and list it in crates/log-server/src/openapi.rs): \
         {undocumented:?}; documented but not served: {unserved:?}"
    );
}

#[tokio::test]
async fn every_write_route_refuses_unauthenticated_oversized_and_malformed_requests_with_json() {
    let f = fixture();
    let blobs_dir = f._dir.path().join("blobs");
    let count_blobs = || {
        fn walk(p: &std::path::Path) -> usize {
            std::fs::read_dir(p).map_or(0, |d| {
                d.flatten()
                    .map(|e| {
                        if e.path().is_dir() {
                            walk(&e.path())
                        } else {
                            1
                        }
                    })
                    .sum()
            })
        }
        walk(&blobs_dir)
    };
    let blobs_before = count_blobs();
    let expect = |what: &str, got: (StatusCode, Vec<u8>, String), status, code: &str| {
        let (s, body, ctype) = got;
        assert_eq!(s, status, "{what}: {}", String::from_utf8_lossy(&body));
        assert_eq!(ctype, "application/json", "{what}");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"], code, "{what}: {v}");
        assert!(
            v["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{what}: {v}"
        );
    };
    let key = Key::generate().unwrap();
    let good = submission(&key, 1);

    // POST /add: the envelope's signature is the authentication.
    let mut unsigned = good.clone();
    unsigned["envelope"]["signatures"] = json!([]);
    expect(
        "add unsigned",
        call(&f.app, "POST", "/add", unsigned.to_string()).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    let mut stranger = good.clone();
    stranger["publicKey"] = json!(Key::generate().unwrap().public().to_base64());
    expect(
        "add signed by another key",
        call(&f.app, "POST", "/add", stranger.to_string()).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    expect(
        "add oversized",
        call(&f.app, "POST", "/add", vec![b' '; 4 << 20]).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
    );
    expect(
        "add malformed",
        call(&f.app, "POST", "/add", "{not json").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );

    // PUT /blob: a token the log does not accept; no token for a blob nobody vouches for;
    // over the limit.
    let req = Request::put("/blob")
        .header("authorization", "Bearer guess")
        .body(Body::from("bytes"))
        .unwrap();
    let resp = f.app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    expect(
        "blob with a wrong token",
        (status, body, "application/json".into()),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    expect(
        "blob anonymous",
        call(&f.app, "PUT", "/blob", "bytes").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    expect(
        "blob oversized",
        call(
            &f.app,
            "PUT",
            "/blob",
            vec![0u8; cairn_log_server::MAX_BLOB_BYTES + 1],
        )
        .await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
    );

    // Reads take no body; unknown routes and methods answer JSON.
    expect(
        "a body on a read",
        call(&f.app, "POST", "/checkpoint", "x").await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    expect(
        "unknown route",
        call(&f.app, "GET", "/no/such/route", Body::empty()).await,
        StatusCode::NOT_FOUND,
        "no_route",
    );

    // Nothing was stored.
    assert_eq!(f.log.sequenced(), 0);
    assert_eq!(count_blobs(), blobs_before);
    let _ = &f.signer;
}

/// `GET /anchor`: 404 with JSON when the log anchors nothing; otherwise the contract, chain and
/// interval, `latest` null until an anchor is recorded, then the anchored size, root, block and
/// transaction; an older anchor never replaces a newer one; a failure is reported beside the
/// anchor it keeps.
#[tokio::test]
async fn the_anchor_route_serves_the_latest_anchor_or_says_the_log_anchors_nothing() {
    let f = fixture();
    let (s, body, _) = call(&f.app, "GET", "/anchor", Body::empty()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(
        detail(&body).contains("does not anchor"),
        "{}",
        detail(&body)
    );

    let contract: alloy::primitives::Address = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
        .parse()
        .unwrap();
    let watch =
        cairn_log_server::AnchorWatch::new(contract, 31337, std::time::Duration::from_secs(60));
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(
        LogConfig::new(dir.path().join("log"), "cairn.test/log"),
        NoteSigner::generate("cairn.test/log").unwrap(),
    )
    .unwrap();
    let app = router(AppState::new(
        log,
        BlobStore::new(dir.path().join("blobs")).unwrap(),
        Default::default(),
        ServerConfig {
            anchoring: Some(watch.clone()),
            ..Default::default()
        },
    ));
    let get = || async {
        let (s, body, ctype) = call(&app, "GET", "/anchor", Body::empty()).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(ctype, "application/json");
        serde_json::from_slice::<Value>(&body).unwrap()
    };
    let v = get().await;
    assert_eq!(v["contract"], "0x5FbDB2315678afecb367f032d93F642f64180aa3");
    assert_eq!(v["chainId"], 31337);
    assert_eq!(v["intervalSecs"], 60);
    assert_eq!(v["latest"], Value::Null, "{v}");

    let anchor = |size: u64, byte: u8| cairn_anchor::Anchor {
        size,
        root: alloy::primitives::B256::repeat_byte(byte),
        block_number: 40 + size,
        tx_hash: alloy::primitives::B256::repeat_byte(byte + 1),
    };
    watch.anchored(&anchor(12, 0xab), Some(28_000));
    let v = get().await;
    assert_eq!(v["latest"]["size"], 12, "{v}");
    assert_eq!(v["latest"]["root"], "ab".repeat(32));
    assert_eq!(v["latest"]["blockNumber"], 52);
    assert_eq!(v["latest"]["txHash"], format!("0x{}", "ac".repeat(32)));
    assert_eq!(v["latest"]["gasUsed"], 28_000);
    assert!(v["checkedMs"].as_u64().is_some(), "{v}");

    // An older anchor read back later does not replace the newer one; a failure keeps it.
    watch.anchored(&anchor(5, 0x11), None);
    watch.failed("the chain did not answer");
    let v = get().await;
    assert_eq!(v["latest"]["size"], 12, "{v}");
    assert_eq!(v["lastError"], "the chain did not answer");
}
