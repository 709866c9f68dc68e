//! The real `cairn` binary, run as a user would: the devnet lifecycle and every bad input the
//! Foundation issue lists. Each test has its own data directory and lets anvil pick a free port.
mod common;

use common::{assert_clear_error, cairn, run, stderr};
use serde_json::Value;
use std::process::{Command, Output};

fn json(o: &Output) -> Value {
    assert!(o.status.success(), "cairn failed: {}", stderr(o));
    serde_json::from_slice(&o.stdout).expect("JSON on stdout")
}

/// A devnet that is stopped when the test ends, pass or fail.
struct Devnet {
    dir: tempfile::TempDir,
    rpc_url: String,
}

impl Devnet {
    fn up() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = json(&run(
            cairn(dir.path()).args(["--json", "devnet", "up", "--port", "0"])
        ));
        let rpc_url = out["devnet"]["rpc_url"].as_str().unwrap().to_owned();
        Self { dir, rpc_url }
    }

    fn cmd(&self) -> Command {
        cairn(self.dir.path())
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        let _ = self.cmd().args(["devnet", "down"]).output();
    }
}

#[test]
fn devnet_up_is_idempotent_status_reports_it_and_down_stops_it() {
    let net = Devnet::up();
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(net.dir.path().join("deployment.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["chain_id"], 31337);
    for role in ["weth9", "uniswap_v2_factory", "uniswap_v2_router02"] {
        assert!(
            manifest["contracts"][role].is_string(),
            "manifest lacks {role}"
        );
    }
    for sym in ["USDT", "WBTC", "WBNB"] {
        assert!(
            manifest["tokens"][sym]["address"].is_string(),
            "manifest lacks {sym}"
        );
    }

    let again = json(&run(net
        .cmd()
        .args(["--json", "devnet", "up", "--port", "0"])));
    assert_eq!(again["reused_process"], true);
    assert_eq!(again["reused_contracts"], true);
    assert_eq!(again["devnet"]["rpc_url"], net.rpc_url.as_str());

    let status = json(&run(net.cmd().args(["--json", "devnet", "status"])));
    assert_eq!(status["running"], true);
    assert_eq!(status["chain_id"], 31337);
    assert_eq!(status["contracts_live"], true);
    assert!(status["block_number"].as_u64().unwrap() > 0);
    assert_eq!(status["deployment"]["contracts"], manifest["contracts"]);

    let text = run(net.cmd().args(["devnet", "status"]));
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("chain id  31337") && text.contains("uniswap_v2_router02"),
        "{text}"
    );

    let down = json(&run(net.cmd().args(["--json", "devnet", "down"])));
    assert!(down["stopped"]["pid"].is_u64());
    let stopped = run(net.cmd().args(["devnet", "status"]));
    assert_eq!(stopped.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&stopped.stdout).contains("not running"));
}

#[test]
fn busy_port_is_refused_with_the_port_named() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = run(cairn(dir.path()).args(["devnet", "up", "--port", &port]));
    assert_clear_error(&out, &[&format!("port {port}"), "busy", "--port"]);
    assert!(!dir.path().join("deployment.json").exists());
}

#[test]
fn missing_anvil_says_to_run_npm_ci() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(cairn(dir.path()).args([
        "devnet",
        "up",
        "--port",
        "0",
        "--anvil",
        "/nonexistent/anvil",
    ]));
    assert_clear_error(&out, &["/nonexistent/anvil", "npm ci"]);

    // Outside the repository, with nothing on PATH, the search itself comes up empty.
    let mut cmd = cairn(dir.path());
    cmd.current_dir(dir.path()).env("PATH", dir.path());
    let out = run(cmd.args(["devnet", "up", "--port", "0"]));
    assert_clear_error(&out, &["anvil not found", "npm ci"]);
}

