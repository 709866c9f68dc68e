//! Integration tests against a real anvil with the real Uniswap V2 bytecode.
use alloy::primitives::{Address, U256};
use cairn_contracts::{TestToken, UniswapV2Pair, UniswapV2Router02};
use cairn_devnet::{DevnetConfig, connect, dev_accounts, down, status, up};
use std::path::PathBuf;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn config(dir: &std::path::Path) -> DevnetConfig {
    DevnetConfig::test(dir)
        .with_anvil(repo().join("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"))
        .with_prices_dir(repo().join("data/market"))
}

/// Uniswap V2's `getAmountOut`, written out from the constant-product formula with the 0.30% fee.
fn constant_product_out(amount_in: U256, reserve_in: U256, reserve_out: U256) -> U256 {
    let with_fee = amount_in * U256::from(997);
    with_fee * reserve_out / (reserve_in * U256::from(1000) + with_fee)
}

#[tokio::test(flavor = "multi_thread")]
async fn deploys_uniswap_and_swaps_usdt_for_wbtc_at_the_constant_product_price() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let report = up(&cfg).await.expect("devnet up");
    assert!(!report.reused_process && !report.reused_contracts);
    let d = &report.deployment;
    assert_eq!(d.chain_id, cfg.chain_id);
    assert!(cfg.manifest_path().is_file());

    // A second `up` reuses both the process and the contracts.
    let again = up(&cfg).await.expect("second up");
    assert!(again.reused_process && again.reused_contracts);
    assert_eq!(again.deployment, report.deployment);

    let key = dev_accounts(&cfg).unwrap().deployer_key();
    let chain = connect(&report.devnet, Some(key)).await.unwrap();
    let p = chain.provider();
    let me = chain.signer().unwrap();
    let (usdt, wbtc) = (d.tokens["USDT"].address, d.tokens["WBTC"].address);
    let pool = &d.pools["WBTC/USDT"];
    let pair = UniswapV2Pair::new(pool.pair, p);
    let reserves = pair.getReserves().call().await.unwrap();
    let token0: Address = pair.token0().call().await.unwrap();
    let (r_usdt, r_wbtc) = if token0 == usdt {
        (
            U256::from(reserves._reserve0),
            U256::from(reserves._reserve1),
        )
    } else {
        (
            U256::from(reserves._reserve1),
            U256::from(reserves._reserve0),
        )
    };
    // The pool is seeded at the last daily close: USDT (6 dp) per WBTC (8 dp).
    let price = f64::from(r_usdt) / 1e6 / (f64::from(r_wbtc) / 1e8);
    assert!(
        (price / pool.seed_price - 1.0).abs() < 1e-6,
        "pool price {price} vs seed {}",
        pool.seed_price
    );

    let usdt_token = TestToken::new(usdt, p);
    let wbtc_token = TestToken::new(wbtc, p);
    let usdt_before = usdt_token.balanceOf(me).call().await.unwrap();
    let wbtc_before = wbtc_token.balanceOf(me).call().await.unwrap();

    let amount_in = U256::from(25_000u64) * U256::from(1_000_000u64); // 25,000 USDT
    let expected = constant_product_out(amount_in, r_usdt, r_wbtc);
    assert!(expected > U256::ZERO);
    let router = UniswapV2Router02::new(d.contracts["uniswap_v2_router02"], p);
    let approve = usdt_token
        .approve(*router.address(), amount_in)
        .send()
        .await
        .unwrap();
    assert!(approve.get_receipt().await.unwrap().status());

    // Asking for one base unit more than the formula gives must revert.
    let greedy = router
        .swapExactTokensForTokens(
            amount_in,
            expected + U256::from(1),
            vec![usdt, wbtc],
            me,
            U256::MAX,
        )
        .call()
        .await;
    assert!(
        greedy.is_err(),
        "router paid more than the constant product allows"
    );

    let swap = router
        .swapExactTokensForTokens(amount_in, expected, vec![usdt, wbtc], me, U256::MAX)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(swap.status());

    let usdt_after = usdt_token.balanceOf(me).call().await.unwrap();
    let wbtc_after = wbtc_token.balanceOf(me).call().await.unwrap();
    assert_eq!(usdt_before - usdt_after, amount_in);
    assert_eq!(wbtc_after - wbtc_before, expected);

    let after = pair.getReserves().call().await.unwrap();
    let (r_usdt2, r_wbtc2) = if token0 == usdt {
        (U256::from(after._reserve0), U256::from(after._reserve1))
    } else {
        (U256::from(after._reserve1), U256::from(after._reserve0))
    };
    assert_eq!(r_usdt2, r_usdt + amount_in);
    assert_eq!(r_wbtc2, r_wbtc - expected);
    // k never decreases across a swap.
    assert!(r_usdt2 * r_wbtc2 >= r_usdt * r_wbtc);

    assert!(down(&cfg).await.unwrap().is_some());
    assert!(status(&cfg).await.unwrap().is_none());
    assert!(
        down(&cfg).await.unwrap().is_none(),
        "a second down finds nothing to stop"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn state_file_brings_contracts_back_after_down_and_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.persist_state = true;
    let first = up(&cfg).await.expect("first up");
    down(&cfg).await.unwrap();
    let second = up(&cfg).await.expect("up from state");
    assert!(!second.reused_process, "a new anvil process was started");
    assert!(
        second.reused_contracts,
        "contracts came back from the state file"
    );
    assert_eq!(first.deployment.contracts, second.deployment.contracts);
    down(&cfg).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_chain_is_not_silently_redeployed() {
    // No state file: after down and up the chain is new, and the manifest names contracts it
    // does not have. Services bound to them must not be left pointing at a different stack.
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let first = up(&cfg).await.unwrap();
    down(&cfg).await.unwrap();
    let err = up(&cfg).await.unwrap_err().to_string();
    assert!(
        err.contains("names contracts that are not on the chain")
            && err.contains("Redeploy the stack"),
        "{err}"
    );
    let kept = std::fs::read_to_string(cfg.manifest_path()).unwrap();
    assert!(
        kept.contains(&first.deployment.genesis_hash.to_string()),
        "the manifest was rewritten"
    );
    let again = up(&cfg.clone().with_redeploy(true)).await.unwrap();
    // A new stack (anvil started within the same second may even repeat the genesis hash).
    assert!(!again.reused_contracts);
    let old: Vec<_> = std::fs::read_dir(cfg.manifest_path().parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("deployment."))
        .collect();
    assert_eq!(old.len(), 2, "the old manifest is kept beside the new one");
    down(&cfg).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn contracts_of_another_version_are_not_reused_silently() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    up(&cfg).await.unwrap();
    // The manifest now says an older Cairn deployed these contracts (the chain still has them).
    let mut old = cairn_chain::Deployment::read(&cfg.manifest_path())
        .unwrap()
        .unwrap();
    old.contracts_version = None;
    old.write(&cfg.manifest_path()).unwrap();
    let err = up(&cfg).await.unwrap_err().to_string();
    assert!(
        err.contains("another version of Cairn") && err.contains("redeploy this version"),
        "{err}"
    );
    let again = up(&cfg.clone().with_redeploy(true)).await.unwrap();
    assert!(!again.reused_contracts);
    assert_eq!(
        again.deployment.contracts_version,
        Some(cairn_contracts::cairn_contracts_version())
    );
    // And this version's deployment is reused from now on.
    assert!(up(&cfg).await.unwrap().reused_contracts);
    down(&cfg).await.unwrap();
}
