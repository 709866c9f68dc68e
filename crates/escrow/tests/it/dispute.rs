//! Refereed bisection disputes against the real contract on anvil: traces are RFC 6962 trees
//! built with `cairn-tlog` (the hashing the trainer commits with), each side reveals with
//! `cairn-tlog` inclusion proofs, and the contract checks them with the SHA-256 precompile.
use super::*;
use cairn_escrow::{DisputePhase, DisputeRules, Outcome, Verdict, max_rounds};
use cairn_tlog::{MemoryTree, inclusion_proof, leaf_hash};

const REFEREE: usize = 7;
const REFEREE_2: usize = 8;
const WINDOW: u32 = 600;

/// One side's trace: the checkpoint bytes' leaf hashes and their tree.
struct Trace {
    leaves: Vec<[u8; 32]>,
}

impl Trace {
    /// `n` honest checkpoints.
    fn honest(n: usize) -> Trace {
        Trace {
            leaves: (0..n)
                .map(|i| leaf_hash(format!("checkpoint {i} of the honest run").as_bytes()))
                .collect(),
        }
    }

    /// The honest run up to `from`, then a different state at `from` and everything after
    /// (a faked step: every later checkpoint follows from the wrong state).
    fn diverging(n: usize, from: usize) -> Trace {
        let mut t = Trace::honest(n);
        for (i, l) in t.leaves.iter_mut().enumerate().skip(from) {
            *l = leaf_hash(format!("checkpoint {i} after a faked step {from}").as_bytes());
        }
        t
    }

    /// The honest run with only checkpoint `at` replaced.
    fn one_wrong(n: usize, at: usize) -> Trace {
        let mut t = Trace::honest(n);
        t.leaves[at] = leaf_hash(b"a wrong checkpoint");
        t
    }

    fn root(&self) -> B256 {
        B256::from(MemoryTree::from_leaves(self.leaves.iter().copied()).root())
    }

    fn size(&self) -> u32 {
        self.leaves.len() as u32
    }

    fn open(&self, index: u32) -> (B256, Vec<B256>) {
        let tree = MemoryTree::from_leaves(self.leaves.iter().copied());
        let proof = inclusion_proof(&tree, index as u64, self.leaves.len() as u64).unwrap();
        (
            B256::from(self.leaves[index as usize]),
            proof.into_iter().map(B256::from).collect(),
        )
    }
}

fn rules() -> DisputeRules {
    DisputeRules {
        bond: usdt(10),
        slash: usdt(50),
        referee_fee: usdt(2),
        min_referee_stake: usdt(100),
        window: WINDOW,
    }
}

/// A market with two providers (A assigned, B a replicator), dispute rules, and two referees.
async fn setup() -> Env {
    let env = Env::start().await;
    env.register(PROVIDER_A, 100).await;
    env.register(PROVIDER_B, 100).await;
    env.operator().set_dispute_rules(rules()).await.unwrap();
    assert_eq!(env.operator().dispute_rules().await.unwrap(), rules());
    for r in [REFEREE, REFEREE_2] {
        let c = env.as_(r);
        c.ensure_allowance(U256::MAX).await.unwrap();
        c.register_referee(usdt(100)).await.unwrap();
    }
    for c in [REQUESTER, PROVIDER_B, OPERATOR] {
        env.as_(c).ensure_allowance(U256::MAX).await.unwrap();
    }
    env
}

/// Posts a 20 USDT job assigned to provider A, which commits `trace`. Returns the job id.
async fn committed(env: &Env, n: u64, trace: &Trace) -> u64 {
    let id = env.post(REQUESTER, 20, 100, 1000).await;
    env.operator()
        .assign_job(id, env.addrs[PROVIDER_A])
        .await
        .unwrap();
    commit_full(env.as_(PROVIDER_A), id, output(n), trace.root())
        .await
        .unwrap();
    id
}

fn output(n: u64) -> B256 {
    B256::from(U256::from(0x0B7_0000u64 + n))
}

/// Opens a dispute on job `id` (posted by `env.post(REQUESTER, 20, ..)`, so spec(20)) from
/// account `by`, naming the last checkpoint.
async fn open(env: &Env, by: usize, id: u64, n: u64, provider: &Trace, mine: &Trace) -> Tx {
    env.as_(by)
        .open_dispute(
            id,
            spec(20),
            output(n),
            provider.root(),
            mine.root(),
            mine.size(),
            mine.size() - 1,
        )
        .await
        .unwrap()
}

use cairn_escrow::Tx;