#[test]
fn malformed_config_names_the_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cairn.toml");
    std::fs::write(&config, "[devnet]\nport = 8545\nblok_time = 1\n").unwrap();
    let out = run(cairn(dir.path())
        .arg("--config")
        .arg(&config)
        .args(["devnet", "status"]));
    assert_clear_error(&out, &["invalid config file", "blok_time", "line 3"]);

    std::fs::write(&config, "[devnet\nport = 1").unwrap();
    let out = run(cairn(dir.path())
        .arg("--config")
        .arg(&config)
        .args(["devnet", "status"]));
    assert_clear_error(&out, &["invalid config file", "line 1"]);
}

#[test]
fn config_file_env_and_flags_layer_in_that_order() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cairn.toml");
    std::fs::write(&config, "[chain]\nrpc_url = \"http://127.0.0.1:2\"\n").unwrap();
    let base = || {
        let mut c = cairn(dir.path());
        c.arg("--config")
            .arg(&config)
            .args(["chain", "status", "--timeout", "2"]);
        c
    };
    assert_clear_error(&run(&mut base()), &["127.0.0.1:2"]);
    assert_clear_error(
        &run(base().env("CAIRN_RPC_URL", "http://127.0.0.1:3")),
        &["127.0.0.1:3"],
    );
    let out = run(base()
        .env("CAIRN_RPC_URL", "http://127.0.0.1:3")
        .args(["--rpc-url", "http://127.0.0.1:4"]));
    assert_clear_error(&out, &["127.0.0.1:4"]);
}

#[test]
fn unreachable_rpc_fails_fast_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(cairn(dir.path()).args([
        "chain",
        "status",
        "--rpc-url",
        "http://127.0.0.1:1",
        "--timeout",
        "3",
    ]));
    assert_clear_error(&out, &["cannot reach", "127.0.0.1:1", "cairn devnet up"]);
    let out = run(cairn(dir.path()).args(["chain", "status", "--rpc-url", "ftp://example"]));
    assert_clear_error(&out, &["invalid RPC URL", "ftp"]);
}

#[test]
fn wrong_chain_id_unfunded_account_and_bad_key_are_refused() {
    let net = Devnet::up();

    let out = run(net.cmd().args([
        "chain",
        "status",
        "--rpc-url",
        &net.rpc_url,
        "--chain-id",
        "1",
    ]));
    assert_clear_error(&out, &["wrong chain", "31337", "1 was expected"]);
    let ok = json(&run(net.cmd().args([
        "--json",
        "chain",
        "status",
        "--rpc-url",
        &net.rpc_url,
        "--chain-id",
        "31337",
    ])));
    assert_eq!(ok["chain_id"], 31337);

    // A devnet of another chain id cannot be started over the running one.
    let out = run(net.cmd().args(["devnet", "up", "--chain-id", "5"]));
    assert_clear_error(&out, &["already running", "cairn devnet down"]);

    // A fresh key has no ether: deploy must refuse before sending anything, and never print it.
    let key = alloy::signers::local::PrivateKeySigner::random();
    let hex = alloy::hex::encode(key.to_bytes());
    let key_file = net.dir.path().join("fresh.key");
    std::fs::write(&key_file, format!("0x{hex}\n")).unwrap();
    let out = run(net
        .cmd()
        .args(["chain", "deploy", "--rpc-url", &net.rpc_url])
        .arg("--key-file")
        .arg(&key_file));
    assert_clear_error(&out, &["0 wei", "fund it", &key.address().to_string()]);
    assert!(!stderr(&out).contains(&hex) && !String::from_utf8_lossy(&out.stdout).contains(&hex));

    std::fs::write(&key_file, "not a key at all").unwrap();
    let out = run(net
        .cmd()
        .args(["chain", "status", "--rpc-url", &net.rpc_url])
        .arg("--key-file")
        .arg(&key_file));
    assert_clear_error(&out, &["not a valid", "fresh.key"]);
    assert!(!stderr(&out).contains("not a key at all"));

    let out = run(net
        .cmd()
        .args(["chain", "deploy", "--rpc-url", &net.rpc_url]));
    assert_clear_error(&out, &["needs a key", "--key-file"]);
}

