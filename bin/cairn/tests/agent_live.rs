//! The agent that buys, end to end with the real binary on a real anvil: `cairn market replay`
//! moves the devnet's pools and feeds along real candles while `cairn agent run` buys through
//! the vault (`--live`) or simulates fills (`--paper`).
//!
//! * both modes buy every slot, their decisions equal the backtester's on the same candles,
//!   and every decision is a signed statement in the log that `cairn verify` accepts;
//! * an agent killed before and after broadcasting resumes with exactly one buy per asset;
//! * an agent whose RPC endpoint goes away mid-run resumes without a double buy.
mod common;

use alloy::{
    primitives::{Address, B256},
    providers::{Provider, ProviderBuilder},
    rpc::types::Filter,
    sol_types::SolEvent,
};
use cairn_backtest::{FeatureStore, Recorder};
use cairn_contracts::AgentVault;
use cairn_market::{ImportOptions, align, read_csv};
use cairn_strategy::{Action, Decision, Plan};
use common::{cairn, devnet, json, log_serve, run, stderr};
use serde_json::Value;
use std::{
    collections::BTreeMap,
    io::{Read, Write},
    net::{Shutdown, TcpListener, TcpStream},
    path::Path,
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

const PLAN: &str = "examples/plans/daily-btc60-bnb40.toml";
const FROM: &str = "2024-03-01";

fn rpc_url(d: &Path) -> String {
    json(cairn(d).args(["--json", "devnet", "status"]))["devnet"]["rpc_url"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Deploys a vault (1,000 USDT a day, 2% cap) and deposits 5,000 USDT. Returns its address.
fn vault(d: &Path) -> Address {
    let k = |n: &str| d.join(n).display().to_string();
    let v = json(cairn(d).args([
        "--json",
        "agent",
        "vault",
        "deploy",
        "--owner-key",
        &k("owner.key"),
        "--agent-key",
        &k("agent.key"),
        "--budget",
        "1000",
        "--period",
        "1d",
        "--slippage-bps",
        "200",
    ]));
    json(cairn(d).args([
        "--json",
        "agent",
        "vault",
        "deposit",
        "5000",
        "--owner-key",
        &k("owner.key"),
    ]));
    v["vault"].as_str().unwrap().parse().unwrap()
}

fn replay(d: &Path, from: &str, steps: usize, speed: &str) -> Command {
    let mut c = cairn(d);
    c.args([
        "market",
        "replay",
        "--data",
        "data/market/BTCUSDT_1d.csv",
        "data/market/BNBUSDT_1d.csv",
        "--from",
        from,
        "--steps",
        &steps.to_string(),
        "--speed",
        speed,
    ]);
    c
}

fn agent(d: &Path, mode: &str, slots: u64, extra: &[&str]) -> Command {
    let mut c = cairn(d);
    c.args([
        "--json",
        "agent",
        "run",
        PLAN,
        mode,
        "--slots",
        &slots.to_string(),
    ]);
    if mode == "--live" {
        c.arg("--agent-key").arg(d.join("agent.key"));
    }
    c.args(["--poll-ms", "100"]).args(extra);
    if !extra.contains(&"--log") {
        c.arg("--no-log");
    }
    c.env("RUST_LOG", "cairn_agent=info");
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    c
}

/// Waits for an agent (at most two minutes: a stuck agent fails the test with its log).
fn finish(mut child: Child) -> (Option<i32>, Value, String) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let o = child.wait_with_output().unwrap();
            panic!("the agent did not finish:\n{}", stderr(&o));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let o = child.wait_with_output().unwrap();
    let v = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    (o.status.code(), v, stderr(&o))
}

/// The vault's Bought events: `(transaction, asset)`.
async fn boughts(url: &str, vault: Address) -> Vec<(B256, Address)> {
    let p = ProviderBuilder::new().connect_http(url.parse().unwrap());
    let f = Filter::new()
        .address(vault)
        .event_signature(AgentVault::Bought::SIGNATURE_HASH)
        .from_block(0);
    p.get_logs(&f)
        .await
        .unwrap()
        .into_iter()
        .map(|l| {
            let e = l.log_decode::<AgentVault::Bought>().unwrap();
            (l.transaction_hash.unwrap(), e.inner.data.asset)
        })
        .collect()
}

fn status(d: &Path, mode: &str) -> Value {
    json(cairn(d).args(["--json", "agent", "status", PLAN, mode, "--last", "100"]))
}

/// Waits until the agent has read the chain clock and fixed its slot 0 (so the first replayed
/// candle falls in a later slot).
fn anchored(d: &Path, mode: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let o = run(cairn(d).args(["--json", "agent", "status", PLAN, mode]));
        if o.status.success() {
            let v: Value = serde_json::from_slice(&o.stdout).unwrap();
            if v["anchorMs"].is_i64() {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the agent never started: {}",
            stderr(&o)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The backtester's decisions on the candles from `FROM`: per bar, per asset, the amount in
/// (0 for a skip) and the skip label.
fn backtest_decisions(bars: usize) -> Vec<Vec<(f64, String)>> {
    struct Rec(Vec<Decision>);
    impl Recorder for Rec {
        fn decision(
            &mut self,
            _t: usize,
            _cash: f64,
            _market: &cairn_strategy::MarketSnapshot,
            d: &Decision,
        ) {
            self.0.push(*d);
        }
    }
    let repo = common::repo();
    let plan = Plan::from_toml(&std::fs::read_to_string(repo.join(PLAN)).unwrap()).unwrap();
    let series: Vec<_> = ["BTCUSDT_1d.csv", "BNBUSDT_1d.csv"]
        .iter()
        .map(|f| read_csv(&repo.join("data/market").join(f), &ImportOptions::default()).unwrap())
        .collect();
    let aligned = align(&series.iter().collect::<Vec<_>>()).unwrap();
    let from = cairn_market::time::parse_timestamp(FROM).unwrap();
    let start = aligned.time.partition_point(|&t| t < from);
    // The agent has seen the replayed candles only: the backtest starts at the same candle.
    let data = aligned.slice(start..start + bars);
    let mut store = FeatureStore::new(&data);
    store.prepare([&plan], 0..bars).unwrap();
    let view = store.view(&plan, 0..bars).unwrap();
    let mut rec = Rec(Vec::new());
    cairn_backtest::run(&plan, &view, &mut rec);
    rec.0
        .iter()
        .map(|d| {
            d.actions()
                .iter()
                .map(|a| match a {
                    Action::Buy(o) => (o.amount_in, String::new()),
                    Action::Skip(r) => (0.0, r.label().to_owned()),
                })
                .collect()
        })
        .collect()
}

/// The agent's decisions from its status, per slot in order, same shape.
fn agent_decisions(st: &Value) -> Vec<Vec<(f64, String)>> {
    let mut by_slot: BTreeMap<i64, Vec<(f64, String)>> = BTreeMap::new();
    for o in st["decisions"].as_array().unwrap() {
        let reason = o["reason"].as_str().unwrap();
        let label = reason
            .strip_prefix("skip (")
            .and_then(|r| r.split(')').next())
            .unwrap_or("")
            .to_owned();
        by_slot
            .entry(o["slot"].as_i64().unwrap())
            .or_default()
            .push((o["amount_in_f"].as_f64().unwrap(), label));
    }
    by_slot.into_values().collect()
}

/// The log's bundle of entry `index` (waiting for it to be integrated), checked by `cairn
/// verify` against the log's key: its JSON answer, verified.
async fn verify_logged(d: &Path, log: &common::Service, index: u64) -> Value {
    let client = cairn_log_client::LogClient::new(&log.url);
    let deadline = Instant::now() + Duration::from_secs(30);
    let bundle = loop {
        match client.bundle(index).await {
            Ok(b) => break b,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(300)).await
            }
            Err(e) => panic!("bundle: {e}"),
        }
    };
    let path = d.join(format!("decision-{index}.bundle.json"));
    std::fs::write(&path, serde_json::to_vec(&bundle).unwrap()).unwrap();
    let v = json(
        cairn(d)
            .args(["--json", "verify"])
            .arg(&path)
            .args(["--log-key", &log.key]),
    );
    assert_eq!(v["verified"], true, "{v:#}");
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_and_paper_agents_buy_along_replayed_prices_like_the_backtester_and_log_decisions() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let _devnet = devnet(d);
    let url = rpc_url(d);
    let vault = vault(d);
    let log = log_serve(&d.join("logdata"), &[]);
    assert!(run(cairn(d).args(["key", "generate"])).status.success());

    const SLOTS: u64 = 3;
    let live = agent(d, "--live", SLOTS, &["--log", &log.url])
        .spawn()
        .unwrap();
    let paper = agent(d, "--paper", SLOTS, &[]).spawn().unwrap();
    anchored(d, "--live");
    anchored(d, "--paper");
    let r = run(&mut replay(d, FROM, SLOTS as usize, "1d=3s"));
    assert!(r.status.success(), "replay: {}", stderr(&r));
    let (code, out, err) = finish(live);
    assert_eq!(code, Some(0), "live agent: {err}");
    let (pcode, _, perr) = finish(paper);
    assert_eq!(pcode, Some(0), "paper agent: {perr}");
    assert_eq!(out["slots"].as_array().unwrap().len(), SLOTS as usize);

    // One Bought per buy the agent recorded, none more.
    let live_st = status(d, "--live");
    let bought = boughts(&url, vault).await;
    let filled: Vec<&Value> = live_st["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["state"] == "filled")
        .collect();
    assert_eq!(bought.len(), filled.len(), "{bought:?}");
    assert!(filled.len() >= 4, "most slots buy both assets: {live_st:#}");
    for o in &filled {
        let fill: u128 = o["fill"].as_str().unwrap().parse().unwrap();
        let min: u128 = o["min_out"].as_str().unwrap().parse().unwrap();
        assert!(fill >= min, "{o}");
        // Where it went is recorded (and named in its decision statement).
        let venue = o["route"]["venue"].as_str().unwrap_or_default();
        assert!(["uniswap-v2", "pancake"].contains(&venue), "{o}");
        assert_eq!(o["route"]["path"].as_array().map(Vec::len), Some(2), "{o}");
        assert!(
            bought
                .iter()
                .any(|(h, _)| h.to_string() == o["tx_hash"].as_str().unwrap())
        );
    }
    for h in live_st["holdings"].as_array().unwrap() {
        assert!(h["avgCost"].as_f64().unwrap() > 0.0, "{h}");
    }
    assert!(live_st["nextBuy"].is_string());

    // The same decisions as the backtester on the same candles, live and paper.
    let expected = backtest_decisions(SLOTS as usize);
    let paper_st = status(d, "--paper");
    for (name, st) in [("live", &live_st), ("paper", &paper_st)] {
        let got = agent_decisions(st);
        assert_eq!(got.len(), expected.len(), "{name}: {st:#}");
        for (g, e) in got.iter().zip(&expected) {
            for ((ga, gl), (ea, el)) in g.iter().zip(e) {
                assert_eq!(gl, el, "{name}");
                assert!(
                    (ga - ea).abs() <= 1e-9 * ea.abs().max(1.0),
                    "{name}: {ga} vs {ea}"
                );
            }
        }
    }

    // Every live decision is in the log; one verifies offline as a signed decision statement.
    let indices: Vec<u64> = live_st["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["log_index"].as_u64().expect("logged"))
        .collect();
    assert_eq!(indices.len(), 2 * SLOTS as usize);
    let v = verify_logged(d, &log, indices[0]).await;
    let entry = &v["lineage"][0];
    assert_eq!(
        entry["predicateType"],
        "https://cairn.dev/attestation/decision/v1"
    );
    assert!(
        entry["subject"][0]["name"]
            .as_str()
            .unwrap()
            .contains("/slot-"),
        "{v:#}"
    );
    // The plan and the inputs are named by digest (not attested themselves).
    assert_eq!(v["notAttested"].as_array().unwrap().len(), 2, "{v:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_killed_around_a_send_resumes_with_exactly_one_buy_per_asset() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let _devnet = devnet(d);
    let url = rpc_url(d);
    let vault = vault(d);

    // Killed after recording the signed BTC buy, before broadcasting it.
    let first = agent(d, "--live", 1, &[])
        .env("CAIRN_AGENT_TEST_EXIT", "before-send")
        .spawn()
        .unwrap();
    anchored(d, "--live");
    let r = run(&mut replay(d, FROM, 1, "1d=1s"));
    assert!(r.status.success(), "replay: {}", stderr(&r));
    let (code, out, err) = finish(first);
    assert_eq!(code, Some(86), "{out:#}\n{err}");
    assert!(boughts(&url, vault).await.is_empty());

    // Restarted: the recorded BTC transaction goes out as it was; killed after broadcasting BNB.
    let (code, out, err) = finish(
        agent(d, "--live", 1, &[])
            .env("CAIRN_AGENT_TEST_EXIT", "after-send")
            .spawn()
            .unwrap(),
    );
    assert_eq!(code, Some(86), "{out:#}\n{err}");
    // The BNB buy was broadcast; the devnet mines it on its own.
    let deadline = Instant::now() + Duration::from_secs(10);
    while boughts(&url, vault).await.len() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(boughts(&url, vault).await.len(), 2);

    // Restarted again: the BNB receipt is found, nothing is sent again.
    let (code, out, err) = finish(agent(d, "--live", 1, &[]).spawn().unwrap());
    assert_eq!(code, Some(0), "{err}");
    let bought = boughts(&url, vault).await;
    assert_eq!(bought.len(), 2, "{bought:?}");
    assert_ne!(bought[0].1, bought[1].1, "one buy per asset");
    let orders = out["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 2);
    assert!(orders.iter().all(|o| o["state"] == "filled"), "{out:#}");
    // The agent key sent exactly two transactions.
    let p = ProviderBuilder::new().connect_http(url.parse().unwrap());
    let key = std::fs::read_to_string(d.join("agent.key")).unwrap();
    let signer: alloy::signers::local::PrivateKeySigner = key.trim().parse().unwrap();
    assert_eq!(p.get_transaction_count(signer.address()).await.unwrap(), 2);
}

/// A TCP proxy to the devnet that the test can cut (dropping every connection) and restore.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (u, c) = (up.clone(), conns.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if !u.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                c.lock().unwrap().push(client.try_clone().unwrap());
                c.lock().unwrap().push(server.try_clone().unwrap());
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16 * 1024];
                        loop {
                            match from.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => {
                                    if to.write_all(&buf[..n]).is_err() {
                                        break;
                                    }
                                }
                            }
                        }
                        let _ = to.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        Proxy { port, up, conns }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for s in self.conns.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_rides_out_an_rpc_outage_without_a_double_buy() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let _devnet = devnet(d);
    let url = rpc_url(d);
    let vault = vault(d);
    let proxy = Proxy::start(url.trim_start_matches("http://").to_owned());

    const SLOTS: u64 = 3;
    let mut c = agent(
        d,
        "--live",
        SLOTS,
        &[
            "--rpc-url",
            &format!("http://127.0.0.1:{}", proxy.port),
            "--vault",
            &vault.to_string(),
            "--max-outage",
            "60",
        ],
    );
    c.env("CAIRN_RPC_TIMEOUT", "2");
    let live = c.spawn().unwrap();
    anchored(d, "--live");
    let mut rp = replay(d, FROM, SLOTS as usize + 2, "1d=4s");
    rp.stdout(Stdio::null()).stderr(Stdio::null());
    let mut replayer = rp.spawn().unwrap();
    // Cut the agent off twice, for longer than its RPC timeout, while the market moves on.
    for (wait, outage) in [(3, 3), (3, 2)] {
        std::thread::sleep(Duration::from_secs(wait));
        proxy.cut();
        std::thread::sleep(Duration::from_secs(outage));
        proxy.restore();
    }
    let (code, out, err) = finish(live);
    let _ = replayer.kill();
    let _ = replayer.wait();
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out["slots"].as_array().unwrap().len(), SLOTS as usize);
    let st = status(d, "--live");
    let filled = st["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["state"] == "filled")
        .count();
    let bought = boughts(&url, vault).await;
    assert_eq!(bought.len(), filled, "{st:#}");
    // At most one buy per asset per slot (a slot is one chain day, the vault's period).
    let mut per_slot: BTreeMap<(i64, String), usize> = BTreeMap::new();
    for o in st["decisions"].as_array().unwrap() {
        if o["state"] == "filled" {
            *per_slot
                .entry((
                    o["slot"].as_i64().unwrap(),
                    o["symbol"].as_str().unwrap().into(),
                ))
                .or_default() += 1;
        }
    }
    assert!(per_slot.values().all(|&n| n == 1), "{per_slot:?}");
}

#[test]
fn agent_and_replay_refuse_bad_input_naming_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = run(cairn(d).args(["agent", "run", PLAN]));
    common::assert_clear_error(&o, &["--paper", "--live"]);
    let o = run(cairn(d).args(["agent", "status", PLAN, "--paper"]));
    common::assert_clear_error(&o, &["no agent state", "cairn agent run"]);
    let o = run(cairn(d).args([
        "market",
        "replay",
        "--data",
        "data/market/BTCUSDT_1d.csv",
        "--speed",
        "fast",
    ]));
    common::assert_clear_error(&o, &["--speed", "1d=2s"]);
    let o = run(cairn(d).args(["market", "replay", "--data", "data/market/BTCUSDT_1d.csv"]));
    common::assert_clear_error(&o, &["no devnet is running", "cairn devnet up"]);
}

/// A small volatility model trained here, in reproducible mode, on the repository's candles
/// (`market` reader: `window` returns per asset in, next-`horizon` realised volatility out).
fn vol_model(assets: &[&str], path: &Path) -> String {
    let spec: cairn_compute::TrainSpec = serde_json::from_value(serde_json::json!({
        "model": "mlp", "hidden": 8, "layers": 1, "seed": 5, "optimiser": "adam",
        "learning_rate": 0.01, "batch_size": 16, "steps": 40, "checkpoint_every": 20,
        "data": {"reader": "market", "assets": assets, "window": 2, "horizon": 3},
    }))
    .unwrap();
    let inputs: Vec<(String, Vec<u8>)> = assets
        .iter()
        .map(|a| {
            let name = format!("{a}USDT_1d.csv");
            let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
            let bytes = std::fs::read(repo.join("data/market").join(&name)).unwrap();
            (name, bytes)
        })
        .collect();
    let run = cairn_ml::run_train(&spec, &inputs, 1, &AtomicBool::new(false)).unwrap();
    let (_, model) = run
        .outputs
        .iter()
        .find(|(n, _)| n == "model.safetensors")
        .unwrap();
    std::fs::write(path, model).unwrap();
    cairn_attest::Digest::sha256_of(model).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paper_agent_with_a_volatility_model_reads_its_forecast_and_names_it_in_each_decision() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let _devnet = devnet(d);
    let log = log_serve(&d.join("logdata"), &[]);
    assert!(run(cairn(d).args(["key", "generate"])).status.success());
    // The README's plan with a volatility target: the forecast sizes every buy.
    let plan = d.join("volplan.toml");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text = std::fs::read_to_string(repo.join(PLAN)).unwrap().replace(
        "[risk.drawdown]",
        "[risk.vol_target]\ntarget = 0.5\nmax_scale = 2.0\nmin_scale = 0.25\n\n[risk.drawdown]",
    );
    std::fs::write(&plan, text).unwrap();
    let plan = plan.display().to_string();
    let model = d.join("vol.safetensors");
    let digest = vol_model(&["BTC", "BNB"], &model);
    let model = model.display().to_string();

    // Models that cannot feed this plan are refused, naming why.
    let eth = d.join("eth.safetensors");
    vol_model(&["BTC", "ETH"], &eth);
    let paper = |extra: &[&str]| {
        let mut c = cairn(d);
        c.args(["--json", "agent", "run", &plan, "--paper", "--no-log"])
            .args(extra);
        c
    };
    let o = run(&mut paper(&[
        "--slots",
        "1",
        "--vol-model",
        eth.to_str().unwrap(),
    ]));
    common::assert_clear_error(&o, &["ETH", "does not hold"]);
    let o = run(&mut paper(&[
        "--slots",
        "1",
        "--vol-model",
        &model,
        "--vol-model-bars",
        "4h",
    ]));
    common::assert_clear_error(&o, &["bars of 4 h", "every 24 h"]);
    let o = run(&mut paper(&[
        "--slots",
        "1",
        "--vol-model",
        "missing.safetensors",
    ]));
    common::assert_clear_error(&o, &["missing.safetensors", "sha256:"]);
    let o = run(&mut paper(&["--slots", "1", "--vol-model", "sha256:12"]));
    common::assert_clear_error(&o, &["64 hex"]);
    // A venue in the plan that this chain has no route for.
    let sushi = d.join("sushi.toml");
    let text = std::fs::read_to_string(repo.join(PLAN)).unwrap() + "venue = \"sushi\"\n";
    std::fs::write(&sushi, text).unwrap();
    let o = run(cairn(d)
        .args([
            "agent",
            "run",
            sushi.to_str().unwrap(),
            "--paper",
            "--no-log",
        ])
        .args(["--slots", "1"]));
    common::assert_clear_error(&o, &["execution.venue", "sushi", "uniswap-v2", "pancake"]);
    let _ = std::fs::remove_dir_all(d.join("agent"));

    const SLOTS: u64 = 4;
    let mut c = cairn(d);
    c.args(["--json", "agent", "run", &plan, "--paper", "--slots"])
        .arg(SLOTS.to_string())
        .args(["--poll-ms", "100", "--log", &log.url, "--vol-model", &model])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let agent = c.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let started = || {
        let o = run(cairn(d).args(["--json", "agent", "status", &plan, "--paper"]));
        o.status.success()
            && serde_json::from_slice::<Value>(&o.stdout).is_ok_and(|v| v["anchorMs"].is_i64())
    };
    while !started() {
        assert!(Instant::now() < deadline, "the agent never started");
        std::thread::sleep(Duration::from_millis(200));
    }
    let r = run(&mut replay(d, FROM, SLOTS as usize, "1d=3s"));
    assert!(r.status.success(), "replay: {}", stderr(&r));
    let (code, _, err) = finish(agent);
    assert_eq!(code, Some(0), "agent: {err}");

    let st = json(cairn(d).args([
        "--json", "agent", "status", &plan, "--paper", "--last", "100",
    ]));
    let decisions = st["decisions"].as_array().unwrap();
    assert_eq!(decisions.len(), 2 * SLOTS as usize, "{st:#}");
    let mut forecast_at = None;
    for o in decisions {
        let inputs: Value = serde_json::from_str(o["inputs"].as_str().unwrap()).unwrap();
        assert_eq!(inputs["volModel"], digest.as_str(), "{inputs:#}");
        if let Some(f) = inputs["volForecast"].as_f64() {
            // The policy read the forecast, not the realised estimate.
            assert_eq!(inputs["vol"].as_f64(), Some(f), "{inputs:#}");
            assert!(f.is_finite() && f >= 0.0);
            forecast_at.get_or_insert(o["log_index"].as_u64().expect("logged"));
        }
    }
    // Two returns are needed: from the third slot on, every decision read a forecast.
    let index = forecast_at.expect("no decision read a forecast");

    // Its statement names the model: `cairn verify` walks to it (not attested here: the model
    // was trained in this test, not by a job whose statements are in the log).
    let v = verify_logged(d, &log, index).await;
    let not_attested: Vec<&str> = v["notAttested"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x.as_str())
        .collect();
    assert!(not_attested.contains(&digest.as_str()), "{v:#}");
}

#[test]
fn bench_agent_reports_each_buys_latency_and_the_blocks_to_its_mining() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let v = json(cairn(d).args(["--json", "bench", "agent", "--slots", "2", "--step", "2s"]));
    let buys = v["buys"].as_u64().unwrap();
    assert!(buys >= 2, "{v:#}");
    let all = v["decision_to_broadcast_ms"]["all"].as_array().unwrap();
    assert_eq!(all.len() as u64, buys, "one latency per buy: {v:#}");
    assert!(all.iter().all(|x| x.as_f64().unwrap() > 0.0));
    let blocks = v["blocks_from_signing_to_mined"].as_array().unwrap();
    assert_eq!(blocks.len() as u64, buys);
    assert!(blocks.iter().all(|b| b.as_u64().unwrap() >= 1), "{v:#}");
    let o = run(cairn(d).args(["bench", "agent", "--slots", "0"]));
    common::assert_clear_error(&o, &["--slots"]);
}
