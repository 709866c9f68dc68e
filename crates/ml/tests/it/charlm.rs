//! The `gru` character-level language model on the example corpus (`examples/jobs/charlm`):
//! reproducible across threads and processes, audited like any run, resumable from a
//! checkpoint with the same trace root, and used by `infer` over prompts.
use super::{child_root, never};
use cairn_compute::{DataSpec, InferSpec, TrainSpec};
use cairn_ml::{
    audit::{Claim, Finding, audit},
    data::{Samples, Vocab, samples},
    model_file, run_infer, run_train, run_train_resumed,
    trace::trace_root,
    train::{TrainState, Trainer, resume, train},
};
use sha2::{Digest as _, Sha256};

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/jobs/charlm/corpus"
    );
    vec![(
        "cairns.txt".into(),
        std::fs::read(format!("{dir}/cairns.txt")).unwrap(),
    )]
}

fn gru_spec(hidden: u32, batch: u32, steps: u64) -> TrainSpec {
    TrainSpec {
        model: "gru".into(),
        hidden,
        layers: 1,
        seed: 5,
        optimiser: "adam".into(),
        learning_rate: 0.01,
        batch_size: batch,
        steps,
        checkpoint_every: (steps / 4).max(1),
        data: DataSpec {
            reader: "text".into(),
            assets: vec![],
            window: 12,
            horizon: 7,
            vocab: "chars".into(),
            vocab_size: 48,
        },
    }
}

fn data(spec: &TrainSpec) -> Samples {
    samples(&spec.data, "train.data", &corpus()).unwrap()
}

fn output<'a>(run: &'a cairn_ml::TensorRun, name: &str) -> &'a [u8] {
    &run.outputs.iter().find(|(n, _)| n == name).unwrap().1
}

#[test]
fn gru_training_is_bit_identical_on_1_and_2_threads() {
    // Batch 128 × hidden 64: the recurrent products (128 × 64 × 192) are above the kernels'
    // threshold, so two threads really split them.
    let mut s = gru_spec(64, 128, 6);
    s.layers = 2;
    s.checkpoint_every = 2;
    let one = run_train(&s, &corpus(), 1, &never()).unwrap();
    let two = run_train(&s, &corpus(), 2, &never()).unwrap();
    assert_eq!(one.trace_root, two.trace_root);
    assert!(output(&one, "model.safetensors") == output(&two, "model.safetensors"));
    assert!(one == two, "every output is the same bytes");
    assert_eq!(one.units, 6 * s.parameters());
    // The model file names the corpus's characters.
    let vocab = model_file::decode_vocab(output(&one, "model.safetensors")).unwrap();
    assert_eq!(vocab, data(&s).vocab);
    assert!(matches!(vocab, Some(Vocab::Chars(c)) if c.len() == 40));
}

#[test]
fn the_gru_learns_the_corpus() {
    let s = gru_spec(32, 32, 200);
    let run = train(&s, &data(&s), 2, &never()).unwrap();
    let (first, last) = (run.eval[0].1, run.eval.last().unwrap().1);
    // From about ln 48 (uniform) to well below ln 40: the model has learnt letter statistics.
    assert!(first > 3.5 && last < 2.6, "eval loss {first} → {last}");
}

/// Run in a child process by `gru_training_is_bit_identical_across_processes`.
#[test]
fn child_prints_gru_trace_root() {
    let Some(threads) = std::env::var_os("CAIRN_ML_GRU_CHILD") else {
        return;
    };
    let threads: usize = threads.to_str().unwrap().parse().unwrap();
    let run = run_train(&gru_spec(24, 16, 12), &corpus(), threads, &never()).unwrap();
    println!(
        "ROOT={} MODEL={}",
        hex::encode(run.trace_root),
        hex::encode(Sha256::digest(output(&run, "model.safetensors")))
    );
}

#[test]
fn gru_training_is_bit_identical_across_processes() {
    let line = |threads| {
        child_root(
            "charlm::child_prints_gru_trace_root",
            "CAIRN_ML_GRU_CHILD",
            threads,
        )
    };
    let a = line("1");
    assert_eq!(a, line("2"));
    let here = run_train(&gru_spec(24, 16, 12), &corpus(), 3, &never()).unwrap();
    assert!(a.contains(&hex::encode(here.trace_root)), "{a}");
}

