//! `GET /agent` and `GET /agent/decisions`: the wallet agent's state read through the router
//! (no socket), read-only, with JSON errors when there is no agent or the query is wrong.
use super::*;
use cairn_agent::{Execution, OrderRow, OrderState, Outcome, SentTx, Store};

/// A venue of two assets (BTC 8 decimals, BNB 18) against USDT (6 decimals), as the agent
/// records it.
fn venue_json() -> String {
    let a = |n: u8| format!("0x{}", format!("{n:02x}").repeat(20));
    serde_json::json!({
        "stable": a(1), "stable_symbol": "USDT", "stable_decimals": 6, "router": a(2),
        "fee_bps": 30, "heartbeat_secs": 3600,
        "assets": [
            { "symbol": "BTC", "token": a(3), "token_symbol": "WBTC", "decimals": 8,
              "feed": a(4), "feed_decimals": 8, "pair": a(5) },
            { "symbol": "BNB", "token": a(6), "token_symbol": "WBNB", "decimals": 18,
              "feed": a(7), "feed_decimals": 8, "pair": a(8) },
        ],
    })
    .to_string()
}

fn order(slot: i64, asset: usize, symbol: &str, amount_in: &str, state: OrderState) -> OrderRow {
    OrderRow {
        slot,
        asset,
        symbol: symbol.into(),
        state,
        reason: format!("slot {slot}: base amount"),
        amount_in_f: 0.0,
        amount_in: amount_in.into(),
        min_out: "1".into(),
        fill: None,
        nonce: None,
        tx_hash: None,
        raw_tx: None,
        sent_block: None,
        fill_block: None,
        error: None,
        inputs: "{}".into(),
        log_index: None,
        route: None,
    }
}

/// An agent's state with two slots: slot 0 buys 0.001 BTC for 60 USDT and skips BNB; slot 1
/// buys 0.1 BNB for 40 USDT while BTC's buy failed.
fn agent_state(path: &std::path::Path) {
    let mut s = Store::open(path).unwrap();
    s.set_meta("venue", &venue_json()).unwrap();
    s.set_meta(cairn_agent::META_PLAN_NAME, "daily BTC 60 / BNB 40")
        .unwrap();
    s.set_meta(cairn_agent::META_SCHEDULE, "\"daily\"").unwrap();
    s.set_meta(cairn_agent::META_MODE, "live").unwrap();
    s.set_meta("plan", "sha256:ab").unwrap();
    s.set_meta("anchor_ms", "1000").unwrap();
    let day = 86_400_000;
    s.record_decision(
        0,
        1000,
        &[60_000.0, 400.0],
        1000.0,
        &[
            order(0, 0, "BTC", "60000000", OrderState::Planned),
            order(0, 1, "BNB", "0", OrderState::Skipped),
        ],
        ("x", "0"),
    )
    .unwrap();
    let route = Execution {
        venue: "uniswap-v2".into(),
        router: format!("0x{}", "02".repeat(20)),
        path: vec![],
    };
    let hash = format!("0x{}", "aa".repeat(32));
    s.record_sent(
        0,
        0,
        &SentTx {
            nonce: 0,
            hash: &hash,
            raw: &[1, 2],
            block: 5,
            route: Some(&route),
        },
    )
    .unwrap();
    s.record_outcome(
        0,
        0,
        &Outcome {
            state: OrderState::Filled,
            fill: Some("100000"),
            block: Some(6),
            tx_hash: None,
            error: None,
        },
    )
    .unwrap();
    s.record_logged(0, 0, 17).unwrap();
    s.finish_slot(0, 940.0).unwrap();
    s.record_decision(
        1,
        1000 + day,
        &[50_000.0, 500.0],
        940.0,
        &[
            order(1, 0, "BTC", "60000000", OrderState::Planned),
            order(1, 1, "BNB", "40000000", OrderState::Planned),
        ],
        ("x", "1"),
    )
    .unwrap();
    s.record_outcome(1, 0, &Outcome::failed("the vault is paused"))
        .unwrap();
    s.record_outcome(
        1,
        1,
        &Outcome {
            state: OrderState::Filled,
            fill: Some("100000000000000000"),
            block: Some(9),
            tx_hash: Some(&format!("0x{}", "bb".repeat(32))),
            error: None,
        },
    )
    .unwrap();
    s.finish_slot(1, 900.0).unwrap();
}

