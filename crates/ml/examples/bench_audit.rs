//! `cargo run --release -p cairn-ml --example bench_audit [job.toml] [samples]`: what the node's
//! sampled step audit of a `train` job costs against the training itself, on the example job
//! (`examples/jobs/volatility/job.toml`, its dataset `data/market`). Trains once (timed), then
//! audits the committed trace as the node does — fetching the needed checkpoints with their
//! inclusion proofs and re-executing `samples` segments (default 2) — and prints both times and
//! their ratio; each is the fastest of 5 runs (a shared machine's load only ever slows a run
//! down). A measurement, not an assertion.
use cairn_compute::JobFile;
use cairn_ml::{
    audit::{Opening, audit_openings},
    data::market_samples,
    model_file,
    trace::{TraceFile, proof},
    train::train,
};
use std::{sync::atomic::AtomicBool, time::Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let job = std::env::args()
        .nth(1)
        .unwrap_or_else(|| format!("{root}/examples/jobs/volatility/job.toml"));
    let samples: usize = std::env::args().nth(2).map_or(Ok(2), |s| s.parse())?;
    let file = JobFile::from_toml(&std::fs::read_to_string(&job)?)?;
    let spec = file.train.ok_or("not a train job")?;
    let dir = format!("{root}/data/market");
    let mut inputs = vec![];
    for e in std::fs::read_dir(&dir)? {
        let p = e?.path();
        if p.extension().is_some_and(|x| x == "csv") {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            inputs.push((name, std::fs::read(&p)?));
        }
    }
    let data = market_samples(&spec.data, "train.data", &inputs)?;
    let threads = file.resources.cpu_cores.max(1) as usize;
    const RUNS: usize = 5;
    let mut train_s = f64::INFINITY;
    let mut run = None;
    for _ in 0..RUNS {
        let t = Instant::now();
        let r = train(&spec, &data, threads, &AtomicBool::new(false))?;
        train_s = train_s.min(t.elapsed().as_secs_f64());
        run = Some(r);
    }
    let run = run.expect("ran");
    let model = model_file::encode(&spec, &run.state.params)?;
    let trace = TraceFile::new(spec.checkpoint_steps(), &run.checkpoints);
    let mut audit_s = f64::INFINITY;
    let mut last = None;
    for _ in 0..RUNS {
        let t = Instant::now();
        let leaves = trace.leaf_hashes()?;
        let report = audit_openings(
            &spec,
            &data,
            trace.root_bytes()?,
            &model,
            samples,
            0x5eed,
            1,
            |i| {
                Ok(Opening {
                    bytes: run.checkpoints[i].clone(),
                    proof: proof(&leaves, i)?,
                })
            },
        )?;
        audit_s = audit_s.min(t.elapsed().as_secs_f64());
        last = Some(report);
    }
    let report = last.expect("ran");
    assert!(report.passed(), "{:?}", report.findings);
    println!(
        "{}: {} parameters, {} steps in {} segments, {} samples",
        file.name,
        spec.parameters(),
        spec.steps,
        run.checkpoints.len() - 1,
        data.n
    );
    println!(
        "training (reproducible, {threads} thread(s)), best of {RUNS}: {:.1} ms",
        train_s * 1e3
    );
    println!(
        "audit of {samples} segments {:?} ({} of {} steps re-executed, 1 thread), best of {RUNS}: {:.1} ms",
        report.segments_checked,
        report.steps_replayed,
        spec.steps,
        audit_s * 1e3
    );
    println!(
        "audit / training wall time: {:.3} (steps re-executed / steps: {:.3})",
        audit_s / train_s,
        report.steps_replayed as f64 / spec.steps as f64
    );
    Ok(())
}
