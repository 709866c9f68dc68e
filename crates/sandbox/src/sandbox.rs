//! The engine, its configuration, and one run from module to report.
//!
//! ```text
//!  WasmJob ─▶ compile (cached by BLAKE3 of the bytes) ─▶ import check ─▶ Store
//!                                                                         │ fuel, memory cap,
//!                                                                         │ epoch deadline
//!             RunReport ◀─ outcome + fuel + stdout/stderr + /output ◀── _start
//! ```
//!
//! One [`Engine`] serves every run; a background thread advances its epoch
//! every [`EPOCH_TICK`], and each store's epoch callback compares the clock
//! with that run's own deadline, so concurrent runs with different wall-time
//! caps do not disturb one another.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use wasmtime::{
    Config, Engine, InstancePre, Linker, Module, OptLevel, ResourceLimiter, Store, Trap,
    UpdateDeadline, WasmFeatures,
};

use crate::error::{Error, Result};
use crate::job::WasmJob;
use crate::limits::Limits;
use crate::report::{Outcome, RunReport};
use crate::wasi::ctx::WasiCtx;
use crate::wasi::fs::Fs;
use crate::wasi::{self, Stop};

/// How often the engine's epoch advances; the wall-time cap is checked at
/// this granularity.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);
/// Largest module accepted (binary or WAT text).
pub const MAX_MODULE_BYTES: usize = 64 * 1024 * 1024;
/// Compiled modules kept for reuse.
const CACHE_CAPACITY: usize = 32;
/// Largest table a module may grow to (elements).
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

/// Store data of one run.
pub(crate) struct Host {
    pub(crate) wasi: WasiCtx,
    pub(crate) fuel_limit: u64,
    limiter: MemoryCap,
    deadline: Instant,
    timed_out: bool,
    cancelled: bool,
    /// Set from outside to stop the run.
    cancel: Arc<AtomicBool>,
}

