//! The README's walk-throughs, run as written.
//!
//! A walk-through is the shell block after a `<!-- walkthrough: NAME -->` marker in README.md
//! (`compute`, `vault`). It runs verbatim under `bash -euo pipefail` in a scratch directory that looks
//! like the repository root (links to `examples/`, `target/`, `data/`, `node_modules/`), with
//! the built `cairn` first on `PATH`. Only the configuration layer differs from a user's shell:
//! `CAIRN_*` variables move the data directory and the ports off the defaults, so the test never
//! touches a developer's own `.cairn` or a devnet they are running.
mod common;

use common::{cairn, json, repo};
use std::{net::TcpListener, path::PathBuf, process::Command, time::Duration};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The fenced block of `lang` that follows `marker` in the README.
fn block_after(readme: &str, marker: &str, lang: &str) -> String {
    let at = readme
        .find(marker)
        .unwrap_or_else(|| panic!("README.md has no {marker:?}"));
    let rest = &readme[at..];
    let open = format!("```{lang}\n");
    let start = rest.find(&open).expect("a fenced block after the marker") + open.len();
    let end = rest[start..].find("```").expect("the block ends");
    rest[start..start + end].to_owned()
}

#[test]
fn the_readme_job_toml_reference_is_a_valid_job_file() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let toml = block_after(&readme, "**`job.toml`**", "toml");
    let job = cairn_compute::JobFile::from_toml(&toml)
        .unwrap_or_else(|e| panic!("the README's job.toml does not parse: {e}\n{toml}"));
    assert_eq!(job.name, "wordcount");
}

