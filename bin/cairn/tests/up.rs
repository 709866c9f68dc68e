//! `cairn up`: the whole network from one command, a second one refused while it runs, Ctrl-C
//! stopping everything (no service left listening), and a restart resuming from the data
//! directory.
mod common;

use common::{cairn, run, stderr};
use serde_json::Value;
use std::{
    io::{BufRead, BufReader},
    net::{TcpListener, TcpStream},
    path::Path,
    process::{Child, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

fn free_port() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

/// Every port `cairn up` binds, chosen up front: with `--port 0` the chain could be handed a port
/// picked here for another service.
struct Ports {
    chain: String,
    log: String,
    witness: String,
    node: String,
}

/// `cairn up` in the background, killed (SIGKILL) if the test ends before it stopped.
struct Up(Child);

impl Drop for Up {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn start(d: &Path, ports: &Ports, extra: &[&str]) -> (Up, Value) {
    let mut cmd = cairn(d);
    cmd.env("CAIRN_WORKER_CLAIMS_DIR", d.join("claims"))
        .args(["--json", "up", "--anchor-interval", "5"])
        .args(["--port", ports.chain.rsplit(':').next().unwrap()])
        .args(["--log-listen", &ports.log])
        .args(["--witness-listen", &ports.witness])
        .args(["--node-listen", &ports.node])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("cairn up starts");
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(out).read_line(&mut line);
        let _ = tx.send(line);
    });
    let errors = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(err), &mut s);
        s
    });
    let line = rx
        .recv_timeout(Duration::from_secs(400))
        .unwrap_or_default();
    let up = Up(child);
    let ready: Value = match serde_json::from_str(&line) {
        Ok(v) => v,
        Err(_) => {
            drop(up);
            panic!(
                "cairn up did not get ready: {line:?}\n{}\n{}",
                errors.join().unwrap_or_default(),
                logs(d)
            );
        }
    };
    (up, ready)
}

/// Every service's output (for failures).
fn logs(d: &Path) -> String {
    let mut out = String::new();
    for e in std::fs::read_dir(d.join("up"))
        .into_iter()
        .flatten()
        .flatten()
    {
        if e.path().extension().is_some_and(|x| x == "log") {
            out.push_str(&format!(
                "--- {}\n{}\n",
                e.path().display(),
                std::fs::read_to_string(e.path()).unwrap_or_default()
            ));
        }
    }
    out
}

/// Ctrl-C, then waits for a clean exit.
fn interrupt(mut up: Up) {
    let pid = nix::unistd::Pid::from_raw(up.0.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let until = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(status) = up.0.try_wait().unwrap() {
            assert!(status.success(), "cairn up exited {status} on Ctrl-C");
            return;
        }
        assert!(Instant::now() < until, "cairn up did not stop on Ctrl-C");
        std::thread::sleep(Duration::from_millis(100));
    }
}

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
    let ports = Ports {
        chain: free_port(),
        log: free_port(),
        witness: free_port(),
        node: free_port(),
    };
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
