//! Refereed bisection end to end on a real anvil with real training: a provider that fakes one
//! step (weights nudged at checkpoint 5, everything after computed honestly from the lie) is
//! caught by a sampled audit, disputed by the requester with the trace `challenger_trace`
//! builds, bisected to segment 4 → 5 on chain, and the referee — recomputing only that
//! segment with `cairn-ml` — rules the provider wrong: slashed, requester refunded. An honest
//! provider against a challenger that lies about checkpoint 5 is paid and keeps its stake.
use alloy::primitives::{Address, B256, U256};
use cairn_compute::{DataSpec, TrainSpec};
use cairn_contracts::TestToken;
use cairn_devnet::{DevnetConfig, RunningDevnet, connect, dev_accounts, down, up};
use cairn_escrow::{DisputePhase, DisputeRules, Escrow, JobState, Verdict};
use cairn_ml::{
    audit::{Claim, Finding, audit, recompute_segment},
    data::{Samples, market_samples},
    train::{TrainState, Trainer},
};
use cairn_node::dispute::{SegmentInputs, answer_round, challenger_trace, referee_pass, root};
use cairn_tlog::{Hash, leaf_hash};
use std::{path::PathBuf, sync::atomic::AtomicBool};

const REQUESTER: usize = 1;
const PROVIDER: usize = 2;
const REFEREE: usize = 7;
const OPERATOR: usize = cairn_devnet::COMPUTE_OPERATOR_ACCOUNT;
const USDT: u64 = 1_000_000;

fn usdt(n: u64) -> U256 {
    U256::from(n * USDT)
}

fn spec() -> TrainSpec {
    TrainSpec {
        model: "mlp".into(),
        hidden: 8,
        layers: 1,
        seed: 7,
        optimiser: "adam".into(),
        learning_rate: 0.003,
        batch_size: 16,
        steps: 16,
        checkpoint_every: 2,
        data: DataSpec {
            reader: "market".into(),
            assets: vec!["BTC".into(), "BNB".into()],
            window: 8,
            horizon: 3,
            vocab: String::new(),
            vocab_size: 0,
        },
    }
}

fn samples(spec: &TrainSpec) -> Samples {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/market");
    let inputs: Vec<(String, Vec<u8>)> = ["BNBUSDT_1d.csv", "BTCUSDT_1d.csv", "ETHUSDT_1d.csv"]
        .iter()
        .map(|n| (n.to_string(), std::fs::read(format!("{dir}/{n}")).unwrap()))
        .collect();
    market_samples(&spec.data, "train.data", &inputs).unwrap()
}

/// The checkpoints of a run; with `nudge_at = Some(i)` the weights are nudged right after
/// checkpoint `i - 1`'s segment, so checkpoint `i` is a lie and every later one follows
/// honestly from it.
fn checkpoints(spec: &TrainSpec, data: &Samples, nudge_at: Option<usize>) -> Vec<Vec<u8>> {
    let trainer = Trainer::new(spec, data, 1).unwrap();
    let never = AtomicBool::new(false);
    let mut state = TrainState::init(spec);
    let mut out = vec![state.to_bytes()];
    for (i, &step) in spec.checkpoint_steps().iter().enumerate().skip(1) {
        trainer.run_to(&mut state, step, &never).unwrap();
        if Some(i) == nudge_at {
            state.params[0] += 0.01;
        }
        out.push(state.to_bytes());
    }
    out
}

fn leaves(cps: &[Vec<u8>]) -> Vec<Hash> {
    cps.iter().map(|c| leaf_hash(c)).collect()
}

struct Chain {
    _dir: tempfile::TempDir,
    cfg: DevnetConfig,
    running: RunningDevnet,
    clients: Vec<Escrow>,
    addrs: Vec<Address>,
    stopped: bool,
}

impl Drop for Chain {
    fn drop(&mut self) {
        if !self.stopped {
            let pid = nix::unistd::Pid::from_raw(self.running.pid as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        }
    }
}

impl Chain {
    async fn start() -> Chain {
        let dir = tempfile::tempdir().unwrap();
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let cfg = DevnetConfig::test(dir.path())
            .with_anvil(repo.join("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"))
            .with_prices_dir(repo.join("data/market"));
        let report = up(&cfg).await.expect("devnet up");
        let market = report.deployment.contracts["compute_market"];
        let usdt_addr = report.deployment.tokens["USDT"].address;
        let accounts = dev_accounts(&cfg).unwrap();
        let (mut clients, mut addrs) = (vec![], vec![]);
        for i in 0..=OPERATOR {
            let chain = connect(&report.devnet, accounts.key(i)).await.unwrap();
            addrs.push(chain.signer().unwrap());
            clients.push(Escrow::new(chain, market));
        }
        let token = TestToken::new(usdt_addr, clients[0].chain().provider());
        for &a in &addrs[1..] {
            let pending = token.mint(a, usdt(10_000)).send().await.unwrap();
            clients[0].chain().confirm("mint", pending).await.unwrap();
        }
        for c in &clients[1..] {
            c.ensure_allowance(U256::MAX).await.unwrap();
        }
        clients[OPERATOR]
            .set_dispute_rules(DisputeRules {
                bond: usdt(10),
                slash: usdt(50),
                referee_fee: usdt(2),
                min_referee_stake: usdt(100),
                window: 600,
            })
            .await
            .unwrap();
        clients[PROVIDER]
            .register_provider(usdt(200))
            .await
            .unwrap();
        clients[REFEREE].register_referee(usdt(100)).await.unwrap();
        Chain {
            _dir: dir,
            running: report.devnet.clone(),
            cfg,
            clients,
            addrs,
            stopped: false,
        }
    }

