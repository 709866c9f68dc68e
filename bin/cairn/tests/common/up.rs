//! `cairn up` in the background for tests: every port chosen up front, the first (JSON) line
//! it prints once the network is ready, and a clean Ctrl-C.
use super::cairn;
use serde_json::Value;
use std::{
    io::{BufRead, BufReader},
    net::TcpListener,
    path::Path,
    process::{Child, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

pub(crate) fn free_port() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

impl Ports {
    /// Free loopback ports for every service.
    pub(crate) fn free() -> Self {
        Self {
            chain: free_port(),
            agent_chain: free_port(),
            log: free_port(),
            witness: free_port(),
            node: free_port(),
        }
    }
}

/// Every port `cairn up` binds, chosen up front: with `--port 0` the chain could be handed a port
/// picked here for another service.
pub(crate) struct Ports {
    pub(crate) chain: String,
    /// The wallet agent's own devnet.
    pub(crate) agent_chain: String,
    pub(crate) log: String,
    pub(crate) witness: String,
    pub(crate) node: String,
}

/// `cairn up` in the background, killed (SIGKILL) if the test ends before it stopped.
pub(crate) struct Up(pub(crate) Child);

impl Drop for Up {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

pub(crate) fn start(d: &Path, ports: &Ports, extra: &[&str]) -> (Up, Value) {
    let mut cmd = cairn(d);
    cmd.env("CAIRN_WORKER_CLAIMS_DIR", d.join("claims"))
        .args(["--json", "up", "--anchor-interval", "5"])
        .args(["--port", ports.chain.rsplit(':').next().unwrap()])
        .args([
            "--agent-chain-port",
            ports.agent_chain.rsplit(':').next().unwrap(),
        ])
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
pub(crate) fn logs(d: &Path) -> String {
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
pub(crate) fn interrupt(mut up: Up) {
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
