//! `cairn up`: the whole network from one command, a second one refused while it runs, Ctrl-C
//! stopping everything (no service left listening), and a restart resuming from the data
//! directory.
mod common;

use common::{
    cairn, run, stderr,
    up::{Ports, interrupt, start},
};
use serde_json::Value;
use std::{net::TcpStream, time::Duration};

/// A plain HTTP/1.1 GET: the status line, headers and body as text.
fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read as _, Write as _};
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn listening(addr: &str) -> bool {
    TcpStream::connect(addr).is_ok()
}

#[test]
fn cairn_up_runs_the_network_and_ctrl_c_stops_it() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("cairn");
    let ports = Ports::free();
    let (up, ready) = start(&d, &ports, &[]);
    assert_eq!(ready["ready"], true, "{ready}");
    assert!(ready["providers"].as_u64().unwrap() >= 2, "{ready}");
    let state = ready["sample"]["state"].as_str().unwrap_or_default();
    assert!(
        state.starts_with("committed") || state == "settled",
        "the sample job ran: {ready}"
    );
    assert!(
        d.join("up/sample-dataset.bundle.json").exists(),
        "the sample dataset's statement is in the log"
    );
    let rpc = ready["rpcUrl"].as_str().unwrap().to_owned();
    let rpc_addr = rpc.trim_start_matches("http://").to_owned();
    for addr in [
        &ports.log,
        &ports.witness,
        &ports.node,
        &rpc_addr,
        &ports.agent_chain,
    ] {
        assert!(listening(addr), "{addr} answers while the network runs");
    }

    // The log and the node serve their OpenAPI documents where the README says.
    for addr in [&ports.log, &ports.node] {
        let answer = http_get(addr, "/openapi.json");
        assert!(answer.starts_with("HTTP/1.1 200"), "{addr}: {answer}");
        assert!(answer.contains("\"openapi\":\"3.1."), "{addr}: {answer}");
    }

    // The wallet agent runs its plan live through a vault deployed for it, and buys as the
    // market replay moves the chain's clock, pools and feeds.
    let agent = &ready["agent"];
    let vault = agent["vault"]
        .as_str()
        .expect("the agent's vault")
        .to_owned();
    assert!(vault.starts_with("0x") && vault.len() == 42, "{ready}");
    assert_eq!(agent["mode"], "live", "{ready}");
    assert_eq!(
        agent["rpcUrl"],
        format!("http://{}", ports.agent_chain),
        "{ready}"
    );
    let bought = agent_bought(&d.join("market"), Duration::from_secs(180));
    assert!(
        bought["holdings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["buys"].as_u64() > Some(0)),
        "{bought}"
    );
    assert_eq!(
        bought["vault"].as_str().map(str::to_lowercase),
        Some(vault.to_lowercase())
    );
    let decisions = bought["decisions"].as_array().unwrap();
    assert!(
        decisions
            .iter()
            .any(|o| o["state"] == "filled" && o["tx_hash"].as_str().is_some_and(|h| h.len() == 66)),
        "a filled buy names its transaction: {bought}"
    );

    // The node serves the same agent (read from its state) at /agent and /agent/decisions.
    let answer = http_get(&ports.node, "/agent");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["mode"], "live", "{body}");
    assert_eq!(
        body["vault"].as_str().map(str::to_lowercase),
        Some(vault.to_lowercase())
    );
    assert!(
        body["history"].as_array().is_some_and(|h| !h.is_empty()),
        "{body}"
    );
    let answer = http_get(&ports.node, "/agent/decisions?limit=50");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"state\":\"filled\""), "{answer}");

    // The sample is a `train` job too (the market dataset registered in the log first): the
    // agent runs with its model as --vol-model, so each decision in the log names the model.
    let train_job = ready["sample"]["train"]["job"]
        .as_u64()
        .expect("a train job");
    assert_eq!(agent["volModelJob"], train_job, "{ready}");
    assert!(d.join("up/market-dataset.bundle.json").exists());
    let train: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("up/train.json")).unwrap()).unwrap();
    assert_eq!(train["job"], train_job, "{train}");
    assert_eq!(train["agentVolModel"], true, "{train}");
    let model = train["model"].as_str().unwrap().to_owned();
    assert!(model.starts_with("sha256:") && model.len() == 71, "{train}");
    let body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let index = body["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|o| o["logIndex"].as_u64())
        .expect("a decision in the log");
    let entry = http_get(&ports.log, &format!("/entry/{index}"));
    let entry: Value = serde_json::from_str(entry.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    use base64::Engine as _;
    let payload = base64::engine::general_purpose::STANDARD
        .decode(entry["envelope"]["payload"].as_str().unwrap())
        .unwrap();
    let statement: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(
        statement["predicate"]["models"],
        serde_json::json!([model]),
        "decision {index} names the train job's model: {statement}"
    );

    // The log serves its latest on-chain anchor (`--anchor-interval 5` here).
    let until = std::time::Instant::now() + Duration::from_secs(60);
    let anchor = loop {
        let answer = http_get(&ports.log, "/anchor");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        let v: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        if v["latest"].is_object() {
            break v;
        }
        assert!(std::time::Instant::now() < until, "nothing anchored: {v}");
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(anchor["latest"]["size"].as_u64() > Some(0), "{anchor}");
    assert_eq!(
        anchor["latest"]["txHash"].as_str().map(str::len),
        Some(66),
        "{anchor}"
    );
    assert_eq!(
        anchor["latest"]["root"].as_str().map(str::len),
        Some(64),
        "{anchor}"
    );

    // A second `cairn up` on the same data directory says one is running.
    let second = run(cairn(&d).args(["up", "--port", "0"]));
    assert!(!second.status.success());
    assert!(
        stderr(&second).contains("already running"),
        "{}",
        stderr(&second)
    );

    interrupt(up);
    for addr in [
        &ports.log,
        &ports.witness,
        &ports.node,
        &rpc_addr,
        &ports.agent_chain,
    ] {
        assert!(!listening(addr), "{addr} still answers after Ctrl-C");
    }

    // Again: it resumes from the data directory (same log, same workers).
    let log_key = ready["logKey"].clone();
    let (up, again) = start(&d, &ports, &["--no-sample"]);
    assert_eq!(again["logKey"], log_key, "the same log resumes");
    assert_eq!(again["sample"], Value::Null);
    assert_eq!(
        again["agent"]["vault"], ready["agent"]["vault"],
        "the agent's vault is kept, not deployed again"
    );
    interrupt(up);
}

/// `cairn agent status PLAN --live --json` once the agent has a filled buy (panics after `limit`).
fn agent_bought(d: &std::path::Path, limit: Duration) -> Value {
    let until = std::time::Instant::now() + limit;
    loop {
        let out = run(cairn(d).args([
            "--json",
            "agent",
            "status",
            "examples/plans/daily-btc60-bnb40.toml",
            "--live",
        ]));
        let last = match serde_json::from_slice::<Value>(&out.stdout) {
            Ok(v) if out.status.success() => {
                let filled = v["decisions"]
                    .as_array()
                    .is_some_and(|ds| ds.iter().any(|o| o["state"] == "filled"));
                if filled {
                    return v;
                }
                v.to_string()
            }
            _ => stderr(&out),
        };
        assert!(
            std::time::Instant::now() < until,
            "the agent bought nothing within {limit:?}: {last}\n{}",
            common::up::logs(d)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}
