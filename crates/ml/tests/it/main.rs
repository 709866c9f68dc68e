//! Integration tests on the repository's real candles (`data/market/`): reproducibility across
//! threads and processes, audits against cheating providers, inference from a trained model.
use cairn_compute::{DataSpec, InferSpec, TrainSpec};
use cairn_ml::{
    audit::{
        Claim, Finding, Opening, audit, audit_openings, detection_probability, needed_checkpoints,
        sample_segments,
    },
    data::{Samples, market_samples},
    model_file, run_infer, run_train,
    trace::{TraceFile, proof, trace_root},
    train::{TrainState, Trainer, train},
};
use sha2::{Digest as _, Sha256};
use std::sync::atomic::AtomicBool;

fn inputs() -> Vec<(String, Vec<u8>)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/market");
    ["BNBUSDT_1d.csv", "BTCUSDT_1d.csv", "ETHUSDT_1d.csv"]
        .iter()
        .map(|n| (n.to_string(), std::fs::read(format!("{dir}/{n}")).unwrap()))
        .collect()
}

fn spec(optimiser: &str) -> TrainSpec {
    TrainSpec {
        model: "mlp".into(),
        hidden: 24,
        layers: 2,
        seed: 42,
        optimiser: optimiser.into(),
        learning_rate: 0.003,
        batch_size: 64,
        steps: 60,
        checkpoint_every: 10,
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
    market_samples(&spec.data, "train.data", &inputs()).unwrap()
}

fn never() -> AtomicBool {
    AtomicBool::new(false)
}

#[test]
fn training_is_bit_identical_on_1_and_2_threads_and_learns() {
    for opt in ["adam", "sgd"] {
        let s = spec(opt);
        let one = run_train(&s, &inputs(), 1, &never()).unwrap();
        let two = run_train(&s, &inputs(), 2, &never()).unwrap();
        let four = run_train(&s, &inputs(), 4, &never()).unwrap();
        assert_eq!(one, two, "{opt}: 1 vs 2 threads");
        assert_eq!(one, four, "{opt}: 1 vs 4 threads");
        assert_eq!(one.units, 60 * s.parameters());
    }
    // The loss falls (Adam on realised volatility).
    let s = spec("adam");
    let run = train(&s, &samples(&s), 2, &never()).unwrap();
    let (first, last) = (run.eval[0].1, run.eval.last().unwrap().1);
    assert!(last < first * 0.8, "eval loss {first} → {last}");
}

/// Run in a child process by `training_is_bit_identical_across_processes`: prints the trace root
/// and the model digest.
#[test]
fn child_prints_trace_root() {
    if std::env::var_os("CAIRN_ML_CHILD").is_none() {
        return;
    }
    let threads: usize = std::env::var("CAIRN_ML_CHILD").unwrap().parse().unwrap();
    let run = run_train(&spec("adam"), &inputs(), threads, &never()).unwrap();
    let model = &run
        .outputs
        .iter()
        .find(|(n, _)| n == "model.safetensors")
        .unwrap()
        .1;
    println!(
        "ROOT={} MODEL={}",
        hex::encode(run.trace_root),
        hex::encode(Sha256::digest(model))
    );
}

/// Runs test `name` of this binary in a child process with `env = threads` and returns the
/// `ROOT=…` line it prints (the trace root a fresh process computes).
pub(crate) fn child_root(name: &str, env: &str, threads: &str) -> String {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(env, threads)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let at = text
        .find("ROOT=")
        .unwrap_or_else(|| panic!("no result from the child: {text}"));
    text[at..].lines().next().unwrap_or_default().to_owned()
}

#[test]
fn training_is_bit_identical_across_processes() {
    let line = |threads| child_root("child_prints_trace_root", "CAIRN_ML_CHILD", threads);
    let a = line("1");
    let b = line("2");
    assert_eq!(a, b);
    let here = run_train(&spec("adam"), &inputs(), 3, &never()).unwrap();
    assert!(a.contains(&hex::encode(here.trace_root)));
}

/// An honest run's claim, owned.
struct Run {
    checkpoints: Vec<Vec<u8>>,
    model: Vec<u8>,
}

impl Run {
    fn honest(spec: &TrainSpec, data: &Samples) -> Self {
        let r = train(spec, data, 2, &never()).unwrap();
        Self {
            model: model_file::encode(spec, &r.state.params).unwrap(),
            checkpoints: r.checkpoints,
        }
    }

    /// The claim as the provider would commit it (the root matches its own checkpoints).
    fn claim(&self) -> Claim<'_> {
        Claim {
            trace_root: trace_root(&self.checkpoints),
            checkpoints: &self.checkpoints,
            model: &self.model,
        }
    }
}

