//! The ComputeMarket against a real anvil: the devnet stack's deployment (USDT escrow, 1% fee,
//! 60 s challenge window, one-day unbonding, 100 USDT minimum stake) driven through
//! `cairn_escrow::Escrow`, with every custom error asserted by name.
use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use cairn_contracts::{
    ComputeMarket::{self, ComputeMarketErrors},
    TestToken,
};
use cairn_devnet::{DevnetConfig, RunningDevnet, connect, dev_accounts, down, up};
use cairn_escrow::{
    Error, Escrow, EventKind, JobState, MarketEvent, ProviderInfo, Result, result_commitment,
};
use std::{fmt::Debug, path::PathBuf};

mod dispute;

/// One USDT in base units (6 decimals).
const USDT: u64 = 1_000_000;

fn usdt(n: u64) -> U256 {
    U256::from(n * USDT)
}

/// Dev account roles.
const REQUESTER: usize = 1;
const PROVIDER_A: usize = 2;
const PROVIDER_B: usize = 3;
const OUTSIDER: usize = 4;
const ARBITER: usize = 5;
const REQUESTER_2: usize = 6;
/// The devnet market's operator (not the deployer, which is the faucet and treasury).
const OPERATOR: usize = cairn_devnet::COMPUTE_OPERATOR_ACCOUNT;

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
    market: Address,
    usdt: Address,
    /// One client per dev account (index = account).
    clients: Vec<Escrow>,
    addrs: Vec<Address>,
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
        let market = report.deployment.contracts["compute_market"];
        let usdt_addr = report.deployment.tokens["USDT"].address;
        let accounts = dev_accounts(&devnet.cfg).unwrap();
        let mut clients = Vec::new();
        let mut addrs = Vec::new();
        for i in 0..=OPERATOR {
            let chain = connect(&report.devnet, accounts.key(i)).await.unwrap();
            addrs.push(chain.signer().unwrap());
            clients.push(Escrow::new(chain, market));
        }
        // The deployer owns the test token: give every other account 10,000 USDT.
        let token = TestToken::new(usdt_addr, clients[0].chain().provider());
        for &a in &addrs[1..] {
            let pending = token.mint(a, usdt(10_000)).send().await.unwrap();
            clients[0].chain().confirm("mint", pending).await.unwrap();
        }
        Env {
            devnet,
            market,
            usdt: usdt_addr,
            clients,
            addrs,
        }
    }

    fn as_(&self, i: usize) -> &Escrow {
        &self.clients[i]
    }

    fn operator(&self) -> &Escrow {
        &self.clients[OPERATOR]
    }

    async fn balance(&self, who: Address) -> U256 {
        self.operator().token_balance(who).await.unwrap()
    }

    /// Moves the chain clock forward by `secs` and mines a block at the new time.
    async fn advance(&self, secs: u64) {
        let p = self.operator().chain().provider();
        let _: serde_json::Value = p
            .raw_request("evm_increaseTime".into(), (secs,))
            .await
            .unwrap();
        let _: serde_json::Value = p.raw_request("evm_mine".into(), ()).await.unwrap();
    }

    async fn now(&self) -> u64 {
        self.operator().chain_time().await.unwrap()
    }

    /// Registers account `i` as a provider with `stake` USDT.
    async fn register(&self, i: usize, stake: u64) {
        let c = self.as_(i);
        c.ensure_allowance(usdt(stake)).await.unwrap();
        c.register_provider(usdt(stake)).await.unwrap();
    }

    /// Posts one job from `i` paying `pay` USDT, assignable for `accept` s, due in `due` s.
    async fn post(&self, i: usize, pay: u64, accept: u64, due: u64) -> u64 {
        let c = self.as_(i);
        c.ensure_allowance(U256::MAX).await.unwrap();
        let now = self.now().await;
        c.post_job(spec(pay), usdt(pay), now + accept, now + due)
            .await
            .unwrap()
            .first()
    }

    async fn stop(mut self) {
        down(&self.devnet.cfg).await.unwrap();
        self.devnet.stopped = true;
    }
}

/// Commits a result charging the whole payment (the job used its whole budget).
async fn commit_full(
    e: &Escrow,
    id: u64,
    output: B256,
    trace: B256,
) -> cairn_escrow::Result<cairn_escrow::Tx> {
    let payment = e.job(id).await?.map_or(U256::ZERO, |j| j.payment);
    e.commit_result(id, output, trace, payment).await
}

fn spec(n: u64) -> B256 {
    B256::from(U256::from(0x00C0_FFEE_0000_u64 + n))
}

/// Asserts that `r` failed with the contract's custom error `name` (decoded, not guessed).
#[track_caller]
fn reverts<T: Debug>(r: Result<T>, name: &str) {
    match r {
        Ok(v) => panic!("expected {name}, got Ok({v:?})"),
        Err(e) => {
            assert_eq!(e.revert_name(), Some(name), "{e}");
            assert!(matches!(e, Error::Rejected { .. }));
            assert!(e.to_string().contains(name), "{e}");
        }
    }
}