#[test]
fn vault_commands_refuse_bad_input_naming_what_to_fix() {
    let net = Devnet::up();
    let keys = tempfile::tempdir().unwrap();
    let (owner, agent) = (keys.path().join("owner.key"), keys.path().join("agent.key"));
    let vault = |args: &[&str]| {
        let mut c = net.cmd();
        c.args(["agent", "vault"]).args(args);
        c
    };
    // Bad flags fail before any key file is created.
    let out = run(vault(&["deploy", "--budget", "10", "--period", "1y"])
        .arg("--owner-key")
        .arg(&owner)
        .arg("--agent-key")
        .arg(&agent));
    assert_clear_error(&out, &["--period", "1y", "s, m, h, d or w"]);
    assert!(!owner.exists() && !agent.exists());
    let out = run(vault(&["deploy", "--budget", "1.0000001"])
        .arg("--owner-key")
        .arg(&owner)
        .arg("--agent-key")
        .arg(&agent));
    assert_clear_error(&out, &["--budget", "6 decimal", "--base-units"]);

    let deployed = json(&run(vault(&["deploy", "--budget", "1000"])
        .arg("--owner-key")
        .arg(&owner)
        .arg("--agent-key")
        .arg(&agent)
        .arg("--json")));
    assert_eq!(deployed["budget_per_period"], "1000000000");
    for (args, needles) in [
        (
            vec!["deposit", "abc"],
            vec!["\"abc\"", "not a decimal amount"],
        ),
        (
            vec!["deposit", "1.5", "--base-units"],
            vec!["--base-units", "integer"],
        ),
        (vec!["deposit", "0"], vec!["more than zero"]),
        (vec!["withdraw", "5"], vec!["holds 0 USDT"]),
        (
            vec!["withdraw", "all", "--token", "DAI"],
            vec!["--token", "DAI", "USDT, WBNB, WBTC"],
        ),
        (vec!["unpause"], vec!["ExpectedPause", "not paused"]),
    ] {
        let out = run(vault(&args).arg("--owner-key").arg(&owner));
        assert_clear_error(&out, &needles);
    }
    // The agent's key is not the owner's.
    let out = run(vault(&["pause"]).arg("--owner-key").arg(&agent));
    assert_clear_error(&out, &["is not the owner", "--owner-key"]);
    // Away from the devnet, a missing key file is an error, not a new key.
    let out = run(&mut vault(&[
        "status",
        "--rpc-url",
        &net.rpc_url,
        "--vault",
        "0x0000000000000000000000000000000000000001",
    ]));
    assert_clear_error(&out, &["no contract at", "--vault"]);
    let out = run(vault(&["pause", "--rpc-url", &net.rpc_url])
        .arg("--owner-key")
        .arg(keys.path().join("missing.key")));
    assert_clear_error(&out, &["missing.key", "does not exist", "--owner-key"]);
    // Status reads without a key; keys never reach the output.
    let st = json(&run(&mut vault(&["status", "--json"])));
    assert_eq!(st["agent"], deployed["agent"]);
    assert_eq!(st["paused"], false);
    let hex = std::fs::read_to_string(&agent).unwrap();
    let hex = hex.trim().trim_start_matches("0x");
    assert!(!st.to_string().contains(hex));
}

#[test]
fn bench_vault_reports_the_direct_and_the_vault_gas() {
    let dir = tempfile::tempdir().unwrap();
    let out = json(&run(
        cairn(dir.path()).args(["--json", "bench", "vault", "--rounds", "2"])
    ));
    let s = &out["steady_state"];
    let (d, v) = (s["direct"].as_u64().unwrap(), s["vault"].as_u64().unwrap());
    assert!(d > 50_000 && v > d, "{out}");
    assert_eq!(out["vault_buy_gas"].as_array().unwrap().len(), 2);
}

