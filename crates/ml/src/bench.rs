//! Throughput of the reproducible trainer against plain candle on the same model, and of
//! inference (what `cairn bench train` prints). Measurements, not assertions.
use crate::{
    Result,
    data::Samples,
    plain::{self, PlainTrainer},
    train::{self, TrainState, Trainer},
};
use cairn_compute::TrainSpec;
use serde::Serialize;
use std::{sync::atomic::AtomicBool, time::Instant};

/// The benchmark's model: an MLP of 2 hidden layers of `hidden` units on the last 32 daily
/// returns of BTC and BNB, batch 64, Adam; `steps` steps.
pub fn bench_spec(steps: u64, hidden: u32) -> TrainSpec {
    TrainSpec {
        model: "mlp".into(),
        hidden: hidden.max(1),
        layers: 2,
        seed: 1,
        optimiser: "adam".into(),
        learning_rate: 0.001,
        batch_size: 64,
        steps: steps.max(1),
        checkpoint_every: steps.max(1),
        data: cairn_compute::DataSpec {
            reader: "market".into(),
            assets: vec!["BTC".into(), "BNB".into()],
            window: 32,
            horizon: 7,
            vocab: String::new(),
            vocab_size: 0,
        },
    }
}

/// One measurement.
#[derive(Clone, Debug, Serialize)]
pub struct Rate {
    /// What ran.
    pub what: String,
    /// Units per second.
    pub per_sec: f64,
    /// The unit (`steps`, `samples`).
    pub unit: String,
}

/// Runs `steps` training steps each way and `passes` inference passes over the dataset.
pub fn bench(
    spec: &TrainSpec,
    data: &Samples,
    steps: u64,
    passes: usize,
    threads: &[usize],
) -> Result<Vec<Rate>> {
    let mut out = Vec::new();
    let never = AtomicBool::new(false);
    let mut final_state = TrainState::init(spec);
    for &t in threads {
        let trainer = Trainer::new(spec, data, t)?;
        let mut state = TrainState::init(spec);
        let start = Instant::now();
        trainer.run_to(&mut state, steps, &never)?;
        out.push(Rate {
            what: format!(
                "train, reproducible, {t} thread{}",
                if t == 1 { "" } else { "s" }
            ),
            per_sec: steps as f64 / start.elapsed().as_secs_f64(),
            unit: "steps".into(),
        });
        final_state = state;
    }
    let mut p = PlainTrainer::new(spec, data, plain::device())?;
    let start = Instant::now();
    for s in 0..steps {
        p.step(s, data)?;
    }
    out.push(Rate {
        what: "train, plain candle".into(),
        per_sec: steps as f64 / start.elapsed().as_secs_f64(),
        unit: "steps".into(),
    });
    let shapes = train::layer_shapes(spec);
    for &t in threads {
        let start = Instant::now();
        for _ in 0..passes {
            std::hint::black_box(train::predict(
                &shapes,
                &final_state.params,
                &data.x,
                data.n,
                t,
            ));
        }
        out.push(Rate {
            what: format!(
                "infer, reproducible, {t} thread{}",
                if t == 1 { "" } else { "s" }
            ),
            per_sec: (passes * data.n) as f64 / start.elapsed().as_secs_f64(),
            unit: "samples".into(),
        });
    }
    let start = Instant::now();
    for _ in 0..passes {
        std::hint::black_box(p.predict(&data.x, data.n, data.features)?);
    }
    out.push(Rate {
        what: "infer, plain candle".into(),
        per_sec: (passes * data.n) as f64 / start.elapsed().as_secs_f64(),
        unit: "samples".into(),
    });
    Ok(out)
}

/// The GRU benchmark's model: a character-level GRU of `hidden` units on the example corpus
/// (`examples/jobs/charlm/corpus`), a window of 32 characters, batch 32, Adam.
pub fn gru_bench_spec(steps: u64, hidden: u32, layers: u32) -> TrainSpec {
    TrainSpec {
        model: "gru".into(),
        hidden: hidden.max(1),
        layers: layers.max(1),
        seed: 1,
        optimiser: "adam".into(),
        learning_rate: 0.01,
        batch_size: 32,
        steps: steps.max(1),
        checkpoint_every: steps.max(1),
        data: cairn_compute::DataSpec {
            reader: "text".into(),
            assets: vec![],
            window: 32,
            horizon: 7,
            vocab: "chars".into(),
            vocab_size: 48,
        },
    }
}

/// The GRU each way: `steps` training steps (reproducible on each thread count, plain candle)
/// and inference over `samples` windows of the corpus in batches of 256 (next-symbol logits).
pub fn bench_gru(
    spec: &TrainSpec,
    data: &Samples,
    steps: u64,
    samples: usize,
    threads: &[usize],
) -> Result<Vec<Rate>> {
    let mut out = Vec::new();
    let never = AtomicBool::new(false);
    let mut final_state = TrainState::init(spec);
    let s = |t: usize| if t == 1 { "" } else { "s" };
    for &t in threads {
        let trainer = Trainer::new(spec, data, t)?;
        let mut state = TrainState::init(spec);
        let start = Instant::now();
        trainer.run_to(&mut state, steps, &never)?;
        out.push(Rate {
            what: format!("train, reproducible, {t} thread{}", s(t)),
            per_sec: steps as f64 / start.elapsed().as_secs_f64(),
            unit: "steps".into(),
        });
        final_state = state;
    }
    let mut p = plain::PlainGru::new(spec, data, plain::device())?;
    let start = Instant::now();
    for step in 0..steps {
        p.step(step, data)?;
    }
    out.push(Rate {
        what: "train, plain candle".into(),
        per_sec: steps as f64 / start.elapsed().as_secs_f64(),
        unit: "steps".into(),
    });
    let rows: Vec<usize> = (0..samples).map(|i| i % data.n).collect();
    let shape = crate::gru::GruShape::of(spec);
    let w = data.features;
    for &t in threads {
        let start = Instant::now();
        for chunk in rows.chunks(256) {
            let ids: Vec<usize> = chunk
                .iter()
                .flat_map(|&i| data.x_row(i).iter().map(|&v| v as usize))
                .collect();
            std::hint::black_box(crate::gru::logits(
                &shape,
                &final_state.params,
                &ids,
                chunk.len(),
                w,
                t,
            ));
        }
        out.push(Rate {
            what: format!("infer, reproducible, {t} thread{}", s(t)),
            per_sec: rows.len() as f64 / start.elapsed().as_secs_f64(),
            unit: "samples".into(),
        });
    }
    let start = Instant::now();
    for chunk in rows.chunks(256) {
        std::hint::black_box(p.logits(chunk, data)?);
    }
    out.push(Rate {
        what: "infer, plain candle".into(),
        per_sec: rows.len() as f64 / start.elapsed().as_secs_f64(),
        unit: "samples".into(),
    });
    Ok(out)
}
