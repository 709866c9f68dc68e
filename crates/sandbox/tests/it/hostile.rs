//! Modules that try to take more than they are given, each stopped with a clear outcome.

use std::time::Duration;

use cairn_sandbox::{Error, Limits, Outcome, WasmJob};

use crate::util::{O_CREAT, RIGHT_READ, command, data, run, sandbox, small_limits};

#[test]
fn infinite_loop_runs_out_of_fuel_and_is_billed_the_budget() {
    let wat = r#"(module (memory (export "memory") 1)
        (func (export "_start") (loop $l (br $l))))"#;
    let limits = small_limits().with_fuel(5_000_000);
    let report = run(&WasmJob::new(wat), &limits);
    assert_eq!(report.outcome, Outcome::OutOfFuel);
    assert_eq!(report.fuel_used, 5_000_000);
    assert!(report.outcome.to_string().contains("fuel"));
}

#[test]
fn memory_grow_bomb_hits_the_memory_limit() {
    let wat = r#"(module (memory (export "memory") 1)
        (func (export "_start")
          (loop $l (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))))"#;
    let report = run(&WasmJob::new(wat), &small_limits());
    assert_eq!(report.outcome, Outcome::MemoryLimit);
    // Ended inside a runtime routine: the whole budget is billed.
    assert_eq!(report.fuel_used, small_limits().fuel);
}

#[test]
fn initial_memory_above_the_cap_is_refused_at_instantiation() {
    let wat = r#"(module (memory (export "memory") 1000) (func (export "_start")))"#;
    let report = run(&WasmJob::new(wat), &small_limits());
    assert_eq!(report.outcome, Outcome::MemoryLimit);
}

#[test]
fn busy_loop_with_huge_fuel_times_out() {
    let wat = r#"(module (memory (export "memory") 1)
        (func (export "_start") (loop $l (br $l))))"#;
    let limits = small_limits()
        .with_fuel(u64::MAX / 4)
        .with_wall_time(Duration::from_millis(200));
    let report = run(&WasmJob::new(wat), &limits);
    assert_eq!(report.outcome, Outcome::TimedOut);
    assert!(report.wall_time >= Duration::from_millis(200));
    assert_eq!(report.fuel_used, limits.fuel);
}

#[test]
fn zero_wall_time_times_out_without_running() {
    let wat = r#"(module (memory (export "memory") 1) (func (export "_start")))"#;
    let limits = small_limits().with_wall_time(Duration::ZERO);
    let report = run(&WasmJob::new(wat), &limits);
    assert_eq!(report.outcome, Outcome::TimedOut);
    assert_eq!(report.fuel_used, 0);
}

fn denied(outcome: Outcome) -> String {
    match outcome {
        Outcome::Denied(why) => why,
        other => panic!("expected Denied, got {other:?}"),
    }
}

#[test]
fn path_escape_with_dotdot_is_denied() {
    let path = "../../etc/passwd";
    let wat = command(
        &data(1024, path),
        &format!(
            "(call $exit (call $open (i32.const 3) (i32.const 1024) (i32.const {}) (i32.const 0) (i64.const {RIGHT_READ})))",
            path.len()
        ),
    );
    let why = denied(run(&WasmJob::new(wat), &small_limits()).outcome);
    assert!(
        why.contains("../../etc/passwd") && why.contains("escapes /input"),
        "{why}"
    );
}

