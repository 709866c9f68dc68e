//! The AgentVault against a real anvil with the devnet stack (Uniswap V2 Router02, USDT/WBTC/WBNB,
//! Chainlink's MockV3Aggregator feeds at the seed prices), driven through `cairn_vault::Vault`.
//!
//! `attacker_holding_the_agent_key_cannot_move_the_owners_funds` publishes the agent's key to an
//! attacker helper that tries everything it can call; every attempt must revert, by name, and
//! the owner's funds must be intact: the worst it can do is buy within one period's budget at
//! the oracle price minus the cap, into the vault.
use alloy::{
    network::TransactionBuilder,
    primitives::{Address, B256, Bytes, I256, U256, keccak256},
    providers::Provider,
    rpc::types::TransactionRequest,
    signers::local::PrivateKeySigner,
    sol_types::SolValue,
};
use cairn_chain::{Chain, ChainConfig};
use cairn_contracts::{MockV3Aggregator, TestToken, UniswapV2Router02};
use cairn_devnet::{DevnetConfig, RunningDevnet, connect, dev_accounts, down, up};
use cairn_vault::{Bought, Error, FeedConfig, Order, Policy, Result, Vault, VaultParams};
use std::{fmt::Debug, path::PathBuf};

/// One USDT in base units (6 decimals).
const USDT: u64 = 1_000_000;
/// The vault's budget: 1,000 USDT per day.
const BUDGET: u64 = 1_000 * USDT;
const PERIOD: u64 = 86_400;
/// Slippage cap: 1% under the oracle (Router02 takes 0.30%).
const CAP_BPS: u16 = 100;
/// Feed heartbeat: one hour, as Chainlink's BTC/USD on Ethereum.
const HEARTBEAT: u32 = 3_600;
/// What the owner deposits.
const DEPOSIT: u64 = 10_000 * USDT;

const OWNER: usize = 1;
/// The attacker's own account (its money, for pushing pools and deploying contracts).
const ATTACKER_FUNDS: usize = 3;

fn usdt(n: u64) -> U256 {
    U256::from(n * USDT)
}

/// Stops the test's anvil even when an assertion panics (by its pid; the process was started
/// by this test).
struct Devnet {
    _dir: tempfile::TempDir,
    cfg: DevnetConfig,
    running: RunningDevnet,
    stopped: bool,
}

impl Drop for Devnet {
    fn drop(&mut self) {
        if !self.stopped {
            let pid = nix::unistd::Pid::from_raw(self.running.pid as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        }
    }
}

struct Env {
    devnet: Devnet,
    /// Account 0: deploys the stack, owns the test tokens (the faucet).
    faucet: Chain,
    /// The vault as its owner sees it.
    owner: Vault,
    /// The vault as the agent key sees it.
    agent: Vault,
    agent_key: PrivateKeySigner,
    router: Address,
    factory: Address,
    /// The second venue's router (PancakeSwap core + a router built for it), not allow-listed.
    pancake_router: Address,
    /// The Pancake USDT/WBTC pair.
    pancake_wbtc_pair: Address,
    /// What the Pancake factory says its pairs' init-code hash is.
    pancake_factory: Address,
    usdt: Address,
    wbtc: Address,
    wbnb: Address,
    btc_feed: Address,
    bnb_feed: Address,
}

impl Env {
    async fn start() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let cfg = DevnetConfig::test(dir.path())
            .with_anvil(repo.join("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"))
            .with_prices_dir(repo.join("data/market"));
        let report = up(&cfg).await.expect("devnet up");
        let devnet = Devnet {
            _dir: dir,
            cfg,
            running: report.devnet.clone(),
            stopped: false,
        };
        let d = &report.deployment;
        let accounts = dev_accounts(&devnet.cfg).unwrap();
        let faucet = connect(&report.devnet, Some(accounts.deployer_key()))
            .await
            .unwrap();
        let owner_chain = connect(&report.devnet, accounts.key(OWNER)).await.unwrap();
        let owner_addr = owner_chain.signer().unwrap();

        // A fresh agent key, funded with gas only.
        let agent_key = PrivateKeySigner::random();
        let agent_chain = key_chain(&report.devnet, &agent_key).await;
        faucet
            .send_ether(agent_key.address(), U256::from(10u128.pow(19)))
            .await
            .unwrap();

        let (usdt_a, wbtc, wbnb) = (
            d.tokens["USDT"].address,
            d.tokens["WBTC"].address,
            d.tokens["WBNB"].address,
        );
        let router = d.contracts["uniswap_v2_router02"];
        let (btc_feed, bnb_feed) = (d.feeds["WBTC"].address, d.feeds["WBNB"].address);
        mint(&faucet, usdt_a, owner_addr, usdt(100_000)).await;

