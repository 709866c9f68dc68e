//! `cairn bench wasm`: the numeric kernel in the sandbox versus natively.
//!
//! Both builds come from the same C source and compiler
//! (`examples/jobs/matmul`, built by `make jobs`), so the ratio measures what
//! the sandbox costs — Cranelift code, bounds checks, fuel and epoch checks —
//! and not a difference between compilers. Each side runs `runs` times and
//! the fastest run counts; the native time is the whole process, the
//! sandbox time is instantiation plus `_start` (compilation is reported
//! separately, since a provider compiles a module once and caches it).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde::{Serialize, Serializer};

use crate::error::{Error, Result};
use crate::job::WasmJob;
use crate::limits::Limits;
use crate::sandbox::Sandbox;

/// Default number of timed runs per side (the best one is reported).
pub const DEFAULT_BENCH_RUNS: u32 = 3;
/// Default kernel arguments: a 512×512 double-precision matrix multiply, twice.
pub const DEFAULT_KERNEL_ARGS: &[&str] = &["512", "2"];

/// What [`bench_kernel`] measured.
#[derive(Debug, Clone, Serialize)]
pub struct KernelBench {
    /// Kernel arguments used on both sides.
    pub args: Vec<String>,
    /// Timed runs per side.
    pub runs: u32,
    /// Time to compile the module with Cranelift (once; cached afterwards).
    #[serde(serialize_with = "secs")]
    pub compile_time: Duration,
    /// Fastest sandboxed run (instantiation + `_start`).
    #[serde(serialize_with = "secs")]
    pub wasm_time: Duration,
    /// Fastest native run (whole process).
    #[serde(serialize_with = "secs")]
    pub native_time: Duration,
    /// `wasm_time / native_time`; the target is at most 1.5.
    pub ratio: f64,
    /// Fuel one sandboxed run consumed (identical on every run).
    pub fuel_used: u64,
    /// `fuel_used / wasm_time`: how fast this host burns fuel on this kernel.
    pub fuel_per_sec: f64,
    /// Whether the sandboxed and native runs printed the same bytes (the
    /// kernel prints a bit-exact checksum of its result).
    pub outputs_match: bool,
    /// The sandboxed run's stdout (the checksum line).
    pub wasm_stdout: String,
}

fn secs<S: Serializer>(d: &Duration, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Runs the kernel `wasm` in the sandbox and `native` as a process, each
/// `runs` times with `args`, and compares the best times and the outputs.
pub fn bench_kernel(wasm: &Path, native: &Path, args: &[String], runs: u32) -> Result<KernelBench> {
    let runs = runs.max(1);
    let module = std::fs::read(wasm).map_err(|source| Error::Io {
        op: "read the wasm kernel (build it with `make jobs`)",
        path: wasm.to_owned(),
        source,
    })?;
    let sandbox = Sandbox::new()?;
    let started = Instant::now();
    sandbox.prepare(&module)?;
    let compile_time = started.elapsed();

    let job = WasmJob::new(module).with_args(args.iter().cloned());
    let limits = Limits::default()
        .with_fuel(1 << 60)
        .with_memory_bytes(1 << 30)
        .with_wall_time(Duration::from_secs(600));
    let mut wasm_time = Duration::MAX;
    let mut last = None;
    for _ in 0..runs {
        let report = sandbox.run(&job, &limits)?;
        if !report.outcome.is_success() {
            return Err(Error::KernelFailed {
                outcome: report.outcome,
                stderr: String::from_utf8_lossy(&report.stderr).into_owned(),
            });
        }
        wasm_time = wasm_time.min(report.wall_time);
        last = Some(report);
    }
    let report = last.expect("runs >= 1");

    let mut native_time = Duration::MAX;
    let mut native_stdout = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let out = Command::new(native)
            .args(args)
            .output()
            .map_err(|e| Error::NativeFailed {
                path: native.to_owned(),
                detail: e.to_string(),
            })?;
        let took = started.elapsed();
        if !out.status.success() {
            return Err(Error::NativeFailed {
                path: native.to_owned(),
                detail: format!(
                    "{}; stderr: {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                ),
            });
        }
        native_time = native_time.min(took);
        native_stdout = out.stdout;
    }

    let secs = wasm_time.as_secs_f64();
    Ok(KernelBench {
        args: args.to_vec(),
        runs,
        compile_time,
        wasm_time,
        native_time,
        ratio: secs / native_time.as_secs_f64().max(f64::MIN_POSITIVE),
        fuel_used: report.fuel_used,
        fuel_per_sec: report.fuel_used as f64 / secs.max(f64::MIN_POSITIVE),
        outputs_match: report.stdout == native_stdout,
        wasm_stdout: String::from_utf8_lossy(&report.stdout)
            .trim_end()
            .to_owned(),
    })
}