#[test]
fn the_readme_compute_walkthrough_runs_as_written() {
    let (stdout, stderr) = run_walkthrough("compute", "cairn job submit");
    // What a reader is told to expect (each failure shows both streams).
    let expect = |what: &str, needle: &str| {
        assert!(
            stdout.contains(needle),
            "{what}: {needle:?} not printed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        );
    };
    expect("the counts are printed", "fox");
    expect("verify names the receipt", "job-receipt");
    expect("verify says who signed it", "the market's receipt key");
    expect("job list shows it paid", "settled");
    expect("worker status shows its bond", "on chain:");
}

#[test]
fn the_readme_train_and_infer_walkthrough_runs_as_written() {
    let (stdout, stderr) = run_walkthrough("compute+train", "cairn job submit infer.toml");
    let expect = |what: &str, needle: &str| {
        assert!(
            stdout.contains(needle),
            "{what}: {needle:?} not printed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        );
    };
    // (The block lists providers right after starting the workers in the background, so the
    // list may be empty on a busy machine; `tests/compute.rs` checks the kinds it shows.)
    expect("the metrics curve", "step,batch_loss,eval_loss");
    expect("the predictions", "sample,BTC_vol,BNB_vol");
    // A new provider's `infer` result is always checked: run again on the other provider.
    expect("the inference was replicated", "outputs agree (replica job");
}

#[test]
fn the_readme_vault_walkthrough_runs_as_written() {
    let (stdout, stderr) = run_walkthrough("vault", "cairn agent vault deploy");
    let expect = |what: &str, needle: &str| {
        assert!(
            stdout.contains(needle),
            "{what}: {needle:?} not printed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        );
    };
    expect("deploy names the vault", "AgentVault 0x");
    expect("the deposit arrives", "now holds 5000 USDT");
    expect("status shows the budget", "1000 left this period");
    expect("status shows the paths", "USDT -> WBTC");
    expect("the withdrawal", "withdrew 250.5 USDT");
    expect("the rotation", "agent 0x");
    expect("the JSON status", "\"budget_left\": \"1000000000\"");
}

#[test]
fn the_readme_agent_walkthrough_runs_as_written() {
    let (stdout, stderr) = run_walkthrough("agent", "cairn agent run");
    let expect = |what: &str, needle: &str| {
        assert!(
            stdout.contains(needle),
            "{what}: {needle:?} not printed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        );
    };
    expect("the live agent buys", "WBTC for 60 USDT via ");
    expect("each live buy names its transaction", " (tx 0x");
    expect("the paper agent fills", "WBNB for 40 USDT");
    expect("status shows holdings", "holdings");
    expect("status shows the next buy", "next buy: ");
    expect("status shows why", "why: buy ");
    expect("decisions are logged", "logged at index");
}

/// Runs the `sh` block after `<!-- walkthrough: NAME` in the README verbatim against a fresh
/// devnet (`A+B`: block A, then block B in the same shell); returns its stdout and stderr.
fn run_walkthrough(name: &str, must_contain: &str) -> (String, String) {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let script = name
        .split('+')
        .map(|n| block_after(&readme, &format!("<!-- walkthrough: {n}"), "sh"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(script.contains(must_contain), "{script}");

    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    for name in ["examples", "target", "data", "node_modules"] {
        std::os::unix::fs::symlink(repo().join(name), root.join(name)).unwrap();
    }
    let data = root.join("state");
    let (devnet, log, node) = (free_port(), free_port(), free_port());
    let env: Vec<(&str, String)> = vec![
        ("CAIRN_DATA_DIR", data.display().to_string()),
        ("CAIRN_DEVNET_PORT", devnet.to_string()),
        ("CAIRN_LOG_LISTEN", format!("127.0.0.1:{log}")),
        ("CAIRN_LOG_URL", format!("http://127.0.0.1:{log}")),
        ("CAIRN_NODE_LISTEN", format!("127.0.0.1:{node}")),
        ("CAIRN_NODE_URL", format!("http://127.0.0.1:{node}")),
        // Its workers split this run's share of the machine, whatever else runs on it.
        (
            "CAIRN_WORKER_CLAIMS_DIR",
            root.join("claims").display().to_string(),
        ),
    ];
    // `make up`'s devnet (the build is done: this test runs the built binary).
    let mut up = cairn(&data);
    up.current_dir(root).args(["--json", "devnet", "up"]);
    for (k, v) in &env {
        up.env(k, v);
    }
    json(&mut up);
    let _down = Down(root.to_owned(), data.clone(), env.clone());

    let bin = PathBuf::from(env!("CARGO_BIN_EXE_cairn"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // Background services end with the script, however it ends.
    let wrapped =
        format!("set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n{script}");
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(&wrapped)
        .current_dir(root)
        .env("PATH", path)
        .env("RUST_LOG", "warn");
    for (k, v) in &env {
        cmd.env(k, v);
    }
    let out = run_with_timeout(cmd, Duration::from_secs(600));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "the {name} walk-through failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    // Key files the walk-through created (`*.key`) never appear in its output.
    for entry in std::fs::read_dir(root).unwrap().flatten() {
        if entry.path().extension().is_some_and(|e| e == "key") {
            let key = std::fs::read_to_string(entry.path()).unwrap();
            let hex = key.trim().trim_start_matches("0x");
            assert!(
                !hex.is_empty() && !stdout.contains(hex) && !stderr.contains(hex),
                "{} was printed",
                entry.path().display()
            );
        }
    }
    (stdout, stderr)
}

/// Runs `cmd`, killing it after `limit`.
fn run_with_timeout(mut cmd: Command, limit: Duration) -> std::process::Output {
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("bash runs");
    let pid = child.id();
    let guard = std::thread::spawn(move || {
        std::thread::sleep(limit);
        let _ = Command::new("kill").arg(pid.to_string()).status();
    });
    let out = child.wait_with_output().expect("bash ends");
    drop(guard);
    out
}

/// Stops the devnet when the test ends.
struct Down(PathBuf, PathBuf, Vec<(&'static str, String)>);

impl Drop for Down {
    fn drop(&mut self) {
        let mut c = cairn(&self.1);
        c.current_dir(&self.0).args(["devnet", "down"]);
        for (k, v) in &self.2 {
            c.env(k, v);
        }
        let _ = c.output();
    }
}
