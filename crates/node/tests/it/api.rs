//! The API's contract: the OpenAPI document lists every route the router serves, and errors
//! are JSON with the right 4xx.
use super::*;
use std::collections::{BTreeMap, BTreeSet};

/// `(METHOD, path)` of every route `router()` declares, read from its source, so a route
/// added without documentation fails [`the_openapi_document_lists_every_route`].
fn declared_routes() -> BTreeSet<(String, String)> {
    let src = include_str!("../../src/http.rs");
    let start = src.find("pub fn router(").expect("http.rs has router()");
    let body = &src[start..];
    let body = &body[..body.find("\n}\n").expect("router() ends")];
    let mut out = BTreeSet::new();
    for chunk in body.split(".route(").skip(1) {
        let (arg, rest) = chunk.split_once(',').expect("route(path, handlers)");
        let path = match arg.trim() {
            a if a.starts_with('"') => a.trim_matches('"').to_owned(),
            a if a.ends_with("OPENAPI_PATH") => cairn_node::OPENAPI_PATH.to_owned(),
            a => panic!("route path {a:?}: use a literal or OPENAPI_PATH"),
        };
        // The method router runs to the route's closing parenthesis.
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
            let at_start = handlers.trim_start().starts_with(&format!("{m}("));
            if at_start || handlers.contains(&format!(".{m}(")) {
                out.insert((m.to_uppercase(), path.clone()));
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
    let f = fixture(Duration::from_secs(30)).await;
    let app = router(f.node.clone());
    let (s, v, bytes) = call(
        &app,
        Request::get(cairn_node::OPENAPI_PATH)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    // It parses as an OpenAPI 3.1 document.
    let doc = oas3::from_json(std::str::from_utf8(&bytes).unwrap()).expect("an OpenAPI document");
    assert!(doc.openapi.starts_with("3.1."), "{}", doc.openapi);
    assert_eq!(doc.info.title, "Cairn compute node");
    // Every schema reference resolves.
    for (name, schema) in doc.components.as_ref().unwrap().schemas.iter() {
        schema
            .resolve(&doc)
            .unwrap_or_else(|e| panic!("schema {name}: {e}"));
    }

    let mut documented = BTreeSet::new();
    for (path, item) in &v["paths"].as_object().unwrap().clone() {
        for (method, op) in item.as_object().unwrap() {
            documented.insert((method.to_uppercase(), path.clone()));
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
            if op.get("security").is_some() {
                assert!(responses.contains_key("401"), "{method} {path} lacks 401");
            }
            // Every body and answer type named is defined.
            for r in op.to_string().split("#/components/schemas/").skip(1) {
                let name = &r[..r.find('"').unwrap()];
                assert!(
                    v["components"]["schemas"][name].is_object(),
                    "{method} {path} names undefined schema {name}"
                );
            }
        }
    }
    let declared = declared_routes();
    let undocumented: Vec<_> = declared.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&declared).collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "served but not documented (add #[utoipa::path] to the handler and list it in crates/node/src/openapi.rs): \
         {undocumented:?}; documented but not served: {unserved:?}"
    );

    // And each documented route is routed (not the router's 404 or 405).
    let addr = PrivateKeySigner::random().address().to_string();
    for (method, path) in &documented {
        let uri = path
            .replace("{id}", "1")
            .replace("{addr}", &addr)
            .replace("{sha256}", &"00".repeat(32));
        let req = Request::builder()
            .method(method.as_str())
            .uri(&uri)
            .body(Body::empty())
            .unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
        if status == StatusCode::NOT_FOUND {
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            assert!(
                v["detail"].is_string() && v["error"] != "no_route",
                "{method} {uri} is not routed: {v}"
            );
        }
    }
}

/// Reads server-sent events from `body` until `done` says so (or 20 s pass: a failure).
async fn read_events(
    body: &mut Body,
    buf: &mut String,
    mut done: impl FnMut(&[(u64, String, serde_json::Value)]) -> bool,
) -> Vec<(u64, String, serde_json::Value)> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done(&out) {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .unwrap_or_else(|_| panic!("the stream stalled; events so far: {out:#?}"))
            .expect("the stream is open")
            .unwrap();
        let Ok(data) = frame.into_data() else {
            continue;
        };
        buf.push_str(std::str::from_utf8(&data).unwrap());
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let (mut id, mut kind, mut data) = (None, None, None);
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id: ") {
                    id = Some(v.parse::<u64>().unwrap());
                } else if let Some(v) = line.strip_prefix("event: ") {
                    kind = Some(v.to_owned());
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = Some(serde_json::from_str::<serde_json::Value>(v).unwrap());
                }
            }
            if let (Some(id), Some(kind), Some(data)) = (id, kind, data) {
                assert_eq!(data["id"], id, "the SSE id is the event's id");
                assert_eq!(data["kind"], kind.as_str());
                out.push((id, kind, data));
            }
        }
    }
    out
}

