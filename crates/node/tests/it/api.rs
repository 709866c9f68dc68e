//! The API's contract: the OpenAPI document lists every route the router serves, and errors
//! are JSON with the right 4xx.
use super::*;
use std::collections::BTreeSet;

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
    assert_eq!(
        declared, documented,
        "routes served but not documented, or documented but not served"
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
