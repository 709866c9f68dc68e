//! Same job, same limits: same outcome, fuel, stdout, stderr and outputs.

use cairn_sandbox::{RunReport, WasmJob};

use crate::util::{command, read_job, run, small_limits};

fn assert_same(a: &RunReport, b: &RunReport) {
    assert_eq!(a.outcome, b.outcome);
    assert_eq!(a.fuel_used, b.fuel_used);
    assert_eq!(a.stdout, b.stdout);
    assert_eq!(a.stderr, b.stderr);
    assert_eq!(a.outputs, b.outputs);
}

#[test]
fn clocks_and_randomness_repeat_across_runs() {
    // Prints 16 random bytes, then the realtime and monotonic clocks (8 bytes each).
    let wat = command(
        "",
        "(drop (call $random_get (i32.const 1024) (i32.const 16)))
         (drop (call $clock_time_get (i32.const 0) (i64.const 1) (i32.const 1040)))
         (drop (call $clock_time_get (i32.const 1) (i64.const 1) (i32.const 1048)))
         (drop (call $write (i32.const 1) (i32.const 1024) (i32.const 32)))",
    );
    let a = run(&WasmJob::new(wat.clone()), &small_limits());
    let b = run(&WasmJob::new(wat.clone()), &small_limits());
    assert!(a.outcome.is_success());
    assert_same(&a, &b);
    assert_eq!(a.stdout.len(), 32);
    let realtime = u64::from_le_bytes(a.stdout[16..24].try_into().unwrap());
    assert!(
        realtime >= 1_704_067_200_000_000_000,
        "starts at the virtual epoch"
    );
    // Different arguments seed a different random stream.
    let c = run(&WasmJob::new(wat).with_args(["other"]), &small_limits());
    assert_ne!(a.stdout[..16], c.stdout[..16]);
}

#[test]
fn nan_bits_are_canonical() {
    // 0/0 produces a NaN whose sign/payload is platform-defined in hardware;
    // with canonicalization the stored bits are always the canonical NaN.
    let wat = command(
        "",
        "(f64.store (i32.const 1024) (f64.div (f64.const 0) (f64.const 0)))
         (f32.store (i32.const 1032) (f32.sqrt (f32.const -1)))
         (drop (call $write (i32.const 1) (i32.const 1024) (i32.const 12)))",
    );
    let report = run(&WasmJob::new(wat), &small_limits());
    assert!(report.outcome.is_success());
    let f64_bits = u64::from_le_bytes(report.stdout[0..8].try_into().unwrap());
    let f32_bits = u32::from_le_bytes(report.stdout[8..12].try_into().unwrap());
    assert_eq!(f64_bits, 0x7ff8_0000_0000_0000);
    assert_eq!(f32_bits, 0x7fc0_0000);
}

#[test]
fn wordcount_over_a_dataset_repeats_bit_for_bit() {
    // The repository's docs as a small dataset.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut job = WasmJob::new(read_job("wordcount.wasm"));
    for name in ["README.md", "docs/layout.md", "crates/sandbox/README.md"] {
        let bytes = std::fs::read(root.join(name)).expect("dataset file");
        job = job.with_input(name, bytes);
    }
    let a = run(&job, &small_limits());
    let b = run(&job, &small_limits());
    assert!(
        a.outcome.is_success(),
        "{:?} {}",
        a.outcome,
        String::from_utf8_lossy(&a.stderr)
    );
    assert_same(&a, &b);
    assert_eq!(a.outputs.len(), 1);
    assert!(String::from_utf8_lossy(&a.stdout).starts_with("files=3 "));
}