fn states_of(events: &[(u64, String, serde_json::Value)], job: u64) -> Vec<String> {
    events
        .iter()
        .filter(|(_, k, d)| k == "job" && d["data"]["id"] == job)
        .map(|(_, _, d)| d["data"]["state"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_event_stream_shows_a_job_advancing_in_order_and_resumes() {
    let f = fixture(Duration::from_secs(30)).await;
    let app = router(f.node.clone());
    let subscribe = |last: Option<String>| {
        let mut req = Request::get("/events");
        if let Some(l) = last {
            req = req.header("last-event-id", l);
        }
        app.clone().oneshot(req.body(Body::empty()).unwrap())
    };
    let resp = subscribe(None).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut body = resp.into_body();
    let mut buf = String::new();

    let key = f.provider(4, 1).await;
    let (id, _) = f.submit("[price]\nper_mfuel = 10\n").await;
    f.run_ok(&key, id).await;
    let events = read_events(&mut body, &mut buf, |evs| {
        states_of(evs, id).last().is_some_and(|s| s == "committed")
    })
    .await;

    // Ids increase; the provider came first; the job went through its states in order.
    assert!(events.windows(2).all(|w| w[0].0 < w[1].0), "{events:#?}");
    assert_eq!(events[0].1, "provider", "{events:#?}");
    assert_eq!(events[0].2["data"]["address"], key.address().to_string());
    assert_eq!(
        states_of(&events, id),
        ["queued", "assigned", "running", "committed"]
    );
    let first_job = events.iter().find(|e| e.1 == "job").unwrap();
    assert_eq!(first_job.2["data"]["previous"], serde_json::Value::Null);
    assert!(
        events.iter().any(|e| e.1 == "jobEvent"
            && e.2["data"]["message"]
                .as_str()
                .unwrap()
                .starts_with("submitted")),
        "{events:#?}"
    );

    // Resuming after the provider event replays the rest, in the same order.
    let resp = subscribe(Some(events[0].0.to_string())).await.unwrap();
    let mut again = resp.into_body();
    let mut buf2 = String::new();
    let n = events.len() - 1;
    let replay = read_events(&mut again, &mut buf2, |evs| evs.len() >= n).await;
    assert_eq!(replay[..], events[1..]);

    // A bad Last-Event-ID is a JSON 400.
    let (s, v, _) = call(
        &app,
        Request::get("/events")
            .header("last-event-id", "yesterday")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["detail"].as_str().unwrap().contains("Last-Event-ID"),
        "{v}"
    );

    // Stopping the node ends the stream (a server can shut down with subscribers).
    f.node.shutdown().await;
    let end = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(frame) = again.frame().await {
            frame.unwrap();
        }
    })
    .await;
    assert!(end.is_ok(), "the stream ended when the node stopped");
}

/// What a refused write must leave as it was: jobs, providers, the feed, the blob store.
fn snapshot(f: &Fixture) -> (String, String, u64, usize) {
    let jobs = serde_json::to_string(&f.node.jobs(&Default::default()).unwrap()).unwrap();
    let mut providers = f.node.providers().unwrap();
    for p in &mut providers {
        p.last_seen_ms_ago = 0;
    }
    let blobs = std::fs::read_dir(f._dir.path().join("blobs"))
        .map(|d| d.count())
        .unwrap_or(0);
    (
        jobs,
        serde_json::to_string(&providers).unwrap(),
        *f.node.feed_watch().borrow(),
        blobs,
    )
}

#[tokio::test]
async fn every_write_route_refuses_unsigned_oversized_and_malformed_requests_with_json() {
    let f = fixture(Duration::from_secs(30)).await;
    let app = router(f.node.clone());
    let key = f.provider(4, 1).await;
    let (id, _) = f.submit("[price]\nper_mfuel = 10\n").await;
    let stranger = PrivateKeySigner::random();
    let before = snapshot(&f);

    // The write routes, from the document (so a new one is walked too).
    let (_, doc, _) = call(
        &app,
        Request::get(cairn_node::OPENAPI_PATH)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    let mut writes = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if method == "post" || method == "put" {
                writes.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    assert!(writes.len() >= 10, "{writes:?}");

    let send = |method: &str, uri: &str, auth: Option<String>, body: Vec<u8>| {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(a) = auth {
            req = req.header(AUTH_HEADER, a);
        }
        call(&app, req.body(Body::from(body)).unwrap())
    };
    let expect = |what: &str, got: (StatusCode, serde_json::Value, Vec<u8>), status, code: &str| {
        let (s, v, bytes) = got;
        assert_eq!(s, status, "{what}: {}", String::from_utf8_lossy(&bytes));
        assert_eq!(v["error"], code, "{what}: {v}");
        assert!(
            v["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{what}: {v}"
        );
    };
    let big = vec![b' '; 5 << 20];
    for (method, path) in &writes {
        let uri = path
            .replace("{id}", &id.to_string())
            .replace("{addr}", &key.address().to_string());
        let what = format!("{method} {uri}");
        let body = b"{}".to_vec();
        // Unsigned.
        expect(
            &format!("{what} unsigned"),
            send(method, &uri, None, body.clone()).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        );
        // Signed for another request (a replayed or altered signature).
        let elsewhere = sign_request(&key, method, "/elsewhere", &body);
        expect(
            &format!("{what} badly signed"),
            send(method, &uri, Some(elsewhere), body.clone()).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        );
        // Garbage in the header.
        expect(
            &format!("{what} garbage header"),
            send(method, &uri, Some("0x12:34:zz".into()), body.clone()).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        );
        if uri == "/blob" {
            // The streamed upload has its own cap (256 MiB, counted as it streams; see
            // a_large_upload_streams_to_disk_and_must_be_signed) and takes any bytes.
            continue;
        }
        // Over the route's limit (every JSON limit is at most 4 MiB): refused before the
        // signature is even looked at.
        expect(
            &format!("{what} oversized"),
            send(method, &uri, None, big.clone()).await,
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
        );
        // Properly signed by the right account, but not JSON.
        let junk = b"{not json".to_vec();
        let auth = sign_request(&key, method, &uri, &junk);
        expect(
            &format!("{what} malformed"),
            send(method, &uri, Some(auth), junk).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        );
    }

    // A well-formed submission of an escrowed job, signed by someone else than its requester.
    let module = b"(module)".to_vec();
    let spec = JobFile::from_toml(
        "name = \"t\"\nmodule = \"m.wat\"\n[schedule]\naccept_within_secs = 60\ndeadline_secs = 600\n[price]\nper_mfuel = 10\n",
    )
    .unwrap()
    .resolve(BlobRef::of(&module), vec![], None)
    .unwrap();
    let escrowed = f.ledger.post(
        f.requester,
        B256::from(spec.digest()),
        spec.payment,
        1_000_060,
        1_000_600,
    );
    let body = serde_json::to_vec(&SubmitJob {
        job_id: escrowed,
        spec,
    })
    .unwrap();
    let (s, v, _) = send(
        "POST",
        "/jobs",
        Some(sign_request(&stranger, "POST", "/jobs", &body)),
        body,
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("escrowed by"), "{v}");

    // Unknown routes and methods answer JSON too.
    let (s, v, _) = send("GET", "/no/such/route", None, vec![]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["error"], "no_route", "{v}");
    assert!(
        v["detail"].as_str().unwrap().contains("/openapi.json"),
        "{v}"
    );
    let (s, v, _) = send("DELETE", "/jobs", None, vec![]).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(v["error"], "method_not_allowed", "{v}");

    assert_eq!(snapshot(&f), before, "a refused write changed the node");
}

/// One sample of the Prometheus text format: the family's name, its type, labels and value.
#[derive(Debug)]
struct Sample {
    name: String,
    kind: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the text exposition format (0.0.4): every sample must follow its family's `# HELP`
/// and `# TYPE`, counters must end in `_total`, values must be numbers.
fn parse_exposition(text: &str) -> Vec<Sample> {
    let mut helped = BTreeSet::new();
    let mut types = BTreeMap::new();
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP name text");
            assert!(!help.is_empty(), "{name} has an empty HELP");
            helped.insert(name.to_owned());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(helped.contains(name), "TYPE before HELP for {name}");
            assert!(["counter", "gauge"].contains(&kind), "{name}: type {kind}");
            if kind == "counter" {
                assert!(
                    name.ends_with("_total"),
                    "counter {name} must end in _total"
                );
            }
            assert!(
                types.insert(name.to_owned(), kind.to_owned()).is_none(),
                "{name} declared twice"
            );
        } else if line.is_empty() || line.starts_with('#') {
            continue;
        } else {
            let (series, value) = line.rsplit_once(' ').expect("series value");
            let value: f64 = value
                .parse()
                .unwrap_or_else(|_| panic!("value of {line:?}"));
            let (name, labels) = match series.split_once('{') {
                None => (series.to_owned(), BTreeMap::new()),
                Some((name, rest)) => {
                    let body = rest.strip_suffix('}').expect("labels end with }");
                    let mut labels = BTreeMap::new();
                    for pair in body.split("\",").filter(|p| !p.is_empty()) {
                        let (k, v) = pair.split_once("=\"").expect("label=\"value\"");
                        labels.insert(k.to_owned(), v.trim_end_matches('"').to_owned());
                    }
                    (name.to_owned(), labels)
                }
            };
            let kind = types
                .get(&name)
                .unwrap_or_else(|| panic!("sample {name} without # TYPE"))
                .clone();
            out.push(Sample {
                name,
                kind,
                labels,
                value,
            });
        }
    }
    out
}

fn value_of(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
}

#[tokio::test]
async fn metrics_count_requests_jobs_providers_and_event_streams_in_the_prometheus_format() {
    let f = fixture(Duration::from_secs(30)).await;
    let app = router(f.node.clone());
    let get = |path: &str| {
        app.clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
    };
    let scrape = || async {
        let resp = get("/metrics").await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["content-type"], "text/plain; version=0.0.4");
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        parse_exposition(std::str::from_utf8(&body).unwrap())
    };
    // A provider online, one job it cannot take (queued), one it can (assigned).
    f.provider(4, 1).await;
    let (queued, _) = f
        .submit("[resources]\nmemory = \"64 GiB\"\n[price]\nper_mfuel = 10\n")
        .await;
    let (assigned, _) = f.submit("[price]\nper_mfuel = 10\n").await;
    f.node.schedule().unwrap();
    assert_eq!(f.node.job(queued).unwrap().state, JobState::Queued);
    assert_eq!(f.node.job(assigned).unwrap().state, JobState::Assigned);
    for _ in 0..2 {
        assert_eq!(get("/info").await.unwrap().status(), StatusCode::OK);
    }
    assert_eq!(
        get("/jobs/999").await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let stream = get("/events").await.unwrap();
    assert_eq!(stream.status(), StatusCode::OK);

    let m = scrape().await;
    assert_eq!(
        value_of(
            &m,
            "cairn_node_requests_total",
            &[("route", "/info"), ("status", "200")]
        ),
        Some(2.0)
    );
    assert_eq!(
        value_of(
            &m,
            "cairn_node_requests_total",
            &[("route", "/jobs/{id}"), ("status", "404")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value_of(&m, "cairn_node_jobs", &[("state", "queued")]),
        Some(1.0)
    );
    assert_eq!(
        value_of(&m, "cairn_node_jobs", &[("state", "assigned")]),
        Some(1.0)
    );
    assert_eq!(
        value_of(&m, "cairn_node_jobs", &[("state", "settled")]),
        Some(0.0)
    );
    assert_eq!(value_of(&m, "cairn_node_providers", &[]), Some(1.0));
    assert_eq!(value_of(&m, "cairn_node_providers_online", &[]), Some(1.0));
    // The assignment waits for the chain loop (not running here).
    assert_eq!(value_of(&m, "cairn_node_escrow_queue", &[]), Some(1.0));
    assert_eq!(value_of(&m, "cairn_node_sse_subscribers", &[]), Some(1.0));
    for name in [
        "cairn_node_audits_passed_total",
        "cairn_node_audits_failed_total",
        "cairn_node_chain_errors_total",
        "cairn_node_rate_limited_total",
    ] {
        let s = m
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no {name}"));
        assert_eq!((s.kind.as_str(), s.value), ("counter", 0.0), "{name}");
    }

    // The stream closes: no subscriber; the first scrape was counted.
    drop(stream);
    let m = scrape().await;
    assert_eq!(value_of(&m, "cairn_node_sse_subscribers", &[]), Some(0.0));
    assert_eq!(
        value_of(
            &m,
            "cairn_node_requests_total",
            &[("route", "/metrics"), ("status", "200")]
        ),
        Some(1.0)
    );
    assert!(parse_exposition("# HELP x_total a\n# TYPE x_total counter\nx_total 1\n").len() == 1);
}

#[test]
#[should_panic(expected = "must end in _total")]
fn the_exposition_parser_refuses_a_counter_without_total() {
    parse_exposition("# HELP x a\n# TYPE x counter\nx 1\n");
}

#[tokio::test]
async fn a_burst_of_writes_gets_429_with_retry_after_and_nothing_is_stored() {
    use axum::extract::ConnectInfo;
    use sha2::Digest as _;
    use std::net::SocketAddr;
    let dir = tempfile::tempdir().unwrap();
    // Budgets that do not refill during the test: 3 writes per address, 2 per key.
    let limits = cairn_node::WriteLimits {
        per_sec_per_address: 0.001,
        burst_per_address: 3.0,
        per_sec_per_key: 0.001,
        burst_per_key: 2.0,
    };
    let config = NodeConfig::new(dir.path(), "http://127.0.0.1:8545")
        .without_calibration()
        .with_write_limits(limits);
    let node = Node::open(config, Arc::new(MemoryLedger::new(1_000_000, 60, 100)))
        .await
        .unwrap();
    let app = router(node.clone());
    let put = |from: [u8; 4], key: &PrivateKeySigner, bytes: Vec<u8>| {
        let mut req = Request::put("/blob")
            .header(AUTH_HEADER, sign_request(key, "PUT", "/blob", &bytes))
            .body(Body::from(bytes))
            .unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((from, 40_000))));
        app.clone().oneshot(req)
    };
    let blob = |i: u8| vec![i; 100];
    let stored = |i: u8| {
        node.blobs()
            .get(&sha2::Sha256::digest(blob(i)).into())
            .unwrap()
            .is_some()
    };
    async fn refused(resp: axum::response::Response, what: &str) {
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS, "{what}");
        let retry: u64 = resp.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(retry >= 1, "{what}: Retry-After {retry}");
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"], "rate_limited", "{what}: {v}");
        assert!(v["detail"].as_str().unwrap().contains(what), "{what}: {v}");
    }
    let (a, b) = (PrivateKeySigner::random(), PrivateKeySigner::random());
    // Key a spends its burst of 2; a third write by it is refused from any address.
    for i in 0..2 {
        assert_eq!(
            put([10, 0, 0, 1], &a, blob(i)).await.unwrap().status(),
            StatusCode::OK
        );
    }
    refused(
        put([10, 0, 0, 2], &a, blob(2)).await.unwrap(),
        &format!("signer {}", a.address()),
    )
    .await;
    assert!(stored(0) && stored(1) && !stored(2));
    // 10.0.0.1 has one write left (key b); the next is refused before its body is read.
    assert_eq!(
        put([10, 0, 0, 1], &b, blob(3)).await.unwrap().status(),
        StatusCode::OK
    );
    refused(
        put([10, 0, 0, 1], &b, blob(4)).await.unwrap(),
        "client 10.0.0.1",
    )
    .await;
    assert!(stored(3) && !stored(4));
    // Another address with key b still writes: the budgets are per address and per key.
    assert_eq!(
        put([10, 0, 0, 3], &b, blob(5)).await.unwrap().status(),
        StatusCode::OK
    );
    assert!(stored(5));
    // Reads are not metered.
    let read = app
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let body = read.into_body().collect().await.unwrap().to_bytes();
    let m = parse_exposition(std::str::from_utf8(&body).unwrap());
    assert_eq!(
        value_of(&m, "cairn_node_rate_limited_total", &[]),
        Some(2.0)
    );
    assert_eq!(
        value_of(
            &m,
            "cairn_node_requests_total",
            &[("route", "/blob"), ("status", "429")]
        ),
        Some(2.0)
    );
}