#[test]
fn escape_from_a_subdirectory_is_denied_but_dotdot_inside_is_fine() {
    let open = |path: &str| {
        command(
            &data(1024, path),
            &format!(
                "(call $exit (call $open (i32.const 3) (i32.const 1024) (i32.const {}) (i32.const 0) (i64.const {RIGHT_READ})))",
                path.len()
            ),
        )
    };
    let job = |path: &str| WasmJob::new(open(path)).with_input("sub/deep/f.txt", b"x".to_vec());
    // `..` that stays inside /input resolves normally (exit 0 = errno 0).
    let report = run(&job("sub/deep/../../sub/deep/f.txt"), &small_limits());
    assert_eq!(report.outcome, Outcome::Exited(0));
    let why = denied(run(&job("sub/deep/../../../etc/passwd"), &small_limits()).outcome);
    assert!(why.contains("escapes /input"), "{why}");
    // From /scratch too, even when creating.
    let path = "../x";
    let wat = command(
        &data(1024, path),
        &format!(
            "(call $exit (call $open (i32.const 5) (i32.const 1024) (i32.const {}) (i32.const {O_CREAT}) (i64.const 64)))",
            path.len()
        ),
    );
    let why = denied(run(&WasmJob::new(wat), &small_limits()).outcome);
    assert!(why.contains("escapes /scratch"), "{why}");
}

#[test]
fn absolute_path_is_denied() {
    let path = "/etc/passwd";
    let wat = command(
        &data(1024, path),
        &format!(
            "(call $exit (call $open (i32.const 3) (i32.const 1024) (i32.const {}) (i32.const 0) (i64.const {RIGHT_READ})))",
            path.len()
        ),
    );
    let why = denied(run(&WasmJob::new(wat), &small_limits()).outcome);
    assert!(why.contains("absolute path \"/etc/passwd\""), "{why}");
}

#[test]
fn socket_imports_are_denied_before_the_module_starts() {
    for (name, sig) in [
        ("sock_accept", "(param i32 i32 i32) (result i32)"),
        ("sock_recv", "(param i32 i32 i32 i32 i32 i32) (result i32)"),
        ("sock_send", "(param i32 i32 i32 i32 i32) (result i32)"),
        ("sock_shutdown", "(param i32 i32) (result i32)"),
    ] {
        let wat = format!(
            r#"(module (import "wasi_snapshot_preview1" "{name}" (func {sig}))
                 (memory (export "memory") 1) (func (export "_start") (unreachable)))"#
        );
        let report = run(&WasmJob::new(wat), &small_limits());
        let why = denied(report.outcome);
        assert!(why.contains(name) && why.contains("network"), "{why}");
        assert_eq!(report.fuel_used, 0);
    }
}

#[test]
fn non_wasi_imports_are_denied() {
    let wat = r#"(module (import "env" "connect" (func (param i32) (result i32)))
        (memory (export "memory") 1) (func (export "_start")))"#;
    let why = denied(run(&WasmJob::new(wat), &small_limits()).outcome);
    assert!(
        why.contains("env::connect") && why.contains("only WASI"),
        "{why}"
    );
}

#[test]
fn threads_and_shared_memory_are_refused() {
    let wat = r#"(module (memory (export "memory") 1 1 shared) (func (export "_start")))"#;
    let err = sandbox()
        .run(&WasmJob::new(wat), &small_limits())
        .unwrap_err();
    assert!(matches!(err, Error::InvalidModule { .. }), "{err}");
}

#[test]
fn fuel_is_exact_up_to_unreachable_and_the_budget_after_a_hardware_trap() {
    // One million loop iterations, then a trap.
    let wat = |end: &str| {
        format!(
            r#"(module (memory (export "memory") 1) (func (export "_start") (local $i i32)
                 (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1)))
                   (br_if $l (i32.lt_u (local.get $i) (i32.const 1000000))))
                 {end}))"#
        )
    };
    let limits = small_limits();
    let exited = run(&WasmJob::new(wat("")), &limits);
    let aborted = run(&WasmJob::new(wat("(unreachable)")), &limits);
    let oob = run(
        &WasmJob::new(wat("(drop (i32.load (i32.const 99999999)))")),
        &limits,
    );
    assert_eq!(exited.outcome, Outcome::Exited(0));
    assert!(exited.fuel_used > 1_000_000);
    assert!(matches!(aborted.outcome, Outcome::Trapped(ref w) if w.contains("unreachable")));
    assert!(
        aborted.fuel_used.abs_diff(exited.fuel_used) <= 4,
        "{} vs {}",
        aborted.fuel_used,
        exited.fuel_used
    );
    assert!(matches!(oob.outcome, Outcome::Trapped(ref w) if w.contains("out of bounds")));
    assert_eq!(oob.fuel_used, limits.fuel);
}