/// A cheating provider: runs segment `seg` with `step` instead of honest steps, and
/// continues honestly from whatever state that left (so its later checkpoints are consistent
/// with its own lie, as a careful cheater's would be).
fn cheat(
    spec: &TrainSpec,
    data: &Samples,
    faked: &[usize],
    fake: impl Fn(&Trainer<'_>, &mut TrainState),
) -> Run {
    let trainer = Trainer::new(spec, data, 1).unwrap();
    let steps = spec.checkpoint_steps();
    let mut state = TrainState::init(spec);
    let mut checkpoints = vec![state.to_bytes()];
    for seg in 0..steps.len() - 1 {
        while state.step < steps[seg + 1] {
            if faked.contains(&seg) {
                fake(&trainer, &mut state);
            } else {
                trainer.step(&mut state);
            }
        }
        checkpoints.push(state.to_bytes());
    }
    Run {
        model: model_file::encode(spec, &state.params).unwrap(),
        checkpoints,
    }
}

fn findings(spec: &TrainSpec, data: &Samples, run: &Run, k: usize, seed: u64) -> Vec<Finding> {
    audit(spec, data, run.claim(), k, seed, 2).unwrap().findings
}

#[test]
fn honest_runs_always_pass_and_cost_k_segments() {
    let s = spec("adam");
    let data = samples(&s);
    let honest = Run::honest(&s, &data);
    for seed in 0..8 {
        let r = audit(&s, &data, honest.claim(), 2, seed, 1).unwrap();
        assert!(r.passed(), "{:?}", r.findings);
        assert_eq!(r.segments_checked.len(), 2);
        assert_eq!(r.steps_replayed, 20);
        assert!(
            r.segments_checked.contains(&5),
            "the last segment is always checked"
        );
    }
}

#[test]
fn every_cheat_is_caught() {
    let s = spec("adam");
    let data = samples(&s);
    let honest = Run::honest(&s, &data);

    // Wrong output: a model file that is not the last checkpoint.
    let mut wrong_output = Run::honest(&s, &data);
    let (_, mut params) = model_file::decode(&wrong_output.model).unwrap();
    params[0] += 0.5;
    wrong_output.model = model_file::encode(&s, &params).unwrap();
    assert!(findings(&s, &data, &wrong_output, 1, 0).contains(&Finding::ModelMismatch));

    // Skipped steps: segment 2 only counts its steps up without training.
    let skipped = cheat(&s, &data, &[2], |_, st| st.step += 1);
    // Drawing all segments finds it at once; with 3 of 6, some seeds do.
    assert!(
        findings(&s, &data, &skipped, 6, 0)
            .iter()
            .any(|f| matches!(f, Finding::StepMismatch { segment: 2, .. }))
    );
    let caught = (0..20)
        .filter(|&seed| !findings(&s, &data, &skipped, 3, seed).is_empty())
        .count();
    assert!(caught > 0 && caught < 20, "caught in {caught} of 20 audits");

    // A wrong final checkpoint with honest earlier ones: the last segment is always replayed.
    let mut last_wrong = Run::honest(&s, &data);
    let n = last_wrong.checkpoints.len();
    let mut st = TrainState::from_bytes(&last_wrong.checkpoints[n - 1], &s).unwrap();
    st.params.iter_mut().for_each(|p| *p *= 0.999);
    last_wrong.checkpoints[n - 1] = st.to_bytes();
    last_wrong.model = model_file::encode(&s, &st.params).unwrap();
    assert_eq!(
        findings(&s, &data, &last_wrong, 1, 7),
        vec![Finding::StepMismatch {
            segment: 5,
            from_step: 50,
            to_step: 60
        }]
    );

    // Lower precision: every step rounds the parameters to bfloat16.
    let bf16 = |t: &Trainer<'_>, st: &mut TrainState| {
        t.step(st);
        st.params
            .iter_mut()
            .for_each(|p| *p = f32::from_bits(p.to_bits() & 0xffff_0000));
    };
    let low = cheat(&s, &data, &[0, 1, 2, 3, 4, 5], bf16);
    assert!(!findings(&s, &data, &low, 1, 3).is_empty());

    // Checkpoints that do not match the committed root, or are missing.
    let mut claim = honest.claim();
    claim.trace_root[0] ^= 1;
    assert_eq!(
        audit(&s, &data, claim, 1, 0, 1).unwrap().findings,
        vec![Finding::RootMismatch]
    );
    let short = Run {
        checkpoints: honest.checkpoints[..3].to_vec(),
        model: honest.model.clone(),
    };
    assert!(matches!(
        findings(&s, &data, &short, 1, 0)[0],
        Finding::CheckpointCount {
            expected: 7,
            got: 3
        }
    ));

    // A different start (another seed's weights).
    let mut other = s.clone();
    other.seed = 43;
    let mut forged = Run::honest(&s, &data);
    forged.checkpoints[0] = TrainState::init(&other).to_bytes();
    assert!(findings(&s, &data, &forged, 1, 0).contains(&Finding::WrongInitialState));
}

