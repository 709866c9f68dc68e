//! Shared helpers: one sandbox per test binary, WAT scaffolding, job files.

use std::path::PathBuf;
use std::sync::OnceLock;

use cairn_sandbox::{Limits, RunReport, Sandbox, WasmJob};

/// One engine for the whole test binary (as a worker would have).
pub(crate) fn sandbox() -> &'static Sandbox {
    static SANDBOX: OnceLock<Sandbox> = OnceLock::new();
    SANDBOX.get_or_init(|| Sandbox::new().expect("wasmtime engine"))
}

/// Small limits so that hostile tests finish quickly.
pub(crate) fn small_limits() -> Limits {
    Limits::default()
        .with_fuel(50_000_000)
        .with_memory_bytes(16 * 1024 * 1024)
        .with_max_output_bytes(1024 * 1024)
}

pub(crate) fn run(job: &WasmJob, limits: &Limits) -> RunReport {
    sandbox().run(job, limits).expect("the job starts")
}

/// A WASI command with helper functions around `body` (the `_start` body)
/// and `data` segments; memory bytes 0..1024 are for the helpers' results.
///
/// Helpers: `$write(fd, ptr, len) -> errno` (bytes written at 8),
/// `$open(dirfd, ptr, len, oflags, rights) -> errno` (new fd at 12),
/// `$exit(code)`.
pub(crate) fn command(data: &str, body: &str) -> String {
    format!(
        r#"(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock_time_get (param i32 i64 i32) (result i32)))
  (memory (export "memory") 2)
  {data}
  (func $write (param $fd i32) (param $ptr i32) (param $len i32) (result i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8)))
  (func $open (param $dirfd i32) (param $ptr i32) (param $len i32) (param $oflags i32) (param $rights i64)
    (result i32)
    (call $path_open (local.get $dirfd) (i32.const 0) (local.get $ptr) (local.get $len)
      (local.get $oflags) (local.get $rights) (i64.const 0) (i32.const 0) (i32.const 12)))
  (func (export "_start") {body}))"#
    )
}

/// `(data (i32.const at) "text")`
pub(crate) fn data(at: u32, text: &str) -> String {
    format!("(data (i32.const {at}) \"{text}\")")
}

/// Right bits from wasi_snapshot_preview1.witx.
pub(crate) const RIGHT_READ: i64 = 1 << 1;
pub(crate) const RIGHT_WRITE: i64 = 1 << 6;
/// `oflags::creat`
pub(crate) const O_CREAT: i32 = 1;

/// A file built by `make jobs`, or a panic that says to build it.
pub(crate) fn job_file(name: &str) -> PathBuf {
    let dir = std::env::var_os("CAIRN_JOBS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/jobs"));
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `make jobs` in the repository root to build the example jobs \
         (needs Debian's clang, lld, wasi-libc and libclang-rt-14-dev-wasm32; the target installs them)",
        path.display()
    );
    path
}

pub(crate) fn read_job(name: &str) -> Vec<u8> {
    std::fs::read(job_file(name)).expect("read job file")
}
