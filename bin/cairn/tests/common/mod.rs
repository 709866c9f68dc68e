//! Helpers shared by the CLI tests: the real binary, and long-running services it starts.
#![allow(dead_code)]

pub(crate) mod compute;
pub(crate) mod up;

use serde_json::Value;
use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
};

pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `cairn --data-dir <dir>`, run from the repository root, with no `CAIRN_*` leaking in.
pub(crate) fn cairn(data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cairn"));
    cmd.current_dir(repo()).arg("--data-dir").arg(data_dir);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("CAIRN_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

pub(crate) fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("cairn runs")
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs and parses stdout as JSON, failing with stderr when the command failed.
pub(crate) fn json(cmd: &mut Command) -> Value {
    let o = run(cmd);
    assert!(
        o.status.success(),
        "cairn failed: {}\n{}",
        stderr(&o),
        stdout(&o)
    );
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(&o)))
}

/// A background `cairn … serve` process, killed when dropped.
pub(crate) struct Service {
    pub(crate) child: Child,
    pub(crate) url: String,
    pub(crate) key: String,
}

impl Service {
    /// Starts `cmd` (which must be a `serve --json` command) and waits for its first line.
    pub(crate) fn start(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("serve prints its address");
        let v: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("bad serve banner {line:?}: {e}"));
        Self {
            child,
            url: v["listening"].as_str().unwrap().to_owned(),
            key: v["verifierKey"].as_str().unwrap().to_owned(),
        }
    }

    /// Kills the process with SIGKILL (no chance to clean up) and reaps it.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `cairn log serve` on a free port with its data under `data_dir`.
pub(crate) fn log_serve(data_dir: &Path, extra: &[&str]) -> Service {
    let mut cmd = cairn(data_dir);
    cmd.args(["--json", "log", "serve", "--listen", "127.0.0.1:0"])
        .args(extra);
    Service::start(cmd)
}

/// Starts `cairn devnet up --port 0` under `data_dir`; the devnet stops when the guard drops.
pub(crate) fn devnet(data_dir: &Path) -> DevnetGuard {
    json(cairn(data_dir).args(["--json", "devnet", "up", "--port", "0"]));
    DevnetGuard(data_dir.to_owned())
}

/// Stops the devnet of a data directory when dropped, pass or fail.
pub(crate) struct DevnetGuard(pub(crate) PathBuf);

impl Drop for DevnetGuard {
    fn drop(&mut self) {
        let _ = cairn(&self.0).args(["devnet", "down"]).output();
    }
}

/// Asserts a failure with exactly one `error:` line containing every `needle`.
pub(crate) fn assert_clear_error(o: &Output, needles: &[&str]) {
    assert_eq!(o.status.code(), Some(1), "exit code; stderr: {}", stderr(o));
    let err = stderr(o);
    let lines: Vec<_> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "one error line expected, got: {err}");
    for n in needles {
        assert!(lines[0].contains(n), "error line lacks {n:?}: {}", lines[0]);
    }
    assert!(!err.contains("panicked"), "panic: {err}");
}
