//! Sending through a hostile transport, against a real anvil: answers lost after the node took
//! the transaction, transactions lost before it did, a block that does not come, and a second
//! process signing with the same key. Every case must end in exactly one transfer.
use alloy::{primitives::U256, providers::Provider, signers::local::PrivateKeySigner};
use axum::{Router, body::Bytes, extract::State, http::StatusCode, response::IntoResponse};
use cairn_chain::{Chain, ChainConfig, send::SendPolicy};
use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

/// anvil's first default account (its well-known test mnemonic): a devnet-only key, read
/// from anvil itself at start so it never lives in this file.
struct Anvil {
    child: Child,
    url: String,
    key: PrivateKeySigner,
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn anvil(extra: &[&str]) -> Anvil {
    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
    assert!(bin.is_file(), "{} missing: run `npm ci`", bin.display());
    let keys = tempfile::tempdir().unwrap();
    let config_out = keys.path().join("anvil.json");
    let port = free_port();
    let child = Command::new(&bin)
        .args(["--port", &port.to_string(), "--silent", "--config-out"])
        .arg(&config_out)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let plain = ChainConfig::new(&url).with_timeout(Duration::from_secs(2));
    for _ in 0..200 {
        if Chain::connect(&plain, None).await.is_ok() && config_out.is_file() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let out: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config_out).unwrap()).unwrap();
    let key = out["private_keys"][0].as_str().unwrap().parse().unwrap();
    Anvil { child, url, key }
}

/// What the proxy does to `eth_sendRawTransaction`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Attack {
    /// Passes everything through.
    None,
    /// Hands the transaction to the node, then never answers in time (the answer is lost).
    LoseAnswer,
    /// Drops the transaction before the node sees it, answering with a gateway error.
    LoseTransaction,
}

#[derive(Clone)]
struct Proxy {
    upstream: String,
    attack: Arc<Mutex<Attack>>,
    /// How many more sends the attack applies to.
    budget: Arc<AtomicUsize>,
    client: alloy::transports::http::reqwest::Client,
}

