//! `cargo run --release -p cairn-ml --example bench_gru [steps] [hidden] [layers]`: throughput
//! of the reproducible GRU trainer against plain candle (candle-nn's `GRU`) on the same model,
//! and inference samples/s, on the example corpus `examples/jobs/charlm/corpus`.
use cairn_ml::{
    bench::{bench_gru, gru_bench_spec},
    data::samples,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = |i: usize, default: u64| -> Result<u64, std::num::ParseIntError> {
        std::env::args().nth(i).map_or(Ok(default), |s| s.parse())
    };
    let steps = arg(1, 100)?;
    let hidden = arg(2, 64)? as u32;
    let layers = arg(3, 1)? as u32;
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/jobs/charlm/corpus"
    );
    let mut inputs = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        inputs.push((
            e.file_name().to_string_lossy().into_owned(),
            std::fs::read(e.path())?,
        ));
    }
    let spec = gru_bench_spec(steps, hidden, layers);
    let data = samples(&spec.data, "train.data", &inputs)?;
    println!(
        "GRU {} parameters ({} layer(s) of {hidden}), window {}, batch {}, {} samples, {steps} steps",
        spec.parameters(),
        spec.layers,
        spec.data.window,
        spec.batch_size,
        data.n
    );
    for r in bench_gru(&spec, &data, steps, 4096, &[1, 2])? {
        println!("{:<32} {:>12.1} {}/s", r.what, r.per_sec, r.unit);
    }
    Ok(())
}
