//! `cargo run --release -p cairn-ml --example bench_train [steps] [hidden]`: throughput of the
//! reproducible trainer against plain candle on the same MLP, and inference samples/s, on the
//! repository's BTC and BNB daily candles (what `cairn bench train` prints, in a build of this
//! crate alone).
use cairn_ml::{
    bench::{bench, bench_spec},
    data::market_samples,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let steps: u64 = std::env::args().nth(1).map_or(Ok(500), |s| s.parse())?;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/market");
    let inputs: Vec<(String, Vec<u8>)> = ["BTCUSDT_1d.csv", "BNBUSDT_1d.csv"]
        .iter()
        .map(|n| Ok((n.to_string(), std::fs::read(format!("{dir}/{n}"))?)))
        .collect::<Result<_, std::io::Error>>()?;
    let hidden: u32 = std::env::args().nth(2).map_or(Ok(64), |s| s.parse())?;
    let spec = bench_spec(steps, hidden);
    let data = market_samples(&spec.data, "train.data", &inputs)?;
    println!(
        "MLP {} parameters, batch {}, {} samples, {steps} steps",
        spec.parameters(),
        spec.batch_size,
        data.n
    );
    for r in bench(&spec, &data, steps, 20, &[1, 2])? {
        println!("{:<32} {:>12.1} {}/s", r.what, r.per_sec, r.unit);
    }
    Ok(())
}