/// The same for a raw binding call (for shapes the typed client cannot produce).
#[track_caller]
fn raw_reverts<T: Debug>(r: std::result::Result<T, alloy::contract::Error>, want: &str) {
    let e = r.expect_err(want);
    let decoded = e
        .as_decoded_interface_error::<ComputeMarketErrors>()
        .unwrap_or_else(|| panic!("undecoded revert, wanted {want}: {e}"));
    let got = format!("{decoded:?}");
    assert!(got.starts_with(want), "wanted {want}, got {got}");
}

#[tokio::test(flavor = "multi_thread")]
async fn happy_path_escrows_then_pays_provider_minus_fee_and_treasury_the_fee() {
    let env = Env::start().await;
    let (req, prov, outsider, treasury) = (
        env.addrs[REQUESTER],
        env.addrs[PROVIDER_A],
        env.addrs[OUTSIDER],
        env.addrs[0],
    );

    let cfg = env.operator().config().await.unwrap();
    assert_eq!(cfg.token, env.usdt);
    assert_eq!(
        (cfg.operator, cfg.treasury, cfg.arbiter),
        (env.addrs[OPERATOR], treasury, None)
    );
    assert_eq!(
        (cfg.unbonding_delay, cfg.challenge_window, cfg.fee_bps),
        (
            cairn_devnet::COMPUTE_UNBONDING_DELAY_SECS,
            cairn_devnet::COMPUTE_CHALLENGE_WINDOW_SECS,
            cairn_devnet::COMPUTE_FEE_BPS
        )
    );
    assert_eq!(cfg.min_stake, usdt(cairn_devnet::COMPUTE_MIN_STAKE_USDT));
    let start_block = env.operator().chain().block_number().await.unwrap();

    env.register(PROVIDER_A, 100).await;
    assert_eq!(
        env.operator().provider(prov).await.unwrap(),
        ProviderInfo {
            stake: usdt(100),
            unbonding: U256::ZERO,
            unlock_at: 0,
            active: true
        }
    );
    assert!(env.operator().is_eligible(prov).await.unwrap());

    // Posting moves the payment from the requester into the market.
    let (req0, market0) = (env.balance(req).await, env.balance(env.market).await);
    let payment = U256::from(12_345_678u64); // 12.345678 USDT: the fee rounds
    let r = env.as_(REQUESTER);
    r.ensure_allowance(payment).await.unwrap();
    let now = env.now().await;
    let posted = r
        .post_job(spec(1), payment, now + 30, now + 600)
        .await
        .unwrap();
    let id = posted.first();
    assert_eq!(posted.ids, id..id + 1);
    assert_eq!(env.balance(req).await, req0 - payment);
    assert_eq!(env.balance(env.market).await, market0 + payment);
    let job = env.operator().job(id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Open);
    assert_eq!(
        (job.requester, job.payment, job.provider),
        (req, payment, None)
    );
    assert_eq!(job.accept_by(), Some(now + 30));
    assert_eq!(job.deadline, now + 600);
    assert_eq!(job.spec_digest(), Some(spec(1)));
    assert_eq!(env.operator().job(id + 1).await.unwrap(), None);
    assert_eq!(env.operator().next_job_id().await.unwrap(), id + 1);

    env.operator().assign_job(id, prov).await.unwrap();
    let job = env.operator().job(id).await.unwrap().unwrap();
    assert_eq!((job.state, job.provider), (JobState::Assigned, Some(prov)));

    let (out, trace) = (B256::repeat_byte(0xAA), B256::repeat_byte(0xBB));
    let committed = commit_full(env.as_(PROVIDER_A), id, out, trace)
        .await
        .unwrap();
    let job = env.operator().job(id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Committed);
    let commitment = result_commitment(spec(1), out, trace);
    assert_eq!(job.digest, commitment);
    assert_eq!(
        env.operator()
            .result_commitment(spec(1), out, trace)
            .await
            .unwrap(),
        commitment
    );
    let committed_at = env.now().await;
    assert_eq!(job.challenge_ends(), Some(committed_at + 60));
    assert!(committed.gas_used > 0);

    // Nobody is paid inside the challenge window.
    reverts(env.as_(OUTSIDER).settle(id).await, "ChallengeWindowOpen");
    env.advance(60).await;
    let (prov0, treas0) = (env.balance(prov).await, env.balance(treasury).await);
    env.as_(OUTSIDER).settle(id).await.unwrap();
    let (paid, fee) = cfg.split(payment);
    assert_eq!(fee, U256::from(123_456u64)); // 1% of 12.345678, rounded down
    assert_eq!(env.balance(prov).await, prov0 + paid);
    assert_eq!(env.balance(treasury).await, treas0 + fee);
    assert_eq!(
        env.balance(env.market).await,
        market0,
        "the escrow is empty again"
    );
    assert_eq!(env.balance(outsider).await, usdt(10_000));
    assert_eq!(
        env.operator().job(id).await.unwrap().unwrap().state,
        JobState::Settled
    );
    reverts(env.as_(OUTSIDER).settle(id).await, "WrongState");

    // The job's history, from its events.
    let history: Vec<MarketEvent> = env
        .operator()
        .job_events(id)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.event)
        .collect();
    assert_eq!(
        history,
        vec![
            MarketEvent::JobPosted {
                job_id: id,
                requester: req,
                spec_digest: spec(1),
                payment,
                accept_by: now + 30,
                deadline: now + 600
            },
            MarketEvent::JobAssigned {
                job_id: id,
                provider: prov,
                previous: None
            },
            MarketEvent::ResultCommitted {
                job_id: id,
                provider: prov,
                output_digest: out,
                trace_root: trace,
                challenge_ends: committed_at + 60,
                charge: paid + fee
            },
            MarketEvent::JobSettled {
                job_id: id,
                provider: prov,
                paid,
                fee
            },
        ]
    );
    let posted_events = env.operator().jobs_posted_since(start_block).await.unwrap();
    assert_eq!(posted_events.len(), 1);
    assert_eq!(posted_events[0].tx_hash, posted.tx.tx_hash);
    assert_eq!(posted_events[0].block_number, posted.tx.block_number);
    assert_eq!(
        env.operator()
            .assignments_since(start_block, Some(prov))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        env.operator()
            .assignments_since(start_block, Some(outsider))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        env.operator()
            .results_since(start_block)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(env.operator().earnings(prov, 0).await.unwrap(), paid);
    assert_eq!(
        env.operator().earnings(outsider, 0).await.unwrap(),
        U256::ZERO
    );
    let all = env.operator().events(0, None).await.unwrap();
    assert!(matches!(
        all.first().map(|l| &l.event),
        Some(MarketEvent::OperatorChanged { .. })
    ));
    assert!(all.iter().any(|l| matches!(
        l.event,
        MarketEvent::ProviderRegistered { provider, stake } if provider == prov && stake == usdt(100)
    )));
    let provider_only = env
        .operator()
        .events_of(&[EventKind::ProviderRegistered], 0, None)
        .await
        .unwrap();
    assert_eq!(provider_only.len(), 1);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stake_unbonds_only_after_the_delay_and_slashing_reaches_unbonding_stake() {
    let env = Env::start().await;
    let (a, b, arb) = (
        env.addrs[PROVIDER_A],
        env.addrs[PROVIDER_B],
        env.addrs[ARBITER],
    );
    let pa = env.as_(PROVIDER_A);

    // Registration needs an allowance, the minimum stake, and a 96-bit amount.
    reverts(
        pa.register_provider(usdt(100)).await,
        "ERC20InsufficientAllowance",
    );
    pa.approve(U256::MAX).await.unwrap();
    reverts(pa.register_provider(usdt(99)).await, "StakeBelowMinimum");
    reverts(
        pa.register_provider(U256::from(1u64) << 96).await,
        "AmountTooLarge",
    );
    let funds = env.balance(a).await;
    pa.register_provider(usdt(100)).await.unwrap();
    reverts(pa.register_provider(usdt(100)).await, "AlreadyRegistered");
    reverts(
        env.as_(PROVIDER_B).add_stake(usdt(1)).await,
        "NotRegistered",
    );
    reverts(pa.add_stake(U256::ZERO).await, "ZeroAmount");
    pa.add_stake(usdt(50)).await.unwrap();
    assert_eq!(env.balance(a).await, funds - usdt(150));

    reverts(pa.request_unstake(U256::ZERO).await, "ZeroAmount");
    reverts(pa.request_unstake(usdt(151)).await, "InsufficientStake");
    reverts(pa.withdraw_stake().await, "NothingToWithdraw");
    pa.request_unstake(usdt(60)).await.unwrap();
    let unlock = env.operator().provider(a).await.unwrap().unlock_at;
    assert_eq!(
        unlock,
        env.now().await + cairn_devnet::COMPUTE_UNBONDING_DELAY_SECS
    );
    // 90 USDT left: below the minimum, so no longer assignable.
    assert!(!env.operator().is_eligible(a).await.unwrap());
    let job = env.post(REQUESTER, 1, 600, 1200).await;
    reverts(
        env.operator().assign_job(job, a).await,
        "ProviderNotEligible",
    );

    reverts(pa.withdraw_stake().await, "StillUnbonding");
    env.advance(cairn_devnet::COMPUTE_UNBONDING_DELAY_SECS - 100)
        .await;
    reverts(pa.withdraw_stake().await, "StillUnbonding");
    env.advance(100).await;
    pa.withdraw_stake().await.unwrap();
    assert_eq!(env.balance(a).await, funds - usdt(90));
    reverts(pa.withdraw_stake().await, "NothingToWithdraw");

    // Unstaking everything deactivates; registering again reactivates.
    pa.request_unstake(usdt(90)).await.unwrap();
    let info = env.operator().provider(a).await.unwrap();
    assert!(!info.active && info.stake.is_zero() && info.unbonding == usdt(90));
    reverts(pa.add_stake(usdt(1)).await, "NotRegistered");
    pa.register_provider(usdt(100)).await.unwrap();
    assert!(env.operator().is_eligible(a).await.unwrap());

    // Slashing: operator or arbiter only, stake first, then the unbonding stake.
    reverts(env.as_(OUTSIDER).slash(a, usdt(1), b).await, "NotArbiter");
    reverts(env.operator().slash(a, U256::ZERO, b).await, "ZeroAmount");
    reverts(
        env.operator().slash(a, usdt(1), Address::ZERO).await,
        "ZeroAddress",
    );
    reverts(
        env.operator().slash(a, usdt(191), b).await,
        "InsufficientStake",
    );
    reverts(
        env.as_(OUTSIDER).set_arbiter(Some(arb)).await,
        "NotOperator",
    );
    reverts(env.as_(ARBITER).slash(a, usdt(1), b).await, "NotArbiter");
    env.operator().set_arbiter(Some(arb)).await.unwrap();
    assert_eq!(env.operator().config().await.unwrap().arbiter, Some(arb));
    let b0 = env.balance(b).await;
    env.as_(ARBITER).slash(a, usdt(120), b).await.unwrap();
    assert_eq!(env.balance(b).await, b0 + usdt(120));
    let info = env.operator().provider(a).await.unwrap();
    assert_eq!((info.stake, info.unbonding), (U256::ZERO, usdt(70)));
    env.operator().slash(a, usdt(70), b).await.unwrap();
    assert_eq!(
        env.operator().provider(a).await.unwrap().unbonding,
        U256::ZERO
    );
    let slashes = env
        .operator()
        .events_of(&[EventKind::ProviderSlashed], 0, None)
        .await
        .unwrap();
    assert_eq!(
        slashes.iter().map(|l| l.event.clone()).collect::<Vec<_>>(),
        vec![
            MarketEvent::ProviderSlashed {
                provider: a,
                amount: usdt(120),
                beneficiary: b
            },
            MarketEvent::ProviderSlashed {
                provider: a,
                amount: usdt(70),
                beneficiary: b
            },
        ]
    );

    // Operator handover.
    reverts(
        env.operator().set_operator(Address::ZERO).await,
        "ZeroAddress",
    );
    env.operator().set_operator(arb).await.unwrap();
    reverts(env.operator().set_arbiter(None).await, "NotOperator");
    env.as_(ARBITER).set_arbiter(None).await.unwrap();
    let cfg = env.operator().config().await.unwrap();
    assert_eq!((cfg.operator, cfg.arbiter), (arb, None));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_job_call_refuses_the_wrong_caller_state_and_time() {
    let env = Env::start().await;
    let (a, b) = (env.addrs[PROVIDER_A], env.addrs[PROVIDER_B]);
    env.register(PROVIDER_A, 100).await;
    env.register(PROVIDER_B, 100).await;
    let (op, r, pa, pb, out) = (
        env.operator(),
        env.as_(REQUESTER),
        env.as_(PROVIDER_A),
        env.as_(PROVIDER_B),
        env.as_(OUTSIDER),
    );
    let none = 999_999;

    // Posting.
    let now = env.now().await;
    reverts(
        r.post_job(spec(0), usdt(1), now + 10, now + 20).await,
        "ERC20InsufficientAllowance",
    );
    r.approve(U256::MAX).await.unwrap();
    reverts(
        r.post_job(spec(0), usdt(1), now, now + 20).await,
        "InvalidTimes",
    );
    reverts(
        r.post_job(spec(0), usdt(1), now + 20, now + 20).await,
        "InvalidTimes",
    );
    reverts(
        r.post_job(spec(0), usdt(1), now + 20, 1 << 40).await,
        "InvalidTimes",
    );
    reverts(
        r.post_job(spec(0), U256::ZERO, now + 10, now + 20).await,
        "ZeroAmount",
    );
    reverts(
        r.post_job(spec(0), U256::from(1u64) << 96, now + 10, now + 20)
            .await,
        "AmountTooLarge",
    );
    reverts(
        r.post_job(spec(0), usdt(10_001), now + 10, now + 20).await,
        "ERC20InsufficientBalance",
    );
    reverts(r.post_jobs(&[], now + 10, now + 20).await, "EmptyBatch");
    reverts(
        r.post_jobs(
            &[(spec(0), usdt(1)), (spec(1), U256::ZERO)],
            now + 10,
            now + 20,
        )
        .await,
        "ZeroAmount",
    );
    let raw = ComputeMarket::new(env.market, r.chain().provider());
    raw_reverts(
        raw.postJobs(vec![spec(0)], vec![], now + 10, now + 20)
            .call()
            .await,
        "LengthMismatch",
    );
    let raw_op = ComputeMarket::new(env.market, op.chain().provider());
    raw_reverts(
        raw_op
            .assignJobs(vec![U256::from(1u64)], vec![])
            .call()
            .await,
        "LengthMismatch",
    );

    // Cancelling.
    let j = env.post(REQUESTER, 1, 100, 1000).await;
    reverts(r.cancel_job(none).await, "UnknownJob");
    reverts(out.cancel_job(j).await, "NotRequester");

    // Assigning.
    reverts(out.assign_job(j, a).await, "NotOperator");
    reverts(out.assign_jobs(&[(j, a)]).await, "NotOperator");
    reverts(op.assign_jobs(&[]).await, "EmptyBatch");
    reverts(op.assign_job(none, a).await, "UnknownJob");
    reverts(
        op.assign_job(j, env.addrs[OUTSIDER]).await,
        "ProviderNotEligible",
    );
    reverts(op.reassign_job(j, a).await, "WrongState");
    reverts(
        commit_full(pa, j, B256::ZERO, B256::ZERO).await,
        "NotAssignedProvider",
    );
    op.assign_job(j, a).await.unwrap();
    reverts(op.assign_job(j, b).await, "WrongState");
    reverts(r.cancel_job(j).await, "WrongState");

    // Reassigning.
    reverts(out.reassign_job(j, b).await, "NotOperator");
    reverts(op.reassign_job(none, b).await, "UnknownJob");
    reverts(op.reassign_job(j, a).await, "SameProvider");
    reverts(
        op.reassign_job(j, env.addrs[OUTSIDER]).await,
        "ProviderNotEligible",
    );

    // Committing.
    reverts(
        commit_full(pa, none, B256::ZERO, B256::ZERO).await,
        "UnknownJob",
    );
    reverts(
        commit_full(pb, j, B256::ZERO, B256::ZERO).await,
        "NotAssignedProvider",
    );
    // Challenging before a result.
    reverts(r.challenge(j).await, "WrongState");
    reverts(out.challenge(j).await, "NotRequesterOrOperator");
    reverts(r.challenge(none).await, "UnknownJob");
    // Settling before a result; refunding before expiry.
    reverts(out.settle(j).await, "WrongState");
    reverts(out.settle(none).await, "UnknownJob");
    reverts(out.settle_many(&[]).await, "EmptyBatch");
    reverts(out.refund(j).await, "NotExpired");
    reverts(out.refund(none).await, "UnknownJob");
    reverts(out.refund_many(&[]).await, "EmptyBatch");

    commit_full(pa, j, B256::repeat_byte(1), B256::repeat_byte(2))
        .await
        .unwrap();
    reverts(
        commit_full(pa, j, B256::repeat_byte(1), B256::repeat_byte(2)).await,
        "WrongState",
    );
    reverts(op.reassign_job(j, b).await, "WrongState");
    // A committed result cannot be refunded, even by the operator: challenge it first.
    reverts(op.refund(j).await, "NotRefundable");
    reverts(out.settle_many(&[j]).await, "ChallengeWindowOpen");
    env.advance(60).await;
    reverts(r.challenge(j).await, "ChallengeWindowClosed");
    out.settle(j).await.unwrap();
    reverts(out.refund(j).await, "NotRefundable");
    reverts(out.refund_many(&[j]).await, "NotRefundable");

    // A challenged job waits for the arbiter.
    let k = env.post(REQUESTER, 2, 100, 1000).await;
    op.assign_job(k, b).await.unwrap();
    commit_full(pb, k, B256::repeat_byte(3), B256::repeat_byte(4))
        .await
        .unwrap();
    r.challenge(k).await.unwrap();
    reverts(r.challenge(k).await, "WrongState");
    env.advance(60).await;
    reverts(out.settle(k).await, "NotArbiter");
    reverts(out.refund(k).await, "NotArbiter");
    reverts(r.refund(k).await, "NotArbiter");

    // Deadlines: assignment after acceptBy, commit and reassignment after the deadline.
    let late = env.post(REQUESTER, 1, 10, 100).await;
    let due = env.post(REQUESTER, 1, 10, 100).await;
    op.assign_job(due, a).await.unwrap();
    env.advance(11).await;
    reverts(op.assign_job(late, a).await, "AcceptWindowClosed");
    reverts(op.assign_jobs(&[(late, a)]).await, "AcceptWindowClosed");
    env.advance(90).await;
    reverts(
        commit_full(pa, due, B256::ZERO, B256::ZERO).await,
        "DeadlinePassed",
    );
    reverts(op.reassign_job(due, b).await, "DeadlinePassed");

    // Constructor checks.
    let p = op.chain().provider();
    let me = env.addrs[0];
    let deploy = |token: Address,
                  operator: Address,
                  unbond: u64,
                  window: u64,
                  fee: u16,
                  treasury: Address,
                  min: U256| {
        ComputeMarket::deploy_builder(p, token, operator, unbond, window, fee, treasury, min)
    };
    for (builder, want) in [
        (
            deploy(Address::ZERO, me, 1, 1, 1, me, U256::ZERO),
            "ZeroAddress",
        ),
        (
            deploy(env.usdt, Address::ZERO, 1, 1, 1, me, U256::ZERO),
            "ZeroAddress",
        ),
        (
            deploy(env.usdt, me, 1, 1, 1, Address::ZERO, U256::ZERO),
            "ZeroAddress",
        ),
        (
            deploy(env.usdt, me, 1, 1, 10_001, me, U256::ZERO),
            "InvalidFee",
        ),
        (
            deploy(env.usdt, me, 1 << 32, 1, 1, me, U256::ZERO),
            "InvalidDelay",
        ),
        (
            deploy(env.usdt, me, 1, 1 << 32, 1, me, U256::ZERO),
            "InvalidDelay",
        ),
        (
            deploy(env.usdt, me, 1, 1, 1, me, U256::from(1u64) << 96),
            "AmountTooLarge",
        ),
    ] {
        // estimate_gas, not send: a refused send would burn a cached nonce of the deployer.
        raw_reverts(builder.estimate_gas().await, want);
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_failed_and_challenged_jobs_are_refunded_and_a_vanished_provider_is_replaced() {
    let env = Env::start().await;
    let (a, b, req, req2) = (
        env.addrs[PROVIDER_A],
        env.addrs[PROVIDER_B],
        env.addrs[REQUESTER],
        env.addrs[REQUESTER_2],
    );
    env.register(PROVIDER_A, 100).await;
    env.register(PROVIDER_B, 100).await;
    let (op, out) = (env.operator(), env.as_(OUTSIDER));
    let before = (env.balance(req).await, env.balance(req2).await);
    let market0 = env.balance(env.market).await;

    // Cancelled while open: the requester gets it back at once.
    let cancelled = env.post(REQUESTER, 3, 100, 1000).await;
    env.as_(REQUESTER).cancel_job(cancelled).await.unwrap();
    // Failed jobs: the operator refunds open and assigned jobs before they expire.
    let failed_open = env.post(REQUESTER, 4, 100, 1000).await;
    op.refund(failed_open).await.unwrap();
    let failed_assigned = env.post(REQUESTER, 5, 100, 1000).await;
    op.assign_job(failed_assigned, a).await.unwrap();
    op.refund(failed_assigned).await.unwrap();
    // Challenge upheld: the arbiter (here the operator) refunds.
    let disputed = env.post(REQUESTER, 6, 100, 1000).await;
    op.assign_job(disputed, a).await.unwrap();
    commit_full(
        env.as_(PROVIDER_A),
        disputed,
        B256::repeat_byte(1),
        B256::repeat_byte(1),
    )
    .await
    .unwrap();
    op.challenge(disputed).await.unwrap();
    op.refund(disputed).await.unwrap();
    // Challenge rejected: the arbiter settles; the provider is paid.
    let upheld = env.post(REQUESTER, 10, 100, 1000).await;
    op.assign_job(upheld, b).await.unwrap();
    commit_full(
        env.as_(PROVIDER_B),
        upheld,
        B256::repeat_byte(2),
        B256::repeat_byte(2),
    )
    .await
    .unwrap();
    env.as_(REQUESTER).challenge(upheld).await.unwrap();
    let b0 = env.balance(b).await;
    op.settle(upheld).await.unwrap();
    assert_eq!(env.balance(b).await, b0 + U256::from(9_900_000u64));

    // A vanished provider: the job moves to another one, who alone may now commit.
    let moved = env.post(REQUESTER, 7, 100, 1000).await;
    op.assign_job(moved, a).await.unwrap();
    op.reassign_job(moved, b).await.unwrap();
    reverts(
        commit_full(env.as_(PROVIDER_A), moved, B256::ZERO, B256::ZERO).await,
        "NotAssignedProvider",
    );
    commit_full(
        env.as_(PROVIDER_B),
        moved,
        B256::repeat_byte(9),
        B256::repeat_byte(9),
    )
    .await
    .unwrap();
    let assigned: Vec<_> = op
        .job_events(moved)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|l| match l.event {
            MarketEvent::JobAssigned {
                provider, previous, ..
            } => Some((provider, previous)),
            _ => None,
        })
        .collect();
    assert_eq!(assigned, vec![(a, None), (b, Some(a))]);
    assert_eq!(
        op.assignments_since(0, Some(b)).await.unwrap().len(),
        2,
        "upheld and moved"
    );

    // Expiry: never assigned by acceptBy, or no result by the deadline -> anyone refunds.
    let unassigned = env.post(REQUESTER, 8, 10, 1000).await;
    let unassigned2 = env.post(REQUESTER_2, 11, 10, 1000).await;
    let stalled = env.post(REQUESTER_2, 12, 10, 50).await;
    op.assign_job(stalled, a).await.unwrap();
    reverts(out.refund(unassigned).await, "NotExpired");
    env.advance(11).await;
    reverts(out.refund_many(&[unassigned, stalled]).await, "NotExpired");
    out.refund(unassigned).await.unwrap();
    env.advance(40).await;
    out.refund_many(&[unassigned2, stalled]).await.unwrap();

    // Requesters got back everything except what settled: job `upheld` (10) and `moved` is
    // still in its window (7).
    let (r1, r2) = (env.balance(req).await, env.balance(req2).await);
    assert_eq!(r1, before.0 - usdt(10) - usdt(7));
    assert_eq!(r2, before.1);
    assert_eq!(env.balance(env.market).await, market0 + usdt(7));
    for (id, state) in [
        (cancelled, JobState::Cancelled),
        (failed_open, JobState::Refunded),
        (failed_assigned, JobState::Refunded),
        (disputed, JobState::Refunded),
        (upheld, JobState::Settled),
        (moved, JobState::Committed),
        (unassigned, JobState::Refunded),
        (stalled, JobState::Refunded),
    ] {
        assert_eq!(op.job(id).await.unwrap().unwrap().state, state, "job {id}");
    }
    let refunds = op
        .events_of(&[EventKind::JobRefunded, EventKind::JobCancelled], 0, None)
        .await
        .unwrap();
    assert_eq!(refunds.len(), 7);
    assert!(refunds.iter().any(|l| l.event
        == MarketEvent::JobRefunded {
            job_id: stalled,
            requester: req2,
            amount: usdt(12)
        }));
    assert!(
        refunds
            .iter()
            .any(|l| l.event == MarketEvent::JobCancelled { job_id: cancelled })
    );
    env.stop().await;
}

/// Gas per job, single calls against batches of `N`. The numbers are printed (run with
/// `--nocapture`) and bounded, so a change that bloats storage shows up as a failure.
#[tokio::test(flavor = "multi_thread")]
async fn batches_cost_a_fraction_of_single_calls_per_job() {
    const N: usize = 100;
    let env = Env::start().await;
    let (a, b) = (env.addrs[PROVIDER_A], env.addrs[PROVIDER_B]);
    env.register(PROVIDER_A, 100).await;
    env.register(PROVIDER_B, 100).await;
    let (op, r) = (env.operator(), env.as_(REQUESTER));
    r.approve(U256::MAX).await.unwrap();
    let now = env.now().await;

    // Single calls (a warm-up job first, so both sides pay for warm token balances alike).
    let warm = r
        .post_job(spec(0), usdt(1), now + 500, now + 1000)
        .await
        .unwrap();
    op.assign_job(warm.first(), a).await.unwrap();
    let single = r
        .post_job(spec(1), usdt(1), now + 500, now + 1000)
        .await
        .unwrap();
    let id = single.first();
    let single_assign = op.assign_job(id, a).await.unwrap();
    let single_commit = commit_full(
        env.as_(PROVIDER_A),
        id,
        B256::repeat_byte(1),
        B256::repeat_byte(2),
    )
    .await
    .unwrap();
    commit_full(
        env.as_(PROVIDER_A),
        warm.first(),
        B256::repeat_byte(1),
        B256::repeat_byte(2),
    )
    .await
    .unwrap();
    env.advance(60).await;
    op.settle(warm.first()).await.unwrap();
    let single_settle = op.settle(id).await.unwrap();

    // The same for N jobs in one transaction each.
    let now = env.now().await;
    let jobs: Vec<(B256, U256)> = (0..N as u64).map(|i| (spec(100 + i), usdt(1))).collect();
    let batch = r.post_jobs(&jobs, now + 500, now + 1000).await.unwrap();
    assert_eq!(batch.ids.clone().count(), N);
    // Alternate providers, as matching would; settle sorted by provider.
    let assignments: Vec<(u64, Address)> = batch
        .ids
        .clone()
        .map(|id| (id, if id % 2 == 0 { a } else { b }))
        .collect();
    let batch_assign = op.assign_jobs(&assignments).await.unwrap();
    for &(id, p) in &assignments {
        let who = if p == a { PROVIDER_A } else { PROVIDER_B };
        commit_full(env.as_(who), id, B256::repeat_byte(1), B256::repeat_byte(2))
            .await
            .unwrap();
    }
    env.advance(60).await;
    let mut by_provider = assignments.clone();
    by_provider.sort_by_key(|&(id, p)| (p, id));
    let ids: Vec<u64> = by_provider.iter().map(|&(id, _)| id).collect();
    let (a0, b0) = (env.balance(a).await, env.balance(b).await);
    let batch_settle = op.settle_many(&ids).await.unwrap();
    // 50 jobs of 1 USDT each, minus 1%.
    assert_eq!(env.balance(a).await, a0 + U256::from(50 * 990_000u64));
    assert_eq!(env.balance(b).await, b0 + U256::from(50 * 990_000u64));
    for id in batch.ids.clone() {
        assert_eq!(op.job(id).await.unwrap().unwrap().state, JobState::Settled);
    }
    let settled = op
        .events_of(&[EventKind::JobSettled], batch_settle.block_number, None)
        .await
        .unwrap();
    assert_eq!(settled.len(), N);

    // Refunds in a batch: N expired jobs of one requester.
    let now = env.now().await;
    let expired = r.post_jobs(&jobs, now + 10, now + 20).await.unwrap();
    env.advance(11).await;
    let expired_ids: Vec<u64> = expired.ids.clone().collect();
    let batch_refund = env.as_(OUTSIDER).refund_many(&expired_ids).await.unwrap();

    let per = |g: u64| g / N as u64;
    eprintln!("ComputeMarket gas (devnet, USDT TestToken):");
    eprintln!("  call          single/job   batch of {N} per job");
    eprintln!(
        "  post          {:>10}   {:>10}",
        single.tx.gas_used,
        per(batch.tx.gas_used)
    );
    eprintln!(
        "  assign        {:>10}   {:>10}",
        single_assign.gas_used,
        per(batch_assign.gas_used)
    );
    eprintln!(
        "  commitResult  {:>10}   {:>10}",
        single_commit.gas_used, "-"
    );
    eprintln!(
        "  settle        {:>10}   {:>10}",
        single_settle.gas_used,
        per(batch_settle.gas_used)
    );
    eprintln!(
        "  refund        {:>10}   {:>10}",
        "-",
        per(batch_refund.gas_used)
    );

    // Batches must be much cheaper per job than single calls...
    assert!(per(batch.tx.gas_used) * 3 < single.tx.gas_used * 2);
    assert!(per(batch_assign.gas_used) * 3 < single_assign.gas_used);
    assert!(per(batch_settle.gas_used) * 3 < single_settle.gas_used);
    // ... and storage stays packed: three slots a job, one written per later step.
    assert!(
        per(batch.tx.gas_used) < 75_000,
        "{}",
        per(batch.tx.gas_used)
    );
    assert!(per(batch_assign.gas_used) < 12_000);
    assert!(per(batch_settle.gas_used) < 12_000);
    assert!(per(batch_refund.gas_used) < 12_000);
    assert!(single_commit.gas_used < 45_000);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_processes_sharing_a_key_do_not_strand_each_others_transactions() {
    // A faucet and a node signing with one key each cache the account's nonce; every send of
    // one makes the other's cache stale ("nonce too low"). That must be retried with the
    // chain's nonce, not reported as a refusal.
    let env = Env::start().await;
    let accounts = dev_accounts(&env.devnet.cfg).unwrap();
    let a = Escrow::new(
        connect(&env.devnet.running, accounts.key(REQUESTER))
            .await
            .unwrap(),
        env.market,
    );
    let b = Escrow::new(
        connect(&env.devnet.running, accounts.key(REQUESTER))
            .await
            .unwrap(),
        env.market,
    );
    a.approve(U256::MAX).await.unwrap();
    let now = env.now().await;
    for i in 0..3u64 {
        for c in [&a, &b] {
            c.post_job(spec(100 + i), usdt(1), now + 500, now + 1000)
                .await
                .unwrap_or_else(|e| panic!("a stale nonce stranded a send: {e}"));
        }
    }
    // A refusal stays a refusal (not retried as if transient).
    let e = env
        .as_(OUTSIDER)
        .assign_job(1, env.addrs[PROVIDER_A])
        .await
        .unwrap_err();
    assert_eq!(e.revert_name(), Some("NotOperator"), "{e}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn metered_charges_pay_the_work_done_and_refund_the_rest() {
    let env = Env::start().await;
    let op = env.operator();
    let (req, a) = (env.addrs[REQUESTER], env.addrs[PROVIDER_A]);
    env.register(PROVIDER_A, 100).await;
    let treasury = env.addrs[0];

    // A success that used 30% of its budget: the requester gets 70% back at commit.
    let ok = env.post(REQUESTER, 10, 100, 1000).await;
    op.assign_job(ok, a).await.unwrap();
    let before = env.balance(req).await;
    env.as_(PROVIDER_A)
        .commit_result(ok, B256::repeat_byte(1), B256::repeat_byte(2), usdt(3))
        .await
        .unwrap();
    assert_eq!(env.balance(req).await - before, usdt(7));
    // A charge above the payment is refused.
    let greedy = env.post(REQUESTER, 10, 100, 1000).await;
    op.assign_job(greedy, a).await.unwrap();
    reverts(
        env.as_(PROVIDER_A)
            .commit_result(greedy, B256::ZERO, B256::ZERO, usdt(11))
            .await,
        "ChargeTooHigh",
    );
    env.advance(61).await;
    let (prov0, tre0) = (env.balance(a).await, env.balance(treasury).await);
    op.settle_many(&[ok]).await.unwrap();
    let fee = usdt(3) / U256::from(100u64);
    assert_eq!(env.balance(a).await - prov0, usdt(3) - fee);
    assert_eq!(env.balance(treasury).await - tre0, fee);

    // A fault (or a cancellation) while assigned: the operator closes with the metered charge.
    let (prov0, req0) = (env.balance(a).await, env.balance(req).await);
    op.close_jobs(&[(greedy, usdt(4))]).await.unwrap();
    let fee = usdt(4) / U256::from(100u64);
    assert_eq!(env.balance(a).await - prov0, usdt(4) - fee);
    assert_eq!(env.balance(req).await - req0, usdt(6));
    assert_eq!(
        op.job(greedy).await.unwrap().unwrap().state,
        cairn_escrow::JobState::Settled
    );
    // Only the operator closes, only assigned jobs, never above the payment.
    let other = env.post(REQUESTER, 10, 100, 1000).await;
    reverts(op.close_jobs(&[(other, usdt(1))]).await, "WrongState");
    op.assign_job(other, a).await.unwrap();
    reverts(
        env.as_(OUTSIDER).close_jobs(&[(other, usdt(1))]).await,
        "NotOperator",
    );
    reverts(op.close_jobs(&[(other, usdt(11))]).await, "ChargeTooHigh");
    // A zero charge is a plain refund.
    let req0 = env.balance(req).await;
    op.close_jobs(&[(other, U256::ZERO)]).await.unwrap();
    assert_eq!(env.balance(req).await - req0, usdt(10));
    assert_eq!(
        op.job(other).await.unwrap().unwrap().state,
        cairn_escrow::JobState::Refunded
    );
    env.stop().await;
}
