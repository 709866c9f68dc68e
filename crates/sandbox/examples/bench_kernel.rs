//! Sandbox-versus-native speed of the numeric kernel, until `cairn bench wasm`
//! exposes it: `make jobs && cargo run --release -p cairn-sandbox --example bench_kernel [N REPS [RUNS]]`.

use std::path::PathBuf;

fn main() -> Result<(), cairn_sandbox::Error> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<String> = if argv.len() >= 2 {
        argv[..2].to_vec()
    } else {
        cairn_sandbox::DEFAULT_KERNEL_ARGS
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let runs = argv
        .get(2)
        .and_then(|r| r.parse().ok())
        .unwrap_or(cairn_sandbox::DEFAULT_BENCH_RUNS);
    let jobs = std::env::var_os("CAIRN_JOBS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/jobs"));
    let b = cairn_sandbox::bench_kernel(
        &jobs.join("matmul.wasm"),
        &jobs.join("matmul-native"),
        &args,
        runs,
    )?;
    println!("kernel      matmul {}", b.args.join(" "));
    println!("compile     {:.3} s", b.compile_time.as_secs_f64());
    println!(
        "wasm        {:.3} s (best of {})",
        b.wasm_time.as_secs_f64(),
        b.runs
    );
    println!(
        "native      {:.3} s (best of {})",
        b.native_time.as_secs_f64(),
        b.runs
    );
    println!("ratio       {:.3}", b.ratio);
    println!(
        "fuel        {} ({:.3e} fuel/s)",
        b.fuel_used, b.fuel_per_sec
    );
    println!(
        "outputs     {}",
        if b.outputs_match {
            "identical"
        } else {
            "DIFFERENT"
        }
    );
    println!("checksum    {}", b.wasm_stdout);
    Ok(())
}
