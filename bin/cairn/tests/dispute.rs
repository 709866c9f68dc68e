//! Refereed bisection disputes wired into the running network, end to end: anvil (`cairn
//! devnet up`) with the market's dispute rules set, a real `cairn log serve`, a real `cairn
//! node serve` auditing every segment, a referee registered and ruling with the real CLI
//! (`cairn referee register|run|status`), real `cairn worker` processes, and an attacker
//! running the project's worker library with a runner that corrupts one step.
//!
//! - the cheater's result fails its audit; the node opens a dispute (not the direct slash), is
//!   killed and restarted mid-dispute and resumes, both sides answer every round, the node
//!   assigns the referee, the referee recomputes one segment and rules: the provider slashed,
//!   the requester refunded, the operator's bond back; the dispute/v1 statements are in the
//!   log, signed by the node's receipt key, and `cairn job verify` shows them;
//! - a cheater that stops answering loses by a timeout the node resolves;
//! - an honest worker disputed wrongly (a challenger with a lying trace, through the escrow
//!   client) answers every round by itself and wins; the node, which did not open that
//!   dispute, assigns its referee as the market's operator;
//! - with the node's audits off, the requester re-executes the result itself (`cairn job
//!   dispute`), disputes the cheat on chain and wins: refund, slash and bond; an honest result
//!   gives nothing to dispute, and another account cannot dispute the requester's job.
mod common;

use alloy::primitives::{Address, B256, U256};
use cairn_compute::JobKind;
use cairn_escrow::{DisputePhase, DisputeRules, Escrow, EventKind, MarketEvent};
use cairn_ml::trace::TraceFile;
use common::{
    Service, cairn,
    compute::{
        Corrupting, Net, Proc, job_status, library_worker, logs, node_serve, rpc, submit,
        train_worker, wait_for, wait_logged, wait_online, write_train_job,
    },
    json, run, stderr, stdout,
};
use serde_json::{Value, json};
use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};

/// `cairn node serve` auditing every segment of a train job.
fn auditing_node(d: &Path, log: &str) -> Service {
    node_serve(d, log, 1200, &["--audit-samples", "4"])
}

/// The attacker: the project's worker library with the corrupting runner, on its own runtime
/// so that shutting the runtime down stops every loop of it (it stops answering).
fn cheater(node: &str, key: &Path, dir: &Path) -> tokio::runtime::Runtime {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (node, key, dir) = (node.to_owned(), key.to_owned(), dir.to_owned());
    rt.spawn(async move {
        let runner = Arc::new(Corrupting { at: 15 });
        let w = library_worker(&node, &key, dir, JobKind::Train, runner).await;
        if let Err(e) = w.run().await {
            eprintln!("the attacker's worker stopped: {e}");
        }
    });
    rt
}

/// Every dispute/v1 statement the node logged for job `id` (from its history): fetched from
/// the log, verified against the log's key, signed by the node's receipt key.
async fn statements(log_url: &str, log_key: &str, receipt_key: &str, history: &str) -> Vec<Value> {
    let policy = cairn_log_client::TrustPolicy {
        log_key: cairn_tlog::NoteVerifier::from_vkey(log_key).unwrap(),
        witnesses: vec![],
        witness_quorum: 0,
    };
    let client = cairn_log_client::LogClient::new(log_url);
    let mut out = vec![];
    for line in history.lines() {
        let Some(rest) = line.split("dispute statement (").nth(1) else {
            continue;
        };
        let index: u64 = rest
            .split("logged at index ")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no index in {line:?}"));
        let bundle = client.bundle(index).await.unwrap();
        let verified = bundle.verify(&policy).unwrap();
        assert_eq!(bundle.public_key, receipt_key, "signed by the receipt key");
        assert_eq!(
            verified.statement.predicate_type,
            "https://cairn.dev/attestation/dispute/v1"
        );
        out.push(serde_json::to_value(&verified.statement.predicate).unwrap());
    }
    out
}