        let params = VaultParams {
            owner: owner_addr,
            stable: usdt_a,
            agent: agent_key.address(),
            budget_per_period: BUDGET.into(),
            period_secs: PERIOD,
            max_slippage_bps: CAP_BPS,
        };
        let policy = Policy {
            routers: vec![router],
            paths: vec![vec![usdt_a, wbtc], vec![usdt_a, wbnb]],
            feeds: vec![
                FeedConfig {
                    asset: wbtc,
                    oracle: btc_feed,
                    heartbeat_secs: HEARTBEAT,
                },
                FeedConfig {
                    asset: wbnb,
                    oracle: bnb_feed,
                    heartbeat_secs: HEARTBEAT,
                },
            ],
        };
        let owner = Vault::deploy(owner_chain, &params, &policy)
            .await
            .expect("deploy vault");
        owner.deposit(U256::from(DEPOSIT)).await.expect("deposit");
        let agent = Vault::new(agent_chain, owner.address());
        Env {
            devnet,
            faucet,
            owner,
            agent,
            agent_key,
            router,
            factory: d.contracts["uniswap_v2_factory"],
            pancake_router: d.contracts["pancake_router"],
            pancake_wbtc_pair: d.pancake_pools["WBTC/USDT"].pair,
            pancake_factory: d.contracts["pancake_factory"],
            usdt: usdt_a,
            wbtc,
            wbnb,
            btc_feed,
            bnb_feed,
        }
    }

    fn vault(&self) -> Address {
        self.owner.address()
    }

    async fn balance(&self, token: Address, who: Address) -> U256 {
        TestToken::new(token, self.faucet.provider())
            .balanceOf(who)
            .call()
            .await
            .unwrap()
    }

    async fn allowance(&self, token: Address, owner: Address, spender: Address) -> U256 {
        TestToken::new(token, self.faucet.provider())
            .allowance(owner, spender)
            .call()
            .await
            .unwrap()
    }

    async fn order(&self, asset: Address, amount: U256) -> Order {
        Order {
            router: self.router,
            path: vec![self.usdt, asset],
            amount_in: amount,
            min_out: U256::ZERO,
            deadline: self.agent.deadline_in(300).await.unwrap(),
        }
    }

    /// Moves the chain clock forward by `secs` and mines a block at the new time.
    async fn advance(&self, secs: u64) {
        let p = self.faucet.provider();
        let _: serde_json::Value = p
            .raw_request("evm_increaseTime".into(), (secs,))
            .await
            .unwrap();
        let _: serde_json::Value = p.raw_request("evm_mine".into(), ()).await.unwrap();
    }

    /// The feed answers `answer` as of now (the mock is the world's oracle, not the attacker's).
    async fn set_price(&self, feed: Address, answer: I256) {
        let f = MockV3Aggregator::new(feed, self.faucet.provider());
        self.faucet
            .send_call("updateAnswer", f.updateAnswer(answer))
            .await
            .unwrap();
    }

    async fn answer(&self, feed: Address) -> I256 {
        MockV3Aggregator::new(feed, self.faucet.provider())
            .latestAnswer()
            .call()
            .await
            .unwrap()
    }

    async fn stop(mut self) {
        down(&self.devnet.cfg).await.unwrap();
        self.devnet.stopped = true;
    }
}

async fn key_chain(devnet: &RunningDevnet, key: &PrivateKeySigner) -> Chain {
    let cfg = ChainConfig::new(devnet.rpc_url.clone()).with_chain_id(devnet.chain_id);
    Chain::connect(&cfg, Some(key.clone())).await.unwrap()
}

async fn mint(faucet: &Chain, token: Address, to: Address, amount: U256) {
    let t = TestToken::new(token, faucet.provider());
    faucet.send_call("mint", t.mint(to, amount)).await.unwrap();
}

/// The floor the vault must use, computed independently: amountIn · 10^(ad+fd) · (1 − cap) /
/// (price · 10^sd), rounded up.
fn expected_floor(amount_in: U256, price: I256, asset_decimals: u8, bps: u16) -> U256 {
    let num =
        amount_in * U256::from(10_000 - bps) * U256::from(10u8).pow(U256::from(asset_decimals + 8));
    let den = price.into_raw() * U256::from(10u8).pow(U256::from(6u8)) * U256::from(10_000u16);
    num.div_ceil(den)
}

/// Asserts that `r` failed with the error `name` (decoded, not guessed).
#[track_caller]
fn reverts<T: Debug>(r: Result<T>, name: &str) {
    match r {
        Ok(v) => panic!("expected {name}, got Ok({v:?})"),
        Err(e) => {
            assert!(matches!(e, Error::Rejected { .. }), "{e}");
            assert_eq!(e.revert_name(), Some(name), "{e}");
        }
    }
}