/// Refuses memory growth past the cap and remembers that it did, so the
/// resulting trap is reported as [`Outcome::MemoryLimit`].
struct MemoryCap {
    max_bytes: u64,
    hit: bool,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > self.max_bytes {
            self.hit = true;
            return Err(wasmtime::Error::msg(format!(
                "memory limit: {desired} bytes requested, cap is {} bytes",
                self.max_bytes
            )));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

/// A compiled module ready to instantiate.
#[derive(Clone)]
struct Compiled {
    digest: [u8; 32],
    pre: Option<InstancePre<Host>>,
    /// Why the module may not run, if its imports are refused.
    denied: Option<String>,
}

#[derive(Default)]
struct Cache {
    map: HashMap<[u8; 32], Compiled>,
    order: VecDeque<[u8; 32]>,
}

/// Advances the engine epoch until dropped.
struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("cairn-sandbox-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .ok();
        Ticker { stop, thread }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs WASI preview1 commands under fixed, deterministic settings.
///
/// Create one per process and share it (it is `Send + Sync`); [`Sandbox::run`]
/// blocks, so async callers use `spawn_blocking`.
///
/// Clones share the engine, the compiled-module cache and the epoch ticker.
#[derive(Clone)]
pub struct Sandbox {
    engine: Engine,
    linker: Linker<Host>,
    cache: Arc<Mutex<Cache>>,
    _ticker: Arc<Ticker>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox").finish_non_exhaustive()
    }
}

impl Sandbox {
    /// An engine with fuel metering, epoch interruption, canonical NaNs and
    /// no threads, relaxed SIMD, memory64 or multi-memory.
    pub fn new() -> Result<Self> {
        let mut config = Config::new();
        config
            .consume_fuel(true)
            .epoch_interruption(true)
            .cranelift_nan_canonicalization(true)
            .cranelift_opt_level(OptLevel::Speed)
            .wasm_relaxed_simd(false)
            .relaxed_simd_deterministic(true)
            .wasm_memory64(false)
            .wasm_multi_memory(false)
            .wasm_features(
                WasmFeatures::THREADS | WasmFeatures::SHARED_EVERYTHING_THREADS,
                false,
            )
            .wasm_backtrace_max_frames(None);
        let engine = Engine::new(&config).map_err(|e| Error::Engine {
            detail: format!("{e:#}"),
        })?;
        let mut linker = Linker::new(&engine);
        wasi::add_to_linker(&mut linker).map_err(|e| Error::Engine {
            detail: format!("{e:#}"),
        })?;
        Ok(Sandbox {
            _ticker: Arc::new(Ticker::start(engine.clone())),
            engine,
            linker,
            cache: Arc::new(Mutex::new(Cache::default())),
        })
    }

    /// Compiles and validates a module (binary or WAT) ahead of a run and
    /// keeps it in the cache; returns the BLAKE3 digest of its bytes.
    pub fn prepare(&self, module: &[u8]) -> Result<[u8; 32]> {
        Ok(self.compile(module)?.digest)
    }

    /// Compiles on a thread of its own and waits at most `cap`; `None` when it took longer.
    fn compile_within(&self, bytes: &[u8], cap: Duration) -> Result<Option<Compiled>> {
        let digest = *blake3::hash(bytes).as_bytes();
        if let Some(hit) = self.lock_cache().map.get(&digest) {
            return Ok(Some(hit.clone()));
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let me = self.clone();
        let bytes = bytes.to_vec();
        std::thread::Builder::new()
            .name("cairn-sandbox-compile".into())
            .spawn(move || {
                let _ = tx.send(me.compile(&bytes));
            })
            .map_err(|e| Error::Engine {
                detail: format!("cannot start a compile thread: {e}"),
            })?;
        match rx.recv_timeout(cap) {
            Ok(r) => r.map(Some),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Ok(None),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(Error::Engine {
                detail: "the compile thread stopped without an answer".into(),
            }),
        }
    }

    fn compile(&self, bytes: &[u8]) -> Result<Compiled> {
        if bytes.len() > MAX_MODULE_BYTES {
            return Err(Error::ModuleTooLarge {
                bytes: bytes.len(),
                max: MAX_MODULE_BYTES,
            });
        }
        let digest = *blake3::hash(bytes).as_bytes();
        if let Some(hit) = self.lock_cache().map.get(&digest) {
            return Ok(hit.clone());
        }
        let module = Module::new(&self.engine, bytes).map_err(|e| Error::InvalidModule {
            reason: format!("{e:#}"),
        })?;
        match module.get_export("_start") {
            Some(wasmtime::ExternType::Func(f))
                if f.params().len() == 0 && f.results().len() == 0 => {}
            _ => return Err(Error::NoEntryPoint),
        }
        let denied = wasi::check_imports(&module);
        let pre =
            match denied {
                Some(_) => None,
                None => Some(self.linker.instantiate_pre(&module).map_err(|e| {
                    Error::InvalidModule {
                        reason: format!("its WASI imports do not match preview1: {e:#}"),
                    }
                })?),
            };
        let compiled = Compiled {
            digest,
            pre,
            denied,
        };
        let mut cache = self.lock_cache();
        if !cache.map.contains_key(&digest) {
            if cache.order.len() >= CACHE_CAPACITY
                && let Some(old) = cache.order.pop_front()
            {
                cache.map.remove(&old);
            }
            cache.order.push_back(digest);
            cache.map.insert(digest, compiled.clone());
        }
        Ok(compiled)
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        // A panic while holding the lock cannot leave the map inconsistent.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `job` to completion under `limits` (blocking).
    ///
    /// `Err` only when the job cannot start (invalid module, no `_start`,
    /// bad input name) or the host fails; how the guest ended — exit,
    /// fuel, memory, time, trap or denial — is in [`RunReport::outcome`].
    pub fn run(&self, job: &WasmJob, limits: &Limits) -> Result<RunReport> {
        self.run_cancellable(job, limits, &Arc::new(AtomicBool::new(false)))
    }

    /// [`Sandbox::run`], stopped within an epoch tick once `cancel` is set (the requester
    /// cancelled the job): the outcome is [`Outcome::Cancelled`], with the fuel metered so far.
    ///
    /// Compilation counts: it runs on its own thread and its time is part of the wall-time
    /// cap. A module that does not compile within the cap ends the run as timed out (the
    /// compilation finishes in the background and is cached, but the run is not billed
    /// beyond its cap).
    pub fn run_cancellable(
        &self,
        job: &WasmJob,
        limits: &Limits,
        cancel: &Arc<AtomicBool>,
    ) -> Result<RunReport> {
        let start = Instant::now();
        let compiled = match self.compile_within(&job.module, limits.wall_time)? {
            Some(c) => c,
            None => {
                let mut r = RunReport::not_started(Outcome::TimedOut);
                r.wall_time = start.elapsed();
                return Ok(r);
            }
        };
        let fs = Fs::new(&job.inputs, limits.max_output_bytes, limits.memory_bytes)
            .map_err(|(name, reason)| Error::InvalidInput { name, reason })?;
        let Some(pre) = &compiled.pre else {
            let why = compiled.denied.clone().unwrap_or_default();
            return Ok(RunReport::not_started(Outcome::Denied(why)));
        };
        if limits.wall_time.is_zero() {
            return Ok(RunReport::not_started(Outcome::TimedOut));
        }

        let max_output = usize::try_from(limits.max_output_bytes).unwrap_or(usize::MAX);
        let wasi = WasiCtx::new(
            fs,
            &job.argv(),
            job.random_seed(&compiled.digest),
            max_output,
        );
        let host = Host {
            wasi,
            fuel_limit: limits.fuel,
            limiter: MemoryCap {
                max_bytes: limits.memory_bytes,
                hit: false,
            },
            // Capped at a year so that the addition cannot overflow.
            deadline: start + limits.wall_time.min(Duration::from_secs(365 * 24 * 3600)),
            timed_out: false,
            cancelled: false,
            cancel: cancel.clone(),
        };
        let mut store = Store::new(&self.engine, host);
        store.limiter(|h| &mut h.limiter);
        store.set_fuel(limits.fuel).map_err(Error::host)?;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut ctx| {
            let host = ctx.data_mut();
            if host.cancel.load(Ordering::Relaxed) {
                host.cancelled = true;
                Ok(UpdateDeadline::Interrupt)
            } else if Instant::now() >= host.deadline {
                host.timed_out = true;
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Continue(1))
            }
        });

        let result = pre.instantiate(&mut store).and_then(|instance| {
            let entry = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
            entry.call(&mut store, ())
        });
        let wall_time = start.elapsed();
        let fuel_left = store.get_fuel().map_err(Error::host)?;
        let mut host = store.into_data();
        let (outcome, exact) = classify(result, &host);
        Ok(RunReport {
            outcome,
            fuel_used: if exact {
                limits.fuel - fuel_left
            } else {
                limits.fuel
            },
            wall_time,
            stdout: finish_capture(&mut host.wasi.stdout),
            stderr: finish_capture(&mut host.wasi.stderr),
            outputs: host.wasi.fs.take_outputs(),
        })
    }
}

/// The captured bytes, with a note appended when some were dropped.
fn finish_capture(c: &mut wasi::ctx::Capture) -> Vec<u8> {
    let mut bytes = std::mem::take(&mut c.bytes);
    if c.dropped > 0 {
        bytes.extend_from_slice(
            format!(
                "\n[cairn-sandbox: {} more bytes dropped at the output cap]\n",
                c.dropped
            )
            .as_bytes(),
        );
    }
    bytes
}

/// Maps the end of a run to an [`Outcome`], and says whether the fuel
/// counter is exact at that point.
///
/// wasmtime writes the consumed fuel back to the store only at calls,
/// returns, branches out of a function and explicit `unreachable`; a trap
/// raised by the hardware or a runtime routine (out-of-bounds access,
/// division by zero, stack overflow, a refused `memory.grow`, the epoch
/// deadline) loses what the current function consumed since then. Those
/// outcomes bill the whole budget instead: deterministic, and never less
/// than the work done.
fn classify(result: wasmtime::Result<()>, host: &Host) -> (Outcome, bool) {
    let err = match result {
        Ok(()) => return (Outcome::Exited(0), true),
        Err(e) => e,
    };
    if let Some(stop) = err.downcast_ref::<Stop>() {
        return match stop {
            Stop::Exit(code) => (Outcome::Exited(*code), true),
            Stop::Denied(why) => (Outcome::Denied(why.clone()), true),
        };
    }
    if host.limiter.hit {
        return (Outcome::MemoryLimit, false);
    }
    match err.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => (Outcome::OutOfFuel, true),
        Some(Trap::Interrupt) if host.timed_out => (Outcome::TimedOut, false),
        // The fuel written back so far: at most what ran, so a cancelled job is never
        // billed for more than it used.
        Some(Trap::Interrupt) if host.cancelled => (Outcome::Cancelled, true),
        Some(trap @ Trap::UnreachableCodeReached) => (Outcome::Trapped(trap.to_string()), true),
        Some(trap) => (Outcome::Trapped(trap.to_string()), false),
        None => (Outcome::Trapped(format!("{err:#}")), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provided_function_is_defined_and_nothing_else() {
        let sandbox = Sandbox::new().unwrap();
        let mut store = Store::new(
            &sandbox.engine,
            Host {
                wasi: WasiCtx::new(Fs::new(&[], 0, 0).unwrap(), &[], [0; 32], 0),
                fuel_limit: 0,
                limiter: MemoryCap {
                    max_bytes: 0,
                    hit: false,
                },
                deadline: Instant::now(),
                timed_out: false,
                cancelled: false,
                cancel: Arc::new(AtomicBool::new(false)),
            },
        );
        let mut defined: Vec<String> = sandbox
            .linker
            .iter(&mut store)
            .map(|(m, name, _)| {
                assert_eq!(m, wasi::MODULE);
                name.to_owned()
            })
            .collect();
        defined.sort();
        let mut provided: Vec<String> = wasi::PROVIDED.iter().map(|s| s.to_string()).collect();
        provided.sort();
        assert_eq!(defined, provided);
        assert!(!defined.iter().any(|n| n.starts_with("sock_")));
    }

    #[test]
    fn sandbox_is_shareable_across_threads() {
        fn check<T: Send + Sync>() {}
        check::<Sandbox>();
    }
}