#[test]
fn traps_are_reported_with_their_cause() {
    let wat = r#"(module (memory (export "memory") 1)
        (func (export "_start") (drop (i32.div_u (i32.const 1) (i32.const 0)))))"#;
    match run(&WasmJob::new(wat), &small_limits()).outcome {
        Outcome::Trapped(why) => assert!(why.contains("divide by zero"), "{why}"),
        other => panic!("expected a trap, got {other:?}"),
    }
    let wat = r#"(module (memory (export "memory") 1)
        (func $f (call $f)) (func (export "_start") (call $f)))"#;
    match run(&WasmJob::new(wat), &Limits::default()).outcome {
        Outcome::Trapped(why) => assert!(why.contains("stack"), "{why}"),
        other => panic!("expected a stack overflow, got {other:?}"),
    }
}

#[test]
fn malformed_jobs_are_errors_that_say_what_to_fix() {
    let err = sandbox()
        .run(&WasmJob::new("(module (func"), &small_limits())
        .unwrap_err();
    assert!(matches!(err, Error::InvalidModule { .. }), "{err}");

    let err = sandbox()
        .run(
            &WasmJob::new("(module (func (export \"main\")))"),
            &small_limits(),
        )
        .unwrap_err();
    assert!(matches!(err, Error::NoEntryPoint), "{err}");
    assert!(err.to_string().contains("_start"));

    let job =
        WasmJob::new(r#"(module (func (export "_start")))"#).with_input("../up", b"x".to_vec());
    let err = sandbox().run(&job, &small_limits()).unwrap_err();
    assert!(
        matches!(err, Error::InvalidInput { ref name, .. } if name == "../up"),
        "{err}"
    );
}

#[test]
fn a_cancelled_run_stops_at_once_with_the_fuel_metered_so_far() {
    // A loop that calls a function: fuel is written back at every call, so the metering of a
    // stopped run is close to what it used.
    let wat = r#"(module (memory (export "memory") 1)
        (func $f)
        (func (export "_start") (loop $l (call $f) (br $l))))"#;
    let limits = small_limits()
        .with_fuel(u64::MAX / 4)
        .with_wall_time(Duration::from_secs(60));
    let cancel = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = cancel.clone();
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    let report = sandbox()
        .run_cancellable(&WasmJob::new(wat), &limits, &cancel)
        .expect("the job starts");
    stopper.join().unwrap();
    assert_eq!(report.outcome, Outcome::Cancelled);
    assert!(
        report.wall_time < Duration::from_secs(30),
        "not stopped at once: {:?}",
        report.wall_time
    );
    assert!(
        report.fuel_used > 0 && report.fuel_used < limits.fuel,
        "billed {} of {}",
        report.fuel_used,
        limits.fuel
    );
}

#[test]
fn compilation_counts_against_the_wall_time_cap() {
    // Thousands of functions take far longer to compile than a 5 ms cap.
    let mut wat = String::from(r#"(module (memory (export "memory") 1)"#);
    for i in 0..4000 {
        wat.push_str(&format!(
            "(func $f{i} (param i32) (result i32) (i32.add (local.get 0) (i32.const {i})))"
        ));
    }
    wat.push_str(r#"(func (export "_start")))"#);
    let tight = small_limits().with_wall_time(Duration::from_millis(5));
    let report = run(&WasmJob::new(wat.as_str()), &tight);
    assert_eq!(report.outcome, Outcome::TimedOut);
    assert_eq!(report.fuel_used, 0);
    assert!(report.wall_time >= Duration::from_millis(5));
}