/// Checks a successful buy against the policy: at least the oracle floor, exactly the amount,
/// no allowance left behind.
async fn check_fill(env: &Env, b: &Bought, asset_decimals: u8) {
    assert!(b.received >= b.floor, "{b:?}");
    assert_eq!(
        b.floor,
        expected_floor(b.amount_in, b.price, asset_decimals, CAP_BPS),
        "the vault's floor is the oracle price minus the cap, rounded up"
    );
    assert_eq!(
        env.allowance(env.usdt, env.vault(), env.router).await,
        U256::ZERO
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn agent_buys_through_router02_at_the_oracle_price_and_owner_keeps_control() {
    let env = Env::start().await;
    let vault = env.vault();
    let st = env.owner.status().await.unwrap();
    assert_eq!(st.stable.balance, U256::from(DEPOSIT));
    assert_eq!(st.agent, env.agent_key.address());
    assert_eq!(st.budget_left, U256::from(BUDGET));
    assert_eq!((st.period_secs, st.max_slippage_bps), (PERIOD, CAP_BPS));
    assert_eq!(st.routers, vec![(env.router, true)]);
    assert_eq!(st.paths.len(), 2);
    assert!(st.feeds.iter().all(|f| f.usable && f.feed_decimals == 8));
    assert!(!st.paused);

    // 100 USDT of WBTC through Router02, at the seed (= oracle) price less the 0.30% fee.
    let order = env.order(env.wbtc, usdt(100)).await;
    let quote = env.agent.quote(env.wbtc, order.amount_in).await.unwrap();
    let b = env.agent.buy(&order).await.expect("buy");
    check_fill(&env, &b, 8).await;
    assert_eq!(b.floor, quote.floor);
    assert_eq!(b.price, env.answer(env.btc_feed).await);
    assert_eq!(env.balance(env.wbtc, vault).await, b.received);
    assert_eq!(env.balance(env.usdt, vault).await, usdt(9_900));
    // Fill versus the oracle: within the pool fee and a hair of price impact.
    let at_oracle = expected_floor(b.amount_in, b.price, 8, 0);
    assert!(
        b.received * U256::from(10_000) >= at_oracle * U256::from(9_960),
        "{b:?}"
    );
    assert!(b.received <= at_oracle, "{b:?}");

    let b2 = env
        .agent
        .buy(&env.order(env.wbnb, usdt(250)).await)
        .await
        .unwrap();
    check_fill(&env, &b2, 18).await;
    let (left, ends) = env.agent.budget_left().await.unwrap();
    assert_eq!(left, usdt(650));
    assert!(ends > env.agent.chain().clock().await.unwrap());

    // The agent can ask for more than the floor, never less.
    let mut greedy = env.order(env.wbtc, usdt(10)).await;
    greedy.min_out = b.received; // ten times what 10 USDT buys
    reverts(env.agent.buy(&greedy).await, "Error");

    // Owner: disallowing the router or the path stops buys at once (the vault keeps one
    // route slot per router and path in step with both lists); allowing them again restores.
    env.owner.set_router(env.router, false).await.unwrap();
    reverts(
        env.agent.buy(&env.order(env.wbtc, usdt(1)).await).await,
        "RouterNotAllowed",
    );
    env.owner.set_router(env.router, true).await.unwrap();
    env.owner
        .set_path(&[env.usdt, env.wbtc], false)
        .await
        .unwrap();
    reverts(
        env.agent.buy(&env.order(env.wbtc, usdt(1)).await).await,
        "PathNotAllowed",
    );
    // The router allowed again while the path is not: still refused.
    env.owner.set_router(env.router, true).await.unwrap();
    reverts(
        env.agent.buy(&env.order(env.wbtc, usdt(1)).await).await,
        "PathNotAllowed",
    );
    env.owner
        .set_path(&[env.usdt, env.wbtc], true)
        .await
        .unwrap();
    env.agent
        .buy(&env.order(env.wbtc, usdt(1)).await)
        .await
        .expect("allowed again");
    let (left, _) = env.agent.budget_left().await.unwrap();
    assert_eq!(left, usdt(649));

    // Owner: validation of the configuration.
    reverts(
        env.owner.set_path(&[env.wbtc, env.usdt], true).await,
        "InvalidPath",
    );
    reverts(env.owner.set_path(&[env.usdt], true).await, "InvalidPath");
    reverts(
        env.owner
            .set_path(&[env.usdt, env.wbtc, env.usdt], true)
            .await,
        "InvalidPath",
    );
    env.owner
        .set_path(&[env.usdt, env.wbnb, env.wbtc], true)
        .await
        .expect("a one-hop path is allowed");
    // A WBNB/WBTC pool at the feeds' cross rate (1M USD a side), then a buy through the hop:
    // the floor is still the oracle price of the asset bought.
    let (bnb, btc) = (
        env.answer(env.bnb_feed).await,
        env.answer(env.btc_feed).await,
    );
    let side = U256::from(10u8).pow(U256::from(6 + 8)); // 1M USD, 8 decimals
    let wbnb_amt = side * U256::from(10u8).pow(U256::from(18u8)) / bnb.into_raw();
    let wbtc_amt = side * U256::from(10u8).pow(U256::from(8u8)) / btc.into_raw();
    let faucet = env.faucet.signer().unwrap();
    for (t, amt) in [(env.wbnb, wbnb_amt), (env.wbtc, wbtc_amt)] {
        mint(&env.faucet, t, faucet, amt).await;
        let tok = TestToken::new(t, env.faucet.provider());
        env.faucet
            .send_call("approve", tok.approve(env.router, amt))
            .await
            .unwrap();
    }
    let deadline = U256::from(env.faucet.clock().await.unwrap() + 600);
    let r = UniswapV2Router02::new(env.router, env.faucet.provider());
    env.faucet
        .send_call(
            "seed WBNB/WBTC",
            r.addLiquidity(
                env.wbnb, env.wbtc, wbnb_amt, wbtc_amt, wbnb_amt, wbtc_amt, faucet, deadline,
            ),
        )
        .await
        .unwrap();
    let mut hop = env.order(env.wbtc, usdt(100)).await;
    hop.path = vec![env.usdt, env.wbnb, env.wbtc];
    let before = env.balance(env.wbtc, vault).await;
    let b3 = env.agent.buy(&hop).await.expect("buy through one hop");
    check_fill(&env, &b3, 8).await;
    assert_eq!(env.balance(env.wbtc, vault).await, before + b3.received);
    assert_eq!(
        env.balance(env.wbnb, vault).await,
        b2.received,
        "no WBNB stays behind"
    );
    // Feeds: the route slot carries the feed of its asset, so every feed change reaches the
    // routes at once — removed: buys of that asset stop (others go on); replaced: the next buy
    // is bounded by the new oracle; restored: by the old one again.
    let set_btc_feed = |oracle: Address| FeedConfig {
        asset: env.wbtc,
        oracle,
        heartbeat_secs: 3_600,
    };
    env.owner
        .set_feed(&set_btc_feed(Address::ZERO))
        .await
        .unwrap();
    reverts(
        env.agent.buy(&env.order(env.wbtc, usdt(10)).await).await,
        "NoFeed",
    );
    env.agent
        .buy(&env.order(env.wbnb, usdt(10)).await)
        .await
        .expect("the other asset's routes keep their feed");
    // (BNB's price as BTC's: the floor asks ~150x what the pool gives, so the router refuses.)
    env.owner
        .set_feed(&set_btc_feed(env.bnb_feed))
        .await
        .unwrap();
    let q = env.agent.quote(env.wbtc, usdt(10)).await.unwrap();
    assert_eq!(q.price, env.answer(env.bnb_feed).await);
    let e = env
        .agent
        .buy(&env.order(env.wbtc, usdt(10)).await)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("INSUFFICIENT_OUTPUT_AMOUNT"), "{e}");
    env.owner
        .set_feed(&set_btc_feed(env.btc_feed))
        .await
        .unwrap();
    let restored = env
        .agent
        .buy(&env.order(env.wbtc, usdt(10)).await)
        .await
        .unwrap();
    assert_eq!(restored.price, env.answer(env.btc_feed).await);
    reverts(env.owner.set_slippage(5_001).await, "InvalidSlippage");
    reverts(env.owner.set_budget(0, PERIOD).await, "InvalidBudget");
    reverts(
        env.owner
            .set_feed(&FeedConfig {
                asset: env.wbtc,
                oracle: env.btc_feed,
                heartbeat_secs: 0,
            })
            .await,
        "InvalidHeartbeat",
    );
    let o = env.owner.owner().await.unwrap();
    let renounce = cairn_contracts::AgentVault::new(vault, env.owner.chain().provider());
    let e = renounce.renounceOwnership().call().await.unwrap_err();
    assert!(format!("{e:?}").contains("RenounceDisabled") || e.as_revert_data().is_some());

    // Pause stops buys; withdraw works while paused; unpause restores.
    env.owner.pause().await.unwrap();
    reverts(
        env.agent.buy(&env.order(env.wbtc, usdt(10)).await).await,
        "EnforcedPause",
    );
    let wbtc_held = env.balance(env.wbtc, vault).await;
    env.owner.withdraw(env.wbtc, o, wbtc_held).await.unwrap();
    assert_eq!(env.balance(env.wbtc, o).await, wbtc_held);
    env.owner.unpause().await.unwrap();
    reverts(env.owner.unpause().await, "ExpectedPause");

    // Rotation: the old key stops at once, the new one works.
    let new_key = PrivateKeySigner::random();
    env.faucet
        .send_ether(new_key.address(), U256::from(10u128.pow(19)))
        .await
        .unwrap();
    env.owner.rotate_agent(new_key.address()).await.unwrap();
    reverts(
        env.agent.buy(&env.order(env.wbtc, usdt(10)).await).await,
        "NotAgent",
    );
    let fresh = Vault::new(key_chain(&env.devnet.running, &new_key).await, vault);
    fresh
        .buy(&env.order(env.wbtc, usdt(10)).await)
        .await
        .unwrap();
    assert_eq!(env.owner.status().await.unwrap().agent, new_key.address());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn attacker_holding_the_agent_key_cannot_move_the_owners_funds() {
    let env = Env::start().await;
    let vault = env.vault();
    let owner_addr = env.owner.owner().await.unwrap();
    // The key is published: the attacker signs with it, and has an account of its own with
    // money (to push pools and deploy contracts).
    let attacker = env.agent.clone();
    let me = env.agent_key.address();
    let accounts = dev_accounts(&env.devnet.cfg).unwrap();
    let own = connect(&env.devnet.running, accounts.key(ATTACKER_FUNDS))
        .await
        .unwrap();
    let own_addr = own.signer().unwrap();
    mint(&env.faucet, env.usdt, own_addr, usdt(3_000_000)).await;
    let mut spent = U256::ZERO; // what the attacker managed to spend, all periods
    let mut fills: Vec<Bought> = Vec::new();

    // 1. Owner functions, with the agent key.
    let v = cairn_contracts::AgentVault::new(vault, attacker.chain().provider());
    reverts(
        attacker.withdraw(env.usdt, me, usdt(1)).await,
        "OwnableUnauthorizedAccount",
    );
    reverts(
        attacker.rotate_agent(me).await,
        "OwnableUnauthorizedAccount",
    );
    reverts(
        attacker.set_router(me, true).await,
        "OwnableUnauthorizedAccount",
    );
    reverts(
        attacker.set_path(&[env.usdt, me], true).await,
        "OwnableUnauthorizedAccount",
    );
    reverts(
        attacker
            .set_feed(&FeedConfig {
                asset: env.wbtc,
                oracle: env.bnb_feed,
                heartbeat_secs: u32::MAX,
            })
            .await,
        "OwnableUnauthorizedAccount",
    );
    reverts(
        attacker.set_budget(u128::from(u64::MAX), 1).await,
        "OwnableUnauthorizedAccount",
    );
    assert!(matches!(
        attacker.set_budget(u128::MAX, 1).await,
        Err(Error::Invalid(_))
    ));
    reverts(
        attacker.set_slippage(5_000).await,
        "OwnableUnauthorizedAccount",
    );
    reverts(attacker.pause().await, "OwnableUnauthorizedAccount");
    for (what, call) in [
        (
            "transferOwnership",
            v.transferOwnership(me).calldata().clone(),
        ),
        ("acceptOwnership", v.acceptOwnership().calldata().clone()),
        (
            "renounceOwnership",
            v.renounceOwnership().calldata().clone(),
        ),
    ] {
        assert_refused(&attacker, vault, call, what).await;
    }
    env.owner.pause().await.unwrap();
    reverts(attacker.unpause().await, "OwnableUnauthorizedAccount");
    reverts(
        attacker.buy(&env.order(env.wbtc, usdt(1)).await).await,
        "EnforcedPause",
    );
    env.owner.unpause().await.unwrap();

    // 2. Wrong router: a fresh Router02 it deploys on the same factory, an EOA, the pair.
    let weth = UniswapV2Router02::new(env.router, own.provider())
        .WETH()
        .call()
        .await
        .unwrap();
    let own_router = own
        .send_call(
            "deploy router",
            UniswapV2Router02::deploy_builder(own.provider(), env.factory, weth),
        )
        .await
        .unwrap()
        .contract_address
        .unwrap();
    for router in [own_router, me, Address::ZERO] {
        let mut o = env.order(env.wbtc, usdt(10)).await;
        o.router = router;
        reverts(attacker.buy(&o).await, "RouterNotAllowed");
    }
    // Even mined without estimation, it reverts and nothing moves.
    let mut o = env.order(env.wbtc, usdt(10)).await;
    o.router = own_router;
    force_send_reverts(&attacker, vault, buy_calldata(&o)).await;

    // 3. Wrong token or path: WBTC→USDT, a token it controls, itself as the asset, the hop path
    //    not configured, USDT→WETH.
    let evil = own
        .send_call(
            "deploy EVIL",
            TestToken::deploy_builder(own.provider(), "Evil".into(), "EVIL".into(), 18),
        )
        .await
        .unwrap()
        .contract_address
        .unwrap();
    for path in [
        vec![env.wbtc, env.usdt],
        vec![env.usdt, evil],
        vec![env.usdt, me],
        vec![env.usdt, env.wbnb, env.wbtc],
        vec![env.usdt, weth],
        vec![env.usdt, env.wbtc, evil],
        vec![env.usdt, env.wbtc, env.wbtc],
    ] {
        let mut o = env.order(env.wbtc, usdt(10)).await;
        o.path = path;
        reverts(attacker.buy(&o).await, "PathNotAllowed");
    }

    // 4. Recipient tricks: there is no recipient argument. A buy with one appended (another
    //    selector) hits no function; the proceeds of any buy land in the vault.
    let o = env.order(env.wbtc, usdt(10)).await;
    let mut data =
        keccak256("buy(address,address[],uint256,uint256,uint256,address)")[..4].to_vec();
    data.extend(
        (
            o.router,
            o.path.clone(),
            o.amount_in,
            o.min_out,
            U256::from(o.deadline),
            me,
        )
            .abi_encode_params(),
    );
    assert_refused(&attacker, vault, data.into(), "buy with a recipient").await;
    // Calling the router directly as the agent spends the agent's own (empty) balance.
    let r = UniswapV2Router02::new(env.router, attacker.chain().provider());
    let direct = r.swapExactTokensForTokens(
        usdt(10),
        U256::ZERO,
        vec![env.usdt, env.wbtc],
        me,
        U256::from(o.deadline),
    );
    assert!(
        attacker
            .chain()
            .send_call("direct swap", direct)
            .await
            .is_err()
    );

    // 5. Deadlines: past, and further than 15 minutes ahead.
    let now = attacker.chain().clock().await.unwrap();
    let mut o = env.order(env.wbtc, usdt(10)).await;
    o.deadline = now - 1;
    reverts(attacker.buy(&o).await, "DeadlinePassed");
    o.deadline = now + 3_600;
    reverts(attacker.buy(&o).await, "DeadlineTooFar");
    o.deadline = u64::MAX;
    reverts(attacker.buy(&o).await, "DeadlineTooFar");

    // 6. Oracle: stale (past the heartbeat), zero, negative. The feed is the world's.
    let btc_price = env.answer(env.btc_feed).await;
    env.advance(u64::from(HEARTBEAT) + 1).await;
    reverts(
        attacker.buy(&env.order(env.wbtc, usdt(10)).await).await,
        "StaleOracle",
    );
    reverts(attacker.quote(env.wbtc, usdt(10)).await, "StaleOracle");
    env.set_price(env.btc_feed, I256::ZERO).await;
    reverts(
        attacker.buy(&env.order(env.wbtc, usdt(10)).await).await,
        "BadOraclePrice",
    );
    env.set_price(env.btc_feed, I256::MINUS_ONE).await;
    reverts(
        attacker.buy(&env.order(env.wbtc, usdt(10)).await).await,
        "BadOraclePrice",
    );
    env.set_price(env.btc_feed, btc_price).await;
    env.set_price(env.bnb_feed, env.answer(env.bnb_feed).await)
        .await;

    // 7. A pool pushed away from the oracle: it buys WBTC with 2M USDT first, so the pool price
    //    is far above the feed; the floor makes the vault's buy revert inside the router, even
    //    with min_out 0.
    let own_router02 = UniswapV2Router02::new(env.router, own.provider());
    let t = TestToken::new(env.usdt, own.provider());
    own.send_call("approve", t.approve(env.router, U256::MAX))
        .await
        .unwrap();
    let deadline = U256::from(attacker.chain().clock().await.unwrap() + 600);
    own.send_call(
        "push pool",
        own_router02.swapExactTokensForTokens(
            usdt(2_000_000),
            U256::ZERO,
            vec![env.usdt, env.wbtc],
            own_addr,
            deadline,
        ),
    )
    .await
    .unwrap();
    let before = env.balance(env.usdt, vault).await;
    let e = attacker
        .buy(&env.order(env.wbtc, usdt(500)).await)
        .await
        .unwrap_err();
    assert_eq!(e.revert_name(), Some("Error"), "{e}");
    assert!(e.to_string().contains("INSUFFICIENT_OUTPUT_AMOUNT"), "{e}");
    assert_eq!(env.balance(env.usdt, vault).await, before);
    // It sells back (it pays the fees both ways).
    let wbtc_got = env.balance(env.wbtc, own_addr).await;
    let w = TestToken::new(env.wbtc, own.provider());
    own.send_call("approve", w.approve(env.router, U256::MAX))
        .await
        .unwrap();
    own.send_call(
        "pull pool back",
        own_router02.swapExactTokensForTokens(
            wbtc_got,
            U256::ZERO,
            vec![env.wbtc, env.usdt],
            own_addr,
            deadline,
        ),
    )
    .await
    .unwrap();

    // 8. A pre-existing approval: the vault's USDT allowance to the router is planted (as if
    //    anyone had left one), and the owner's own wallet approved the router too. The
    //    attacker cannot use either: Router02 only pulls from its caller, and the vault's buy
    //    overwrites the allowance with exactly amountIn and leaves zero.
    plant_allowance(&env, env.usdt, vault, env.router, U256::MAX).await;
    assert_eq!(env.allowance(env.usdt, vault, env.router).await, U256::MAX);
    let owner_token = TestToken::new(env.usdt, env.owner.chain().provider());
    env.owner
        .chain()
        .send_call("approve", owner_token.approve(env.router, U256::MAX))
        .await
        .unwrap();
    let at = TestToken::new(env.usdt, attacker.chain().provider());
    assert!(
        attacker
            .chain()
            .send_call("steal", at.transferFrom(vault, me, usdt(1)))
            .await
            .is_err()
    );
    assert!(
        attacker
            .chain()
            .send_call("steal", at.transferFrom(owner_addr, me, usdt(1)))
            .await
            .is_err()
    );
    let direct =
        r.swapExactTokensForTokens(usdt(10), U256::ZERO, vec![env.usdt, env.wbtc], me, deadline);
    assert!(
        attacker
            .chain()
            .send_call("direct swap", direct)
            .await
            .is_err()
    );

    // 9. Budget: one order over it; then split orders in one period. What succeeds is the
    //    worst case: buys within the budget at no less than the oracle floor, into the vault.
    reverts(
        attacker.buy(&env.order(env.wbtc, usdt(1_001)).await).await,
        "OverBudget",
    );
    force_send_reverts(
        &attacker,
        vault,
        buy_calldata(&env.order(env.wbtc, usdt(1_001)).await),
    )
    .await;
    let b = attacker
        .buy(&env.order(env.wbtc, usdt(600)).await)
        .await
        .unwrap();
    assert_eq!(
        env.allowance(env.usdt, vault, env.router).await,
        U256::ZERO,
        "the planted allowance is gone after a buy"
    );
    fills.push(b);
    let replay_order = env.order(env.wbnb, usdt(600)).await;
    reverts(attacker.buy(&replay_order).await, "OverBudget");
    fills.push(
        attacker
            .buy(&env.order(env.wbnb, usdt(400)).await)
            .await
            .unwrap(),
    );
    reverts(
        attacker
            .buy(&env.order(env.wbtc, U256::from(1u8)).await)
            .await,
        "OverBudget",
    );
    for f in &fills {
        spent += f.amount_in;
    }
    assert_eq!(spent, usdt(1_000));

    // 10. Replays: the raw signed transaction of a buy is refused by the chain (its nonce is
    //     used); the same order sent again is a new buy and meets the spent budget; an order
    //     held back until after its deadline (reordered, delayed) is refused.
    let raw = attacker
        .chain()
        .provider()
        .get_raw_transaction_by_hash(fills[0].tx.hash)
        .await
        .unwrap()
        .unwrap();
    assert!(
        attacker
            .chain()
            .provider()
            .send_raw_transaction(&raw)
            .await
            .is_err()
    );
    reverts(attacker.buy(&replay_order).await, "OverBudget");
    let held = env.order(env.wbtc, usdt(100)).await;
    env.advance(PERIOD).await;
    env.set_price(env.btc_feed, btc_price).await;
    reverts(attacker.buy(&held).await, "DeadlinePassed");

    // 11. No accumulation: after idle periods the budget is one period's, not several.
    env.advance(3 * PERIOD).await;
    env.set_price(env.btc_feed, btc_price).await;
    let (left, _) = attacker.budget_left().await.unwrap();
    assert_eq!(left, usdt(1_000));
    reverts(
        attacker.buy(&env.order(env.wbtc, usdt(1_500)).await).await,
        "OverBudget",
    );
    let b = attacker
        .buy(&env.order(env.wbtc, usdt(1_000)).await)
        .await
        .unwrap();
    spent += b.amount_in;
    fills.push(b);
    reverts(
        attacker
            .buy(&env.order(env.wbtc, U256::from(1u8)).await)
            .await,
        "OverBudget",
    );

    // The owner's funds: everything the attacker did not spend within budget is in the vault,
    // everything it bought is in the vault, at no less than the oracle floor each time.
    for f in &fills {
        let dec = if f.asset == env.wbtc { 8 } else { 18 };
        check_fill(&env, f, dec).await;
    }
    assert_eq!(
        env.balance(env.usdt, vault).await,
        U256::from(DEPOSIT) - spent
    );
    let bought_wbtc: U256 = fills
        .iter()
        .filter(|f| f.asset == env.wbtc)
        .map(|f| f.received)
        .sum();
    let bought_wbnb: U256 = fills
        .iter()
        .filter(|f| f.asset == env.wbnb)
        .map(|f| f.received)
        .sum();
    assert_eq!(env.balance(env.wbtc, vault).await, bought_wbtc);
    assert_eq!(env.balance(env.wbnb, vault).await, bought_wbnb);
    assert_eq!(env.balance(env.usdt, me).await, U256::ZERO);
    assert_eq!(env.balance(env.wbtc, me).await, U256::ZERO);
    assert_eq!(env.balance(env.wbnb, me).await, U256::ZERO);
    assert_eq!(env.allowance(env.usdt, vault, env.router).await, U256::ZERO);

    // The owner rotates the published key away and takes everything out.
    let new_agent = PrivateKeySigner::random().address();
    env.owner.rotate_agent(new_agent).await.unwrap();
    reverts(
        attacker.buy(&env.order(env.wbtc, usdt(1)).await).await,
        "NotAgent",
    );
    for token in [env.usdt, env.wbtc, env.wbnb] {
        let held = env.balance(token, vault).await;
        let before = env.balance(token, owner_addr).await;
        env.owner.withdraw(token, owner_addr, held).await.unwrap();
        assert_eq!(env.balance(token, owner_addr).await, before + held);
        assert_eq!(env.balance(token, vault).await, U256::ZERO);
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn gas_of_a_vault_buy_versus_a_direct_router02_swap() {
    let env = Env::start().await;
    // The direct trader: the owner's wallet with a standing approval (what the vault avoids).
    let trader = env.owner.chain();
    let me = trader.signer().unwrap();
    let t = TestToken::new(env.usdt, trader.provider());
    trader
        .send_call("approve", t.approve(env.router, usdt(1_000_000)))
        .await
        .unwrap();
    let r = UniswapV2Router02::new(env.router, trader.provider());
    let mut direct = Vec::new();
    let mut vault = Vec::new();
    // The first of each warms the recipient's asset balance (a zero balance costs 20k more to
    // set); the rest are steady state.
    for _ in 0..3 {
        let deadline = U256::from(trader.clock().await.unwrap() + 300);
        let swap = r.swapExactTokensForTokens(
            usdt(100),
            U256::from(1u8),
            vec![env.usdt, env.wbtc],
            me,
            deadline,
        );
        direct.push(trader.send_call("swap", swap).await.unwrap().gas_used);
        let b = env
            .agent
            .buy(&env.order(env.wbtc, usdt(100)).await)
            .await
            .unwrap();
        vault.push(b.tx.gas_used);
    }
    let (d, v) = (direct[2], vault[2]);
    println!(
        "gas, 100 USDT -> WBTC through Router02 (steady state): direct swap {d}, vault buy {v}, overhead {} ({:+.1}%); first buys (cold recipient balance): direct {}, vault {}",
        v as i64 - d as i64,
        (v as f64 / d as f64 - 1.0) * 100.0,
        direct[0],
        vault[0],
    );
    // Gas is deterministic on a fresh devnet: the ceiling is a regression check.
    assert!(
        v <= d + 40_000,
        "a vault buy costs {v}, more than the direct swap {d} + 40,000"
    );
    env.stop().await;
}

/// The Pancake venue on the devnet: PancakeSwap's own pair (its fee: 998/1000 in the npm
/// package's source) behind a router built for it. The vault refuses it until the owner
/// allow-lists it; then a buy through it pays exactly the V2 formula with the Pancake fee.
/// Prints the gas of a vault buy and a direct swap through each venue.
#[tokio::test(flavor = "multi_thread")]
async fn pancake_venue_buys_pay_its_pair_fee_and_need_the_router_allow_listed() {
    let env = Env::start().await;
    let p = env.faucet.provider();
    // The factory's own init-code hash is the keccak of the pair bytecode the router expects.
    let on_chain = cairn_contracts::PancakeFactory::new(env.pancake_factory, p)
        .INIT_CODE_PAIR_HASH()
        .call()
        .await
        .unwrap();
    assert_eq!(on_chain, cairn_contracts::pancake_pair_init_code_hash());
    assert!(cairn_contracts::pancake_router_expects_init_code_hash(
        on_chain
    ));

    // Not allow-listed: refused, by name, nothing spent.
    let mut order = env.order(env.wbtc, usdt(100)).await;
    order.router = env.pancake_router;
    reverts(env.agent.buy(&order).await, "RouterNotAllowed");
    assert_eq!(
        env.balance(env.usdt, env.vault()).await,
        U256::from(DEPOSIT)
    );

    // The owner allow-lists it; the same buy now goes through the Pancake pair.
    env.owner
        .set_router(env.pancake_router, true)
        .await
        .unwrap();
    let pair = cairn_contracts::PancakePair::new(env.pancake_wbtc_pair, p);
    let (r0, r1) = {
        let r = pair.getReserves().call().await.unwrap();
        (U256::from(r._reserve0), U256::from(r._reserve1))
    };
    let token0 = pair.token0().call().await.unwrap();
    let (r_in, r_out) = if token0 == env.usdt {
        (r0, r1)
    } else {
        (r1, r0)
    };
    let v2_out = |fee_keep: u32, fee_den: u32| {
        let a = order.amount_in * U256::from(fee_keep);
        a * r_out / (r_in * U256::from(fee_den) + a)
    };
    let (keep, den) = cairn_contracts::PANCAKE_FEE;
    assert_eq!(
        (keep, den),
        (998, 1000),
        "the package's pair keeps 998/1000"
    );
    let b = env.agent.buy(&order).await.expect("buy through Pancake");
    assert_eq!(b.router, env.pancake_router);
    assert_eq!(
        b.received,
        v2_out(keep, den),
        "V2 formula with the Pancake fee"
    );
    assert_ne!(b.received, v2_out(997, 1000), "not Uniswap's 0.30%");
    assert_ne!(
        b.received,
        v2_out(9975, 10000),
        "not PancakeSwap V2's later 0.25%"
    );
    assert!(b.received >= b.floor);
    assert_eq!(
        env.allowance(env.usdt, env.vault(), env.pancake_router)
            .await,
        U256::ZERO
    );

    // Gas: a vault buy versus a direct swap, per venue (steady state: third of three).
    let trader = env.owner.chain();
    let me = trader.signer().unwrap();
    let t = TestToken::new(env.usdt, trader.provider());
    let mut line = String::from("gas, 100 USDT -> WBTC (steady state):");
    for (name, router) in [("Uniswap V2", env.router), ("Pancake", env.pancake_router)] {
        trader
            .send_call("approve", t.approve(router, usdt(1_000_000)))
            .await
            .unwrap();
        let r = UniswapV2Router02::new(router, trader.provider());
        let (mut direct, mut vault) = (0, 0);
        for _ in 0..3 {
            let deadline = U256::from(trader.clock().await.unwrap() + 300);
            let swap = r.swapExactTokensForTokens(
                usdt(100),
                U256::from(1u8),
                vec![env.usdt, env.wbtc],
                me,
                deadline,
            );
            direct = trader.send_call("swap", swap).await.unwrap().gas_used;
            let mut o = env.order(env.wbtc, usdt(100)).await;
            o.router = router;
            vault = env.agent.buy(&o).await.unwrap().tx.gas_used;
        }
        line.push_str(&format!(
            " {name}: direct {direct}, vault {vault} (+{});",
            vault as i64 - direct as i64
        ));
    }
    println!("{line}");
    env.stop().await;
}

/// `data` sent to `to` as the attacker is refused at estimation and at execution alike.
async fn assert_refused(attacker: &Vault, to: Address, data: Bytes, what: &str) {
    let tx = TransactionRequest::default()
        .with_from(attacker.chain().signer().unwrap())
        .with_to(to)
        .with_input(data);
    assert!(
        attacker.chain().provider().estimate_gas(tx).await.is_err(),
        "{what} was accepted"
    );
}

fn buy_calldata(o: &Order) -> Bytes {
    let mut data = keccak256("buy(address,address[],uint256,uint256,uint256)")[..4].to_vec();
    data.extend(
        (
            o.router,
            o.path.clone(),
            o.amount_in,
            o.min_out,
            U256::from(o.deadline),
        )
            .abi_encode_params(),
    );
    data.into()
}

/// Sends `data` with a fixed gas limit (no estimate): it is mined, reverts, and moves nothing.
async fn force_send_reverts(attacker: &Vault, to: Address, data: Bytes) {
    let c = attacker.chain();
    let tx = TransactionRequest::default()
        .with_from(c.signer().unwrap())
        .with_to(to)
        .with_input(data)
        .with_gas_limit(500_000);
    let pending = c.provider().send_transaction(tx).await.unwrap();
    let receipt = pending.get_receipt().await.unwrap();
    assert!(!receipt.status(), "a forced attempt succeeded");
    c.reset_nonce();
}

/// Writes `allowance[owner][spender]` of an OpenZeppelin 5 ERC-20 (mapping at slot 1).
async fn plant_allowance(env: &Env, token: Address, owner: Address, spender: Address, v: U256) {
    let inner = keccak256((owner, U256::from(1u8)).abi_encode());
    let slot = keccak256((spender, inner).abi_encode());
    let _: serde_json::Value = env
        .faucet
        .provider()
        .raw_request("anvil_setStorageAt".into(), (token, slot, B256::from(v)))
        .await
        .unwrap();
}