async fn forward(State(p): State<Proxy>, body: Bytes) -> impl IntoResponse {
    let is_send = std::str::from_utf8(&body).is_ok_and(|b| b.contains("eth_sendRawTransaction"));
    let attack = *p.attack.lock().unwrap();
    let hit = is_send
        && attack != Attack::None
        && p.budget
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
    if hit && attack == Attack::LoseTransaction {
        return (StatusCode::BAD_GATEWAY, Vec::new());
    }
    let answer = p
        .client
        .post(&p.upstream)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    if hit {
        // Longer than the client's deadline: it sees no answer, the node has the transaction.
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    (StatusCode::OK, answer)
}

async fn proxy(upstream: &str, attack: Attack, times: usize) -> (String, Proxy) {
    let p = Proxy {
        upstream: upstream.to_owned(),
        attack: Arc::new(Mutex::new(attack)),
        budget: Arc::new(AtomicUsize::new(times)),
        client: Default::default(),
    };
    let app = Router::new().fallback(forward).with_state(p.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, p)
}

fn quick() -> SendPolicy {
    SendPolicy {
        backoff: Duration::from_millis(50),
        rebroadcast_after: Duration::from_millis(300),
        bump_after: Duration::from_secs(600),
        confirm_timeout: Duration::from_secs(30),
        ..SendPolicy::default()
    }
}

async fn connect(url: &str, key: &PrivateKeySigner, policy: SendPolicy) -> Chain {
    let cfg = ChainConfig::new(url).with_timeout(Duration::from_secs(1));
    Chain::connect(&cfg, Some(key.clone()))
        .await
        .unwrap()
        .with_send_policy(policy)
}

async fn sent_count(chain: &Chain) -> u64 {
    chain
        .provider()
        .get_transaction_count(chain.signer().unwrap())
        .latest()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_answer_does_not_send_the_money_twice() {
    let node = anvil(&[]).await;
    let (url, _p) = proxy(&node.url, Attack::LoseAnswer, 1).await;
    let chain = connect(&url, &node.key, quick()).await;
    let to = PrivateKeySigner::random().address();
    let before = sent_count(&chain).await;
    let wei = U256::from(123_456_789u64);
    let r = chain.send_ether(to, wei).await.expect("confirmed once");
    assert!(r.status());
    assert_eq!(chain.balance(to).await.unwrap(), wei, "paid exactly once");
    assert_eq!(sent_count(&chain).await, before + 1, "one transaction");
    // The next send takes the next nonce and goes through.
    chain.send_ether(to, wei).await.unwrap();
    assert_eq!(chain.balance(to).await.unwrap(), wei * U256::from(2u8));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_transaction_is_sent_again_byte_for_byte() {
    let node = anvil(&[]).await;
    let (url, _p) = proxy(&node.url, Attack::LoseTransaction, 2).await;
    let chain = connect(&url, &node.key, quick()).await;
    let to = PrivateKeySigner::random().address();
    let before = sent_count(&chain).await;
    let wei = U256::from(5u8);
    chain.send_ether(to, wei).await.expect("confirmed");
    assert_eq!(chain.balance(to).await.unwrap(), wei);
    assert_eq!(sent_count(&chain).await, before + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_nonce_taken_by_another_process_leads_to_one_new_transaction() {
    let node = anvil(&[]).await;
    let ours = connect(&node.url, &node.key, quick()).await;
    let theirs = connect(&node.url, &node.key, quick()).await;
    let to = PrivateKeySigner::random().address();
    // Ours caches nonce 1 after its first send; theirs then uses nonce 1.
    ours.send_ether(to, U256::from(1u8)).await.unwrap();
    theirs
        .send_ether(PrivateKeySigner::random().address(), U256::from(1u8))
        .await
        .unwrap();
    let before = sent_count(&ours).await;
    // Ours signs at its cached nonce 1: "nonce too low". It must not count that as sent.
    ours.send_ether(to, U256::from(10u8))
        .await
        .expect("a new attempt");
    assert_eq!(ours.balance(to).await.unwrap(), U256::from(11u8));
    assert_eq!(sent_count(&ours).await, before + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transaction_that_waits_is_replaced_at_its_nonce_with_a_higher_fee() {
    // No block comes until the test mines one.
    let node = anvil(&["--no-mining"]).await;
    let policy = SendPolicy {
        bump_after: Duration::from_millis(400),
        ..quick()
    };
    let chain = connect(&node.url, &node.key, policy).await;
    let first_fee = chain
        .provider()
        .estimate_eip1559_fees()
        .await
        .unwrap()
        .max_fee_per_gas;
    let to = PrivateKeySigner::random().address();
    let wei = U256::from(77u8);
    let sending = {
        let chain = chain.clone();
        tokio::spawn(async move { chain.send_ether(to, wei).await })
    };
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let miner = connect(&node.url, &node.key, quick()).await;
    let _: serde_json::Value = miner
        .provider()
        .raw_request("evm_mine".into(), ())
        .await
        .unwrap();
    let r = tokio::time::timeout(Duration::from_secs(20), sending)
        .await
        .expect("confirmed after the block")
        .unwrap()
        .unwrap();
    assert!(r.status());
    let mined = chain
        .provider()
        .get_transaction_by_hash(r.transaction_hash)
        .await
        .unwrap()
        .unwrap();
    let max_fee = alloy::consensus::Transaction::max_fee_per_gas(mined.inner.inner());
    assert!(
        max_fee > first_fee,
        "a replacement was mined ({max_fee} > {first_fee})"
    );
    assert_eq!(chain.balance(to).await.unwrap(), wei, "paid exactly once");
    // Nothing else of ours is waiting: the old version can never be mined.
    let _: serde_json::Value = miner
        .provider()
        .raw_request("evm_mine".into(), ())
        .await
        .unwrap();
    assert_eq!(chain.balance(to).await.unwrap(), wei);
    assert_eq!(sent_count(&chain).await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_block_that_never_comes_ends_in_a_clear_error_and_nothing_resent() {
    let node = anvil(&["--no-mining"]).await;
    let policy = SendPolicy {
        confirm_timeout: Duration::from_millis(800),
        ..quick()
    };
    let chain = connect(&node.url, &node.key, policy).await;
    let err = chain
        .send_ether(PrivateKeySigner::random().address(), U256::from(1u8))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("not mined within") && err.contains("may still be mined"),
        "{err}"
    );
    let pending: serde_json::Value = chain
        .provider()
        .raw_request("txpool_status".into(), ())
        .await
        .unwrap();
    assert_eq!(
        u64::from_str_radix(
            pending["pending"]
                .as_str()
                .unwrap()
                .trim_start_matches("0x"),
            16
        )
        .unwrap(),
        1,
        "one transaction waits: {pending}"
    );
}
