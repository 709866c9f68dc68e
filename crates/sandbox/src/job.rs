//! What a requester hands the sandbox: a module, its arguments and its input files.

use serde::{Deserialize, Serialize};

/// `argv[0]` as the guest sees it; [`WasmJob::args`] follow it.
pub const ARGV0: &str = "job";

/// One WASI command to run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WasmJob {
    /// The module: WebAssembly binary (`\0asm...`) or WAT text.
    pub module: Vec<u8>,
    /// Arguments after `argv[0]` (which is always [`ARGV0`]).
    pub args: Vec<String>,
    /// Files placed read-only under `/input`, as (relative path, bytes); a
    /// path may contain `/` to place a file in a subdirectory.
    pub inputs: Vec<(String, Vec<u8>)>,
}

impl WasmJob {
    /// A job running `module` with no arguments and no inputs.
    pub fn new(module: impl Into<Vec<u8>>) -> Self {
        WasmJob {
            module: module.into(),
            ..Self::default()
        }
    }

    /// This job with `args` after `argv[0]`.
    pub fn with_args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }

    /// This job with one more input file under `/input`.
    pub fn with_input(mut self, name: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        self.inputs.push((name.into(), bytes.into()));
        self
    }

    /// Full argv as the guest sees it.
    pub(crate) fn argv(&self) -> Vec<String> {
        std::iter::once(ARGV0.to_owned())
            .chain(self.args.iter().cloned())
            .collect()
    }

    /// Seed of the guest's `random_get` stream: the module digest and the
    /// arguments, so reruns of a job draw the same bytes.
    pub(crate) fn random_seed(&self, module_digest: &[u8; 32]) -> [u8; 32] {
        let mut h = blake3::Hasher::new();
        h.update(module_digest);
        h.update(&(self.args.len() as u64).to_le_bytes());
        for a in &self.args {
            h.update(&(a.len() as u64).to_le_bytes());
            h.update(a.as_bytes());
        }
        *h.finalize().as_bytes()
    }
}
