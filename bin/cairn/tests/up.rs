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
    for addr in [&ports.log, &ports.witness, &ports.node, &rpc_addr] {
        assert!(listening(addr), "{addr} answers while the network runs");
    }

    // The log and the node serve their OpenAPI documents where the README says.
    for addr in [&ports.log, &ports.node] {
        let answer = http_get(addr, "/openapi.json");
        assert!(answer.starts_with("HTTP/1.1 200"), "{addr}: {answer}");
        assert!(answer.contains("\"openapi\":\"3.1."), "{addr}: {answer}");
    }

    // A second `cairn up` on the same data directory says one is running.
    let second = run(cairn(&d).args(["up", "--port", "0"]));
    assert!(!second.status.success());
    assert!(
        stderr(&second).contains("already running"),
        "{}",
        stderr(&second)
    );

    interrupt(up);
    for addr in [&ports.log, &ports.witness, &ports.node, &rpc_addr] {
        assert!(!listening(addr), "{addr} still answers after Ctrl-C");
    }

    // Again: it resumes from the data directory (same log, same workers).
    let log_key = ready["logKey"].clone();
    let (up, again) = start(&d, &ports, &["--no-sample"]);
    assert_eq!(again["logKey"], log_key, "the same log resumes");
    assert_eq!(again["sample"], Value::Null);
    interrupt(up);
}