    /// A 20 USDT job the provider commits with `trace_root`.
    async fn committed(&self, spec_digest: B256, output: B256, trace_root: B256) -> u64 {
        let now = self.clients[0].chain_time().await.unwrap();
        let id = self.clients[REQUESTER]
            .post_job(spec_digest, usdt(20), now + 100, now + 1000)
            .await
            .unwrap()
            .first();
        self.clients[OPERATOR]
            .assign_job(id, self.addrs[PROVIDER])
            .await
            .unwrap();
        self.clients[PROVIDER]
            .commit_result(id, output, trace_root, usdt(20))
            .await
            .unwrap();
        id
    }

    /// Both sides answer every round from their own leaves.
    async fn bisect(&self, id: u64, provider: &[Hash], challenger: (usize, &[Hash])) {
        loop {
            let p = answer_round(&self.clients[PROVIDER], id, true, provider)
                .await
                .unwrap();
            let c = answer_round(&self.clients[challenger.0], id, false, challenger.1)
                .await
                .unwrap();
            if p.is_none() && c.is_none() {
                return;
            }
        }
    }

    async fn stop(mut self) {
        down(&self.cfg).await.unwrap();
        self.stopped = true;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_faked_step_is_bisected_to_its_segment_and_the_referee_recomputes_only_that() {
    let spec = spec();
    let data = samples(&spec);
    let honest = checkpoints(&spec, &data, None);
    let cheat = checkpoints(&spec, &data, Some(5));
    assert_eq!(honest[..5], cheat[..5]);
    assert_ne!(honest[5], cheat[5]);
    let chain = Chain::start().await;
    let (spec_digest, output) = (B256::repeat_byte(0x5e), B256::repeat_byte(0x0b));
    let (req, prov) = (chain.addrs[REQUESTER], chain.addrs[PROVIDER]);

    // The cheat: a sampled audit of every segment finds 4 → 5 wrong.
    let cheat_leaves = leaves(&cheat);
    let id = chain
        .committed(spec_digest, output, root(&cheat_leaves))
        .await;
    let model = cairn_ml::model_file::encode(
        &spec,
        &TrainState::from_bytes(cheat.last().unwrap(), &spec)
            .unwrap()
            .params,
    )
    .unwrap();
    let report = audit(
        &spec,
        &data,
        Claim {
            trace_root: root(&cheat_leaves).0,
            checkpoints: &cheat,
            model: &model,
        },
        8,
        1,
        1,
    )
    .unwrap();
    let Some(Finding::StepMismatch { segment, .. }) = report.findings.first().cloned() else {
        panic!("the audit missed the faked step: {report:?}");
    };
    assert_eq!(segment, 4);
    let redo = recompute_segment(&spec, &data, 4, &cheat_leaves[4], Some(&cheat[4]), 1).unwrap();
    assert_eq!(redo.leaf, leaf_hash(&honest[5]));
    let (mine, disputed) = challenger_trace(&cheat_leaves, segment, redo.leaf);
    let req0 = chain.clients[0].token_balance(req).await.unwrap();
    chain.clients[REQUESTER]
        .open_dispute(
            id,
            spec_digest,
            output,
            root(&cheat_leaves),
            root(&mine),
            mine.len() as u32,
            disputed,
        )
        .await
        .unwrap();
    chain.bisect(id, &cheat_leaves, (REQUESTER, &mine)).await;
    let d = chain.clients[0].dispute(id).await.unwrap().unwrap();
    assert_eq!(d.phase, DisputePhase::AwaitingReferee);
    assert_eq!((d.lo, d.hi), (4, 5));
    chain.clients[OPERATOR]
        .assign_referee(id, chain.addrs[REFEREE])
        .await
        .unwrap();
    // The referee fetches checkpoint lo from the provider's published checkpoints; a
    // checkpoint that is not the agreed leaf is refused rather than judged.
    let wrong = referee_pass(&chain.clients[REFEREE], chain.addrs[REFEREE], 0, 1, |_| {
        Ok(SegmentInputs {
            spec: spec.clone(),
            data: data.clone(),
            lo_checkpoint: Some(honest[3].clone()),
        })
    })
    .await
    .unwrap();
    assert!(wrong.rulings.is_empty());
    assert_eq!(wrong.refused.len(), 1);
    assert!(
        wrong.refused[0].to_string().contains("agreed leaf"),
        "{:?}",
        wrong.refused
    );
    let rulings = referee_pass(&chain.clients[REFEREE], chain.addrs[REFEREE], 0, 1, |d| {
        Ok(SegmentInputs {
            spec: spec.clone(),
            data: data.clone(),
            lo_checkpoint: Some(cheat[d.lo as usize].clone()),
        })
    })
    .await
    .unwrap()
    .rulings;
    assert_eq!(rulings.len(), 1);
    assert_eq!(rulings[0].verdict, Verdict::ChallengerRight);
    assert_eq!(rulings[0].check.steps_replayed, spec.checkpoint_every);
    let job = chain.clients[0].job(id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Refunded);
    // The requester: its payment and bond back, plus the slash less the referee's fee.
    assert_eq!(
        chain.clients[0].token_balance(req).await.unwrap(),
        req0 + usdt(20) + usdt(48)
    );
    assert_eq!(
        chain.clients[0].provider(prov).await.unwrap().stake,
        usdt(150)
    );

    // An honest provider against a challenger lying about checkpoint 5.
    let honest_leaves = leaves(&honest);
    let id = chain
        .committed(spec_digest, output, root(&honest_leaves))
        .await;
    let (lie, disputed) = challenger_trace(&honest_leaves, 4, [0x11; 32]);
    chain.clients[REQUESTER]
        .open_dispute(
            id,
            spec_digest,
            output,
            root(&honest_leaves),
            root(&lie),
            lie.len() as u32,
            disputed,
        )
        .await
        .unwrap();
    chain.bisect(id, &honest_leaves, (REQUESTER, &lie)).await;
    chain.clients[OPERATOR]
        .assign_referee(id, chain.addrs[REFEREE])
        .await
        .unwrap();
    let p0 = chain.clients[0].token_balance(prov).await.unwrap();
    let rulings = referee_pass(&chain.clients[REFEREE], chain.addrs[REFEREE], 0, 1, |d| {
        Ok(SegmentInputs {
            spec: spec.clone(),
            data: data.clone(),
            lo_checkpoint: Some(honest[d.lo as usize].clone()),
        })
    })
    .await
    .unwrap()
    .rulings;
    assert_eq!(rulings.len(), 1, "the first dispute is not ruled again");
    assert_eq!(rulings[0].verdict, Verdict::ProviderRight);
    assert_eq!(
        chain.clients[0].job(id).await.unwrap().unwrap().state,
        JobState::Settled
    );
    let pay = usdt(20) - usdt(20) / U256::from(100u64);
    assert_eq!(
        chain.clients[0].token_balance(prov).await.unwrap(),
        p0 + pay + usdt(10) - usdt(2)
    );
    assert_eq!(
        chain.clients[0].provider(prov).await.unwrap().stake,
        usdt(150)
    );
    chain.stop().await;
}

#[test]
fn the_referee_refuses_a_segment_it_cannot_recompute_from_the_agreed_state() {
    let spec = spec();
    let data = samples(&spec);
    let run = checkpoints(&spec, &data, None);
    let l = leaves(&run);
    // lo = 0 needs no bytes: the referee builds the spec's initial state itself.
    let c = recompute_segment(&spec, &data, 0, &[0; 32], None, 1).unwrap();
    assert_eq!((c.leaf, c.steps_replayed), (l[1], 2));
    let c = recompute_segment(&spec, &data, 7, &l[7], Some(&run[7]), 2).unwrap();
    assert_eq!(c.leaf, l[8], "the same bytes with two threads");
    let err = |r: cairn_ml::Result<_>| r.unwrap_err().to_string();
    assert!(
        err(recompute_segment(&spec, &data, 8, &l[8], Some(&run[8]), 1)).contains("no successor")
    );
    assert!(err(recompute_segment(&spec, &data, 3, &l[3], None, 1)).contains("missing"));
    assert!(
        err(recompute_segment(&spec, &data, 3, &l[3], Some(&run[4]), 1)).contains("agreed leaf")
    );
    // The right bytes but claimed at another index: not at its scheduled step.
    assert!(err(recompute_segment(&spec, &data, 3, &l[4], Some(&run[4]), 1)).contains("step"));
}