#[test]
fn bench_verify_reports_overhead_catches_and_honest_slashes_from_its_seed() {
    let dir = tempfile::tempdir().unwrap();
    let bench = |args: &[&str]| {
        let mut c = cairn(dir.path());
        c.args(["--json", "bench", "verify"]).args(args);
        json(&run(&mut c))
    };
    // The README's default workload: 1,000 jobs, 20 % new providers, 5 % cheaters.
    let out = bench(&[]);
    let r = &out["runs"][0];
    assert_eq!(r["config"]["jobs"], 1000);
    assert_eq!(r["config"]["newShare"], 0.2);
    assert_eq!(r["config"]["cheaterShare"], 0.05);
    assert_eq!(r["config"]["seed"], 1);
    assert_eq!(
        (r["newProviders"].as_u64(), r["cheaters"].as_u64()),
        (Some(20), Some(5))
    );
    let overhead = r["overhead"].as_f64().unwrap();
    assert!(overhead > 1.0 && overhead <= 1.15, "{r}");
    assert_eq!(out["summary"]["honestSlashed"], 0);
    let cheats = &r["cheats"];
    assert!(cheats["attempted"].as_u64().unwrap() > 0, "{r}");
    assert_eq!(
        cheats["attempted"].as_u64(),
        Some(
            cheats["caught"].as_u64().unwrap()
                + cheats["missed"].as_u64().unwrap()
                + cheats["notDelivered"].as_u64().unwrap()
        )
    );
    // The same seed, the same report; the next seed, another workload.
    assert_eq!(bench(&[])["runs"][0], *r);
    let two = bench(&["--runs", "2"]);
    assert_eq!(two["runs"][0], *r);
    assert_ne!(two["runs"][1]["compute"], r["compute"]);
    assert_eq!(two["runs"][1]["config"]["seed"], 2);

    // No cheaters: nothing caught, and the overhead is the checks' cost alone.
    let clean = bench(&["--cheater-share", "0", "--seed", "9"]);
    let c = &clean["runs"][0];
    assert_eq!(c["cheats"]["attempted"], 0);
    assert_eq!(c["checks"]["disputes"], 0);
    let m = &c["compute"];
    let checks = (m["audits"].as_f64().unwrap() + m["replication"].as_f64().unwrap())
        / m["useful"].as_f64().unwrap();
    assert!(
        (c["overhead"].as_f64().unwrap() - 1.0 - checks).abs() < 1e-9,
        "{c}"
    );

    // Checking every result of a train-only workload: nothing goes unchecked, every cheat
    // but partly skipped steps is caught.
    let all = bench(&["--check-floor", "1", "--wasm-share", "0", "-k", "4"]);
    let a = &all["runs"][0];
    assert_eq!(a["checks"]["notChecked"], 0);
    assert_eq!(a["checks"]["replications"], 0);
    for c in a["byCheat"].as_array().unwrap() {
        if c["cheat"] != "skipped-steps" {
            assert_eq!(c["missed"], 0, "{c}");
        }
    }

    // Bad parameters name the flag.
    let bad = |args: &[&str], needles: &[&str]| {
        let mut c = cairn(dir.path());
        c.args(["bench", "verify"]).args(args);
        assert_clear_error(&run(&mut c), needles);
    };
    bad(
        &["--cheater-share=-0.5"],
        &["cheater share", "--cheater-share"],
    );
    bad(
        &["--new-share", "1.5"],
        &["new-provider share", "--new-share"],
    );
    bad(&["--check-floor", "0"], &["--check-floor"]);
    bad(&["-k", "0"], &["at least 1 segment", "--samples"]);
    bad(&["--jobs", "0"], &["--jobs"]);
    bad(&["--runs", "0"], &["--runs"]);

    // The node's policy floor too, before it touches a chain.
    let mut c = cairn(dir.path());
    c.args(["node", "serve", "--check-floor", "1.5"]);
    assert_clear_error(&run(&mut c), &["--check-floor", "(0, 1]"]);
}

#[test]
fn an_unreachable_node_or_log_names_the_command_that_starts_it_and_the_flag() {
    // A port nobody listens on: connections are refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let out = run(cairn(dir.path()).args(["job", "status", "1", "--node", &url]));
    assert_clear_error(
        &out,
        &["cannot reach the node", &url, "cairn node serve", "--node"],
    );
    let out = run(cairn(dir.path()).args(["log", "checkpoint", "--log", &url]));
    assert_clear_error(
        &out,
        &["cannot reach the log", &url, "cairn log serve", "--log"],
    );
}