#[test]
fn gru_audits_pass_honest_runs_and_catch_tampering() {
    let s = gru_spec(16, 8, 24);
    let d = data(&s);
    let run = train(&s, &d, 1, &never()).unwrap();
    let model = model_file::encode_with_vocab(&s, &run.state.params, d.vocab.as_ref()).unwrap();
    // Every segment re-executes to the committed bytes.
    let r = audit(&s, &d, claim(&run.checkpoints, &model), 4, 1, 2).unwrap();
    assert!(r.passed(), "{:?}", r.findings);
    assert_eq!(r.segments_checked, vec![0, 1, 2, 3]);
    assert_eq!(r.steps_replayed, 24);
    // A checkpoint nudged at step 12 (and the root recomputed over the lie) is caught.
    let mut forged = run.checkpoints.clone();
    let mut st = TrainState::from_bytes(&forged[2], &s).unwrap();
    st.params[7] += 1e-3;
    forged[2] = st.to_bytes();
    let r = audit(&s, &d, claim(&forged, &model), 4, 1, 1).unwrap();
    assert!(
        r.findings
            .iter()
            .any(|f| matches!(f, Finding::StepMismatch { segment: 1, .. })),
        "{:?}",
        r.findings
    );
    // A model file with another vocabulary (the same weights) is not the run's model.
    let other = model_file::encode_with_vocab(
        &s,
        &run.state.params,
        Some(&Vocab::Chars(('a'..='z').collect())),
    )
    .unwrap();
    let r = audit(&s, &d, claim(&run.checkpoints, &other), 1, 1, 1).unwrap();
    assert_eq!(r.findings, vec![Finding::ModelMismatch]);
}

fn claim<'a>(checkpoints: &'a [Vec<u8>], model: &'a [u8]) -> Claim<'a> {
    Claim {
        trace_root: trace_root(checkpoints),
        checkpoints,
        model,
    }
}

#[test]
fn a_resumed_run_has_the_trace_root_of_an_uninterrupted_one() {
    let s = gru_spec(16, 8, 40);
    let d = data(&s);
    let whole = train(&s, &d, 1, &never()).unwrap();
    for keep in 1..=whole.checkpoints.len() {
        let (rest, done) = resume(&s, &d, 2, &never(), &whole.checkpoints[..keep]).unwrap();
        assert!(done);
        assert!(
            rest.checkpoints == whole.checkpoints,
            "from checkpoint {keep}"
        );
        assert_eq!(rest.state, whole.state);
        assert_eq!(rest.first_step, s.checkpoint_steps()[keep - 1]);
        assert_eq!(rest.losses[..], whole.losses[rest.first_step as usize..]);
    }
    // The job's outputs from the first three checkpoints (steps 0, 10, 20) are those of an
    // uninterrupted run on another thread count.
    let full = run_train(&s, &corpus(), 1, &never()).unwrap();
    let resumed = run_train_resumed(&s, &corpus(), 2, &never(), &whole.checkpoints[..3])
        .unwrap()
        .0;
    assert_eq!(resumed.trace_root, full.trace_root);
    assert!(output(&resumed, "model.safetensors") == output(&full, "model.safetensors"));
    assert!(output(&resumed, "trace.json") == output(&full, "trace.json"));
    assert!(
        String::from_utf8_lossy(output(&resumed, "metrics.csv")).contains("\n21,"),
        "metrics start after the resumed step"
    );
    // Checkpoints that are not this run's are refused.
    let e = resume(&s, &d, 1, &never(), &[whole.checkpoints[1].clone()])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("resume checkpoint 0") && e.contains("step"),
        "{e}"
    );
    let mut other = s.clone();
    other.seed = 6;
    let e = resume(&other, &d, 1, &never(), &whole.checkpoints[..2])
        .unwrap_err()
        .to_string();
    assert!(e.contains("initial state"), "{e}");
}

