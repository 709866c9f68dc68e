//! The C example jobs from examples/jobs, built by `make jobs`.

use cairn_sandbox::{Outcome, WasmJob, bench_kernel};

use crate::util::{job_file, read_job, run, small_limits};

#[test]
fn wordcount_counts_words_across_nested_files() {
    let job = WasmJob::new(read_job("wordcount.wasm"))
        .with_input("a.txt", b"The cat and the hat.".to_vec())
        .with_input("sub/b.txt", b"THE end;\ncat 42".to_vec())
        .with_input("sub/empty", Vec::new());
    let report = run(&job, &small_limits());
    assert_eq!(
        report.outcome,
        Outcome::Exited(0),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    assert_eq!(report.stdout, b"files=3 words=9 distinct=6\n");
    assert_eq!(
        report.outputs,
        vec![(
            "counts.txt".to_string(),
            b"3 the\n2 cat\n1 42\n1 and\n1 end\n1 hat\n".to_vec()
        )]
    );
}

#[test]
fn wordcount_with_no_inputs_writes_an_empty_table() {
    let report = run(&WasmJob::new(read_job("wordcount.wasm")), &small_limits());
    assert_eq!(report.outcome, Outcome::Exited(0));
    assert_eq!(report.stdout, b"files=0 words=0 distinct=0\n");
    assert_eq!(report.outputs, vec![("counts.txt".to_string(), Vec::new())]);
}

#[test]
fn matmul_in_the_sandbox_matches_the_native_build_bit_for_bit() {
    let args = ["48", "2"];
    let report = run(
        &WasmJob::new(read_job("matmul.wasm")).with_args(args),
        &small_limits(),
    );
    assert_eq!(
        report.outcome,
        Outcome::Exited(0),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let native = std::process::Command::new(job_file("matmul-native"))
        .args(args)
        .output()
        .expect("run the native kernel");
    assert!(native.status.success());
    assert_eq!(report.stdout, native.stdout);
    assert!(String::from_utf8_lossy(&report.stdout).starts_with("matmul n=48 reps=2 sum="));
}

#[test]
fn matmul_rejects_bad_arguments_with_exit_2() {
    let report = run(
        &WasmJob::new(read_job("matmul.wasm")).with_args(["0"]),
        &small_limits(),
    );
    assert_eq!(report.outcome, Outcome::Exited(2));
    assert!(String::from_utf8_lossy(&report.stderr).contains("usage"));
}

#[test]
fn bench_kernel_reports_both_sides() {
    let args = vec!["32".to_string(), "1".to_string()];
    let bench = bench_kernel(
        &job_file("matmul.wasm"),
        &job_file("matmul-native"),
        &args,
        1,
    )
    .unwrap();
    assert!(bench.outputs_match, "{}", bench.wasm_stdout);
    assert!(bench.fuel_used > 32 * 32 * 32);
    assert!(bench.ratio > 0.0 && bench.fuel_per_sec > 0.0);
    assert_eq!(bench.args, args);
}
