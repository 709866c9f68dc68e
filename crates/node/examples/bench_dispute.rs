//! Dispute cost versus job length: for traces of 8, 64 and 512 checkpoints (a real `train` run,
//! 4 steps per checkpoint, a provider that fakes one step in the middle), a replicating
//! challenger disputes the final checkpoint on a local anvil, both sides answer every round
//! with inclusion proofs, and a staked referee recomputes the one segment the bisection leaves.
//! Prints the rounds, the gas of each step, and the referee's work next to the whole run's.
//!
//! `cargo run -p cairn-node --example bench_dispute [checkpoints...]`
use alloy::primitives::{Address, B256, U256};
use cairn_compute::{DataSpec, TrainSpec};
use cairn_contracts::TestToken;
use cairn_devnet::{DevnetConfig, connect, dev_accounts, down, up};
use cairn_escrow::{DisputeRules, Escrow, Verdict, max_rounds};
use cairn_ml::{
    data::{Samples, market_samples},
    train::{TrainState, Trainer},
};
use cairn_node::dispute::{SegmentInputs, answer_round, referee_pass, root};
use cairn_tlog::{Hash, leaf_hash};
use std::{path::PathBuf, sync::atomic::AtomicBool, time::Instant};

const REQUESTER: usize = 1;
const PROVIDER: usize = 2;
const CHALLENGER: usize = 3;
const REFEREE: usize = 7;
const OPERATOR: usize = cairn_devnet::COMPUTE_OPERATOR_ACCOUNT;
const EVERY: u64 = 4;

fn usdt(n: u64) -> U256 {
    U256::from(n * 1_000_000)
}