#[test]
fn infer_completes_prompts_with_a_trained_gru() {
    let s = gru_spec(32, 32, 120);
    let run = run_train(&s, &corpus(), 2, &never()).unwrap();
    let model = output(&run, "model.safetensors").to_vec();
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&model)));
    let spec = InferSpec {
        model: digest,
        batch_size: 2,
        generate: 16,
    };
    let ins = vec![
        ("model.safetensors".to_owned(), model.clone()),
        (
            "prompts.txt".to_owned(),
            b"A cairn is a pile of \n\nThe walker\r\nthe stones are there to be co\n".to_vec(),
        ),
    ];
    let a = run_infer(&spec, &ins, 1, &never()).unwrap();
    let b = run_infer(&spec, &ins, 2, &never()).unwrap();
    assert!(a == b, "1 and 2 threads complete alike");
    assert_eq!(a.outputs[0].0, "completions.jsonl");
    let lines: Vec<serde_json::Value> = a.outputs[0]
        .1
        .split(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "blank lines are skipped");
    assert_eq!(lines[1]["prompt"], "The walker");
    for l in &lines {
        let next = l["next"].as_array().unwrap();
        assert_eq!(next.len(), 5);
        let p: Vec<f64> = next.iter().map(|n| n["p"].as_f64().unwrap()).collect();
        assert!(
            p.windows(2).all(|w| w[0] >= w[1]) && p[0] > 0.0 && p[0] <= 1.0,
            "{l}"
        );
        assert_eq!(l["completion"].as_str().unwrap().chars().count(), 16, "{l}");
    }
    // Training sharpened the guesses: the untrained model (one step) is near uniform over the
    // 40 characters; the trained one is sure of its top guess several times over.
    let mut one_step = s.clone();
    one_step.steps = 1;
    one_step.checkpoint_every = 1;
    let raw = run_train(&one_step, &corpus(), 1, &never()).unwrap();
    let raw = output(&raw, "model.safetensors").to_vec();
    let mut raw_ins = ins.clone();
    raw_ins[0].1 = raw.clone();
    let raw_spec = InferSpec {
        model: format!("sha256:{}", hex::encode(Sha256::digest(&raw))),
        ..spec.clone()
    };
    let untrained = run_infer(&raw_spec, &raw_ins, 1, &never()).unwrap();
    let first_line: serde_json::Value = serde_json::from_slice(
        untrained.outputs[0]
            .1
            .split(|&c| c == b'\n')
            .next()
            .unwrap(),
    )
    .unwrap();
    let (p_raw, p_trained) = (
        first_line["next"][0]["p"].as_f64().unwrap(),
        lines[0]["next"][0]["p"].as_f64().unwrap(),
    );
    assert!(
        p_raw < 0.1 && p_trained > 2.0 * p_raw,
        "{p_raw} → {p_trained}"
    );
    // (21 + 16) + (10 + 16) + (29 + 16) symbols read, each through every parameter.
    assert_eq!(a.units, (37 + 26 + 45) * s.parameters());
    // A character the corpus never had is refused, naming the input and line.
    let mut bad = ins.clone();
    bad[1].1 = "ok\nthe Ω\n".as_bytes().to_vec();
    let e = run_infer(&spec, &bad, 1, &never()).unwrap_err().to_string();
    assert!(
        e.contains("prompts.txt, line 2") && e.contains("'Ω'"),
        "{e}"
    );
    bad[1].1 = b"\n\n".to_vec();
    let e = run_infer(&spec, &bad, 1, &never()).unwrap_err().to_string();
    assert!(e.contains("prompts"), "{e}");
}

#[test]
fn candle_nn_s_gru_computes_the_same_model() {
    // The plain-candle baseline (candle-nn's GRU cell, the same initial weights) agrees with
    // the reproducible GRU to rounding: the same architecture, gate order and loss.
    let mut s = gru_spec(16, 8, 3);
    s.layers = 2;
    let d = data(&s);
    let trainer = Trainer::new(&s, &d, 1).unwrap();
    let mut plain = cairn_ml::plain::PlainGru::new(&s, &d, candle_core::Device::Cpu).unwrap();
    let mut state = TrainState::init(&s);
    for step in 0..3 {
        let (ours, _) = trainer.gradients(&state.params, step);
        let theirs = plain.step(step, &d).unwrap();
        assert!(
            (ours - theirs).abs() < 1e-4,
            "step {step}: {ours} vs {theirs}"
        );
        trainer.step(&mut state);
    }
}

#[test]
fn a_bytes_vocabulary_reads_any_file_and_completes_any_prompt() {
    let mut s = gru_spec(8, 8, 4);
    s.data.vocab = "bytes".into();
    s.data.vocab_size = 0;
    s.checkpoint_every = 2;
    let mut ins = corpus();
    ins.push(("z.bin".into(), vec![0xff, 0x00, 0xfe, b'a']));
    let run = run_train(&s, &ins, 1, &never()).unwrap();
    assert_eq!(run.units, 4 * s.parameters());
    let model = output(&run, "model.safetensors").to_vec();
    assert_eq!(
        model_file::decode_vocab(&model).unwrap(),
        Some(Vocab::Bytes)
    );
    let spec = InferSpec {
        model: format!("sha256:{}", hex::encode(Sha256::digest(&model))),
        batch_size: 4,
        generate: 3,
    };
    let prompts = vec![
        ("model.safetensors".to_owned(), model),
        ("p.bin".to_owned(), vec![0xff, b'x', b'\n', b'a']),
    ];
    let r = run_infer(&spec, &prompts, 1, &never()).unwrap();
    let text = String::from_utf8(r.outputs[0].1.clone()).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.starts_with("{\"prompt\":\"\u{fffd}x\""), "{text}");
}
