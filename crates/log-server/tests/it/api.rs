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
    assert_eq!(
        declared_routes(),
        documented,
        "routes served but not documented, or documented but not served"
    );
}