/// Audits `run` through openings with proofs, as the node and `cairn job verify` do; returns the
/// report and the checkpoint indices fetched.
fn audit_by_proofs(
    s: &TrainSpec,
    data: &Samples,
    run: &Run,
    k: usize,
    seed: u64,
) -> (cairn_ml::audit::AuditReport, Vec<usize>) {
    let trace = TraceFile::new(s.checkpoint_steps(), &run.checkpoints);
    let leaves = trace.leaf_hashes().unwrap();
    let root = trace.root_bytes().unwrap();
    let mut fetched = vec![];
    let r = audit_openings(s, data, root, &run.model, k, seed, 1, |i| {
        fetched.push(i);
        Ok(Opening {
            bytes: run.checkpoints[i].clone(),
            proof: proof(&leaves, i)?,
        })
    })
    .unwrap();
    (r, fetched)
}

#[test]
fn audits_by_inclusion_proofs_fetch_only_the_sampled_checkpoints() {
    let s = spec("adam");
    let data = samples(&s);
    let honest = Run::honest(&s, &data);
    let (r, fetched) = audit_by_proofs(&s, &data, &honest, 2, 9);
    assert!(r.passed(), "{:?}", r.findings);
    assert_eq!(r.steps_replayed, 20);
    assert_eq!(fetched, needed_checkpoints(7, &r.segments_checked));
    assert!(fetched.len() <= 5, "{fetched:?}");

    // A cheater that corrupts the weights after step 15 and carries on honestly from there:
    // its trace is consistent with its own checkpoints, but segment 1 (steps 10..20) does not
    // replay.
    let corrupt = cheat(&s, &data, &[1], |t, st| {
        t.step(st);
        if st.step == 15 {
            st.params[3] += 0.25;
        }
    });
    let (r, _) = audit_by_proofs(&s, &data, &corrupt, 6, 0);
    assert_eq!(
        r.findings,
        vec![Finding::StepMismatch {
            segment: 1,
            from_step: 10,
            to_step: 20
        }]
    );
    assert!(r.findings[0].to_string().contains("steps 10..20"));

    // A checkpoint swapped after the commitment fails its inclusion proof, naming the step.
    let trace = TraceFile::new(s.checkpoint_steps(), &honest.checkpoints);
    let leaves = trace.leaf_hashes().unwrap();
    let mut tampered = honest.checkpoints.clone();
    let last = tampered.len() - 1;
    let n = tampered[last].len();
    tampered[last][n - 1] ^= 1;
    let r = audit_openings(
        &s,
        &data,
        trace.root_bytes().unwrap(),
        &honest.model,
        1,
        0,
        1,
        |i| {
            Ok(Opening {
                bytes: tampered[i].clone(),
                proof: proof(&leaves, i)?,
            })
        },
    )
    .unwrap();
    assert_eq!(r.findings, vec![Finding::NotInTrace { index: 6, step: 60 }]);
    assert!(r.findings[0].to_string().contains("step 60"));
    // A trace file whose leaves are not its root is refused.
    let mut bad = trace.clone();
    bad.leaves.swap(0, 1);
    assert!(bad.leaf_hashes().is_err());
}

