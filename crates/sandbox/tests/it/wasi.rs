//! The WASI surface as a guest sees it: files, caps, exit codes.

use cairn_sandbox::{Outcome, WasmJob};

use crate::util::{O_CREAT, RIGHT_READ, RIGHT_WRITE, command, data, run, small_limits};

/// errno values from wasi_snapshot_preview1.witx.
const EROFS: i32 = 68;
const ENOSPC: i32 = 51;
const ENOENT: i32 = 44;

fn open_and_exit(dirfd: u32, path: &str, oflags: i32, rights: i64) -> String {
    command(
        &data(1024, path),
        &format!(
            "(call $exit (call $open (i32.const {dirfd}) (i32.const 1024) (i32.const {}) (i32.const {oflags}) (i64.const {rights})))",
            path.len()
        ),
    )
}

#[test]
fn input_is_readable_and_read_only() {
    let job = |wat: String| WasmJob::new(wat).with_input("a.txt", b"alpha".to_vec());
    let ok = run(
        &job(open_and_exit(3, "a.txt", 0, RIGHT_READ)),
        &small_limits(),
    );
    assert_eq!(ok.outcome, Outcome::Exited(0));
    let write = run(
        &job(open_and_exit(3, "a.txt", 0, RIGHT_WRITE)),
        &small_limits(),
    );
    assert_eq!(write.outcome, Outcome::Exited(EROFS));
    let create = run(
        &job(open_and_exit(3, "b.txt", O_CREAT, RIGHT_WRITE)),
        &small_limits(),
    );
    assert_eq!(create.outcome, Outcome::Exited(EROFS));
    let missing = run(
        &job(open_and_exit(3, "zzz", 0, RIGHT_READ)),
        &small_limits(),
    );
    assert_eq!(missing.outcome, Outcome::Exited(ENOENT));
}

/// Creates /output/out.txt (or /scratch/out.txt) and writes `text` to it;
/// exits with the first non-zero errno.
fn write_file(dirfd: u32, text: &str) -> String {
    command(
        &format!("{} {}", data(1024, "out.txt"), data(2048, text)),
        &format!(
            "(local $e i32)
             (local.set $e (call $open (i32.const {dirfd}) (i32.const 1024) (i32.const 7) (i32.const {O_CREAT}) (i64.const {RIGHT_WRITE})))
             (if (local.get $e) (then (call $exit (local.get $e))))
             (call $exit (call $write (i32.load (i32.const 12)) (i32.const 2048) (i32.const {})))",
            text.len()
        ),
    )
}

#[test]
fn output_files_are_collected_and_scratch_is_not() {
    let report = run(&WasmJob::new(write_file(4, "result 42")), &small_limits());
    assert_eq!(report.outcome, Outcome::Exited(0));
    assert_eq!(
        report.outputs,
        vec![("out.txt".to_string(), b"result 42".to_vec())]
    );

    let report = run(&WasmJob::new(write_file(5, "temporary")), &small_limits());
    assert_eq!(report.outcome, Outcome::Exited(0));
    assert!(report.outputs.is_empty());
}

#[test]
fn output_cap_is_enospc_for_the_guest() {
    let limits = small_limits().with_max_output_bytes(4);
    let report = run(&WasmJob::new(write_file(4, "too long")), &limits);
    assert_eq!(report.outcome, Outcome::Exited(ENOSPC));
    assert_eq!(report.outputs, vec![("out.txt".to_string(), Vec::new())]);
    // Scratch is capped by memory_bytes instead, so the same write succeeds there.
    let report = run(&WasmJob::new(write_file(5, "too long")), &limits);
    assert_eq!(report.outcome, Outcome::Exited(0));
}

#[test]
fn stdout_and_stderr_are_captured_and_capped() {
    let wat = command(
        &data(1024, "hello world"),
        "(drop (call $write (i32.const 1) (i32.const 1024) (i32.const 11)))
         (drop (call $write (i32.const 2) (i32.const 1024) (i32.const 5)))",
    );
    let report = run(&WasmJob::new(wat.clone()), &small_limits());
    assert_eq!(report.outcome, Outcome::Exited(0));
    assert_eq!(report.stdout, b"hello world");
    assert_eq!(report.stderr, b"hello");

    let report = run(&WasmJob::new(wat), &small_limits().with_max_output_bytes(5));
    let text = String::from_utf8(report.stdout).unwrap();
    assert!(
        text.starts_with("hello\n[cairn-sandbox: 6 more bytes dropped"),
        "{text}"
    );
    assert_eq!(report.stderr, b"hello");
}

#[test]
fn proc_exit_code_is_the_outcome() {
    let wat = command("", "(call $exit (i32.const 7))");
    assert_eq!(
        run(&WasmJob::new(wat), &small_limits()).outcome,
        Outcome::Exited(7)
    );
}

#[test]
fn host_calls_cost_fuel() {
    let one = command(
        &data(1024, "x"),
        "(drop (call $write (i32.const 1) (i32.const 1024) (i32.const 1)))",
    );
    let two = command(
        &data(1024, "x"),
        "(drop (call $write (i32.const 1) (i32.const 1024) (i32.const 1)))
         (drop (call $write (i32.const 1) (i32.const 1024) (i32.const 1)))",
    );
    let a = run(&WasmJob::new(one), &small_limits()).fuel_used;
    let b = run(&WasmJob::new(two), &small_limits()).fuel_used;
    assert!(b >= a + cairn_sandbox::HOSTCALL_FUEL, "{a} then {b}");
}