/// Plays every round with both sides answering honestly about their own trace; returns the
/// gas each reveal cost.
async fn bisect(env: &Env, id: u64, provider: &Trace, challenger: (usize, &Trace)) -> Vec<u64> {
    let mut gas = vec![];
    loop {
        let d = env.operator().dispute(id).await.unwrap().unwrap();
        if d.phase != DisputePhase::Bisecting {
            return gas;
        }
        let (leaf, proof) = provider.open(d.probe);
        gas.push(
            env.as_(PROVIDER_A)
                .reveal(id, leaf, &proof)
                .await
                .unwrap()
                .gas_used,
        );
        let (leaf, proof) = challenger.1.open(d.probe);
        gas.push(
            env.as_(challenger.0)
                .reveal(id, leaf, &proof)
                .await
                .unwrap()
                .gas_used,
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_honest_provider_wins_against_a_lying_challenger_and_a_cheat_is_slashed() {
    let env = setup().await;
    let (a, b, req, referee) = (
        env.addrs[PROVIDER_A],
        env.addrs[PROVIDER_B],
        env.addrs[REQUESTER],
        env.addrs[REFEREE],
    );
    let n = 9;

    // 1. Honest provider A; replicator B lies from checkpoint 5 on.
    let honest = Trace::honest(n);
    let liar = Trace::diverging(n, 5);
    let id = committed(&env, 1, &honest).await;
    let (a0, b0, r0, t0) = (
        env.balance(a).await,
        env.balance(b).await,
        env.balance(referee).await,
        env.balance(env.addrs[0]).await,
    );
    open(&env, PROVIDER_B, id, 1, &honest, &liar).await;
    assert_eq!(
        env.operator().job(id).await.unwrap().unwrap().state,
        JobState::Disputed
    );
    // Settling or refunding a disputed job is refused: only the dispute moves the money.
    reverts(env.as_(OUTSIDER).settle(id).await, "WrongState");
    reverts(env.operator().refund(id).await, "NotRefundable");
    let gas = bisect(&env, id, &honest, (PROVIDER_B, &liar)).await;
    let d = env.operator().dispute(id).await.unwrap().unwrap();
    assert_eq!(d.phase, DisputePhase::AwaitingReferee);
    assert_eq!((d.lo, d.hi), (4, 5), "the first differing checkpoint is 5");
    assert_eq!(d.lo_leaf, B256::from(honest.leaves[4]));
    assert_eq!(d.provider_hi_leaf, B256::from(honest.leaves[5]));
    assert_eq!(d.challenger_hi_leaf, B256::from(liar.leaves[5]));
    assert!(u32::from(d.rounds) <= max_rounds(n as u32), "{}", d.rounds);
    assert_eq!(gas.len(), 2 * d.rounds as usize);
    env.operator().assign_referee(id, referee).await.unwrap();
    // The referee recomputes 4 → 5 from the agreed leaf and finds the provider's leaf.
    env.as_(REFEREE)
        .rule(id, Verdict::ProviderRight)
        .await
        .unwrap();
    let job = env.operator().job(id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Settled);
    // Provider: payment less the market fee, plus the bond less the referee fee.
    let pay = usdt(20) - usdt(20) / U256::from(100u64);
    assert_eq!(env.balance(a).await, a0 + pay + usdt(10) - usdt(2));
    assert_eq!(
        env.balance(b).await,
        b0 - usdt(10),
        "the liar lost its bond"
    );
    assert_eq!(env.balance(referee).await, r0 + usdt(2));
    assert_eq!(
        env.balance(env.addrs[0]).await,
        t0 + usdt(20) / U256::from(100u64)
    );
    assert_eq!(env.operator().provider(a).await.unwrap().stake, usdt(100));
    assert_eq!(env.operator().referee(referee).await.unwrap().open, 0);
    let events = env.operator().dispute_events(id).await.unwrap();
    assert!(matches!(
        events.last().unwrap().event,
        MarketEvent::DisputeResolved {
            outcome: Outcome::ChallengerWrong,
            ..
        }
    ));
    assert!(events.iter().any(|l| matches!(
        l.event,
        MarketEvent::DisputeRuled {
            verdict: Verdict::ProviderRight,
            ..
        }
    )));

    // 2. Provider A commits a wrong final checkpoint over honest earlier ones; B challenges
    //    honestly. The requester is refunded, A slashed to B.
    let cheat = Trace::one_wrong(n, n - 1);
    let id = committed(&env, 2, &cheat).await;
    let (b0, req0) = (env.balance(b).await, env.balance(req).await);
    open(&env, PROVIDER_B, id, 2, &cheat, &honest).await;
    bisect(&env, id, &cheat, (PROVIDER_B, &honest)).await;
    let d = env.operator().dispute(id).await.unwrap().unwrap();
    assert_eq!((d.lo, d.hi), (7, 8));
    env.operator()
        .assign_referee(id, env.addrs[REFEREE_2])
        .await
        .unwrap();
    env.as_(REFEREE_2)
        .rule(id, Verdict::ChallengerRight)
        .await
        .unwrap();
    assert_eq!(
        env.operator().job(id).await.unwrap().unwrap().state,
        JobState::Refunded
    );
    assert_eq!(env.balance(req).await, req0 + usdt(20));
    assert_eq!(env.balance(b).await, b0 + usdt(50) - usdt(2));
    assert_eq!(env.operator().provider(a).await.unwrap().stake, usdt(50));
    assert_eq!(env.operator().provider(b).await.unwrap().stake, usdt(100));

    // 3. A faked middle step (every checkpoint from 3 on follows from it); the requester
    //    challenges and the bisection finds segment 2 → 3.
    let faked = Trace::diverging(n, 3);
    env.as_(PROVIDER_A)
        .ensure_allowance(U256::MAX)
        .await
        .unwrap();
    env.as_(PROVIDER_A).add_stake(usdt(50)).await.unwrap();
    let id = committed(&env, 3, &faked).await;
    let req0 = env.balance(req).await;
    open(&env, REQUESTER, id, 3, &faked, &honest).await;
    bisect(&env, id, &faked, (REQUESTER, &honest)).await;
    let d = env.operator().dispute(id).await.unwrap().unwrap();
    assert_eq!((d.lo, d.hi), (2, 3));
    env.operator().assign_referee(id, referee).await.unwrap();
    env.as_(REFEREE)
        .rule(id, Verdict::ChallengerRight)
        .await
        .unwrap();
    // The requester: bond back, the slash less the fee, and its payment refunded.
    assert_eq!(env.balance(req).await, req0 + usdt(20) + usdt(48));
    assert_eq!(env.operator().provider(a).await.unwrap().stake, usdt(50));

    // 4. Both wrong: the referee's recomputation matches neither leaf at hi.
    env.as_(PROVIDER_A).add_stake(usdt(50)).await.unwrap();
    let id = committed(&env, 4, &faked).await;
    let other = Trace::diverging(n, 6);
    let (b0, t0) = (env.balance(b).await, env.balance(env.addrs[0]).await);
    open(&env, PROVIDER_B, id, 4, &faked, &other).await;
    bisect(&env, id, &faked, (PROVIDER_B, &other)).await;
    env.operator().assign_referee(id, referee).await.unwrap();
    env.as_(REFEREE)
        .rule(id, Verdict::NeitherRight)
        .await
        .unwrap();
    assert_eq!(env.balance(b).await, b0 - usdt(10));
    assert_eq!(
        env.balance(env.addrs[0]).await,
        t0 + usdt(50) - usdt(2) + usdt(10)
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_side_that_does_not_answer_loses_and_a_late_referee_is_replaced() {
    let env = setup().await;
    let (a, b) = (env.addrs[PROVIDER_A], env.addrs[PROVIDER_B]);
    let n = 64;
    let honest = Trace::honest(n);
    let cheat = Trace::diverging(n, 40);

    // The provider goes silent after the challenger revealed: anyone resolves, provider loses.
    let id = committed(&env, 1, &cheat).await;
    open(&env, PROVIDER_B, id, 1, &cheat, &honest).await;
    let (leaf, proof) = honest.open(n as u32 - 1);
    env.as_(PROVIDER_B).reveal(id, leaf, &proof).await.unwrap();
    reverts(env.as_(OUTSIDER).resolve_timeout(id).await, "RoundOpen");
    env.advance(u64::from(WINDOW) + 1).await;
    let (leaf, proof) = cheat.open(n as u32 - 1);
    reverts(
        env.as_(PROVIDER_A).reveal(id, leaf, &proof).await,
        "RoundClosed",
    );
    let b0 = env.balance(b).await;
    env.as_(OUTSIDER).resolve_timeout(id).await.unwrap();
    assert_eq!(env.balance(b).await, b0 + usdt(10) + usdt(50));
    assert_eq!(env.operator().provider(a).await.unwrap().stake, usdt(50));
    reverts(env.as_(OUTSIDER).resolve_timeout(id).await, "WrongPhase");

    // The challenger stops answering mid-bisection: it loses its bond, the result stands.
    env.as_(PROVIDER_A)
        .ensure_allowance(U256::MAX)
        .await
        .unwrap();
    env.as_(PROVIDER_A).add_stake(usdt(50)).await.unwrap();
    let id = committed(&env, 2, &honest).await;
    open(&env, PROVIDER_B, id, 2, &honest, &cheat).await;
    for _ in 0..2 {
        let d = env.operator().dispute(id).await.unwrap().unwrap();
        let (l, p) = honest.open(d.probe);
        env.as_(PROVIDER_A).reveal(id, l, &p).await.unwrap();
        let (l, p) = cheat.open(d.probe);
        env.as_(PROVIDER_B).reveal(id, l, &p).await.unwrap();
    }
    let d = env.operator().dispute(id).await.unwrap().unwrap();
    let (l, p) = honest.open(d.probe);
    env.as_(PROVIDER_A).reveal(id, l, &p).await.unwrap();
    env.advance(u64::from(WINDOW) + 1).await;
    let a0 = env.balance(a).await;
    env.as_(OUTSIDER).resolve_timeout(id).await.unwrap();
    let pay = usdt(20) - usdt(20) / U256::from(100u64);
    assert_eq!(env.balance(a).await, a0 + pay + usdt(10));
    assert_eq!(env.operator().provider(a).await.unwrap().stake, usdt(100));

    // A referee that does not rule in time is replaced and loses its fee's worth of stake;
    // the replacement rules.
    let id = committed(&env, 3, &cheat).await;
    open(&env, PROVIDER_B, id, 3, &cheat, &honest).await;
    bisect(&env, id, &cheat, (PROVIDER_B, &honest)).await;
    let d = env.operator().dispute(id).await.unwrap().unwrap();
    assert_eq!((d.lo, d.hi), (39, 40));
    assert!(u32::from(d.rounds) <= max_rounds(n as u32));
    let (r1, r2) = (env.addrs[REFEREE], env.addrs[REFEREE_2]);
    env.operator().assign_referee(id, r1).await.unwrap();
    reverts(env.as_(REFEREE).leave_referees().await, "RefereeBusy");
    reverts(
        env.operator().assign_referee(id, r2).await,
        "RefereeStillInTime",
    );
    env.advance(u64::from(WINDOW) + 1).await;
    reverts(
        env.as_(REFEREE).rule(id, Verdict::ChallengerRight).await,
        "RoundClosed",
    );
    env.operator().assign_referee(id, r2).await.unwrap();
    assert_eq!(
        env.operator().referee(r1).await.unwrap(),
        cairn_escrow::RefereeInfo {
            stake: usdt(98),
            open: 0,
            active: true
        }
    );
    reverts(
        env.as_(REFEREE).rule(id, Verdict::ChallengerRight).await,
        "NotReferee",
    );
    env.as_(REFEREE_2)
        .rule(id, Verdict::ChallengerRight)
        .await
        .unwrap();
    let r1_0 = env.balance(r1).await;
    env.as_(REFEREE).leave_referees().await.unwrap();
    assert_eq!(env.balance(r1).await, r1_0 + usdt(98));
    reverts(
        env.as_(REFEREE).leave_referees().await,
        "NotARegisteredReferee",
    );

    // Nobody rules at all (no referee assigned): one window for the referee and one for a
    // replacement later, anyone ends it and the result stands; the bond goes back.
    env.as_(PROVIDER_A).add_stake(usdt(50)).await.unwrap();
    let id = committed(&env, 4, &honest).await;
    open(&env, PROVIDER_B, id, 4, &honest, &cheat).await;
    bisect(&env, id, &honest, (PROVIDER_B, &cheat)).await;
    env.advance(u64::from(WINDOW) + 1).await;
    reverts(env.as_(OUTSIDER).resolve_timeout(id).await, "RoundOpen");
    env.advance(u64::from(WINDOW)).await;
    let (a0, b0) = (env.balance(a).await, env.balance(b).await);
    env.as_(OUTSIDER).resolve_timeout(id).await.unwrap();
    assert_eq!(env.balance(a).await, a0 + pay);
    assert_eq!(env.balance(b).await, b0 + usdt(10));
    let events = env.operator().dispute_events(id).await.unwrap();
    assert!(matches!(
        events.last().unwrap().event,
        MarketEvent::DisputeResolved {
            outcome: Outcome::NoRuling,
            ..
        }
    ));
    assert_eq!(env.operator().provider(a).await.unwrap().stake, usdt(100));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn attackers_cannot_rule_reveal_twice_forge_proofs_or_finish_early() {
    let env = setup().await;
    let n = 8;
    let honest = Trace::honest(n);
    let cheat = Trace::diverging(n, 2);
    let (out, prov) = (env.as_(OUTSIDER), env.as_(PROVIDER_A));
    prov.ensure_allowance(U256::MAX).await.unwrap();
    prov.add_stake(usdt(100)).await.unwrap();
    let id = committed(&env, 1, &cheat).await;

    // Who may open, and with what.
    reverts(
        prov.open_dispute(id, spec(20), output(1), cheat.root(), honest.root(), 8, 7)
            .await,
        "NotAllowedToDispute",
    );
    reverts(
        out.open_dispute(id, spec(20), output(1), cheat.root(), honest.root(), 8, 7)
            .await,
        "NotAllowedToDispute",
    );
    let b = env.as_(PROVIDER_B);
    reverts(
        b.open_dispute(id, spec(20), output(1), honest.root(), honest.root(), 8, 7)
            .await,
        "ResultMismatch",
    );
    for (size, index) in [(1, 0), (8, 0), (8, 8)] {
        reverts(
            b.open_dispute(
                id,
                spec(20),
                output(1),
                cheat.root(),
                honest.root(),
                size,
                index,
            )
            .await,
            "InvalidTraceSize",
        );
    }
    reverts(out.resolve_timeout(id).await, "WrongPhase");
    open(&env, PROVIDER_B, id, 1, &cheat, &honest).await;
    reverts(
        env.as_(REQUESTER)
            .open_dispute(id, spec(20), output(1), cheat.root(), honest.root(), 8, 7)
            .await,
        "WrongState",
    );

    // Round 1 probes checkpoint 7.
    let (leaf, proof) = cheat.open(7);
    // A stranger cannot reveal; nobody can rule or be assigned before the bisection is done.
    reverts(out.reveal(id, leaf, &proof).await, "NotDisputant");
    reverts(out.rule(id, Verdict::ProviderRight).await, "WrongPhase");
    reverts(
        env.operator().assign_referee(id, env.addrs[REFEREE]).await,
        "WrongPhase",
    );
    // A proof for the wrong index, a leaf under the other side's root, a forged proof.
    let (l6, p6) = cheat.open(6);
    reverts(prov.reveal(id, l6, &p6).await, "InvalidProof");
    let (hl, hp) = honest.open(7);
    reverts(prov.reveal(id, hl, &hp).await, "InvalidProof");
    let mut forged = proof.clone();
    forged[0] = B256::repeat_byte(0xee);
    reverts(prov.reveal(id, leaf, &forged).await, "InvalidProof");
    reverts(prov.reveal(id, leaf, &proof[1..]).await, "InvalidProof");
    reverts(prov.reveal(id, hl, &proof).await, "InvalidProof");
    // The real one, then the same again.
    prov.reveal(id, leaf, &proof).await.unwrap();
    reverts(prov.reveal(id, leaf, &proof).await, "AlreadyRevealed");
    // Finishing early: nobody may end the round before its deadline.
    reverts(out.resolve_timeout(id).await, "RoundOpen");
    b.reveal(id, hl, &hp).await.unwrap();
    bisect(&env, id, &cheat, (PROVIDER_B, &honest)).await;
    let d = env.operator().dispute(id).await.unwrap().unwrap();
    assert_eq!((d.lo, d.hi), (1, 2));
    // Referees: a party to the dispute or an unregistered account cannot be assigned; a
    // stranger or a party cannot rule; only the assigned referee, and only once.
    for who in [PROVIDER_A, PROVIDER_B, REQUESTER, OUTSIDER] {
        reverts(
            env.operator().assign_referee(id, env.addrs[who]).await,
            "RefereeNotEligible",
        );
    }
    reverts(
        env.as_(REFEREE)
            .assign_referee(id, env.addrs[REFEREE])
            .await,
        "NotOperator",
    );
    env.operator()
        .assign_referee(id, env.addrs[REFEREE])
        .await
        .unwrap();
    for who in [OUTSIDER, PROVIDER_A, PROVIDER_B, REFEREE_2, OPERATOR] {
        reverts(
            env.as_(who).rule(id, Verdict::ProviderRight).await,
            "NotReferee",
        );
    }
    reverts(out.resolve_timeout(id).await, "RoundOpen");
    env.as_(REFEREE)
        .rule(id, Verdict::ChallengerRight)
        .await
        .unwrap();
    reverts(
        env.as_(REFEREE).rule(id, Verdict::ChallengerRight).await,
        "WrongPhase",
    );

    // A challenger that names a checkpoint both sides agree on loses at once.
    let id = committed(&env, 2, &cheat).await;
    env.as_(PROVIDER_B)
        .open_dispute(id, spec(20), output(2), cheat.root(), honest.root(), 8, 1)
        .await
        .unwrap();
    let (l, p) = cheat.open(1);
    prov.reveal(id, l, &p).await.unwrap();
    let (l, p) = honest.open(1);
    b.reveal(id, l, &p).await.unwrap();
    let d = env.operator().dispute(id).await.unwrap().unwrap();
    assert_eq!(d.phase, DisputePhase::Resolved);
    assert_eq!(
        env.operator().job(id).await.unwrap().unwrap().state,
        JobState::Settled
    );

    // A challenger that states the wrong size: the provider contests, the referee rules on it.
    let id = committed(&env, 3, &honest).await;
    let short = Trace::honest(7);
    env.as_(PROVIDER_B)
        .open_dispute(id, spec(20), output(3), honest.root(), short.root(), 7, 6)
        .await
        .unwrap();
    let (l, p) = honest.open(6);
    reverts(prov.reveal(id, l, &p).await, "InvalidProof");
    reverts(b.contest_size(id).await, "NotDisputant");
    prov.contest_size(id).await.unwrap();
    env.operator()
        .assign_referee(id, env.addrs[REFEREE])
        .await
        .unwrap();
    reverts(
        env.as_(REFEREE).rule(id, Verdict::NeitherRight).await,
        "InvalidVerdict",
    );
    let a0 = env.balance(env.addrs[PROVIDER_A]).await;
    env.as_(REFEREE)
        .rule(id, Verdict::ProviderRight)
        .await
        .unwrap();
    assert!(env.balance(env.addrs[PROVIDER_A]).await > a0 + usdt(20));

    // Dispute rules the contract refuses, and who may set them.
    let mut bad = rules();
    bad.referee_fee = usdt(11);
    reverts(
        env.operator().set_dispute_rules(bad).await,
        "InvalidDisputeRules",
    );
    reverts(out.set_dispute_rules(rules()).await, "NotOperator");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_contracts_inclusion_check_is_cairn_tlogs() {
    let env = Env::start().await;
    let m = env.operator();
    let data = b"checkpoint bytes";
    assert_eq!(
        m.leaf_hash_on_chain(data).await.unwrap(),
        B256::from(leaf_hash(data))
    );
    for n in [1usize, 2, 3, 5, 7, 8, 9, 13, 16, 17] {
        let t = Trace::honest(n);
        let root = t.root();
        for i in 0..n as u32 {
            let (leaf, proof) = t.open(i);
            assert!(
                m.verify_inclusion_on_chain(leaf, i.into(), n as u64, &proof, root)
                    .await
                    .unwrap(),
                "leaf {i} of {n}"
            );
            // The same proof claims nothing at another index, in another size, or root.
            let other = (i + 1) % n as u32;
            if other != i {
                assert!(
                    !m.verify_inclusion_on_chain(leaf, other.into(), n as u64, &proof, root)
                        .await
                        .unwrap()
                );
            }
            // Other sizes: the contract agrees with cairn-tlog's verifier either way (a
            // proof can be valid in a bigger tree whose root is the same shape's).
            for size in [n as u64 - 1, n as u64 + 1, n as u64 + 2] {
                let want = cairn_tlog::verify_inclusion(
                    &leaf.0,
                    i.into(),
                    size,
                    &proof.iter().map(|h| h.0).collect::<Vec<_>>(),
                    &root.0,
                )
                .is_ok();
                assert_eq!(
                    m.verify_inclusion_on_chain(leaf, i.into(), size, &proof, root)
                        .await
                        .unwrap(),
                    want,
                    "leaf {i} of {n} checked as a tree of {size}"
                );
            }
            assert!(
                !m.verify_inclusion_on_chain(leaf, i.into(), n as u64, &proof, B256::ZERO)
                    .await
                    .unwrap()
            );
        }
        assert!(
            !m.verify_inclusion_on_chain(B256::ZERO, n as u64, n as u64, &[], root)
                .await
                .unwrap()
        );
    }
    env.stop().await;
}