#[test]
fn detection_rate_matches_one_minus_one_minus_f_to_the_k() {
    // 100 segments, 10 faked (f = 0.1), k = 10 samples: at least 1 − 0.9^10 ≈ 0.651.
    let faked: Vec<usize> = (0..100).filter(|i| i % 10 == 3).collect();
    let trials = 4_000;
    let caught = (0..trials)
        .filter(|&seed| {
            sample_segments(100, 10, seed)
                .iter()
                .any(|s| faked.contains(s))
        })
        .count();
    let rate = caught as f64 / trials as f64;
    let bound = detection_probability(0.1, 10);
    assert!(rate >= bound - 0.03, "rate {rate} below the bound {bound}");
    assert!(
        rate <= bound + 0.1,
        "rate {rate} far above {bound}: sampling is not uniform"
    );
    // Samples are distinct and include the last segment.
    let s = sample_segments(100, 10, 5);
    assert_eq!(s.len(), 10);
    assert!(s.windows(2).all(|w| w[0] < w[1]) && s.contains(&99));
}

#[test]
fn inference_runs_a_trained_model_by_digest() {
    let s = spec("adam");
    let run = run_train(&s, &inputs(), 2, &never()).unwrap();
    let model = run
        .outputs
        .iter()
        .find(|(n, _)| n == "model.safetensors")
        .unwrap()
        .1
        .clone();
    let (back, params) = model_file::decode(&model).unwrap();
    assert_eq!(back, s);
    assert_eq!(params.len() as u64, s.parameters());
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&model)));
    let spec = InferSpec {
        model: digest,
        batch_size: 100,
        generate: 0,
    };
    let mut ins = inputs();
    ins.push(("model.safetensors".into(), model.clone()));
    let a = run_infer(&spec, &ins, 1, &never()).unwrap();
    let b = run_infer(
        &InferSpec {
            batch_size: 7,
            ..spec.clone()
        },
        &ins,
        2,
        &never(),
    )
    .unwrap();
    assert_eq!(
        a.outputs, b.outputs,
        "batching and threads do not change predictions"
    );
    let csv = String::from_utf8(a.outputs[0].1.clone()).unwrap();
    assert!(
        csv.starts_with("sample,BTC_vol,BNB_vol\n0,"),
        "{}",
        &csv[..60]
    );
    assert_eq!(a.units, (csv.lines().count() as u64 - 1) * s.parameters());
    // Another model under that digest is refused.
    let mut wrong = ins.clone();
    wrong.last_mut().unwrap().1[100] ^= 1;
    let e = run_infer(&spec, &wrong, 1, &never())
        .unwrap_err()
        .to_string();
    assert!(e.contains("infer.model"), "{e}");
}

#[test]
fn a_missing_asset_file_names_the_field() {
    let mut s = spec("adam");
    s.data.assets.push("SOL".into());
    let e = run_train(&s, &inputs(), 1, &never())
        .unwrap_err()
        .to_string();
    assert!(e.contains("train.data.assets") && e.contains("SOL"), "{e}");
}

#[test]
fn a_halted_run_keeps_its_trace_so_far_and_meters_only_those_steps() {
    let mut s = spec("adam");
    s.steps = 2_000_000;
    s.checkpoint_every = 10;
    let halt = std::sync::Arc::new(AtomicBool::new(false));
    let h = halt.clone();
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        h.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let (run, complete) = cairn_ml::job::run_train_until_halted(&s, &inputs(), 1, &halt).unwrap();
    stopper.join().unwrap();
    assert!(!complete);
    let checkpoints: Vec<Vec<u8>> = run
        .outputs
        .iter()
        .filter(|(n, _)| n.starts_with("checkpoints/"))
        .map(|(_, b)| b.clone())
        .collect();
    let done = 10 * (checkpoints.len() as u64 - 1);
    assert_eq!(run.units, done * s.parameters());
    assert_eq!(run.trace_root, trace_root(&checkpoints));
    assert!(!run.outputs.iter().any(|(n, _)| n == "model.safetensors"));
    // The checkpoints are those of the same run stopped at that step by its spec.
    let mut short = s.clone();
    short.steps = done.max(1);
    if done > 0 {
        let whole = train(&short, &samples(&short), 2, &never()).unwrap();
        assert_eq!(whole.checkpoints, checkpoints);
    }
}

mod charlm;