/// The devnet's market as its account `i` sees it.
async fn market_as(net: &Net, i: usize) -> Escrow {
    let market: Address = net.up["deployment"]["contracts"]["compute_market"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let dcfg = cairn_devnet::DevnetConfig::default().with_data_dir(&net.d);
    let accounts = cairn_devnet::dev_accounts(&dcfg).unwrap();
    let running = cairn_devnet::status(&dcfg).await.unwrap().unwrap();
    let chain = cairn_devnet::connect(&running, accounts.key(i))
        .await
        .unwrap();
    Escrow::new(chain, market)
}

/// The devnet's USDT, minted by `deployer`.
fn usdt_token(
    net: &Net,
    deployer: &Escrow,
) -> cairn_contracts::TestToken::TestTokenInstance<impl alloy::providers::Provider + Clone> {
    let usdt: Address = net.usdt().parse().unwrap();
    cairn_contracts::TestToken::new(usdt, deployer.chain().provider())
}

/// USDT in base units.
fn usd(n: u64) -> U256 {
    U256::from(n * 1_000_000)
}

/// The operator's dispute rules for these tests: bond 2, slash 5, referee fee 1, referee
/// stake 10 USDT, 600 s per round.
async fn set_rules(operator: &Escrow) {
    operator
        .set_dispute_rules(DisputeRules {
            bond: usd(2),
            slash: usd(5),
            referee_fee: usd(1),
            min_referee_stake: usd(10),
            window: 600,
        })
        .await
        .unwrap();
}

/// A new referee key at `key`, registered with the real CLI (a stake below the minimum is
/// refused first, naming it).
fn register_referee(d: &Path, node: &str, key: &Path) -> alloy::signers::local::PrivateKeySigner {
    let ref_signer = alloy::signers::local::PrivateKeySigner::random();
    std::fs::write(
        key,
        format!(
            "0x{}\n",
            alloy::primitives::hex::encode(ref_signer.to_bytes())
        ),
    )
    .unwrap();
    let small = run(cairn(d)
        .args([
            "referee", "register", "--stake", "1", "--node", node, "--key",
        ])
        .arg(key));
    common::assert_clear_error(&small, &["referee stake of at least 10000000"]);
    let reg = json(
        cairn(d)
            .args([
                "--json", "referee", "register", "--stake", "20000000", "--node", node, "--key",
            ])
            .arg(key),
    );
    assert_eq!(reg["stake"], "20000000");
    let st = json(
        cairn(d)
            .args(["--json", "referee", "status", "--node", node, "--key"])
            .arg(key),
    );
    assert_eq!(
        (st["active"].as_bool(), st["open"].as_u64()),
        (Some(true), Some(0))
    );
    ref_signer
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_audits_become_disputes_that_the_network_answers_and_a_referee_rules() {
    let net = Net::start();
    let (d, work, rpc_url) = (net.d.clone(), net.work.clone(), net.rpc_url.clone());
    let operator = market_as(&net, cairn_devnet::COMPUTE_OPERATOR_ACCOUNT).await;
    let deployer = market_as(&net, 0).await;
    let token = usdt_token(&net, &deployer);
    // The operator holds USDT for bonds.
    let op_addr = operator.chain().signer().unwrap();
    deployer
        .chain()
        .send_call("mint", token.mint(op_addr, U256::from(1_000_000_000u64)))
        .await
        .unwrap();
    set_rules(&operator).await;

    let log = &net.log;
    let mut node = auditing_node(&d, &log.url);
    let n = node.url.clone();
    let info = cairn_node_client::NodeClient::new(&n).info().await.unwrap();

    // The referee, with the real CLI.
    let ref_key = work.join("referee.key");
    let ref_signer = register_referee(&d, &n, &ref_key);
    let referee_once = |node: &str, key: &Path| {
        json(
            cairn(&d)
                .args([
                    "--json", "referee", "run", "--once", "--node", node, "--key",
                ])
                .arg(key),
        )
    };

    let job = write_train_job(&work);

    // 1. The cheater: registered with the real CLI, then its own runner.
    let cheat_key = work.join("cheat.key");
    // Bonded above the minimum, so it stays eligible after one slash.
    let min_stake: u64 = info.min_stake.parse().unwrap();
    let stake = (min_stake + 50_000_000).to_string();
    let (reg, cheat_addr) = train_worker(
        &d,
        &n,
        &cheat_key,
        &work.join("c.log"),
        &["--stake", &stake],
    );
    drop(reg);
    let cheat_stake0 = operator
        .provider(cheat_addr.parse().unwrap())
        .await
        .unwrap()
        .stake;
    let rt = cheater(&n, &cheat_key, &work.join("cheat-state"));
    wait_online(&d, &n, &[&cheat_addr], &[]);
    let id = submit(&d, &n, &job);
    let l = wait_logged(&d, &n, id, 90, "chain: dispute opened");
    assert!(l.contains("audit FAILED"), "{l}");
    assert!(!l.contains("chain: challenged"), "no direct challenge: {l}");
    // The node dies mid-dispute and comes back on the same data directory.
    node.kill();
    let node2 = auditing_node(&d, &log.url);
    let n2 = node2.url.clone();
    let l = wait_logged(
        &d,
        &n2,
        id,
        60,
        &format!("referee {} assigned", ref_signer.address()),
    );
    assert!(l.contains("dispute round"), "the node answered rounds: {l}");
    assert_eq!(
        json(
            cairn(&d)
                .args(["--json", "referee", "status", "--node", &n2, "--key"])
                .arg(&ref_key)
        )["open"],
        1
    );
    let requester = job_status(&d, &n2, id)["requester"]
        .as_str()
        .unwrap()
        .parse::<Address>()
        .unwrap();
    let req0 = operator.token_balance(requester).await.unwrap();
    let op0 = operator.token_balance(op_addr).await.unwrap();
    // The referee misses its deadline: the node replaces it with a second registered one.
    let late_stake = operator.referee(ref_signer.address()).await.unwrap().stake;
    let ref2_key = work.join("referee2.key");
    let ref2 = register_referee(&d, &n2, &ref2_key);
    rpc(&rpc_url, "evm_increaseTime", json!([601])).await;
    rpc(&rpc_url, "evm_mine", json!([])).await;
    wait_logged(
        &d,
        &n2,
        id,
        60,
        &format!("referee {} assigned in its place", ref2.address()),
    );
    assert_eq!(
        late_stake - operator.referee(ref_signer.address()).await.unwrap().stake,
        usd(1),
        "the late referee lost its fee"
    );
    let ruled = referee_once(&n2, &ref2_key);
    assert_eq!(ruled["job"], id, "{ruled}");
    assert_eq!(ruled["verdict"], "challenger_right", "{ruled}");
    assert_eq!(ruled["stepsReplayed"], 10, "one segment: {ruled}");
    let l = wait_logged(&d, &n2, id, 60, "dispute statement (resolved)");
    assert!(l.contains("dispute resolved (provider_wrong)"), "{l}");
    let v = job_status(&d, &n2, id);
    assert_eq!(v["state"], "failed", "{v:#}");
    assert_eq!(v["stop"]["kind"], "auditFailed", "{v:#}");
    // Provider slashed, requester refunded, the operator's bond back with the slash less the
    // referee's fee.
    let cheat_stake1 = operator
        .provider(cheat_addr.parse().unwrap())
        .await
        .unwrap()
        .stake;
    assert_eq!(cheat_stake0 - cheat_stake1, usd(5));
    let payment = U256::from(v["payment"].as_u64().unwrap());
    let refunded_before_dispute = U256::from(0u64);
    let req1 = operator.token_balance(requester).await.unwrap();
    assert!(
        req1 - req0 + refunded_before_dispute <= payment && req1 > req0,
        "refunded: {req0} → {req1} of {payment}"
    );
    assert_eq!(
        operator.token_balance(op_addr).await.unwrap(),
        op0 + usd(2) + usd(5) - usd(1)
    );
    let sts = statements(&log.url, &log.key, &info.receipt_key, &l).await;
    let events: Vec<&str> = sts.iter().map(|s| s["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["opened", "ruled", "resolved"], "{sts:#?}");
    assert_eq!(sts[1]["verdict"], "challenger_right");
    assert_eq!(sts[2]["outcome"], "provider_wrong");
    assert_eq!(
        (sts[2]["lo"].as_u64(), sts[2]["hi"].as_u64()),
        (Some(1), Some(2))
    );
    // `cairn job verify` shows the dispute from chain and names the statements.
    let out = run(cairn(&d).args(["job", "verify", &id.to_string(), "--node", &n2]));
    let text = stdout(&out);
    assert!(
        text.contains("method: disputed (refereed bisection)")
            && text.contains("outcome provider_wrong")
            && text.contains("dispute statement (ruled) logged at index"),
        "{text}"
    );

    // 2. A cheater that stops answering loses by the timeout the node resolves (the attacker
    // again, now working for the restarted node).
    rt.shutdown_background();
    let rt = cheater(&n2, &cheat_key, &work.join("cheat-state"));
    wait_online(&d, &n2, &[&cheat_addr], &[]);
    let id2 = submit(&d, &n2, &job);
    let deadline = Instant::now() + Duration::from_secs(90);
    while job_status(&d, &n2, id2)["result"].is_null() {
        assert!(Instant::now() < deadline, "{}", logs(&d, &n2, id2));
        std::thread::sleep(Duration::from_millis(50));
    }
    rt.shutdown_background();
    wait_logged(&d, &n2, id2, 60, "chain: dispute opened");
    let chain_id2 = id2;
    // Past the round's deadline.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let dsp = operator.dispute(chain_id2).await.unwrap().unwrap();
        if dsp.phase != DisputePhase::Bisecting || !dsp.provider_revealed && dsp.challenger_revealed
        {
            break;
        }
        assert!(Instant::now() < deadline, "{dsp:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    rpc(&rpc_url, "evm_increaseTime", json!([601])).await;
    rpc(&rpc_url, "evm_mine", json!([])).await;
    let l = wait_logged(&d, &n2, id2, 60, "dispute statement (resolved)");
    assert!(l.contains("dispute timed out"), "{l}");
    assert!(l.contains("dispute resolved (provider_wrong)"), "{l}");
    let sts = statements(&log.url, &log.key, &info.receipt_key, &l).await;
    let timeout = sts
        .iter()
        .find(|s| s["event"] == "timeout")
        .expect("a timeout statement");
    assert_eq!(timeout["failedToAnswer"], "provider");

    // 3. An honest worker disputed wrongly answers every round and wins.
    let (honest, honest_addr) =
        train_worker(&d, &n2, &work.join("honest.key"), &work.join("h.log"), &[]);
    wait_online(&d, &n2, &[&honest_addr], &[&cheat_addr]);
    let id3 = submit(&d, &n2, &job);
    let v = wait_for(&d, &n2, id3, 90, |v| !v["audit"].is_null());
    assert_eq!(v["audit"]["outcome"], "passed", "{v:#}");
    let r = &v["result"];
    let trace: TraceFile = serde_json::from_slice(
        &cairn_node_client::NodeClient::new(&n2)
            .blob_as_served(
                r["outputs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|o| o["name"] == "trace.json")
                    .unwrap()["sha256"]
                    .as_str()
                    .unwrap(),
            )
            .await
            .unwrap(),
    )
    .unwrap();
    let honest_leaves = trace.leaf_hashes().unwrap();
    let (lie, disputed) = cairn_node::dispute::challenger_trace(&honest_leaves, 1, [0x11; 32]);
    // The challenger: a staked account of the devnet (eligible to dispute), through the escrow
    // client.
    let challenger = market_as(&net, 5).await;
    let ch_addr = challenger.chain().signer().unwrap();
    deployer
        .chain()
        .send_call("mint", token.mint(ch_addr, usd(1000)))
        .await
        .unwrap();
    challenger.ensure_allowance(U256::MAX).await.unwrap();
    challenger.register_provider(usd(100)).await.unwrap();
    let b = |s: &str| s.parse::<B256>().unwrap();
    challenger
        .open_dispute(
            id3,
            b(v["specDigest"].as_str().unwrap()),
            b(r["outputDigest"].as_str().unwrap()),
            b(r["traceRoot"].as_str().unwrap()),
            cairn_node::dispute::root(&lie),
            lie.len() as u32,
            disputed,
        )
        .await
        .unwrap();
    let p0 = operator
        .token_balance(honest_addr.parse().unwrap())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        cairn_node::dispute::answer_round(&challenger, id3, false, &lie)
            .await
            .unwrap();
        let dsp = operator.dispute(id3).await.unwrap().unwrap();
        if dsp.phase != DisputePhase::Bisecting {
            break;
        }
        assert!(Instant::now() < deadline, "{dsp:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let dsp = operator.dispute(id3).await.unwrap().unwrap();
    assert_eq!(dsp.phase, DisputePhase::AwaitingReferee);
    assert_eq!((dsp.lo, dsp.hi), (1, 2));
    let provider_reveals = operator
        .dispute_events(id3)
        .await
        .unwrap()
        .into_iter()
        .filter(|l| {
            matches!(l.event, MarketEvent::LeafRevealed { by, .. } if by == honest_addr.parse::<Address>().unwrap())
        })
        .count();
    assert_eq!(
        provider_reveals,
        usize::from(dsp.rounds),
        "the worker answered every round"
    );
    // The node did not open this dispute; as the market's operator it takes it on and assigns
    // one of the registered referees.
    let l = wait_logged(&d, &n2, id3, 60, "assigned (tx");
    assert!(
        l.contains(&format!(
            "an eligible provider {ch_addr} opened a refereed bisection"
        )),
        "{l}"
    );
    let assigned = operator.dispute(id3).await.unwrap().unwrap().referee;
    let key = if assigned == Some(ref_signer.address()) {
        &ref_key
    } else {
        assert_eq!(assigned, Some(ref2.address()));
        &ref2_key
    };
    // This time the referee's loop (`cairn referee run`), as a service.
    let mut looping = cairn(&d)
        .args(["--json", "referee", "run", "--node", &n2, "--key"])
        .arg(key)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(looping.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = looping.kill();
    let _ = looping.wait();
    let ruled: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
    assert_eq!(ruled["job"], id3, "{ruled}");
    assert_eq!(ruled["verdict"], "provider_right", "{ruled}");
    let j = operator.job(id3).await.unwrap().unwrap();
    assert_eq!(j.state, cairn_escrow::JobState::Settled);
    let p1 = operator
        .token_balance(honest_addr.parse().unwrap())
        .await
        .unwrap();
    assert!(
        p1 > p0 + usd(2) - usd(1),
        "paid and the bond less the fee: {p0} → {p1}"
    );
    let ev = operator
        .events_of(&[EventKind::DisputeResolved], 0, None)
        .await
        .unwrap();
    assert_eq!(ev.len(), 3);
    drop(honest);
    drop(node2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_requester_disputes_a_result_the_node_did_not_check_and_wins() {
    let net = Net::start();
    let (d, work) = (net.d.clone(), net.work.clone());
    let operator = market_as(&net, cairn_devnet::COMPUTE_OPERATOR_ACCOUNT).await;
    set_rules(&operator).await;
    // The node checks nothing: what the requester does not check itself is paid.
    let node = node_serve(&d, &net.log.url, 1200, &["--audit-samples", "0"]);
    let n = node.url.clone();
    let ref_key = work.join("referee.key");
    register_referee(&d, &n, &ref_key);
    let referee = Proc(
        cairn(&d)
            .args(["--json", "referee", "run", "--node", &n, "--key"])
            .arg(&ref_key)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let job = write_train_job(&work);
    let cheat_key = work.join("cheat.key");
    let info = cairn_node_client::NodeClient::new(&n).info().await.unwrap();
    let min_stake: u64 = info.min_stake.parse().unwrap();
    let (reg, cheat_addr) = train_worker(
        &d,
        &n,
        &cheat_key,
        &work.join("c.log"),
        &["--stake", &(min_stake + 50_000_000).to_string()],
    );
    drop(reg);
    let rt = cheater(&n, &cheat_key, &work.join("cheat-state"));
    wait_online(&d, &n, &[&cheat_addr], &[]);
    let id = submit(&d, &n, &job);
    let v = wait_for(&d, &n, id, 90, |v| v["state"] == "committed");
    assert!(v["audit"].is_null(), "audits are off: {v:#}");
    let requester: Address = v["requester"].as_str().unwrap().parse().unwrap();

    // Another account cannot dispute the requester's job.
    let other = run(cairn(&d)
        .args([
            "job",
            "dispute",
            &id.to_string(),
            "--node",
            &n,
            "--key-file",
        ])
        .arg(&cheat_key));
    common::assert_clear_error(&other, &["a requester disputes its own jobs"]);
    assert!(operator.dispute(id).await.unwrap().is_none());

    // The requester re-executes every segment, disputes and answers; the cheater answers from
    // its lying trace, the node assigns the referee, the referee recomputes one segment.
    let deployer = market_as(&net, 0).await;
    deployer
        .chain()
        .send_call("mint", usdt_token(&net, &deployer).mint(requester, usd(10)))
        .await
        .unwrap();
    let before = operator.token_balance(requester).await.unwrap();
    let o = run(cairn(&d).args([
        "--json",
        "job",
        "dispute",
        &id.to_string(),
        "--node",
        &n,
        "--wait",
        "240",
    ]));
    assert!(o.status.success(), "{}\n{}", stderr(&o), stdout(&o));
    let out: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(out["disputed"], true, "{out:#}");
    assert_eq!(
        out["segment"], 1,
        "the corrupted step 15 is in segment 10..20: {out:#}"
    );
    assert_eq!(out["dispute"]["outcome"], "provider_wrong", "{out:#}");
    let challenger: Address = out["dispute"]["challenger"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(challenger, requester, "{out:#}");
    let err = stderr(&o);
    assert!(
        err.contains("steps 10..20 re-execute to another checkpoint"),
        "{err}"
    );
    assert!(err.contains("dispute opened in block"), "{err}");
    // Refunded, with the slash less the referee's fee, and the bond back.
    let after = operator.token_balance(requester).await.unwrap();
    // What stayed escrowed after the commit (the metered charge; the rest went back then).
    let payment = operator.job(id).await.unwrap().unwrap().payment;
    let refunds: Vec<U256> = operator
        .events_of(&[EventKind::JobRefunded], 0, None)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|l| match l.event {
            MarketEvent::JobRefunded { job_id, amount, .. } if job_id == id => Some(amount),
            _ => None,
        })
        .collect();
    assert_eq!(
        refunds,
        vec![payment],
        "the escrow refunded in full ({before} → {after})"
    );
    assert_eq!(
        after - before,
        payment + usd(5) - usd(1),
        "{before} → {after}"
    );
    let l = wait_logged(&d, &n, id, 60, "dispute resolved (provider_wrong)");
    assert!(
        l.contains(&format!(
            "the requester {requester} opened a refereed bisection"
        )),
        "{l}"
    );
    assert!(
        l.contains("assigned (tx"),
        "the node assigned the referee: {l}"
    );
    assert!(l.contains("the challenger's bond returned"), "{l}");
    let st = job_status(&d, &n, id);
    assert_eq!(st["state"], "failed", "{st:#}");
    assert_eq!(st["refunded"], v["payment"], "{st:#}");
    let sts = statements(
        &net.log.url,
        &net.log.key,
        &info.receipt_key,
        &wait_logged(&d, &n, id, 60, "dispute statement (resolved)"),
    )
    .await;
    let opened = sts
        .iter()
        .find(|s| s["event"] == "opened")
        .expect("an opened statement");
    assert_eq!(
        opened["challenger"]
            .as_str()
            .unwrap()
            .parse::<Address>()
            .unwrap(),
        requester
    );
    rt.shutdown_background();

    // An honest result: every segment re-executes to the committed checkpoints.
    let (honest, honest_addr) =
        train_worker(&d, &n, &work.join("honest.key"), &work.join("h.log"), &[]);
    wait_online(&d, &n, &[&honest_addr], &[&cheat_addr]);
    let id2 = submit(&d, &n, &job);
    wait_for(&d, &n, id2, 90, |v| v["state"] == "committed");
    let o = json(cairn(&d).args(["--json", "job", "dispute", &id2.to_string(), "--node", &n]));
    assert_eq!(o["disputed"], false, "{o:#}");
    assert!(operator.dispute(id2).await.unwrap().is_none());
    drop(referee);
    drop(honest);
    drop(node);
}