async fn node_with(agent: Option<&std::path::Path>) -> (tempfile::TempDir, Node) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = NodeConfig::new(dir.path().join("node"), "http://127.0.0.1:8545");
    if let Some(p) = agent {
        config = config.with_agent_state(p);
    }
    let node = Node::open(config, Arc::new(MemoryLedger::new(1_000_000, 60, 100)))
        .await
        .unwrap();
    (dir, node)
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn the_agent_api_serves_status_and_decisions_read_only() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("agent.sqlite");
    let (_d, node) = node_with(Some(&path)).await;
    let app = router(node);

    // Before the agent has written its state: 404 JSON, and nothing is created.
    let (s, v, _) = call(&app, get("/agent")).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("not started"), "{v}");
    assert!(!path.exists(), "the node created the agent's state");

    agent_state(&path);
    let before = std::fs::read(&path).unwrap();
    let (s, v, _) = call(&app, get("/agent")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["plan"], "daily BTC 60 / BNB 40");
    assert_eq!(v["mode"], "live");
    assert_eq!(v["schedule"], "daily");
    assert_eq!(v["slots"], 2);
    assert_eq!(v["cash"], 900.0);
    let btc = &v["holdings"][0];
    assert_eq!(
        (btc["units"].as_str(), btc["spent"].as_str()),
        (Some("0.001"), Some("60"))
    );
    assert_eq!(btc["avgCost"], 60_000.0);
    assert_eq!(btc["price"], 50_000.0, "valued at the latest slot's price");
    assert_eq!(btc["value"], 50.0);
    assert_eq!(btc["buys"], 1);
    let bnb = &v["holdings"][1];
    assert_eq!(bnb["units"], "0.1");
    assert_eq!(bnb["avgCost"], 400.0);
    assert_eq!(v["value"], 900.0 + 50.0 + 50.0);
    // The portfolio after each slot, and its drawdown from the highest value.
    let h = v["history"].as_array().unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!(h[0]["value"], 940.0 + 60.0);
    assert_eq!(h[1]["value"], 1000.0);
    assert_eq!(h[1]["drawdown"], 0.0);
    assert_eq!(
        v["nextBuyMs"],
        1000 + 2 * 86_400_000,
        "slot 2 starts two days after the anchor"
    );

    // The trail, newest first, in whole slots per page.
    let (s, v, _) = call(&app, get("/agent/decisions?limit=3")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let d = v["decisions"].as_array().unwrap();
    assert_eq!(d.len(), 2, "a page ends at a whole slot: {v}");
    assert_eq!(
        (d[0]["slot"].as_i64(), d[0]["asset"].as_str()),
        (Some(1), Some("BNB"))
    );
    assert_eq!(d[0]["state"], "filled");
    assert_eq!(d[0]["fillPrice"], 400.0);
    assert_eq!(d[1]["state"], "failed");
    assert_eq!(d[1]["error"], "the vault is paused");
    assert_eq!(v["nextBefore"], 1);
    let (_, v, _) = call(&app, get("/agent/decisions?before=1")).await;
    let d = v["decisions"].as_array().unwrap();
    assert_eq!(d.len(), 2);
    let btc = d.iter().find(|o| o["asset"] == "BTC").unwrap();
    assert_eq!(btc["txHash"], format!("0x{}", "aa".repeat(32)));
    assert_eq!(btc["route"]["venue"], "uniswap-v2");
    assert_eq!(btc["logIndex"], 17);
    assert_eq!(btc["fill"], "0.001");
    assert_eq!(btc["amountIn"], "60");
    assert_eq!(v["nextBefore"], serde_json::Value::Null);

    // Wrong queries are 400 JSON naming the parameter.
    for (q, word) in [
        ("limit=0", "limit"),
        ("limit=x", "limit"),
        ("before=z", "before"),
        ("page=2", "page"),
    ] {
        let (s, v, _) = call(&app, get(&format!("/agent/decisions?{q}"))).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}: {v}");
        assert!(v["detail"].as_str().unwrap().contains(word), "{q}: {v}");
    }

    // Read only: the file is as the agent left it, and the agent's lock is free.
    assert_eq!(std::fs::read(&path).unwrap(), before);
    drop(cairn_agent::store::lock(&path).unwrap());
}

#[tokio::test]
async fn a_node_without_an_agent_answers_404_json() {
    let (_d, node) = node_with(None).await;
    let app = router(node);
    for uri in ["/agent", "/agent/decisions"] {
        let (s, v, _) = call(&app, get(uri)).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(v["error"], "not_found", "{uri}: {v}");
        assert!(
            v["detail"].as_str().unwrap().contains("no wallet agent"),
            "{v}"
        );
    }
}
