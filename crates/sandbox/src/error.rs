//! One error type for the crate.
//!
//! An `Err` means the job could not be run at all (a malformed module, a bad
//! input name) or the host failed; anything the guest does while running —
//! including being stopped — is an [`Outcome`](crate::Outcome) in an `Ok`
//! report instead. Messages name the input and say what to change, because
//! they reach requesters through `cairn job status`.

use std::path::PathBuf;

use crate::report::Outcome;

/// Result alias used throughout `cairn-sandbox`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can keep a job from running, or a benchmark from finishing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The wasmtime engine could not be configured on this host.
    #[error("cannot set up the wasmtime engine on this host: {detail}")]
    Engine {
        /// wasmtime's explanation.
        detail: String,
    },

    /// The module is neither valid WebAssembly nor valid WAT text, or uses a
    /// feature the sandbox disables (threads, relaxed SIMD, memory64, ...).
    #[error("the job's module is not valid WebAssembly for the sandbox: {reason}")]
    InvalidModule {
        /// The parser's or validator's explanation.
        reason: String,
    },

    /// The module is larger than [`MAX_MODULE_BYTES`](crate::MAX_MODULE_BYTES).
    #[error("the job's module is {bytes} bytes; the sandbox accepts at most {max} bytes")]
    ModuleTooLarge {
        /// Size of the module.
        bytes: usize,
        /// The limit.
        max: usize,
    },

    /// The module has no `_start` export of type `() -> ()`.
    #[error(
        "the module exports no `_start` function of type () -> (); build it as a WASI command \
         (e.g. `clang --target=wasm32-wasi`), not as a library or reactor"
    )]
    NoEntryPoint,

    /// An input file name cannot be placed under `/input`.
    #[error("input {name:?} cannot be placed under /input: {reason}")]
    InvalidInput {
        /// The offending name from [`WasmJob::inputs`](crate::WasmJob::inputs).
        name: String,
        /// Why it was refused.
        reason: &'static str,
    },

    /// wasmtime failed in a way that is not the guest's doing.
    #[error("sandbox host error: {detail}")]
    Host {
        /// wasmtime's explanation.
        detail: String,
    },

    /// Reading a file for the benchmark failed.
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The native kernel binary failed to run or exited non-zero.
    #[error("native kernel {} failed: {detail}; build it with `make jobs`", path.display())]
    NativeFailed {
        /// The binary.
        path: PathBuf,
        /// Exit status and stderr.
        detail: String,
    },

    /// The wasm kernel did not exit with status 0 during the benchmark.
    #[error("the wasm kernel did not finish: {outcome}; stderr: {stderr}")]
    KernelFailed {
        /// How the run ended.
        outcome: Outcome,
        /// The guest's stderr, lossily decoded.
        stderr: String,
    },
}

impl Error {
    pub(crate) fn host(e: wasmtime::Error) -> Self {
        Error::Host {
            detail: format!("{e:#}"),
        }
    }
}