fn spec(checkpoints: u64) -> TrainSpec {
    TrainSpec {
        model: "mlp".into(),
        hidden: 16,
        layers: 2,
        seed: 11,
        optimiser: "adam".into(),
        learning_rate: 0.003,
        batch_size: 32,
        steps: (checkpoints - 1) * EVERY,
        checkpoint_every: EVERY,
        data: DataSpec {
            reader: "market".into(),
            assets: vec!["BTC".into(), "BNB".into()],
            window: 16,
            horizon: 7,
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
    market_samples(&spec.data, "train.data", &inputs).expect("the repository's candles load")
}

fn run(spec: &TrainSpec, data: &Samples, nudge_at: Option<usize>) -> Vec<Vec<u8>> {
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

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let sizes: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("checkpoint counts are integers ≥ 2"))
        .collect();
    let sizes = if sizes.is_empty() {
        vec![8, 64, 512]
    } else {
        sizes
    };
    let dir = tempfile::tempdir().unwrap();
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cfg = DevnetConfig::test(dir.path())
        .with_anvil(repo.join("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"))
        .with_prices_dir(repo.join("data/market"));
    let report = up(&cfg).await.expect("devnet up");
    let market = report.deployment.contracts["compute_market"];
    let accounts = dev_accounts(&cfg).unwrap();
    let (mut c, mut addrs): (Vec<Escrow>, Vec<Address>) = (vec![], vec![]);
    for i in 0..=OPERATOR {
        let chain = connect(&report.devnet, accounts.key(i)).await.unwrap();
        addrs.push(chain.signer().unwrap());
        c.push(Escrow::new(chain, market));
    }
    let token = TestToken::new(
        report.deployment.tokens["USDT"].address,
        c[0].chain().provider(),
    );
    for &a in &addrs[1..] {
        let pending = token.mint(a, usdt(100_000)).send().await.unwrap();
        c[0].chain().confirm("mint", pending).await.unwrap();
    }
    for e in &c[1..] {
        e.ensure_allowance(U256::MAX).await.unwrap();
    }
    c[OPERATOR]
        .set_dispute_rules(DisputeRules {
            bond: usdt(10),
            slash: usdt(50),
            referee_fee: usdt(2),
            min_referee_stake: usdt(100),
            window: 3600,
        })
        .await
        .unwrap();
    c[PROVIDER].register_provider(usdt(10_000)).await.unwrap();
    c[CHALLENGER].register_provider(usdt(100)).await.unwrap();
    c[REFEREE].register_referee(usdt(100)).await.unwrap();

    println!(
        "| checkpoints | steps | rounds (max 1+⌈log2(n−1)⌉) | gas: open | gas per round (2 reveals) | gas: assign + rule | gas in all | referee: steps recomputed | referee: segment ms | referee: whole pass ms (chain calls too) | whole run ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for n in sizes {
        let spec = spec(n);
        let data = samples(&spec);
        let t = Instant::now();
        let honest = run(&spec, &data, None);
        let train_ms = t.elapsed().as_secs_f64() * 1e3;
        let cheat = run(&spec, &data, Some(n as usize / 2 + 1));
        let h: Vec<Hash> = honest.iter().map(|b| leaf_hash(b)).collect();
        let x: Vec<Hash> = cheat.iter().map(|b| leaf_hash(b)).collect();
        let (spec_digest, output) = (B256::repeat_byte(0x5e), B256::from(U256::from(n)));
        let now = c[0].chain_time().await.unwrap();
        let id = c[REQUESTER]
            .post_job(spec_digest, usdt(20), now + 100, now + 1000)
            .await
            .unwrap()
            .first();
        c[OPERATOR].assign_job(id, addrs[PROVIDER]).await.unwrap();
        c[PROVIDER]
            .commit_result(id, output, root(&x), usdt(20))
            .await
            .unwrap();
        let open = c[CHALLENGER]
            .open_dispute(
                id,
                spec_digest,
                output,
                root(&x),
                root(&h),
                n as u32,
                n as u32 - 1,
            )
            .await
            .unwrap()
            .gas_used;
        let mut reveal_gas = 0u64;
        loop {
            let p = answer_round(&c[PROVIDER], id, true, &x).await.unwrap();
            let q = answer_round(&c[CHALLENGER], id, false, &h).await.unwrap();
            if p.is_none() && q.is_none() {
                break;
            }
            reveal_gas += p.map_or(0, |t| t.gas_used) + q.map_or(0, |t| t.gas_used);
        }
        let d = c[0].dispute(id).await.unwrap().unwrap();
        let assign = c[OPERATOR]
            .assign_referee(id, addrs[REFEREE])
            .await
            .unwrap()
            .gas_used;
        let t = Instant::now();
        cairn_ml::audit::recompute_segment(
            &spec,
            &data,
            d.lo as usize,
            &d.lo_leaf.0,
            Some(&cheat[d.lo as usize]),
            1,
        )
        .unwrap();
        let segment_ms = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        let rulings = referee_pass(&c[REFEREE], addrs[REFEREE], 0, 1, |d| {
            Ok(SegmentInputs {
                spec: spec.clone(),
                data: data.clone(),
                lo_checkpoint: Some(cheat[d.lo as usize].clone()),
            })
        })
        .await
        .unwrap();
        let referee_ms = t.elapsed().as_secs_f64() * 1e3;
        let r = rulings
            .rulings
            .iter()
            .find(|r| r.job_id == id)
            .expect("the referee ruled");
        assert_eq!(r.verdict, Verdict::ChallengerRight);
        let rounds = u64::from(d.rounds);
        println!(
            "| {n} | {} | {rounds} ({}) | {open} | {} | {} | {} | {} of {} | {segment_ms:.2} | {referee_ms:.1} | {train_ms:.1} |",
            spec.steps,
            max_rounds(n as u32),
            reveal_gas / rounds.max(1),
            assign + r.tx.gas_used,
            open + reveal_gas + assign + r.tx.gas_used,
            r.check.steps_replayed,
            spec.steps,
        );
    }
    down(&cfg).await.unwrap();
}
